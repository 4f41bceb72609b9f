"""Fixtures the notebook component tests share: a private history per test, a small clip for
the jobs the components show, one real render of it (made once; tests read it, never change
it), CPU readings that do not block, and factories for the progress events and monitor
samples the components are fed with."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

import renderrush as rr
from renderrush.jobs.result import JobResult
from renderrush.recording.monitor import Sample
from renderrush.segments.progress import ProgressEvent


@pytest.fixture(autouse=True)
def own_default_history(private_default_history: Path) -> Path:
    """Every component test records into a default history of its own."""
    return private_default_history


@pytest.fixture
def quick_cpu(monkeypatch: pytest.MonkeyPatch) -> float:
    """The machine's CPU reads 12.5 % at once, instead of over 0.1 s (the gauges' first reading)
    or 0.2 s (the health score): for tests about something else. Returns the reading."""
    monkeypatch.setattr(psutil, "cpu_percent", lambda interval=None, percpu=False: 12.5)
    return 12.5


@pytest.fixture(scope="session")
def small_clip(videos: Path) -> Path:
    """3 s, 10 fps, 64x48, no audio (30 frames): three 1 s segments at a fraction of `clip`'s cost
    (the components show a job's figures; the frames themselves are the engine's tests' business)."""
    return rr.make_sample_video(videos / "ui-small.mp4", seconds=3, size=(64, 48), fps=10, audio=False)


@pytest.fixture(scope="session")
def rendered(small_clip: Path, tmp_path_factory: pytest.TempPathFactory) -> JobResult:
    """`small_clip` rendered in grayscale by 2 thread workers in 1 s segments (3 segments), not recorded."""
    output = tmp_path_factory.mktemp("ui-render") / "out.mp4"
    return rr.render(
        small_clip, output, "grayscale", workers=2, segment_seconds=1.0, scheduler="threads", history=False
    )


def _event(
    kind: str,
    done: int,
    elapsed: float,
    segment: int | None = None,
    seg_done: int = 0,
    job: str = "",
    segments_done: int = 0,
) -> ProgressEvent:
    """An event of a 90-frame job in 3 segments of 30 frames."""
    return ProgressEvent(
        kind=kind,
        frames_done=done,
        frames_total=90,
        segments_done=segments_done,
        segments_total=3,
        elapsed=elapsed,
        segment=segment,
        segment_frames_done=seg_done,
        segment_frames_total=30,
        job=job,
    )


def _sample(t: float, cpu: float = 50.0, job_cpu: float = 100.0) -> Sample:
    """A monitor sample of a 2-core machine with 75 % of its 4 GB memory in use."""
    return Sample(
        t=t,
        cpu_percent=cpu,
        per_core=(cpu, cpu),
        mem_used=3 * 10**9,
        mem_available=1 * 10**9,
        swap_percent=0.0,
        disk_read_bps=0.0,
        disk_write_bps=0.0,
        job_rss=10**8,
        job_cpu_percent=job_cpu,
        job_processes=3,
    )


@pytest.fixture
def event() -> Callable[..., ProgressEvent]:
    """`event(kind, done, elapsed, segment=, seg_done=, job=, segments_done=)`: a progress event."""
    return _event


@pytest.fixture
def sample() -> Callable[..., Sample]:
    """`sample(t, cpu=, job_cpu=)`: a monitor sample."""
    return _sample
