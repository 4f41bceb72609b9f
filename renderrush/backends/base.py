"""The seam between a job and where its segments run.

The job layer (`engine.py`) plans a job, prepares its folder and hands a backend the
`Work`: the segments still to render and those an interrupted run left behind. A backend
renders them somewhere (this process, a local pool, a dask cluster: `local.py`,
`cluster.py`), stitches, and returns one `BackendRun`, whatever ran where. Tests pass a
fake backend as the scheduler to check the job layer without rendering video.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from ..core.errors import JobCancelledError
from ..core.layout import cancel_marker, progress_path, stitch_marker
from ..core.segment import Segment
from ..media.decode import Picture, Source
from ..media.encode import EncodeSettings, VideoTags
from ..media.filters import FilterChain
from ..media.probe import VideoInfo
from ..media.stitch import Part, stitch
from ..segments.jobfolder import JobFolder, cannot_write
from ..segments.progress import FileReporter, ProgressCallback
from ..segments.render import SegmentJob, SegmentResult, read_timestamps, render_segment
from ..segments.target import Target


@dataclass
class Work:
    """One job's segments, ready to run: what a backend is given."""

    info: VideoInfo
    chain: FilterChain
    encode: EncodeSettings
    workers: int
    """Workers the plan asked for (a backend may use fewer: one segment runs in-process)."""
    segments: list[Segment]
    """Every segment of the job, in order."""
    pending: list[Segment]
    """Segments still to render."""
    reused: list[SegmentResult]
    """Segments an interrupted run of the same job finished (resume)."""
    folder: JobFolder
    output: Path
    progress: ProgressCallback | None = None
    label: str = ""
    vmaf: bool = False
    """Measure each segment's VMAF besides its PSNR and SSIM."""
    targets: dict[int, Target] = field(default_factory=dict)
    """VMAF target of each segment (by index) whose CRF is searched, with its cached probes."""
    crfs: dict[int, float] = field(default_factory=dict)
    """A CRF of its own for some segments (by index): a segment re-rendered at another quality."""

    def jobs(self, threads: int) -> list[SegmentJob]:
        """What the workers need to render the pending segments, `threads` each, in index order."""
        return [
            segment_job(
                self.info,
                s,
                self.chain,
                replace(self.encode, crf=self.crfs[s.index]) if s.index in self.crfs else self.encode,
                threads,
                self.folder,
                vmaf=self.vmaf,
                target=self.targets.get(s.index),
            )
            for s in self.pending
        ]

    def poller_options(self, cancel: threading.Event | None) -> dict[str, Any]:
        """Keyword arguments of the job's `ProgressPoller`, besides its status source."""
        return dict(
            callback=self.progress, label=self.label, cancel=cancel, frames_reused=sum(r.frames for r in self.reused)
        )


@dataclass
class BackendRun:
    """What a backend returns: the stitched job's segments and where they ran."""

    results: list[SegmentResult]
    """Every segment's result, reused ones included, in index order."""
    stitch_seconds: float
    dropped: list[str]
    """What of the source the stitch could not keep (streams, chapters)."""
    scheduler: str
    """Where the segments ran, as `JobResult.scheduler` reports it."""
    workers: int
    threads_per_worker: int
    worker_metrics: list[dict[str, Any]] = field(default_factory=list)
    input_bytes_to_workers: int = 0
    output_bytes_from_workers: int = 0
    input_bytes_by_worker: dict[str, int] = field(default_factory=dict)


class Backend(Protocol):
    """Renders and stitches a job's `Work`; stops with `JobCancelledError` once `cancel`
    is set, and leaves the job folder to the caller (it removes or keeps it)."""

    def run(self, work: Work, cancel: threading.Event | None) -> BackendRun: ...


def check_cancel(cancel: threading.Event | None) -> None:
    """Raise `JobCancelledError` if the caller has already asked the job to stop."""
    if cancel is not None and cancel.is_set():
        raise JobCancelledError()


def segment_tasks(
    jobs: list[SegmentJob], task: Any = render_segment, *extra: Any, prefix: str = "segment"
) -> list[Any]:
    """One `dask.delayed` task per segment job (`extra` arguments follow the job)."""
    import dask  # only jobs that run on a pool or a cluster need dask (0.3 s to import)

    return [dask.delayed(task, pure=False)(job, *extra, dask_key_name=f"{prefix}-{job.segment.index}") for job in jobs]


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


def segment_source(info: VideoInfo, segment: Segment) -> Source:
    """Where the decoder finds `segment` of `info`: its first frame's time, the time it stops
    before, and, for a source read by counting, every frame's time."""
    stop = segment.stop
    counted = info.seek_mode == "count"
    return Source(
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


def segment_job(
    info: VideoInfo,
    segment: Segment,
    chain: FilterChain,
    encode: EncodeSettings,
    threads: int,
    folder: JobFolder,
    *,
    vmaf: bool = False,
    target: Target | None = None,
) -> SegmentJob:
    """What a worker needs to render `segment` of `info`."""
    picture = Picture.of(info)
    return SegmentJob(
        source=segment_source(info, segment),
        segment=segment,
        fps=info.fps,
        chain=chain,
        encode=encode,
        picture=picture,
        tags=VideoTags.of(info, picture),
        threads=threads,
        output=str(folder.segment_file(segment.index)),
        reporter=FileReporter(progress_path(folder.path, segment.index)),
        vmaf=vmaf,
        target=target,
    )


def reused_result(segment: Segment, folder: JobFolder) -> SegmentResult:
    """The result of a segment an interrupted run finished, read back from its files."""
    file = folder.segment_file(segment.index)
    pts = read_timestamps(file)
    return SegmentResult(segment.index, len(pts), 0.0, str(file), file.stat().st_size, 0, reused=True, pts=pts)
