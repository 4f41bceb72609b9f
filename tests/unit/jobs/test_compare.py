"""The honest comparison (`renderrush.jobs.compare`): one plan (one probe) is rendered twice,
sequentially in this process and then on the job's scheduler; the `Comparison` says
whether both outputs decode to the same frames, each run keeps its own slice of the
monitor's timeline, outputs live in a temporary folder unless kept, worker processes are
started before the parallel run is timed, and a `TimelineError` replans both runs.

The parallel run goes to a backend object that renders in this process (the sync local
backend) and reports itself as "fake", on a one-second clip of 15 frames."""

from __future__ import annotations

import importlib
import shutil
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from renderrush import make_sample_video
from renderrush.backends.base import BackendRun, Work
from renderrush.backends.local import LocalBackend
from renderrush.core.errors import SegmentError, SettingsError, TimelineError
from renderrush.jobs import engine
from renderrush.jobs.compare import compare
from renderrush.jobs.options import RenderOptions
from renderrush.jobs.plan import JobPlan
from renderrush.recording.recorded import Recording
from renderrush.segments.progress import ProgressEvent

from ...support.frames import SMALL, frame_indices

FRAMES = 15
compare_module = importlib.import_module("renderrush.jobs.compare")  # the package's `compare` attribute is the function


@pytest.fixture(scope="module")
def short(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sample_video(
        tmp_path_factory.mktemp("compare") / "short.mp4", seconds=1, size=SMALL, fps=15, audio=False
    )


class InProcessBackend:
    """Renders for real with the sync local backend, then reports the run as "fake" on the
    plan's workers; `fail` is raised instead for work whose frame table came from `fail_on`."""

    def __init__(self, fail: BaseException | None = None, fail_on: str = "packets") -> None:
        self.fail, self.fail_on = fail, fail_on
        self.works: list[Work] = []

    def run(self, work: Work, cancel: threading.Event | None) -> BackendRun:
        self.works.append(work)
        if self.fail is not None and work.info.timeline == self.fail_on:
            raise self.fail
        return replace(LocalBackend("sync").run(work, cancel), scheduler="fake", workers=work.workers)


class CopyBackend(InProcessBackend):
    """Writes the unfiltered source as its output: frames that differ from a filtered run."""

    def run(self, work: Work, cancel: threading.Event | None) -> BackendRun:
        run = super().run(work, cancel)
        shutil.copyfile(work.info.path, work.output)
        return run


def test_both_runs_render_one_plan_to_the_same_frames(
    short: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plans: list[JobPlan] = []
    real_plan_job = compare_module.plan_job

    def counting_plan_job(*args: Any, **kwargs: Any) -> JobPlan:
        plans.append(real_plan_job(*args, **kwargs))
        return plans[-1]

    monkeypatch.setattr(compare_module, "plan_job", counting_plan_job)
    backend, kept = InProcessBackend(), tmp_path / "kept" / "here"  # created on demand
    result = compare(
        short, "grayscale", workers=2, segment_seconds=0.5, scheduler=backend, keep_outputs=kept, history=False
    )
    (plan,) = plans
    (work,) = backend.works
    assert work.segments == plan.segments and work.workers == 2
    sequential, parallel = result.sequential, result.parallel
    assert (sequential.scheduler, sequential.workers, parallel.scheduler, parallel.workers) == ("sync", 1, "fake", 2)
    assert [(s.index, s.frames) for s in sequential.segments] == [(0, 8), (1, 7)]
    assert [(s.index, s.frames) for s in parallel.segments] == [(0, 8), (1, 7)]
    assert sequential.encode == parallel.encode == plan.encode
    assert sequential.segment_seconds == parallel.segment_seconds == 0.5
    assert sequential.info is parallel.info is plan.info
    assert sorted(p.name for p in kept.iterdir()) == ["short.parallel.mp4", "short.sequential.mp4"]
    assert (sequential.output, parallel.output) == (kept / "short.sequential.mp4", kept / "short.parallel.mp4")
    assert frame_indices(sequential.output) == frame_indices(parallel.output) == list(range(FRAMES))
    assert result.identical and result.workers == 2 and result.startup_seconds == 0.0


def test_the_ceiling_comes_from_the_sequential_runs_own_cpu(short: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sequential run renders in this process: its CPU is this process's CPU over it
    (here a fake clock: 3 s of CPU per run), and the ceiling is cores x wall / CPU."""
    clock = iter([10.0, 13.0, 13.0, 16.0])
    monkeypatch.setattr(compare_module, "_cpu_seconds", lambda: next(clock))
    monkeypatch.setattr(compare_module, "available_cores", lambda: 2)
    result = compare(short, "grayscale", workers=2, segment_seconds=0.5, scheduler=InProcessBackend(), history=False)
    assert (result.sequential_cpu_seconds, result.cores) == (3.0, 2)
    assert result.ceiling == pytest.approx(min(2.0, 2 * result.sequential.wall_seconds / 3.0))
    data = result.to_dict()
    assert (data["ceiling"], data["cores"], data["sequential_cpu_seconds"]) == (result.ceiling, 2, 3.0)


def test_the_real_cpu_clock_counts_this_process() -> None:
    before = compare_module._cpu_seconds()
    sum(i * i for i in range(2_000_000))  # CPU work in this thread
    assert compare_module._cpu_seconds() > before


def test_outputs_that_decode_differently_are_reported_and_the_temporary_folder_goes(short: Path) -> None:
    backend = CopyBackend()
    result = compare(short, "invert", workers=2, segment_seconds=0.5, scheduler=backend, history=False)
    assert not result.identical and "outputs DIFFER" in result.summary()
    assert result.sequential.frames == result.parallel.frames == FRAMES
    folder = backend.works[0].output.parent
    assert folder.name.startswith("renderrush-compare-") and folder == result.sequential.output.parent
    assert not folder.exists()


def test_a_failed_run_still_removes_the_temporary_folder(short: Path) -> None:
    backend = InProcessBackend(fail=SegmentError(1, "decoder exploded"))
    with pytest.raises(SegmentError, match="segment 1 failed: decoder exploded"):
        compare(short, workers=2, segment_seconds=0.5, scheduler=backend, history=False)
    (work,) = backend.works
    assert not work.output.parent.exists()


def test_resume_is_refused(short: Path) -> None:
    backend = InProcessBackend()
    with pytest.raises(SettingsError, match="resume applies to render only"):
        compare(short, options=RenderOptions(resume=True, scheduler=backend, history=False))
    assert backend.works == []


def test_workers_default_to_every_usable_core_not_the_advisor(short: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compare_module, "default_workers", lambda: 3)
    backend = InProcessBackend()
    result = compare(short, segment_seconds=0.34, scheduler=backend, history=False)
    assert backend.works[0].workers == result.workers == 3
    assert [s.frames for s in result.parallel.segments] == [5, 5, 5]
    assert result.parallel.recommendation is None


def test_worker_processes_start_before_the_parallel_run_is_timed(short: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    steps: list[str] = []

    def warm_pool(workers: int) -> float:
        steps.append(f"warm {workers}")
        return 1.25

    def backend_for(options: RenderOptions) -> LocalBackend:
        steps.append(f"{options.label} on {options.scheduler}")
        return LocalBackend("sync")  # renders in this process: no pool is started for real

    monkeypatch.setattr(compare_module, "warm_pool", warm_pool)
    monkeypatch.setattr(engine, "backend_for", backend_for)
    result = compare(short, workers=2, segment_seconds=0.5, history=False)  # the default scheduler: processes
    assert steps == ["warm 2", "sequential on sync", "parallel on processes"]
    assert result.startup_seconds == 1.25
    assert "starting the worker processes took 1.25 s" in result.summary()
    steps.clear()
    assert compare(short, workers=2, segment_seconds=0.5, scheduler="threads", history=False).startup_seconds == 0.0
    assert steps == ["sequential on sync", "parallel on threads"], "no pool to warm for threads"


def test_progress_events_name_their_run(short: Path) -> None:
    events: list[ProgressEvent] = []
    compare(short, workers=2, segment_seconds=0.5, scheduler=InProcessBackend(), progress=events.append, history=False)
    runs = [e.job for e in events]
    assert set(runs) == {"sequential", "parallel"}
    assert runs == sorted(runs, key=["sequential", "parallel"].index), "the sequential run comes first"
    assert all(e.frames_total == FRAMES for e in events)


def test_each_run_keeps_the_monitor_samples_of_its_own_time(short: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    windows: list[tuple[float, float]] = []

    def window(self: Recording, started_at: float, seconds: float) -> list[dict[str, Any]]:
        windows.append((started_at, seconds))
        return [{"t": 0.0, "run": len(windows)}]

    monkeypatch.setattr(Recording, "window", window)
    result = compare(short, workers=2, segment_seconds=0.5, scheduler=InProcessBackend(), history=False)
    sequential, parallel = result.sequential, result.parallel
    assert windows == [(sequential.started_at, sequential.wall_seconds), (parallel.started_at, parallel.wall_seconds)]
    assert sequential.timeline == [{"t": 0.0, "run": 1}] and parallel.timeline == [{"t": 0.0, "run": 2}]
    assert sequential.started_at < parallel.started_at


def test_a_timeline_error_replans_both_runs_from_a_decode_pass(short: Path) -> None:
    backend = InProcessBackend(fail=TimelineError(1, "a frame decoded after frame 8 has no timestamp"))
    result = compare(short, workers=2, segment_seconds=0.5, scheduler=backend, history=False)
    assert [w.info.timeline for w in backend.works] == ["packets", "decoded"]
    assert result.sequential.info.timeline == result.parallel.info.timeline == "decoded"
    assert result.identical and result.parallel.frames == FRAMES
    assert not any(w.output.parent.exists() for w in backend.works)
