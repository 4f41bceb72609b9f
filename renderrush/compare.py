"""The honest comparison: the same job, same segments and same encoder settings, run
once sequentially (synchronous scheduler, one segment at a time, with every core for
that one segment's decoder, filters and encoder) and once in parallel."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .advisor import rule_segment_seconds
from .engine import JobResult, check_workers, render
from .ffmpeg import decoded_md5
from .filters import FilterChain
from .monitor import Sample
from .pools import warm_pool
from .probe import probe
from .progress import ProgressCallback
from .recording import HistoryOption, open_history, recorded


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
    workers: int | None = None,
    segment_seconds: float | None = None,
    scheduler: Any = "processes",
    preset: str = "veryfast",
    crf: float = 23,
    progress: ProgressCallback | None = None,
    keep_outputs: str | os.PathLike | None = None,
    cancel: threading.Event | None = None,
    shared_storage: bool = False,
    history: HistoryOption = None,
    on_sample: Callable[[Sample], None] | None = None,
) -> Comparison:
    """Render `input` sequentially, then with `workers` in parallel, and compare.

    Both runs use the same segments and encoder settings, so their frames must be
    identical (checked by decoding both). Outputs go to a temporary folder unless
    `keep_outputs` names a folder to keep `<name>.sequential.mp4` and `<name>.parallel.mp4` in.
    Progress events carry `job="sequential"` or `"parallel"`; `cancel` stops either run.
    Worker processes are started before the parallel run is timed (`startup_seconds`).
    `workers` defaults to every usable core (the point is to see what they buy); the
    comparison is recorded in `history` as one job; `on_sample` receives its monitor's
    samples live.
    """
    request = {
        "input": str(input),
        "filters": str(filters or "none"),
        "workers": workers,
        "segment_seconds": segment_seconds,
        "scheduler": str(scheduler),
        "preset": preset,
        "crf": crf,
    }
    store = open_history(history)
    with recorded("compare", store, request, on_sample) as recording:
        info = probe(input)
        chain = FilterChain.parse(filters)
        workers = check_workers(workers)
        if segment_seconds is None:
            segment_seconds = rule_segment_seconds(info.duration, workers)
        folder = Path(keep_outputs) if keep_outputs else Path(tempfile.mkdtemp(prefix="renderrush-compare-"))
        folder.mkdir(parents=True, exist_ok=True)
        common: dict[str, Any] = dict(
            filters=chain,
            segment_seconds=segment_seconds,
            preset=preset,
            crf=crf,
            progress=progress,
            cancel=cancel,
            history=False,
        )
        parallel_options: dict[str, Any] = dict(workers=workers, scheduler=scheduler, shared_storage=shared_storage)
        startup = warm_pool(workers) if scheduler == "processes" else 0.0
        try:
            runs = {
                label: render(info.path, folder / f"{info.path.stem}.{label}.mp4", label=label, **common, **options)
                for label, options in (("sequential", {"scheduler": "sync"}), ("parallel", parallel_options))
            }
            identical = decoded_md5(runs["sequential"].output) == decoded_md5(runs["parallel"].output)
        finally:
            if not keep_outputs:
                shutil.rmtree(folder, ignore_errors=True)
        recording.result = Comparison(runs["sequential"], runs["parallel"], identical, startup_seconds=startup)
    recording.result.job_id = recording.job_id
    return recording.result
