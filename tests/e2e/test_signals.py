"""SIGTERM (`kill PID`, a batch scheduler) and SIGHUP (a closed terminal) stop a job the
way Ctrl-C does: workers stopped, no output, finished segments kept for `--resume`, exit
status 128 + the signal, the job recorded as interrupted, and no process left behind."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil
import pytest

from renderrush import History, make_sample_video
from renderrush.segments.jobfolder import JobFolder, OutputLock

from ..support.frames import frame_indices
from ..support.jobs import start_cli, wait_for

# the `gate` filter holds the last of the four segments (frames 90-119) until the test ends
# the job: the other three finish, whatever order the scheduler starts them in
JOB = ["--filters", "gate", "--workers", "2", "--segment-seconds", "1", "--no-progress"]


@pytest.fixture(scope="module")
def source(videos: Path) -> Path:
    return make_sample_video(videos / "signals.mp4", seconds=4, size=(160, 120), fps=30, audio=False)


def finished_segments(folder: Path) -> list[Path]:
    return sorted(folder.glob("segment-*[0-9].mp4"))


def assert_all_gone(processes: list[psutil.Process], within: float = 15) -> None:
    """Every process in `processes` has exited (zombies count as exited)."""
    deadline = time.monotonic() + within
    alive = processes
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        time.sleep(0.1)
    assert not alive, f"outlived the job: {[(p.pid, ' '.join(p.cmdline())[:80]) for p in alive]}"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=["term", "hup", "int"])
def test_a_signal_stops_the_job_like_ctrl_c_and_resume_finishes_it(
    source: Path, tmp_path: Path, history_file: Path, sig: signal.Signals
) -> None:
    output = tmp_path / "out.mp4"
    job = start_cli(tmp_path, "render", source, "-o", output, *JOB, gate_file=tmp_path / "never", gate_from=90)
    folder = JobFolder(output).path
    wait_for(lambda: len(finished_segments(folder)) == 3, job, "all but the held segment finished")
    descendants = psutil.Process(job.pid).children(recursive=True)
    assert len(descendants) >= 2, "the workers are running"
    recorded = len(History(history_file))

    os.kill(job.pid, sig)  # the job's own process only, as `kill PID` does
    _, err = job.communicate(timeout=60)
    how = "interrupted" if sig == signal.SIGINT else f"stopped by {sig.name}"
    assert err.splitlines() == [
        f"renderrush: {how}; no output was written (run the same command with --resume to continue)"
    ]
    assert job.returncode == 128 + sig
    assert not output.exists() and not OutputLock(output).path.exists()
    assert len(finished_segments(folder)) == 3, "finished segments are kept for --resume"
    assert_all_gone(descendants)
    records = History(history_file).list(limit=1)
    assert len(History(history_file)) == recorded + 1 and records[0].status == "interrupted"

    resumed = start_cli(tmp_path, "render", source, "-o", output, *JOB, "--resume", "--json")
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert '"frames_reused": 90' in out and frame_indices(output) == list(range(120))
    assert not folder.exists()


def test_a_second_ctrl_c_during_the_clean_up_leaves_no_file_behind(source: Path, tmp_path: Path) -> None:
    output = tmp_path / "out.mp4"
    job = start_cli(tmp_path, "render", source, "-o", output, *JOB, gate_file=tmp_path / "never", gate_from=90)
    folder = JobFolder(output).path
    wait_for(lambda: len(finished_segments(folder)) == 3, job, "all but the held segment finished")
    descendants = psutil.Process(job.pid).children(recursive=True)
    os.killpg(job.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole process group
    time.sleep(0.05)
    os.killpg(job.pid, signal.SIGINT)  # impatient: again while the workers are being stopped
    _, err = job.communicate(timeout=60)
    assert job.returncode == 130 and "Traceback" not in err
    assert err.splitlines()[-1].startswith("renderrush: interrupted; no output was written")
    assert_all_gone(descendants)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.mp4.renderrush", "launch_renderrush.py"]
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith("segment-")) == [
        "cancel.requested",
        "manifest.json",
    ]
