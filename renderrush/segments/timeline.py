"""The segment timeline of a job: when and on which worker each segment ran.

A job's wall time is more than the sum of its segments: worker start-up, stragglers and an idle
tail when the last segments run alone. The timeline shows where that time went: one entry per
segment, `{"index", "worker", "start", "end", "frames", "reused"}`, with `start` and `end` in
seconds since the job started (`JobResult.started_at`).

Local jobs time each segment inside the worker that renders it (`timed_segment` wraps
`render_segment`) and leave the times in a small file beside the segment in the job folder,
so `render_segment` and the results that travel back stay as they are. Wall-clock times
(`time.time()`) are comparable across the processes of one machine. Segments taken over from an
interrupted run (`resume=True`) and segments rendered on a cluster (whose clocks are not this
machine's) have `start`, `end` and, for resumed ones, `worker` None.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..core.layout import timing_path
from .render import SegmentJob, SegmentResult, render_segment


def worker_name(pid: int | None = None, thread: str | None = None) -> str:
    """The worker a segment ran on: "pid 4242" for a process's main thread (the processes
    scheduler), "pid 4242 / renderrush-segment_1" for a thread of a pool (threads scheduler)."""
    pid = os.getpid() if pid is None else pid
    if thread is None:
        current = threading.current_thread()
        thread = None if current is threading.main_thread() else current.name
    return f"pid {pid}" if not thread else f"pid {pid} / {thread}"


def timed_segment(job: SegmentJob) -> SegmentResult:
    """`render_segment(job)`, noting when it started and ended and on which worker."""
    started = time.time()
    result = render_segment(job)
    timing = {"start": started, "end": time.time(), "worker": worker_name()}
    timing_path(result.output).write_text(json.dumps(timing))
    return result


def _read_timing(result: SegmentResult) -> dict[str, Any] | None:
    if result.reused or not result.output:
        return None
    try:
        timing = json.loads(timing_path(result.output).read_text())
        return {"start": float(timing["start"]), "end": float(timing["end"]), "worker": str(timing["worker"])}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def segment_timeline(results: Iterable[SegmentResult], started_at: float) -> list[dict[str, Any]]:
    """One entry per segment, in index order, with times relative to `started_at` (the job's
    `time.time()` at its start). Read while the job folder still holds the timing files."""
    timeline = []
    for result in sorted(results, key=lambda r: r.index):
        timing = _read_timing(result)
        if timing is not None:
            start, end, worker = timing["start"] - started_at, timing["end"] - started_at, timing["worker"]
        else:  # resumed, or a cluster worker: when is unknown; where is known on a cluster
            start = end = None
            worker = None if result.reused else (result.worker or worker_name(result.worker_pid, ""))
        timeline.append(
            {
                "index": result.index,
                "worker": worker,
                "start": None if start is None else round(max(0.0, start), 4),
                "end": None if end is None else round(max(0.0, end), 4),
                "frames": result.frames,
                "reused": result.reused,
                **_quality(result),
            }
        )
    return timeline


def _quality(result: SegmentResult) -> dict[str, Any]:
    """The segment's measured quality and CRF, for the timeline's colours and hover text."""
    quality = result.quality or {}
    return {"psnr": quality.get("psnr"), "ssim": quality.get("ssim"), "vmaf": quality.get("vmaf"), "crf": result.crf}


def assign_lanes(entries: Sequence[Mapping[str, Any]]) -> list[int]:
    """A lane (0, 1, ...) per entry: one lane per worker, numbered in the order the workers
    started their first segment. Entries without a worker share a last lane."""
    order: dict[Any, int] = {}
    timed = sorted(range(len(entries)), key=lambda i: (entries[i].get("start") is None, entries[i].get("start") or 0.0))
    for i in timed:
        worker = entries[i].get("worker")
        if worker is not None and worker not in order:
            order[worker] = len(order)
    spare = len(order)
    return [order.get(entry.get("worker"), spare) for entry in entries]


def idle_tail(entries: Sequence[Mapping[str, Any]]) -> float | None:
    """Seconds between the first and the last worker finishing its last segment: the time
    some workers waited while others still rendered (None without timed segments)."""
    last: dict[Any, float] = {}
    for entry in entries:
        if entry.get("end") is not None:
            worker = entry.get("worker")
            last[worker] = max(last.get(worker, 0.0), float(entry["end"]))
    if not last:
        return None
    return max(last.values()) - min(last.values())
