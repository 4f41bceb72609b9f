"""Short jobs run in the calling process: one worker or one segment never starts a pool
(worker processes cost 0.5-1 s to start on 2 cores), and the advisor sends jobs shorter
than that start-up there too. The CLI runs built-in chains on threads. Pools start the
longest segments first."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import numpy as np
import pytest

from renderrush import Param, render
from renderrush.backends import local
from renderrush.cli import default_scheduler
from renderrush.core.errors import SegmentError
from renderrush.core.segment import Segment
from renderrush.jobs import plan
from renderrush.media.ffmpeg import decoded_md5
from renderrush.recording.advisor import RunTiming, recommend
from renderrush.segments.render import SegmentJob, SegmentResult

from ...support.filters import FilterRegistry
from ...support.frames import frame_indices

CLIP_FRAMES = 90
PLENTY = 10**12


@pytest.mark.parametrize("scheduler", ["processes", "threads"])
def test_one_segment_renders_in_this_process(clip: Path, tmp_path: Path, scheduler: str) -> None:
    result = render(clip, tmp_path / "one.mp4", "grayscale", workers=2, segment_seconds=10, scheduler=scheduler)
    assert (result.scheduler, result.workers, len(result.segments)) == ("sync", 1, 1)
    assert {s.worker_pid for s in result.segments} == {os.getpid()}
    assert frame_indices(result.output) == list(range(CLIP_FRAMES))
    sync = render(clip, tmp_path / "sync.mp4", "grayscale", segment_seconds=10, scheduler="sync")
    assert decoded_md5(result.output) == decoded_md5(sync.output)


def test_one_worker_renders_every_segment_in_this_process(clip: Path, tmp_path: Path) -> None:
    result = render(clip, tmp_path / "w1.mp4", "grayscale", workers=1, segment_seconds=1, scheduler="processes")
    assert (result.scheduler, result.workers, len(result.segments)) == ("sync", 1, 3)
    assert {s.worker_pid for s in result.segments} == {os.getpid()}
    assert frame_indices(result.output) == list(range(CLIP_FRAMES))


def test_two_segments_on_two_workers_still_use_the_pool(clip: Path, tmp_path: Path) -> None:
    result = render(clip, tmp_path / "pool.mp4", "grayscale", workers=2, segment_seconds=1.5, scheduler="processes")
    assert (result.scheduler, result.workers, len(result.segments)) == ("processes", 2, 2)
    assert os.getpid() not in {s.worker_pid for s in result.segments}


def test_advisor_keeps_jobs_shorter_than_worker_start_up_in_process() -> None:
    short = recommend(640, 360, 1.0, cores=2, available_memory=PLENTY, frames=30)
    assert (short.method, short.workers) == ("in-process", 1)
    assert short.segment_seconds >= 1.0, "one segment: no extra seek or encoder start"
    assert "In process" in short.reason and "start worker processes" in short.reason
    assert recommend(640, 360, 1.0, cores=1, available_memory=PLENTY, frames=30).method == "in-process"
    long = recommend(1280, 720, 20.0, cores=2, available_memory=PLENTY, frames=600)
    assert (long.method, long.workers) == ("rules", 2)
    # a chain measured slow at one worker (50 ms per frame: 1.5 s for 30 frames, 0.75 s saved by 2 workers) is worth a pool
    slow = [RunTiming(1, 0.05 * 300, 640, 360, 300)]
    assert recommend(640, 360, 1.0, slow, cores=2, available_memory=PLENTY, frames=30).method != "in-process"
    fast = [RunTiming(1, 0.001 * 3000, 640, 360, 3000)]  # 1 ms per frame: 600 frames in 0.6 s, 0.3 s to save
    rec = recommend(640, 360, 20.0, fast, cores=2, available_memory=PLENTY, frames=600)
    assert rec.method == "in-process" and "median of 1 past run at 1 worker" in rec.reason


def test_default_render_of_a_short_clip_uses_no_pool(clip: Path, tmp_path: Path) -> None:
    result = render(clip, tmp_path / "short.mp4", "grayscale", history=False)
    assert result.recommendation is not None and result.recommendation["method"] == "in-process"
    assert (result.scheduler, result.workers, len(result.segments)) == ("sync", 1, 1)
    assert frame_indices(result.output) == list(range(CLIP_FRAMES))


def test_cli_short_render_imports_no_dask_and_says_where_it_ran(clip: Path, tmp_path: Path) -> None:
    """The whole terminal path of a short job: no dask, distributed or jsonschema is loaded."""
    output = tmp_path / "cli.mp4"
    script = textwrap.dedent(f"""
        import json, sys
        from renderrush.cli import main
        status = main(["render", {str(clip)!r}, "-o", {str(output)!r}, "--filters", "grayscale", "--no-progress"])
        loaded = sorted({{m.split(".")[0] for m in sys.modules}} & {{"dask", "distributed", "jsonschema", "plotly", "ipywidgets", "pandas"}})
        print(json.dumps({{"status": status, "loaded": loaded}}))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert json.loads(lines[-1]) == {"status": 0, "loaded": []}
    assert "1 segment in this process (no worker pool)" in lines[-2]
    assert "advisor: 1 worker," in done.stderr and "(in-process)" in done.stderr
    assert frame_indices(output) == list(range(CLIP_FRAMES))


def test_cli_default_scheduler_is_threads_for_built_in_filters(registry: FilterRegistry) -> None:
    assert default_scheduler(None) == default_scheduler("grayscale,blur:5,contrast:1.3") == "threads"

    @registry.register("python_loop", level=Param(1, 0, 9, "unused"))
    def python_loop(frame: np.ndarray, level: int) -> np.ndarray:
        return frame

    assert default_scheduler("grayscale,python_loop") == "processes"


def _uneven_segments(monkeypatch: pytest.MonkeyPatch) -> None:
    """Plan 50, 10 and 30 frames: longest first is 0, 2, 1, unlike index order (0, 1, 2)
    and unlike the key order dask's local schedulers used (2, 1, 0)."""
    monkeypatch.setattr(plan, "plan_segments", lambda info, *_, **__: plan._segments(info, [0, 50, 60, 90]))


def test_local_pool_starts_the_longest_segments_first(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _uneven_segments(monkeypatch)
    started: list[int] = []
    real = local.timed_segment

    def recording(job: SegmentJob) -> SegmentResult:
        started.append(job.segment.index)
        return real(job)

    monkeypatch.setattr(local, "timed_segment", recording)
    # one pool thread: tasks start exactly in the order the backend hands them over
    monkeypatch.setattr(local, "_pool", lambda scheduler, workers: ThreadPoolExecutor(max_workers=1))
    result = render(clip, tmp_path / "ordered.mp4", "grayscale", workers=2, scheduler="threads", history=False)
    assert result.scheduler == "threads"
    assert started == [0, 2, 1]
    assert [s.index for s in result.segments] == [0, 1, 2], "results and the stitch stay in index order"
    assert [s.frames for s in result.segments] == [50, 10, 30]
    assert frame_indices(result.output) == list(range(CLIP_FRAMES))


def test_longest_first_on_two_worker_processes_gives_the_sync_frames(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _uneven_segments(monkeypatch)
    pooled = render(clip, tmp_path / "pool.mp4", "grayscale", workers=2, scheduler="processes", history=False)
    assert (pooled.scheduler, [s.frames for s in pooled.segments]) == ("processes", [50, 10, 30])
    sync = render(clip, tmp_path / "sync.mp4", "grayscale", scheduler="sync", history=False)
    assert frame_indices(pooled.output) == list(range(CLIP_FRAMES))
    assert decoded_md5(pooled.output) == decoded_md5(sync.output)


def test_schedule_orders_by_length_then_index() -> None:
    def job(index: int, start: int, stop: int) -> SegmentJob:
        return cast(SegmentJob, SimpleNamespace(segment=Segment(index, start, stop)))

    jobs = [job(0, 0, 10), job(1, 10, 40), job(2, 40, 50), job(3, 50, 80)]
    assert [j.segment.index for j in local.schedule(jobs)] == [1, 3, 0, 2]


def test_a_failing_segment_stops_the_job_and_cancels_what_has_not_started(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _uneven_segments(monkeypatch)
    started: list[int] = []

    def failing(job: SegmentJob) -> SegmentResult:
        started.append(job.segment.index)
        raise SegmentError(job.segment.index, "broken on purpose")

    monkeypatch.setattr(local, "timed_segment", failing)
    monkeypatch.setattr(local, "_pool", lambda scheduler, workers: ThreadPoolExecutor(max_workers=1))
    with pytest.raises(SegmentError, match="broken on purpose"):
        render(clip, tmp_path / "failed.mp4", "grayscale", workers=2, scheduler="threads", history=False)
    assert started == [0], "the segments queued behind the failure never start"
    assert not (tmp_path / "failed.mp4").exists()
