"""The honest comparison: the same plan (segments and encoder settings), run once
sequentially (one segment at a time in this process, with every core for that one
segment's decoder, filters and encoder) and once in parallel."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .engine import default_workers, replanned, run_job
from .errors import SettingsError
from .ffmpeg import decoded_md5
from .filters import FilterChain
from .monitor import Sample
from .options import RenderOptions, job_request
from .plan import JobPlan, plan_job
from .pools import warm_pool
from .progress import ProgressCallback
from .recording import Recording, recorded
from .result import JobResult


@dataclass
class Comparison:
    """Sequential and parallel runs of one job side by side."""

    sequential: JobResult
    parallel: JobResult
    identical: bool
    """Both outputs decode to exactly the same frames."""
    job_id: int | None = None
    """Id of this comparison in the history (None when not recorded)."""
    startup_seconds: float = 0.0
    """Starting the parallel run's worker processes, done before it is timed (a one-off
    cost per session: later jobs find them warm); reported, not hidden."""

    @property
    def workers(self) -> int:
        return self.parallel.workers

    @property
    def speedup(self) -> float:
        return self.sequential.wall_seconds / self.parallel.wall_seconds

    @property
    def efficiency(self) -> float:
        """Speedup per worker: 1.0 means every worker added its full share."""
        return self.speedup / self.workers

    def summary(self) -> str:
        """A few lines that explain the numbers, including why speedup may be below N."""
        seq, par = self.sequential, self.parallel
        return (
            f"sequential: {seq.wall_seconds:.2f} s, {seq.fps:.0f} fps, CPU {seq.cpu_percent:.0f}% of all cores\n"
            f"parallel ({par.workers} workers, {par.scheduler}): {par.wall_seconds:.2f} s, {par.fps:.0f} fps, "
            f"CPU {par.cpu_percent:.0f}%\n"
            f"speedup {self.speedup:.2f}x, efficiency {self.efficiency:.0%} per worker, "
            f"frames {seq.frames}/{par.frames}, outputs {'identical' if self.identical else 'DIFFER'}"
            + (
                f"\n(starting the worker processes took {self.startup_seconds:.2f} s before the timed run)"
                if self.startup_seconds >= 0.05
                else ""
            )
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": str(self.sequential.input),
            "filters": self.sequential.filters,
            "workers": self.workers,
            "segments": len(self.parallel.segments),
            "segment_seconds": self.parallel.segment_seconds,
            "sequential_seconds": self.sequential.wall_seconds,
            "parallel_seconds": self.parallel.wall_seconds,
            "speedup": self.speedup,
            "efficiency": self.efficiency,
            "sequential_frames": self.sequential.frames,
            "parallel_frames": self.parallel.frames,
            "sequential_cpu_percent": self.sequential.cpu_percent,
            "parallel_cpu_percent": self.parallel.cpu_percent,
            "identical": self.identical,
            "startup_seconds": self.startup_seconds,
            "job_id": self.job_id,
            "sequential": self.sequential.to_dict(),
            "parallel": self.parallel.to_dict(),
        }


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
    request = job_request(input, None, options, values)
    history = values.get("history", options.history if options else None)
    with recorded("compare", history, request, cancel=cancel, on_sample=on_sample) as recording:
        options = RenderOptions.build(options, **values)  # a refused option is a recorded failure
        if options.resume:
            raise SettingsError("compare renders both runs afresh: resume applies to render only")
        if options.workers is None:
            options = options.replace(workers=default_workers())

        def attempt(decode_pass: bool) -> Comparison:
            plan = plan_job(input, options, recording.history, decode_pass=decode_pass)
            return _run_both(plan, options, keep_outputs, progress, recording)

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
    try:
        for label, (run_plan, run_options) in runs.items():
            output = folder / f"{name}.{label}.mp4"
            result = run_job(run_plan, output, run_options, progress=progress, cancel=recording.cancel)
            result.timeline = recording.window(result.started_at, result.wall_seconds)
            results[label] = result
        identical = decoded_md5(results["sequential"].output) == decoded_md5(results["parallel"].output)
    finally:
        if not keep_outputs:
            shutil.rmtree(folder, ignore_errors=True)
    return Comparison(results["sequential"], results["parallel"], identical, startup_seconds=startup)
