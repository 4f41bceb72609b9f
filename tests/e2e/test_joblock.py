"""One job per output: a job holds an OS lock on its output; a second job is refused with
one line naming the process that holds it, and never touches the first one's files; the
folder of a job that died is taken over or cleared."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from renderrush import OutputError, make_sample_video, render
from renderrush.core.errors import OutputBusyError
from renderrush.segments.jobfolder import JobFolder, OutputLock

from ..support.filters import FilterRegistry
from ..support.frames import frame_indices
from ..support.jobs import running_segments, start_cli, wait_for

FAST = {"scheduler": "threads", "workers": 2, "segment_seconds": 1}


@pytest.fixture(scope="module")
def source(videos: Path) -> Path:
    return make_sample_video(videos / "lock.mp4", seconds=3, size=(160, 120), fps=30, audio=False)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file() and p.suffix == ".json"}


def start_gated(tmp_path: Path, source: Path, output: Path, gate: Path) -> subprocess.Popen[str]:
    """A CLI render of `source` in two segments whose frames wait until `gate` exists."""
    args = ("--filters", "gate", "--workers", "2", "--segment-seconds", "1", "--no-progress")
    return start_cli(tmp_path, "render", source, "-o", output, *args, gate_file=gate)


def test_a_second_process_is_refused_naming_the_holder_and_the_first_finishes(source: Path, tmp_path: Path) -> None:
    output, opened = tmp_path / "out.mp4", tmp_path / "gate-open"
    first = start_gated(tmp_path, source, output, opened)
    folder = JobFolder(output).path
    wait_for(lambda: running_segments(folder), first, "its segments started")
    manifest = snapshot(folder)

    second = subprocess.run(
        [
            sys.executable,
            "-m",
            "renderrush",
            "render",
            str(source),
            "-o",
            str(output),
            "--workers",
            "2",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert second.returncode == 1 and "Traceback" not in second.stderr
    assert second.stderr.splitlines() == [
        f"renderrush: error: output '{output}' is being rendered by another job (PID {first.pid}): "
        "wait for it to finish, stop it, or choose another output"
    ]
    assert folder.is_dir() and snapshot(folder) == manifest and not output.exists(), (
        "the first job's files are untouched"
    )

    opened.touch()
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert frame_indices(output) == list(range(90))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["out.mp4", "gate-open", "launch_renderrush.py"])


@pytest.mark.parametrize("resume", [False, True], ids=["cleared", "resumed"])
def test_the_folder_of_a_killed_job_is_taken_over(source: Path, tmp_path: Path, resume: bool) -> None:
    output = tmp_path / "out.mp4"
    first = start_gated(tmp_path, source, output, tmp_path / "never")
    folder, lock = JobFolder(output).path, OutputLock(output).path
    wait_for(lambda: running_segments(folder), first, "its segments started")
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=60)
    assert lock.read_text().strip() == str(first.pid), "the lock file of the dead job is still there"

    result = render(source, output, "grayscale", resume=resume, **FAST)
    assert result.frames == 90 and frame_indices(output) == list(range(90))
    assert not folder.exists() and not lock.exists()


def test_a_held_lock_refuses_the_job_and_leaves_everything_as_it_was(source: Path, tmp_path: Path) -> None:
    output = tmp_path / "out.mp4"
    holder = OutputLock(output)
    holder.acquire()
    try:
        before = sorted(tmp_path.iterdir())
        with pytest.raises(OutputBusyError, match=rf"is being rendered by another job \(PID {os.getpid()}\)"):
            render(source, output, **FAST)
        assert sorted(tmp_path.iterdir()) == before
    finally:
        holder.release()
    assert not holder.path.exists()
    render(source, output, **FAST)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


def _interrupt_at_frame_40(frame: np.ndarray) -> np.ndarray:
    _interrupt_at_frame_40.calls += 1  # type: ignore[attr-defined]
    if _interrupt_at_frame_40.calls == 40:  # type: ignore[attr-defined]
        raise KeyboardInterrupt
    return frame


def test_an_interrupted_job_frees_its_output_for_a_resume_in_the_same_process(
    source: Path, tmp_path: Path, registry: FilterRegistry
) -> None:
    """A notebook: the kernel is interrupted, then the same job is resumed in that kernel."""
    _interrupt_at_frame_40.calls = 0  # type: ignore[attr-defined]
    registry.register("interrupt_once")(_interrupt_at_frame_40)
    output = tmp_path / "out.mp4"
    with pytest.raises(KeyboardInterrupt):
        render(source, output, "interrupt_once", scheduler="sync", segment_seconds=1)
    assert JobFolder(output).path.is_dir() and not OutputLock(output).path.exists()
    result = render(source, output, "interrupt_once", scheduler="sync", segment_seconds=1, resume=True)
    assert result.frames_reused == 30 and frame_indices(output) == list(range(90))


def test_a_folder_that_cannot_be_written_is_one_output_error(source: Path) -> None:
    with pytest.raises(OutputError, match=r"cannot write to folder '/proc' \(No such file or directory\)"):
        render(source, "/proc/x.mp4", **FAST)
