"""The job layer: plan a render, prepare its job folder, hand the segments to a backend
(this process, a local pool or a dask cluster), and report the result. `render()` wraps
one job in the recording layer (history, monitor, memory guard)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar, cast

import psutil

from ..backends.base import Backend, Work, check_cancel, reused_result
from ..backends.local import LocalBackend
from ..core.errors import TimelineError
from ..core.resources import available_cores, cpu_busy_percent, encoder_threads
from ..media.codecs import CODECS
from ..media.decode import Picture
from ..media.filters import FilterChain
from ..media.outputs import check_output_path
from ..recording.advisor import Recommendation, as_run
from ..recording.limits import check_disk_space
from ..recording.monitor import Sample
from ..recording.recorded import Recording, recorded
from ..segments.jobfolder import JobFolder, job_signature
from ..segments.probecache import ProbeCache
from ..segments.progress import ProgressCallback
from ..segments.timeline import segment_timeline
from .joins import join_report, join_warnings, mark_pulses
from .options import RenderOptions, is_backend, is_cluster, job_request
from .plan import JobPlan, plan_job
from .result import JobResult, source_warnings
from .targets import remember_probes, segment_targets, target_warnings

T = TypeVar("T")


def default_workers() -> int:
    """One worker per core this process may use."""
    return available_cores()


def backend_for(options: RenderOptions) -> Backend:
    """Where `options.scheduler` runs segments: a backend object as given, a dask cluster,
    or this machine."""
    if is_backend(options.scheduler):
        return options.scheduler
    if is_cluster(options.scheduler):
        from ..backends.cluster import DaskBackend  # distributed takes a second to import; local jobs never need it

        return DaskBackend(options.scheduler, options.shared_storage)
    return LocalBackend(cast(str, options.scheduler))  # a local scheduler name, once checked


def run_job(
    plan: JobPlan,
    output: str | os.PathLike,
    options: RenderOptions,
    *,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> JobResult:
    """Render `plan` into `output` on the backend `options.scheduler` names; nothing is
    recorded (see `render`). The job folder beside the output goes when the job ends,
    except after Ctrl-C, when its finished segments stay for `resume=True`."""
    started_at, started = time.time(), time.perf_counter()
    check_cancel(cancel)
    job = _prepare(plan, Path(output), options, progress)
    cpu_before = psutil.cpu_times()
    try:
        run = backend_for(options).run(job.work, cancel)
    except KeyboardInterrupt:
        job.work.folder.release()  # the job folder stays so that `resume=True` can take over its finished segments
        raise
    except BaseException:
        job.work.folder.remove()
        raise
    remember_probes(job.cache, job.keys, run.results)
    timeline = segment_timeline(run.results, started_at)  # before the folder (and its timing files) goes
    if options.keep_segments:
        job.work.folder.release()  # the segments stay for `rerender`
    else:
        job.work.folder.remove()
    joins = join_report(run.results)
    mark_pulses(timeline, joins)
    starts_on_cut = {s.index for s in plan.segments if s.start in plan.cuts}
    for entry in timeline:
        entry["cut"] = entry["index"] in starts_on_cut
    target = options.target_quality
    return JobResult(
        input=plan.info.path,
        output=job.work.output,
        filters=str(plan.chain),
        scheduler=run.scheduler,
        workers=run.workers,
        threads_per_worker=run.threads_per_worker,
        segment_seconds=plan.segment_seconds,
        encode=job.work.encode,
        info=plan.info,
        segments=[replace(r, data=None) for r in run.results],
        frames=sum(r.frames for r in run.results),
        wall_seconds=time.perf_counter() - started,
        stitch_seconds=run.stitch_seconds,
        cpu_percent=cpu_busy_percent(cpu_before, psutil.cpu_times()),
        started_at=started_at,
        worker_metrics=run.worker_metrics,
        recommendation=job.recommendation.to_dict() if job.recommendation else None,
        warnings=[
            *plan.notes,
            *source_warnings(plan.info, run.results, run.dropped, job.work.encode, plan.chain),
            *(target_warnings(run.results, target) if target is not None else []),
            *join_warnings(joins),
        ],
        joins=joins,
        segment_timeline=timeline,
        input_bytes_to_workers=run.input_bytes_to_workers,
        output_bytes_from_workers=run.output_bytes_from_workers,
        input_bytes_by_worker=run.input_bytes_by_worker,
    )


@dataclass(frozen=True)
class _Prepared:
    """A job ready for its backend: the work, the advice as it applies to the segments that
    run, and the probe cache with the keys of this job's segments."""

    work: Work
    recommendation: Recommendation | None
    cache: ProbeCache
    keys: dict[int, str]


def _prepare(plan: JobPlan, output: Path, options: RenderOptions, progress: ProgressCallback | None) -> _Prepared:
    """Check the output and the disk, take the job folder (resuming its finished segments
    when asked) and, for a quality target, each pending segment's search."""
    info = plan.info
    output = check_output_path(output, info.path)
    check_disk_space(info, output, force=options.force)
    picture = Picture.of(info)
    folder = JobFolder(output, segment_suffix=CODECS[plan.encode.codec].segment_suffix)
    signature = job_signature(info.path, str(plan.chain), plan.encode, (picture.width, picture.height))
    segments, done = folder.prepare(signature, plan.segments, options.resume)
    # the encoder threads follow the segments, and a resumed job goes on with its first run's
    encode = replace(plan.encode, threads=encoder_threads(segments=len(segments)))
    recommendation = plan.recommendation
    if recommendation is not None and segments != plan.segments:  # resumed: the first run's plan goes on
        recommendation = as_run(
            recommendation,
            len(segments),
            info.duration / len(segments),
            f"Resuming the interrupted run with its own segments ({len(done)} rendered already)",
        )
    pending = [s for s in segments if s.index not in done]
    target, cache = options.target_quality, ProbeCache()
    targets, keys = (
        segment_targets(target, str(info.path), pending, str(plan.chain), encode, picture, cache)
        if target is not None
        else ({}, {})
    )
    work = Work(
        info=info,
        chain=plan.chain,
        encode=encode,
        workers=plan.workers,
        segments=segments,
        pending=pending,
        reused=[reused_result(s, folder) for s in segments if s.index in done],
        folder=folder,
        output=output,
        progress=progress,
        label=options.label,
        vmaf=options.vmaf or target is not None,  # a target is checked on the final encode
        targets=targets,
        crfs=plan.crfs,
    )
    return _Prepared(work, recommendation, cache, keys)


def replanned(attempt: Callable[[bool], T]) -> T:
    """`attempt(decode_pass=False)`; if the demux pass listed the file's frames wrongly
    (`TimelineError`: a segment found frames where the listing said none were), again
    from a listing made by decoding every frame."""
    try:
        return attempt(False)
    except TimelineError:
        return attempt(True)


def render(
    input: str | os.PathLike,
    output: str | os.PathLike,
    filters: str | FilterChain | None = None,
    *,
    options: RenderOptions | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    on_sample: Callable[[Sample], None] | None = None,
    **values: Any,
) -> JobResult:
    """Render `input` through `filters` into `output` in parallel segments: MP4, MOV,
    Matroska or WebM after its suffix, in the `codec` asked for or the source's default
    (H.264 for 8-bit SDR, HEVC Main 10 for 10-bit and HDR, VP9 for WebM).

    Job options are `RenderOptions` fields, given as keywords (`workers=4`,
    `segment_seconds=2.0`, `scheduler="threads"`, `preset`, `crf`, `resume`,
    `snap_to_keyframes`, `shared_storage`, `history`, `label`, `force`) or as an
    `options` object the keywords then amend; an unknown name is a `SettingsError`.

    `workers` and `segment_seconds` default to the advisor's choice (from past runs of the
    same filters when the history has them; `JobResult.recommendation` says how).
    `scheduler` is "processes" (default), "threads", "sync" (one segment at a time: the
    honest sequential baseline), "local" (a dask LocalCluster of `workers` one-thread
    processes), a scheduler address such as "tcp://10.0.0.5:8786", or a
    `distributed.Client`. Cluster workers need not see this machine's disk: the input is
    sent to them and segments come back as bytes, unless `shared_storage=True` says
    they can read the input path and write beside the output.

    `progress` receives `ProgressEvent`s several times a second. Setting `cancel` stops
    the job within a fraction of a second (`JobCancelledError`). After an interruption
    (Ctrl-C, a killed process), `resume=True` reuses the segments already rendered.
    The output appears only if the whole job succeeds.

    Every job, failed and interrupted ones too, is recorded in `history` (the default
    database unless a History or path is given; False records nothing); a failed job's
    error carries its history id as `job_id`. The job runs under a `Monitor`;
    `on_sample` receives its samples live (0.5 s apart).

    A render refuses to start without room for its output and segments at the output
    (`DiskSpaceError`; `force=True` skips the check) and stops when the machine runs
    short of memory (`MemoryLimitError`; see `limits.py`).
    """
    if filters is not None:
        values["filters"] = filters
    with recorded_job("render", input, output, options, values, cancel=cancel, on_sample=on_sample) as (recording, job):

        def attempt(decode_pass: bool) -> JobResult:
            plan = plan_job(input, job, recording.history, decode_pass=decode_pass, output=output)
            return run_job(plan, output, job, progress=progress, cancel=recording.cancel)

        recording.result = replanned(attempt)
    return recording.result


@contextmanager
def recorded_job(
    kind: str,
    input: str | os.PathLike,
    output: str | os.PathLike | None,
    options: RenderOptions | None,
    values: dict[str, Any],
    *,
    cancel: threading.Event | None = None,
    on_sample: Callable[[Sample], None] | None = None,
) -> Iterator[tuple[Recording, RenderOptions]]:
    """`recorded` for a render or comparison asked for with `options` amended by keyword
    `values`: the options are validated inside the recording, so a refused option is a
    recorded failure with the request as it was given."""
    request = job_request(input, output, options, values)
    history = values.get("history", options.history if options else None)
    with recorded(kind, history, request, cancel=cancel, on_sample=on_sample) as recording:
        yield recording, RenderOptions.build(options, **values)
