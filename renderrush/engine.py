"""Run one render job as a dask graph: one `dask.delayed` task per segment, then one
stitch task, on the scheduler the caller picks (synchronous, threads, processes, or a
`distributed.Client`)."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dask
import psutil

from .errors import SettingsError
from .filters import FilterChain
from .outputs import check_output_path
from .plan import plan_segments
from .pools import discard_pool, process_pool
from .probe import VideoInfo, probe
from .progress import STITCHED, ProgressCallback, ProgressPoller, progress_path, stitch_marker
from .render import EncodeSettings, SegmentJob, SegmentResult, even_size, render_segment
from .resources import available_cores, cpu_busy_percent, encoder_threads, threads_per_worker
from .stitch import stitch

SCHEDULERS = ("sync", "threads", "processes")
SCHEDULER_ALIASES = {"synchronous": "sync", "single-threaded": "sync", "sequential": "sync", "multiprocessing": "processes"}
MIN_SEGMENT_SECONDS = 2.0
SEGMENTS_PER_WORKER = 4


@dataclass
class JobResult:
    """Outcome and timings of one render job."""

    input: Path
    output: Path
    filters: str
    scheduler: str
    workers: int
    threads_per_worker: int
    segment_seconds: float
    encode: EncodeSettings
    info: VideoInfo
    segments: list[SegmentResult]
    frames: int
    wall_seconds: float
    stitch_seconds: float
    cpu_percent: float
    """Average utilisation of all cores while the job ran, 0–100."""
    started_at: float = field(default_factory=time.time)

    @property
    def fps(self) -> float:
        return self.frames / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": str(self.input),
            "output": str(self.output),
            "filters": self.filters,
            "scheduler": self.scheduler,
            "workers": self.workers,
            "threads_per_worker": self.threads_per_worker,
            "segment_seconds": self.segment_seconds,
            "preset": self.encode.preset,
            "crf": self.encode.crf,
            "encoder_threads": self.encode.threads,
            "video": self.info.to_dict(),
            "segments": [vars(s) for s in self.segments],
            "frames": self.frames,
            "wall_seconds": self.wall_seconds,
            "stitch_seconds": self.stitch_seconds,
            "fps": self.fps,
            "cpu_percent": self.cpu_percent,
            "started_at": self.started_at,
        }


def default_workers() -> int:
    """One worker per core this process may use."""
    return available_cores()


def default_segment_seconds(duration: float, workers: int) -> float:
    """About four segments per worker (so the last one running alone is short), but at
    least two seconds each (every segment pays a seek and an encoder start)."""
    return max(MIN_SEGMENT_SECONDS, duration / (workers * SEGMENTS_PER_WORKER))


def resolve_scheduler(scheduler: Any) -> tuple[Any, str]:
    """(what dask.compute takes, a printable name) for a scheduler name or Client."""
    if hasattr(scheduler, "get") and hasattr(scheduler, "submit"):
        return scheduler, f"distributed:{getattr(scheduler, 'scheduler', None) and scheduler.scheduler.address}"
    name = SCHEDULER_ALIASES.get(scheduler, scheduler)
    if name not in SCHEDULERS:
        raise SettingsError(f"unknown scheduler '{scheduler}'; use one of {', '.join(SCHEDULERS)} or a distributed.Client")
    return name, name


def check_workers(workers: int | None) -> int:
    workers = default_workers() if workers is None else workers
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise SettingsError(f"workers must be a whole number of at least 1, got {workers!r}")
    return workers


def _compute_options(scheduler_name: str, workers: int) -> dict[str, Any]:
    """dask.compute keywords: one task per worker at a time (dask's default batches six)."""
    if scheduler_name == "processes":
        return {"pool": process_pool(workers), "chunksize": 1}
    if scheduler_name == "threads":
        return {"num_workers": workers}
    return {}


def _stitch_task(
    results: list[SegmentResult], workdir: str, output: Path, info: VideoInfo
) -> tuple[list[SegmentResult], float]:
    started = time.perf_counter()
    stitch_marker(Path(workdir)).touch()
    stitch(
        [r.output for r in sorted(results, key=lambda r: r.index)],
        output,
        expected_frames=sum(r.frames for r in results),
        audio_source=info.path if info.has_audio else None,
        audio_codec=info.audio_codec,
    )
    return results, time.perf_counter() - started


def render(
    input: str | os.PathLike,
    output: str | os.PathLike,
    filters: str | FilterChain | None = None,
    workers: int | None = None,
    segment_seconds: float | None = None,
    scheduler: Any = "processes",
    preset: str = "veryfast",
    crf: float = 23,
    progress: ProgressCallback | None = None,
    snap_to_keyframes: bool = False,
    label: str = "",
    cancel: threading.Event | None = None,
) -> JobResult:
    """Render `input` through `filters` into the H.264 MP4 `output` in parallel segments.

    `workers` defaults to the usable cores; `segment_seconds` to about four segments per
    worker. `scheduler` is "processes" (default), "threads", "sync" (one segment at a
    time: the honest sequential baseline) or a `distributed.Client` whose workers see
    the same files. `progress` receives `ProgressEvent`s several times a second.
    Setting the `cancel` event stops the job within a fraction of a second
    (`JobCancelledError`). The output appears only if the whole job succeeds.
    """
    started_at, started = time.time(), time.perf_counter()
    chain = FilterChain.parse(filters)
    encode = EncodeSettings(preset=preset, crf=crf, threads=encoder_threads())
    dask_scheduler, scheduler_name = resolve_scheduler(scheduler)
    workers = 1 if scheduler_name == "sync" else check_workers(workers)
    info = probe(input)
    output = check_output_path(Path(output), info.path)
    segment_seconds = segment_seconds or default_segment_seconds(info.duration, workers)
    segments = plan_segments(info, segment_seconds, snap_to_keyframes=snap_to_keyframes)
    width, height = even_size(info.width, info.height)
    threads = threads_per_worker(workers)
    workdir = Path(tempfile.mkdtemp(prefix=f".{output.stem}.renderrush-", dir=output.parent))
    cpu_before = psutil.cpu_times()
    try:
        jobs = [
            SegmentJob(
                source=str(info.path), segment=seg, width=width, height=height, fps=info.fps, chain=chain,
                encode=encode, threads=threads, output=str(workdir / f"segment-{seg.index:05d}.mp4"),
                progress=str(progress_path(workdir, seg.index)),
            )
            for seg in segments
        ]  # fmt: skip
        tasks = [dask.delayed(render_segment, pure=False)(job, dask_key_name=f"segment-{job.segment.index}") for job in jobs]
        graph = dask.delayed(_stitch_task, pure=False)(tasks, str(workdir), output, info, dask_key_name="stitch")
        with ProgressPoller(workdir, segments, progress, label=label, cancel=cancel) as poller:
            (results, stitch_seconds), = dask.compute(graph, scheduler=dask_scheduler, **_compute_options(scheduler_name, workers))
        poller.emit(STITCHED)
    except BaseException:
        if scheduler_name == "processes":
            discard_pool(workers)  # interrupted or failed workers may still be busy
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return JobResult(
        input=info.path,
        output=output,
        filters=str(chain),
        scheduler=scheduler_name,
        workers=workers,
        threads_per_worker=threads,
        segment_seconds=segment_seconds,
        encode=encode,
        info=info,
        segments=sorted(results, key=lambda r: r.index),
        frames=sum(r.frames for r in results),
        wall_seconds=time.perf_counter() - started,
        stitch_seconds=stitch_seconds,
        cpu_percent=cpu_busy_percent(cpu_before, psutil.cpu_times()),
        started_at=started_at,
    )
