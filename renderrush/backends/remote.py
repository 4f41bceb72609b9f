"""What runs on dask cluster workers: rendering a segment from a scattered input, a
piece cut for it, or a shared path, and reporting its progress as dask events."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..core.atomic import atomic_write_bytes
from ..core.errors import JobCancelledError
from ..core.layout import timestamps_path
from ..segments.progress import RUNNING, Throttle
from ..segments.render import SegmentJob, SegmentResult, render_segment


@dataclass(frozen=True)
class InputData:
    """The input file's bytes, scattered once to the cluster."""

    name: str
    digest: str
    data: bytes

    @classmethod
    def read(cls, path: Path) -> InputData:
        data = path.read_bytes()
        return cls(path.name, hashlib.sha256(data).hexdigest()[:16], data)


class ClusterReporter:
    """Reporter for segments on cluster workers: dask events to the job's topic."""

    def __init__(self, topic: str, index: int, cancel_name: str) -> None:
        self.topic, self.index, self.cancel_name = topic, index, cancel_name
        self._due = Throttle()

    def update(self, frames: int, state: str = RUNNING, force: bool = False) -> None:
        if not self._due(force):
            return
        from distributed import Event, get_worker

        if Event(self.cancel_name).is_set():
            raise JobCancelledError()
        get_worker().log_event(self.topic, [self.index, frames, state])


def worker_folder(worker: Any = None) -> Path:
    from distributed import get_worker

    folder = Path((worker or get_worker()).local_directory) / "renderrush"
    folder.mkdir(exist_ok=True)
    return folder


def _discard(segment_file: Path) -> None:
    """Delete a rendered segment and the timestamps written beside it: the client has
    their contents in the returned result."""
    segment_file.unlink(missing_ok=True)
    timestamps_path(segment_file).unlink(missing_ok=True)


def render_remote_segment(job: SegmentJob, source: InputData, token: str) -> SegmentResult:
    """Worker side without shared storage: materialise the input once per worker,
    render the segment locally and return the segment file's bytes."""
    from distributed import get_worker

    folder = worker_folder()
    local_input = folder / f"input-{source.digest}{Path(source.name).suffix}"
    if not local_input.exists():  # tasks of one job on this worker may race here: each writes whole, one wins
        atomic_write_bytes(local_input, source.data)
    out = folder / f"{token}-segment-{job.segment.index:05d}.mp4"
    try:
        result = render_segment(replace(job, source=replace(job.source, path=str(local_input)), output=str(out)))
        data = out.read_bytes()
    finally:
        _discard(out)
    return replace(result, output="", data=data, worker=get_worker().address)


def render_shared_segment(job: SegmentJob) -> SegmentResult:
    """Worker side with shared storage: render straight into the job folder."""
    from distributed import get_worker

    return replace(render_segment(job), worker=get_worker().address)


def render_piece(job: SegmentJob, data: bytes, suffix: str, stream_index: int, token: str) -> SegmentResult:
    """Worker side of a cut source: save the segment's piece (or the whole input, for a
    piece that could not be cut) in the worker's own directory, render it and return the
    segment file's bytes. The piece keeps the source's timestamps, so the job's `Source`
    only moves to the local file."""
    from distributed import get_worker

    folder = worker_folder()
    local = folder / f"{token}-piece-{job.segment.index:05d}{suffix}"
    out = folder / f"{token}-segment-{job.segment.index:05d}.mp4"
    try:
        local.write_bytes(data)
        source = replace(job.source, path=str(local), stream_index=stream_index)
        result = render_segment(replace(job, source=source, output=str(out)))
        segment = out.read_bytes()
    finally:
        local.unlink(missing_ok=True)
        _discard(out)
    return replace(result, output="", data=segment, worker=get_worker().address)


def forget_input(prefix: str, dask_worker: Any) -> None:
    """Run on every worker after a job: delete its local copy of the input, or the pieces
    a task killed half-way left."""
    for leftover in worker_folder(dask_worker).glob(f"{prefix}*"):
        leftover.unlink(missing_ok=True)
