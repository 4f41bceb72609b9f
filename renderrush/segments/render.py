"""Render one segment in one process, in three overlapping stages: a reader thread decodes
the segment's frames (`decode.py`), the calling thread runs the filter chain on each frame's
planes, and a writer thread encodes them with the job's codec into the segment file (`encode.py`).
FFmpeg releases the GIL while it decodes, converts and encodes, so the stages share the
cores and no raw frame crosses a pipe. Memory stays at a few frames whatever the segment
length. The segment's output timestamps are written beside its file, since the file itself
is encoded at a constant rate (see `stitch.py`)."""

from __future__ import annotations

import builtins
import json
import os
import queue
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from ..core.atomic import atomic_path, atomic_write_text
from ..core.errors import RenderRushError, SegmentError, TimelineError, av_reason, translate_av_errors
from ..core.layout import timestamps_path
from ..core.segment import Segment
from ..media.decode import YUV, Converter, Picture, Source, plane_views, segment_frames
from ..media.encode import EncodeSettings, FramePool, VideoTags, heap_fill
from ..media.filters import FilterChain, Planes
from ..media.quality import Quality, measured_writer
from .progress import DONE, Reporter, SilentReporter
from .target import Target, with_target

__all__ = ["SegmentJob", "SegmentResult", "read_timestamps", "render_segment", "timestamps_path", "write_timestamps"]


@dataclass(frozen=True)
class SegmentJob:
    """Everything a worker needs to render one segment (small and picklable)."""

    source: Source
    segment: Segment
    fps: Fraction
    """Nominal rate the segment file is encoded at (its real timestamps travel beside it)."""
    chain: FilterChain
    encode: EncodeSettings
    picture: Picture
    tags: VideoTags
    threads: int
    """Decoder and OpenCV threads of this worker."""
    output: str
    """Segment file to write; it appears only once the segment is complete."""
    reporter: Reporter | None = None
    vmaf: bool = False
    """Measure VMAF too (every frame, through the ffmpeg binary's libvmaf), besides PSNR and SSIM."""
    target: Target | None = None  # a VMAF target: the CRF is searched first (`target.py`), VMAF then measured


@dataclass(frozen=True)
class SegmentResult:
    """What a segment task returns: small, so it travels cheaply back to the caller."""

    index: int
    frames: int
    seconds: float
    output: str
    bytes: int
    worker_pid: int
    worker: str = ""
    """Host (and dask worker address on a cluster) that rendered the segment."""
    data: builtins.bytes | None = None
    """The segment file's bytes, when it travels back from a cluster worker."""
    reused: bool = False
    """Taken over from an interrupted earlier run instead of rendered again."""
    pts: tuple[int, ...] = ()
    """Output timestamp of each frame, in the source's output time base."""
    damaged: int = 0
    """Packets the decoder rejected in this segment (their frames are missing)."""
    concealed: int = 0
    """Frames the decoder flagged as damaged and concealed (they are in the output)."""
    quality: dict[str, Any] | None = None
    """Encoded quality against the encoder's input (`media.quality.Quality.to_dict()`);
    None for a segment taken over from an interrupted run."""
    crf: float | None = None
    """The CRF the segment was encoded with."""
    target: dict[str, Any] | None = None  # the CRF search for a VMAF target (`target.Search.to_dict()`)


def read_timestamps(segment_file: str | Path) -> tuple[int, ...]:
    return tuple(json.loads(timestamps_path(segment_file).read_text()))


QUEUE_FRAMES = 4
"""Frames in flight between two stages: enough to absorb jitter, few enough for memory."""


class _Handoff:
    """A bounded queue between two threads. `close()` tells the producer to stop, so a
    stage that fails or stops early never leaves the other blocked."""

    END = object()
    """Every item was handed over."""
    STOP = object()
    """The job stopped early: drop what is in flight."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(QUEUE_FRAMES)
        self._closed = threading.Event()

    def put(self, item: Any) -> bool:
        """Hand over `item`; False once the consumer has closed the hand-off."""
        while not self._closed.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                pass
        return False

    def get(self) -> Any:
        return self._queue.get()

    def close(self) -> None:
        self._closed.set()


class _Stage(threading.Thread):
    """A thread running `body`, keeping the exception it ended with for the caller."""

    def __init__(self, name: str, body: Callable[[], None]) -> None:
        super().__init__(name=name, daemon=True)
        self._body = body
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._body()
        except BaseException as exc:  # reported by the calling thread, which owns the job
            self.error = exc


def _filtered(job: SegmentJob, frame: av.VideoFrame, index: int, pool: FramePool) -> av.VideoFrame | np.ndarray:
    """The chain applied to decoded `frame`: a pool frame for the encoder (YUV chains, run
    on a copy of the planes, since decoded frames may still be references of the decoder),
    or the BGR image the writer converts (BGR chains). Any failure, user filters included,
    becomes a SegmentError naming the frame."""
    width, height = job.picture.width, job.picture.height
    try:
        if job.chain.pixel_format == YUV:
            out, views = pool.take()
            for source, target in zip(plane_views(frame, width, height), views):
                np.copyto(target, source)
            job.chain.apply_planes(Planes(*views))
            return out
        image = plane_views(frame, width, height)[0].reshape(height, width, 3)
        return job.chain.apply_bgr(image)
    except Exception as exc:
        detail = str(exc) if isinstance(exc, RenderRushError) else f"{type(exc).__name__}: {exc}"
        raise SegmentError(
            job.segment.index, f"filters '{job.chain}' failed on frame {job.segment.start + index}: {detail}"
        ) from None


def write_timestamps(segment_file: str | Path, pts: Sequence[int]) -> None:
    """Keep a segment's output timestamps beside its file (written before the file
    appears, so a complete segment always has them)."""
    atomic_write_text(timestamps_path(segment_file), json.dumps(list(pts)))


def render_segment(job: SegmentJob) -> SegmentResult:
    """Decode, filter and encode one segment; raises `SegmentError` naming the segment.
    The segment file appears only once it is complete, with its timestamps beside it."""
    started = time.perf_counter()
    cv2.setNumThreads(job.threads)
    progress = job.reporter or SilentReporter()
    progress.update(0, force=True)
    out = Path(job.output)
    job, search = with_target(job, _filtered, out.parent)  # the CRF for a VMAF target, searched first
    with atomic_path(out) as partial:
        timestamps, damaged, concealed, quality = _encode_segment(job, partial, progress)
        write_timestamps(out, timestamps)
    progress.update(len(timestamps), DONE, force=True)
    return SegmentResult(
        index=job.segment.index,
        frames=len(timestamps),
        seconds=time.perf_counter() - started,
        output=str(out),
        bytes=out.stat().st_size,
        worker_pid=os.getpid(),
        worker=socket.gethostname(),
        pts=tuple(timestamps),
        damaged=damaged,
        concealed=concealed,
        quality=quality.to_dict(),
        crf=job.encode.crf,
        target=search,
    )


def _check_frames(
    job: SegmentJob, read_error: BaseException | None, encode_error: BaseException | None, frames: int, damaged: bool
) -> None:
    """Raise the one error that says why a segment did not come out whole, if it did not."""
    index = job.segment.index
    if encode_error:
        raise SegmentError(index, f"encoder: {av_reason(encode_error)}")
    if isinstance(read_error, TimelineError):
        raise TimelineError(index, read_error.reason)
    if read_error is None and frames != job.segment.frames and not damaged:
        # the frames in this segment's time range are not the ones listed: the listing is wrong
        raise TimelineError(index, f"decoded {frames} frames where the file lists {job.segment.frames}")
    if read_error is not None or not frames:
        reason = av_reason(read_error) if read_error else "no frame of it could be decoded"
        raise SegmentError(
            index,
            f"decoded {frames} of {job.segment.frames} frames from frame {job.segment.start} "
            f"({reason}); the input may be corrupt or truncated there",
        )


def _encode_segment(job: SegmentJob, path: Path, progress: Reporter) -> tuple[list[int], int, int, Quality]:
    """Run the three stages, encoding the segment into `path`; returns the frames'
    timestamps, the counts of damaged and concealed frames and the encoded quality, or raises."""
    decoded, to_encode = _Handoff(), _Handoff()
    picture = job.picture.for_output(job.encode.depth, job.encode.tonemap)  # 10-bit or tone-mapped, as needed
    target = picture.frame_format(job.chain.pixel_format != YUV, job.chain.bgr_depth)
    pool = FramePool(picture, job.threads)
    damaged: list[int] = []
    concealed = 0

    def read() -> None:
        nonlocal concealed
        convert: Converter | None = None  # set up from the first frame
        try:
            for frame, pts in segment_frames(job.source, job.threads, damaged):
                convert = convert or Converter(picture, target, job.threads, frame)
                concealed += bool(frame.is_corrupt)
                if not decoded.put((convert(frame), pts)):
                    return
        finally:
            decoded.put(_Handoff.END)

    with translate_av_errors(
        SegmentError, "encoder: {reason}", also=(OSError, ValueError), leading=(job.segment.index,)
    ):
        # the meter measures what the writer encodes
        writer, meter = measured_writer(path, job.fps, job.encode, picture, job.tags, job.segment.frames, vmaf=job.vmaf)
    measured: list[Quality] = []

    def write() -> None:
        try:
            while (item := to_encode.get()) is not _Handoff.END and item is not _Handoff.STOP:
                frame = item if isinstance(item, av.VideoFrame) else pool.from_bgr(item)
                meter.keep(frame)
                writer.write(frame)
                pool.give_back(frame)
            if item is _Handoff.END:
                writer.finish()
                measured.append(meter.finish())
        except BaseException:
            to_encode.close()
            raise
        finally:
            meter.close()

    reader, encoder = _Stage("segment-reader", read), _Stage("segment-writer", write)
    reader.start()
    encoder.start()
    timestamps: list[int] = []
    stopped = False
    try:
        while (item := decoded.get()) is not _Handoff.END:
            frame, pts = item
            with heap_fill.unfilled():
                filtered = _filtered(job, frame, len(timestamps), pool)
            if not to_encode.put(filtered):
                stopped = True
                break
            timestamps.append(pts)
            progress.update(len(timestamps))
    except BaseException:
        stopped = True
        raise
    finally:
        decoded.close()
        complete = not stopped and reader.error is None and bool(timestamps)
        to_encode.put(_Handoff.END if complete else _Handoff.STOP)
        reader.join()
        encoder.join()
        if encoder.error or not complete:
            writer.abandon()
    _check_frames(job, reader.error, encoder.error, len(timestamps), bool(damaged))
    return timestamps, len(damaged), concealed, measured[0]
