"""Run one render job as a dask graph: one `dask.delayed` task per segment, then the
stitch, on the scheduler the caller picks: synchronous, threads, processes (local), or a
dask distributed cluster (see `cluster.py`)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psutil

from .advisor import rule_segment_seconds
from .decode import Picture, Source
from .encode import VideoTags
from .errors import JobCancelledError, SettingsError, TimelineError
from .filters import FilterChain
from .history import History
from .jobfolder import JobFolder, cannot_write, job_signature
from .limits import MemoryGuard, check_disk_space
from .monitor import Sample
from .outputs import check_output_path
from .plan import Segment, plan_segments
from .pools import discard_pool, process_pool
from .probe import VideoInfo, probe
from .progress import (
    STITCHED,
    FileReporter,
    FolderStatus,
    ProgressCallback,
    ProgressPoller,
    cancel_marker,
    progress_path,
    stitch_marker,
)
from .recording import HistoryOption, advise, open_history, recorded
from .resources import available_cores, cpu_busy_percent, encoder_threads, threads_per_worker
from .segment import EncodeSettings, SegmentJob, SegmentResult, read_timestamps, render_segment
from .stitch import Part, stitch
from .timeline import segment_timeline, timed_segment

LOCAL_SCHEDULERS = ("sync", "threads", "processes")
SCHEDULER_ALIASES = {
    "synchronous": "sync",
    "single-threaded": "sync",
    "sequential": "sync",
    "multiprocessing": "processes",
}


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
    """Average utilisation of all local cores while the job ran, 0–100."""
    started_at: float = field(default_factory=time.time)
    worker_metrics: list[dict[str, Any]] = field(default_factory=list)
    """Per-worker CPU and memory samples from a cluster's scheduler (empty for local jobs)."""
    recommendation: dict[str, Any] | None = None
    """The advisor's recommendation, when workers were not given."""
    timeline: list[dict[str, Any]] = field(default_factory=list)
    """Monitor samples (machine and job processes) taken while the job ran."""
    job_id: int | None = None
    """Id of this job in the history (None when not recorded)."""
    warnings: list[str] = field(default_factory=list)
    """What of the source the output could not keep (streams, transparency, damaged frames)."""
    segment_timeline: list[dict[str, Any]] = field(default_factory=list)
    """When and on which worker each segment ran (`renderrush.timeline`); "timeline" in `to_dict()`."""
    input_bytes_to_workers: int = 0
    """Input bytes sent to cluster workers, summed over workers (0 for local jobs)."""
    output_bytes_from_workers: int = 0
    """Segment bytes cluster workers sent back (0 for local jobs and shared storage)."""

    @property
    def fps(self) -> float:
        """Frames per second of the whole job, stitching included."""
        return self.frames / self.wall_seconds if self.wall_seconds > 0 else 0.0

    @property
    def frames_reused(self) -> int:
        """Frames taken over from an interrupted earlier run (resume)."""
        return sum(s.frames for s in self.segments if s.reused)

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
            "segments": [{k: v for k, v in vars(s).items() if k != "data"} for s in self.segments],
            "frames": self.frames,
            "frames_reused": self.frames_reused,
            "wall_seconds": self.wall_seconds,
            "stitch_seconds": self.stitch_seconds,
            "fps": self.fps,
            "cpu_percent": self.cpu_percent,
            "started_at": self.started_at,
            "worker_metrics": self.worker_metrics,
            "recommendation": self.recommendation,
            "job_id": self.job_id,
            "warnings": self.warnings,
            "timeline": self.segment_timeline,
            "input_bytes_to_workers": self.input_bytes_to_workers,
            "output_bytes_from_workers": self.output_bytes_from_workers,
        }


def check_cancel(cancel: threading.Event | None) -> None:
    """Raise `JobCancelledError` if the caller has already asked the job to stop."""
    if cancel is not None and cancel.is_set():
        raise JobCancelledError()


def default_workers() -> int:
    """One worker per core this process may use."""
    return available_cores()


def check_workers(workers: int | None) -> int:
    """`workers`, or the default; raises `SettingsError` unless it is a whole number >= 1."""
    workers = default_workers() if workers is None else workers
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise SettingsError(f"workers must be a whole number of at least 1, got {workers!r}")
    return workers


def is_cluster(scheduler: Any) -> bool:
    """True for a distributed Client, "local" (a LocalCluster) or a scheduler address."""
    if hasattr(scheduler, "submit") and hasattr(scheduler, "scheduler_info"):
        return True
    return isinstance(scheduler, str) and (scheduler == "local" or "://" in scheduler or ":" in scheduler)


def local_scheduler_name(scheduler: Any) -> str:
    """Canonical local scheduler name; raises `SettingsError` for unknown ones."""
    name = SCHEDULER_ALIASES.get(scheduler, scheduler)
    if name not in LOCAL_SCHEDULERS:
        raise SettingsError(
            f"unknown scheduler '{scheduler}'; use one of {', '.join(LOCAL_SCHEDULERS)}, "
            "'local' (a LocalCluster), a scheduler address such as tcp://host:8786, or a distributed.Client"
        )
    return name


def segment_tasks(
    jobs: list[SegmentJob], task: Any = render_segment, *extra: Any, prefix: str = "segment"
) -> list[Any]:
    """One `dask.delayed` task per segment job (`extra` arguments follow the job)."""
    import dask  # only jobs that run on a pool or a cluster need dask (0.3 s to import)

    return [dask.delayed(task, pure=False)(job, *extra, dask_key_name=f"{prefix}-{job.segment.index}") for job in jobs]


def _job_pool(scheduler_name: str, workers: int) -> Executor | None:
    """The executor a local job runs its tasks on (None for the synchronous scheduler)."""
    if scheduler_name == "processes":
        return process_pool(workers)
    if scheduler_name == "threads":
        return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="renderrush-segment")
    return None


def stitch_job(
    results: list[SegmentResult], folder: Path, output: Path, info: VideoInfo
) -> tuple[list[SegmentResult], float, list[str]]:
    """The stitch step: join segment files (in index order) with the source's other
    streams; returns the results, the seconds it took and what could not be kept."""
    started = time.perf_counter()
    if cancel_marker(folder).exists():
        raise JobCancelledError()
    stitch_marker(folder).touch()
    ordered = sorted(results, key=lambda r: r.index)
    parts = [Part(Path(r.output), r.pts or read_timestamps(r.output)) for r in ordered]
    try:
        dropped = stitch(parts, output, info=info, work_dir=folder)
    except OSError as exc:  # its own files beside the output: a full disk, a folder gone read-only
        raise cannot_write(output.parent, exc) from None
    return ordered, time.perf_counter() - started, dropped


def source_warnings(info: VideoInfo, results: list[SegmentResult], dropped: list[str]) -> list[str]:
    """One description for each thing of the source the output does not keep as it was."""
    notes = [f"not kept: {item}" for item in dropped]
    if info.has_alpha:
        notes.append("transparency composited on black (H.264 has no alpha)")
    if info.bit_depth > 8:
        notes.append(f"{info.bit_depth}-bit video written as 8-bit")
    damaged = sum(r.damaged for r in results) or info.damaged_frames
    frames = sum(r.frames for r in results)
    concealed = sum(r.concealed for r in results)
    if concealed:
        notes.append(f"{concealed} damaged frames were shown as the decoder concealed them")
    if damaged:
        notes.append(f"{damaged} damaged packets could not be decoded; their frames are missing")
    elif frames != info.frame_count:
        notes.append(f"the decoder gave {frames} frames where the file lists {info.frame_count}")
    return notes


def segment_job(
    info: VideoInfo, segment: Segment, chain: FilterChain, encode: EncodeSettings, threads: int, folder: JobFolder
) -> SegmentJob:
    """What a worker needs to render `segment` of `info`."""
    stop = segment.stop
    counted = info.seek_mode == "count"
    source = Source(
        path=str(info.path),
        stream_index=info.stream_index,
        seek_mode=info.seek_mode,
        origin=info.origin,
        time_base=info.time_base,
        start=segment.start,
        stop=stop,
        first_pts=info.frame_pts[segment.start],
        end_pts=info.frame_pts[stop] if stop < info.frame_count else None,
        frame_pts=info.frame_pts[segment.start : stop] if counted else (),
    )
    picture = Picture.of(info)
    return SegmentJob(
        source=source,
        segment=segment,
        fps=info.fps,
        chain=chain,
        encode=encode,
        picture=picture,
        tags=VideoTags.of(info, picture),
        threads=threads,
        output=str(folder.segment_file(segment.index)),
        reporter=FileReporter(progress_path(folder.path, segment.index)),
    )


def _reused_result(segment: Segment, folder: JobFolder) -> SegmentResult:
    file = folder.segment_file(segment.index)
    pts = read_timestamps(file)
    return SegmentResult(segment.index, len(pts), 0.0, str(file), file.stat().st_size, 0, reused=True, pts=pts)


def _run_local(
    jobs: list[SegmentJob],
    reused: list[SegmentResult],
    scheduler_name: str,
    workers: int,
    folder: JobFolder,
    output: Path,
    info: VideoInfo,
    poller: ProgressPoller,
) -> tuple[list[SegmentResult], float, list[str]]:
    pool = None
    if poller.cancel is not None and poller.cancel.is_set():
        cancel_marker(folder.path).touch()
    try:
        with poller:
            if scheduler_name == "sync":  # one segment after another in this thread: no pool, no dask
                result = stitch_job([*reused, *map(timed_segment, jobs)], folder.path, output, info)
            else:
                import dask

                graph = dask.delayed(stitch_job, pure=False)(
                    [*reused, *segment_tasks(jobs, timed_segment)], folder.path, output, info, dask_key_name="stitch"
                )
                pool = _job_pool(scheduler_name, workers)
                options = {"pool": pool, "chunksize": 1} if scheduler_name == "processes" else {"pool": pool}
                (result,) = dask.compute(graph, scheduler=scheduler_name, **options)
        poller.emit(STITCHED)
        return result
    except BaseException:
        # dask returns on the first error while sibling segments still run: stop them
        # (they see the cancel marker within a tenth of a second) before the caller
        # removes the job folder under their feet.
        cancel_marker(folder.path).touch()
        if scheduler_name == "processes":
            discard_pool(workers)
        raise
    finally:
        if scheduler_name == "threads" and pool is not None:
            pool.shutdown(wait=True)


def in_process(scheduler_name: str, workers: int, pending_segments: int) -> bool:
    """Whether a local job runs in the calling process (the sync path) whatever scheduler
    was asked for: with one worker or one segment to render, a pool cannot run anything in
    parallel, and starting one (0.5-1 s for processes on 2 cores) only adds to the job."""
    return scheduler_name != "sync" and (workers == 1 or pending_segments <= 1)


def render(
    input: str | os.PathLike,
    output: str | os.PathLike,
    filters: str | FilterChain | None = None,
    *,
    workers: int | None = None,
    segment_seconds: float | None = None,
    scheduler: Any = "processes",
    preset: str = "veryfast",
    crf: float = 23,
    progress: ProgressCallback | None = None,
    snap_to_keyframes: bool = False,
    label: str = "",
    cancel: threading.Event | None = None,
    resume: bool = False,
    shared_storage: bool = False,
    history: HistoryOption = None,
    on_sample: Callable[[Sample], None] | None = None,
    force: bool = False,
) -> JobResult:
    """Render `input` through `filters` into the H.264 MP4 `output` in parallel segments.

    `workers` and `segment_seconds` default to the advisor's choice (see below).
    `scheduler` is "processes" (default), "threads", "sync" (one segment at a time: the
    honest sequential baseline), "local" (a dask LocalCluster of `workers` one-thread
    processes), a scheduler address such as "tcp://10.0.0.5:8786", or a
    `distributed.Client`. Cluster workers need not see this machine's disk: the input is
    sent to them once and segments come back as bytes, unless `shared_storage=True` says
    they can read the input path and write beside the output.

    `progress` receives `ProgressEvent`s several times a second. Setting `cancel` stops
    the job within a fraction of a second (`JobCancelledError`). After an interruption
    (Ctrl-C, a killed process), `resume=True` reuses the segments already rendered.
    The output appears only if the whole job succeeds.

    Without `workers`, the advisor picks workers and segment length (from past runs of
    the same filters when the history has them; `JobResult.recommendation` says how).
    Every job, failed and interrupted ones too, is recorded in `history` (the default
    database unless a History or path is given; False records nothing). The job runs
    under a `Monitor`; `on_sample` receives its samples live (0.5 s apart).

    A render refuses to start without room for its output and segments at the output
    (`DiskSpaceError`; `force=True` skips the check) and stops when the machine runs
    short of memory (`MemoryLimitError`; see `limits.py`).
    """
    request = {
        "input": str(input),
        "output": str(output),
        "filters": str(filters or "none"),
        "workers": workers,
        "segment_seconds": segment_seconds,
        "scheduler": str(scheduler),
        "preset": preset,
        "crf": crf,
    }
    store = open_history(history)
    guard = MemoryGuard(cancel, on_sample)  # stops the job before the machine swaps
    with recorded("render", store, request, guard) as recording:
        options = (
            input,
            output,
            filters,
            workers,
            segment_seconds,
            scheduler,
            preset,
            crf,
            progress,
            snap_to_keyframes,
            label,
            guard.cancel,
            resume,
            shared_storage,
            store,
            force,
        )
        try:
            try:
                recording.result = _render_job(*options)
            except TimelineError:  # the demux pass listed this file's frames wrongly: list them by decoding
                recording.result = _render_job(*options, decode_pass=True)
        except JobCancelledError:
            guard.raise_if_tripped()
            raise
        recording.result.timeline = recording.monitor.timeline()
    recording.result.job_id = recording.job_id
    return recording.result


def _render_job(
    input: str | os.PathLike,
    output: str | os.PathLike,
    filters: str | FilterChain | None,
    workers: int | None,
    segment_seconds: float | None,
    scheduler: Any,
    preset: str,
    crf: float,
    progress: ProgressCallback | None,
    snap_to_keyframes: bool,
    label: str,
    cancel: threading.Event | None,
    resume: bool,
    shared_storage: bool,
    store: History | None,
    force: bool = False,
    decode_pass: bool = False,
) -> JobResult:
    started_at, started = time.time(), time.perf_counter()
    check_cancel(cancel)
    chain = FilterChain.parse(filters)
    encode = EncodeSettings(preset=preset, crf=crf, threads=encoder_threads())
    cluster = is_cluster(scheduler)
    scheduler_name = "distributed" if cluster else local_scheduler_name(scheduler)
    info = probe(input, decode_pass=decode_pass)
    output = check_output_path(Path(output), info.path)
    check_disk_space(info, output, force=force)
    advice = None
    if scheduler_name == "sync":
        workers = 1
    elif workers is None:
        advice = advise(info, str(chain), store)
        workers = advice.workers
        segment_seconds = advice.segment_seconds if segment_seconds is None else segment_seconds
    workers = check_workers(workers)
    segment_seconds = rule_segment_seconds(info.duration, workers) if segment_seconds is None else segment_seconds
    if info.seek_mode == "count":  # each segment decodes the file from its start: one segment per worker at most
        segment_seconds = max(segment_seconds, info.duration / workers)
    segments = plan_segments(info, segment_seconds, snap_to_keyframes=snap_to_keyframes)
    picture = Picture.of(info)
    folder = JobFolder(output)
    signature = job_signature(info.path, str(chain), encode, (picture.width, picture.height))
    segments, done = folder.prepare(signature, segments, resume)
    if not cluster and in_process(scheduler_name, workers, len(segments) - len(done)):
        scheduler_name, workers = "sync", 1
    threads = threads_per_worker(workers)
    reused = [_reused_result(s, folder) for s in segments if s.index in done]
    jobs = [segment_job(info, seg, chain, encode, threads, folder) for seg in segments if seg.index not in done]
    poller_options: dict[str, Any] = dict(
        callback=progress, label=label, cancel=cancel, frames_reused=sum(r.frames for r in reused)
    )
    cpu_before = psutil.cpu_times()
    worker_metrics: list[dict[str, Any]] = []
    traffic = None
    try:
        if cluster:
            from .cluster import run_on_cluster

            results, stitch_seconds, dropped, worker_metrics, traffic = run_on_cluster(
                scheduler, jobs, reused, workers, folder, output, info, segments, poller_options, shared_storage
            )
            scheduler_name = f"distributed ({'shared storage' if shared_storage else 'no shared storage'})"
        else:
            poller = ProgressPoller(FolderStatus(folder.path, segments), segments, **poller_options)
            results, stitch_seconds, dropped = _run_local(
                jobs, reused, scheduler_name, workers, folder, output, info, poller
            )
    except KeyboardInterrupt:
        folder.release()  # the job folder stays so that `resume=True` can take over its finished segments
        raise
    except BaseException:
        folder.remove()
        raise
    timeline = segment_timeline(results, started_at)  # before the folder (and its timing files) goes
    folder.remove()
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
        segments=[replace(r, data=None) for r in results],
        frames=sum(r.frames for r in results),
        wall_seconds=time.perf_counter() - started,
        stitch_seconds=stitch_seconds,
        cpu_percent=cpu_busy_percent(cpu_before, psutil.cpu_times()),
        started_at=started_at,
        worker_metrics=worker_metrics,
        recommendation=advice.to_dict() if advice else None,
        warnings=source_warnings(info, results, dropped),
        segment_timeline=timeline,
        input_bytes_to_workers=traffic.input_bytes_to_workers if traffic else 0,
        output_bytes_from_workers=traffic.output_bytes_from_workers if traffic else 0,
    )
