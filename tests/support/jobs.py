"""Jobs in other processes, for tests that disturb them (a second job, signals, damage):
the `renderrush` command started through a launcher that also registers test filters."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

from renderrush.media.samples import read_frame_index

from . import ROOT

GATE_ENV = "RENDERRUSH_TEST_GATE"
GATE_FROM_ENV = "RENDERRUSH_TEST_GATE_FROM"

LAUNCHER = textwrap.dedent(
    """
    import sys
    from renderrush import register_filter
    from renderrush.cli import main
    from tests.support.jobs import gate

    if __name__ == "__main__":
        register_filter("gate")(gate)
        sys.exit(main(sys.argv[1:]))
    """
)


def gate(frame: np.ndarray) -> np.ndarray:
    """A user filter that holds every frame of a sample clip from frame number
    $RENDERRUSH_TEST_GATE_FROM (default 0) on until the file named by $RENDERRUSH_TEST_GATE
    exists (at most two minutes), so a test decides how far a job gets and when it goes on."""
    opened = Path(os.environ[GATE_ENV]) if os.environ.get(GATE_ENV) else None
    if opened is None or read_frame_index(frame[..., 1]) < int(os.environ.get(GATE_FROM_ENV, "0")):
        return frame
    deadline = time.monotonic() + 120
    while not opened.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return frame


def start_cli(
    tmp_path: Path, *args: object, gate_file: Path | None = None, gate_from: int = 0
) -> subprocess.Popen[str]:
    """`renderrush ARGS` in a new process (and session), Ctrl-C at its default as a terminal
    starts it, stderr captured; with `gate_file`, the `gate` filter holds frames from
    `gate_from` on until that file exists."""
    launcher = tmp_path / "launch_renderrush.py"
    launcher.write_text(LAUNCHER)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if gate_file is not None:
        env[GATE_ENV], env[GATE_FROM_ENV] = str(gate_file), str(gate_from)
    return subprocess.Popen(
        [sys.executable, str(launcher), *map(str, args)],
        env=env,
        start_new_session=True,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def wait_for(condition, proc: subprocess.Popen[str], what: str, timeout: float = 120) -> None:
    """Poll `condition()` until true; fail if `proc` ends first or after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"the job ended before {what}: {proc.stderr.read() if proc.stderr else ''}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.05)


def running_segments(folder: Path) -> list[Path]:
    """Status files of the segments a job's workers have started."""
    return list(folder.glob("segment-*.progress"))
