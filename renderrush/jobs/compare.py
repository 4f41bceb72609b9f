"""The honest comparison: the same plan (segments and encoder settings), run once
sequentially (one segment at a time in this process, with every core for that one
segment's decoder, filters and encoder) and once in parallel."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from ..backends.pools import warm_pool
from ..core.errors import SettingsError
from ..core.resources import available_cores
from ..media.codecs import CODECS
from ..media.ffmpeg import decoded_md5
from ..media.filters import FilterChain
from ..recording.monitor import Sample
from ..recording.recorded import Recording
from ..segments.progress import ProgressCallback
from .engine import default_workers, recorded_job, replanned, run_job
from .options import RenderOptions
from .plan import JobPlan, plan_job
from .result import Comparison, JobResult


def compare(
    input: str | os.PathLike,
    filters: str | FilterChain | None = None,
    *,
    options: RenderOptions | None = None,
    keep_outputs: str | os.PathLike | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    on_sample: Callable[[Sample], None] | None = None,
    **values: Any,
) -> Comparison:
    """Render `input` sequentially, then with `workers` in parallel, and compare.

    Job options are `RenderOptions` fields as in `render` (`resume` excepted). Both runs
    share one plan (one probe): the same segments and encoder settings, so their frames
    must be identical (checked by decoding both). Outputs go to a temporary folder unless
    `keep_outputs` names a folder to keep `<name>.sequential.mp4` and `<name>.parallel.mp4` in.
    Progress events carry `job="sequential"` or `"parallel"`; `cancel` stops either run.
    Worker processes are started before the parallel run is timed (`startup_seconds`).
    `workers` defaults to every usable core (the point is to see what they buy); the
    comparison is recorded in `history` as one job, under one monitor whose samples
    `on_sample` receives live.
    """
    if filters is not None:
        values["filters"] = filters
    with recorded_job("compare", input, None, options, values, cancel=cancel, on_sample=on_sample) as (recording, job):
        if job.resume:
            raise SettingsError("compare renders both runs afresh: resume applies to render only")
        if job.workers is None:
            job = job.replace(workers=default_workers())

        def attempt(decode_pass: bool) -> Comparison:
            plan = plan_job(input, job, recording.history, decode_pass=decode_pass)
            return _run_both(plan, job, keep_outputs, progress, recording)

        recording.result = replanned(attempt)
    return recording.result


def _run_both(
    plan: JobPlan,
    options: RenderOptions,
    keep_outputs: str | os.PathLike | None,
    progress: ProgressCallback | None,
    recording: Recording,
) -> Comparison:
    name = plan.info.path.stem
    folder = Path(keep_outputs) if keep_outputs else Path(tempfile.mkdtemp(prefix="renderrush-compare-"))
    folder.mkdir(parents=True, exist_ok=True)
    runs = {
        "sequential": (plan.sequential(), options.replace(scheduler="sync", label="sequential")),
        "parallel": (plan, options.replace(label="parallel")),
    }
    startup = warm_pool(plan.workers) if options.scheduler == "processes" else 0.0
    results: dict[str, JobResult] = {}
    cpu: dict[str, float] = {}
    try:
        for label, (run_plan, run_options) in runs.items():
            output = folder / f"{name}.{label}{CODECS[plan.encode.codec].suffix}"
            before = _cpu_seconds()
            result = run_job(run_plan, output, run_options, progress=progress, cancel=recording.cancel)
            cpu[label] = _cpu_seconds() - before
            result.timeline = recording.window(result.started_at, result.wall_seconds)
            results[label] = result
        identical = decoded_md5(results["sequential"].output) == decoded_md5(results["parallel"].output)
    finally:
        if not keep_outputs:
            shutil.rmtree(folder, ignore_errors=True)
    return Comparison(
        results["sequential"],
        results["parallel"],
        identical,
        startup_seconds=startup,
        sequential_cpu_seconds=cpu["sequential"],
        cores=available_cores(),
    )


def _cpu_seconds() -> float:
    """CPU seconds this process (all its threads) and the children it waited for have used.
    The sequential run renders in this process (decoder, filters and x264 threads), so the
    difference over it is its CPU, whatever else the machine runs."""
    times = psutil.Process().cpu_times()
    return times.user + times.system + times.children_user + times.children_system
