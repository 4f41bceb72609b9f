"""Damaged input never costs a traceback or a hang: seeded variants of generated clips
(truncated, bytes flipped, blocks and headers zeroed) each either render completely or
fail with one `renderrush: error:` line, leaving nothing behind.

The cases run through the real command line (`cli.main`) in one child process, so the
start-up is paid once; the parent gives each case `CASE_TIMEOUT` seconds and treats a case
that takes longer as a hang (the child is killed and a fresh one takes the next case).
Set RENDERRUSH_FUZZ_SEED to replay another run (the failures name their seed and case).
"""

from __future__ import annotations

import json
import os
import random
import selectors
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from renderrush import make_sample_video

from ..support import ROOT
from ..support.frames import decode_frames

SEED = int(os.environ.get("RENDERRUSH_FUZZ_SEED", "20261201"))
CASES = 30
CASE_TIMEOUT = 40.0
KNOWN_BAD: dict[int, str] = {}
"""Case numbers (for the default seed) that fail today because of probe or segment,
with the reason; empty when every case passes."""

RUNNER = textwrap.dedent(
    """
    import contextlib, io, json, os, sys, tempfile, traceback
    from renderrush.cli import main

    if __name__ == "__main__":
        answers = os.fdopen(os.dup(1), "w", buffering=1)  # the protocol; the CLI's own stdout is captured
        for line in sys.stdin:
            case = json.loads(line)
            out = io.StringIO()
            with tempfile.TemporaryFile() as err:
                saved = os.dup(2)
                os.dup2(err.fileno(), 2)  # everything, FFmpeg's own messages too
                sys.stderr = os.fdopen(os.dup(2), "w", buffering=1)
                crash = None
                try:
                    with contextlib.redirect_stdout(out):
                        status = main(case["args"])
                except BaseException:
                    status, crash = None, traceback.format_exc()
                sys.stderr.flush()
                os.dup2(saved, 2)
                os.close(saved)
                sys.stderr = sys.__stderr__
                err.seek(0)
                stderr = err.read().decode(errors="replace")
            result = {"case": case["case"], "status": status, "stdout": out.getvalue(), "stderr": stderr, "crash": crash}
            answers.write(json.dumps(result) + "\\n")
    """
)


@dataclass
class Case:
    number: int
    kind: str
    input: Path
    output: Path


def damage(data: bytes, kind: str, rng: random.Random) -> bytes:
    data = bytearray(data)
    if kind == "truncated":
        return bytes(data[: int(len(data) * rng.uniform(0.05, 0.95))])
    if kind == "flipped":
        for _ in range(rng.randint(1, 40)):
            data[rng.randrange(64, len(data))] ^= 1 << rng.randrange(8)
    elif kind == "flipped-header":
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(0, 2048)] ^= 0xFF
    elif kind == "zeroed-block":
        size = rng.randint(256, 8192)
        start = rng.randrange(0, len(data) - size)
        data[start : start + size] = bytes(size)
    elif kind == "zeroed-header":
        size = rng.randint(16, 1024)
        data[:size] = bytes(size)
    return bytes(data)


KINDS = ("truncated", "flipped", "flipped-header", "zeroed-block", "zeroed-header")


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> list[Case]:
    folder = tmp_path_factory.mktemp("fuzz")
    sources = [
        make_sample_video(folder / "clip.mp4", seconds=2, size=(160, 120), fps=30),
        make_sample_video(folder / "clip.mkv", seconds=2, size=(160, 120), fps=30),
    ]
    rng = random.Random(SEED)
    made = []
    for number in range(CASES):
        kind, source = KINDS[number % len(KINDS)], sources[(number // len(KINDS)) % len(sources)]
        case_folder = folder / f"case-{number:02d}"
        case_folder.mkdir()
        damaged = case_folder / f"{kind}{source.suffix}"
        damaged.write_bytes(damage(source.read_bytes(), kind, rng))
        made.append(Case(number, kind, damaged, case_folder / "out.mp4"))
    return made


class Runner:
    """The child process that runs the cases, restarted after a hang."""

    def __init__(self, folder: Path) -> None:
        self.script = folder / "fuzz_runner.py"
        self.script.write_text(RUNNER)
        self.proc: subprocess.Popen[str] | None = None

    def run(self, case: Case) -> dict | None:
        """The case's result, or None when it did not finish within CASE_TIMEOUT."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen(
                [sys.executable, str(self.script)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                start_new_session=True,
            )
        args = [
            "render",
            str(case.input),
            "-o",
            str(case.output),
            "--workers",
            "2",
            "--segment-seconds",
            "1",
            "--no-progress",
            "--json",
        ]
        self.proc.stdin.write(json.dumps({"case": case.number, "args": args}) + "\n")
        self.proc.stdin.flush()
        with selectors.DefaultSelector() as selector:
            selector.register(self.proc.stdout, selectors.EVENT_READ)
            deadline = time.monotonic() + CASE_TIMEOUT
            while time.monotonic() < deadline:
                if selector.select(timeout=deadline - time.monotonic()):
                    line = self.proc.stdout.readline()
                    return json.loads(line) if line else {"status": None, "stderr": "", "crash": "the runner died"}
        self.stop()
        return None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None


def verdict(case: Case, outcome: dict | None) -> str | None:
    """None when the case rendered completely or failed cleanly; else what went wrong."""
    if outcome is None:
        return f"no result within {CASE_TIMEOUT:.0f} s (a hang)"
    if outcome["crash"]:
        return f"an exception escaped the CLI: {outcome['crash'].strip().splitlines()[-1]}"
    stderr = outcome["stderr"]
    if "Traceback" in stderr:
        return f"a traceback on stderr: {stderr.strip().splitlines()[-1]}"
    left = sorted(p.name for p in case.input.parent.iterdir() if p != case.input and p != case.output)
    if left:
        return f"left behind: {left}"
    lines = [line for line in stderr.splitlines() if not line.startswith("renderrush: warning: ")]
    if outcome["status"] == 0:
        if lines:
            return f"rendered, but stderr has more than warnings: {lines[:3]}"
        reported = json.loads(outcome["stdout"])
        frames = len(decode_frames(case.output))
        if frames != reported["frames"]:
            return f"rendered {frames} frames, reported {reported['frames']}"
        if frames != reported["video"]["frame_count"]:
            # packets the decoder rejected are skipped, as ffmpeg does: the user must be told
            named = [w for w in reported.get("warnings", []) if "could not be decoded" in w]
            warned = [line for line in stderr.splitlines() if "could not be decoded" in line]
            if not (named and warned):
                return f"rendered {frames} of {reported['video']['frame_count']} frames without saying why"
        return None
    if outcome["status"] != 1 or len(lines) != 1 or not lines[0].startswith("renderrush: error: "):
        return f"status {outcome['status']} with stderr {stderr[-300:]!r}, not one error line"
    if case.output.exists():
        return "failed but left an output file"
    return None


def test_damaged_inputs_render_or_fail_with_one_line(cases: list[Case], tmp_path: Path) -> None:
    runner = Runner(tmp_path)
    problems, seen = {}, []
    try:
        for case in cases:
            outcome = runner.run(case)
            problem = verdict(case, outcome)
            seen.append(
                f"{case.number:2d} {case.kind:<15} {case.input.suffix:<5} "
                + (problem or ("rendered" if outcome["status"] == 0 else outcome["stderr"].strip().splitlines()[-1]))
            )
            if problem and case.number not in KNOWN_BAD:
                problems[case.number] = f"{case.kind} {case.input.name}: {problem}"
    finally:
        runner.stop()
    print("\n".join(seen))  # what the user saw, case by case (pytest -s shows it)
    assert not problems, f"seed {SEED}: " + "; ".join(f"case {n}: {p}" for n, p in problems.items())
