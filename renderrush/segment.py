"""Render one segment in one process, in three overlapping stages: a reader thread decodes
from the segment's exact first frame (PyAV, FFmpeg's threaded decoder), the calling thread
runs the filter chain on each frame's planes, and a writer thread encodes with libx264 into
the segment file. FFmpeg releases the GIL while it decodes, converts and encodes, so the
stages share the cores; no raw frame crosses a pipe (piping frames between ffmpeg processes
cost ~25% more CPU per frame than one ffmpeg command). Memory stays at a few frames whatever
the segment length."""

from __future__ import annotations

import ctypes
import os
import platform
import queue
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterator

import av
import av.filter
import cv2
import numpy as np

from .errors import RenderRushError, SegmentError, SettingsError, UnsupportedVideoError
from .filters import YUV, FilterChain, Planes
from .outputs import partial_path
from .plan import Segment
from .progress import DONE, Reporter

X264_PARAMS = "sliced-threads=1:sync-lookahead=0"
"""x264 threads split each frame into slices encoded in lockstep, with no asynchronous
lookahead thread: the output depends only on the input and the thread count (threaded
lookahead made equal runs differ now and then; see also `_HeapFill`), and
it encoded 720p about 20% faster here than frame threads without lookahead (152 vs 125
fps), for ~0.7% larger files at equal PSNR."""

PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


@dataclass(frozen=True)
class EncodeSettings:
    """x264 settings of every segment; `threads` is fixed per job so output never
    depends on the worker count (x264's output changes with its thread count); see
    `X264_PARAMS` for why equal runs give equal output."""

    preset: str = "veryfast"
    crf: float = 23
    threads: int = 2

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise SettingsError(f"unknown x264 preset '{self.preset}'; use one of {', '.join(PRESETS)}")
        if isinstance(self.crf, bool) or not isinstance(self.crf, (int, float)) or not 0 <= self.crf <= 51:
            raise SettingsError(f"CRF must be between 0 (lossless) and 51 (worst), got {self.crf}")
        if self.threads < 1:
            raise SettingsError(f"encoder threads must be at least 1, got {self.threads}")


@dataclass(frozen=True)
class SegmentJob:
    """Everything a worker needs to render one segment (small and picklable)."""

    source: str
    segment: Segment
    width: int
    height: int
    fps: Fraction
    chain: FilterChain
    encode: EncodeSettings
    threads: int
    """Decoder and OpenCV threads of this worker."""
    output: str
    """Segment file to write; it appears only once the segment is complete."""
    crop: bool = False
    """The source has an odd side: the decoder crops it to `width` x `height`."""
    reporter: Reporter | None = None


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
    data: bytes | None = None
    """The segment file's bytes, when it travels back from a cluster worker."""
    reused: bool = False
    """Taken over from an interrupted earlier run instead of rendered again."""


def even_size(width: int, height: int) -> tuple[int, int]:
    """Frame size RenderRush outputs: H.264 4:2:0 needs even sides, so an odd last
    column or row is cropped off."""
    return width - width % 2, height - height % 2


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


def _reason(exc: BaseException) -> str:
    if isinstance(exc, av.FFmpegError):
        return exc.strerror or str(exc)
    return str(exc) or type(exc).__name__


def plane_views(frame: av.VideoFrame, width: int, height: int) -> list[np.ndarray]:
    """Writable NumPy views (no copy) of a frame's planes, `width` x `height` pixels of
    luma or BGR, rows padded to the plane's line size cut off."""
    views = []
    for index, plane in enumerate(frame.planes):
        rows, columns = (height, width) if index == 0 else (height // 2, width // 2)
        if frame.format.name != YUV:
            columns *= 3
        views.append(np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:rows, :columns])
    return views


def _converter(job: SegmentJob, first: av.VideoFrame) -> Callable[[av.VideoFrame], av.VideoFrame]:
    """An FFmpeg filter graph that crops an odd side and converts to the chain's pixel
    format (as ffmpeg would); frames already in that format and size pass unchanged."""
    target = job.chain.pixel_format
    if first.format.name == target and not job.crop:
        return lambda frame: frame
    graph = av.filter.Graph()
    graph.threads = job.threads
    nodes = [graph.add_buffer(width=first.width, height=first.height, format=first.format, time_base=first.time_base)]
    if job.crop:
        nodes.append(graph.add("crop", f"{job.width}:{job.height}:0:0"))
    nodes += [graph.add("format", target), graph.add("buffersink")]
    graph.link_nodes(*nodes).configure()

    def convert(frame: av.VideoFrame) -> av.VideoFrame:
        graph.vpush(frame)
        return graph.vpull()

    return convert


def decoded_frames(job: SegmentJob) -> Iterator[av.VideoFrame]:
    """The segment's frames, decoded from its exact first frame, in the chain's pixel
    format and the output size: seek to the keyframe at or before the first frame, then
    drop frames timed before `seek_time` (halfway to the frame before it)."""
    segment = job.segment
    with av.open(job.source, metadata_errors="ignore") as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        stream.codec_context.thread_count = job.threads
        origin = (container.start_time or 0) / av.time_base
        seeking = segment.index > 0 and segment.seek_time > 0
        if seeking:
            container.seek(round((max(segment.start_time, segment.seek_time) + origin) * av.time_base), backward=True)
        convert: Callable[[av.VideoFrame], av.VideoFrame] | None = None  # set up from the first frame
        count = 0
        for frame in container.decode(stream):
            if seeking and (frame.time is None or frame.time - origin < segment.seek_time):
                continue
            if seeking and count == 0 and segment.start_time > segment.seek_time:  # (plans from before start_time lack it)
                if frame.time - origin > 2 * segment.start_time - segment.seek_time:  # past halfway to the next frame
                    raise UnsupportedVideoError(f"seeking to frame {segment.start} landed after it: the file's index may be damaged")
            convert = convert or _converter(job, frame)
            yield convert(frame)
            count += 1
            if count == segment.frames:
                return


FILL_AFTER_FIRST_PACKET = 16
"""Frames the heap fill lasts after the encoder's first packet, for the reference frames
x264 allocates after its lookahead is full (up to 16)."""


class _SegmentWriter:
    """libx264 in this process, writing the segment's MP4 under its partial name. x264
    opens, and encodes until `FILL_AFTER_FIRST_PACKET` frames after its first packet,
    with the heap filled (see `_HeapFill`): it allocates its frames while its lookahead
    fills."""

    def __init__(self, job: SegmentJob) -> None:
        self.path = partial_path(Path(job.output))
        self.container = av.open(str(self.path), "w", format="mp4")
        self.stream = self.container.add_stream("libx264", rate=job.fps)
        self.stream.width, self.stream.height, self.stream.pix_fmt = job.width, job.height, YUV
        self.stream.codec_context.time_base = 1 / job.fps
        self.stream.codec_context.thread_count = job.encode.threads
        self.stream.options = {"preset": job.encode.preset, "crf": f"{job.encode.crf:g}", "x264-params": X264_PARAMS}
        self._written = 0
        self._fill_until: int | None = None
        """Frames encoded with the heap filled; None until the first packet."""
        with heap_fill.filled():
            self.stream.codec_context.open()

    @property
    def _in_fill_window(self) -> bool:
        return self._fill_until is None or self._written < self._fill_until

    def _encode(self, frame: av.VideoFrame | None) -> list[av.Packet]:
        if not self._in_fill_window:
            return self.stream.encode(frame)
        with heap_fill.filled():
            packets = self.stream.encode(frame)
        if packets and self._fill_until is None:
            self._fill_until = self._written + 1 + FILL_AFTER_FIRST_PACKET
        return packets

    def write(self, frame: av.VideoFrame) -> None:
        """Encode `frame` as the segment's next frame (this sets its `pts`)."""
        frame.pts = self._written
        self.container.mux(self._encode(frame))
        self._written += 1

    def finish(self) -> None:
        self.container.mux(self._encode(None))
        self.container.close()

    def abandon(self) -> None:
        """Close without finishing and remove the partial file."""
        try:
            self.container.close()
        except (av.FFmpegError, OSError):
            pass  # the segment is discarded either way
        self.path.unlink(missing_ok=True)


M_PERTURB = -6
"""glibc `mallopt` parameter: fill every allocation with one byte (and freed memory too)."""


class _HeapFill:
    """Fills fresh heap memory with one fixed byte (glibc's `M_PERTURB`) while libx264
    opens and encodes its first frames (see `_SegmentWriter`). x264's MB-tree reads some
    of the memory it allocates then without having written it, so its output depended on
    what that memory last held: equal inputs gave up to 4 different files for 4
    `MALLOC_PERTURB_` values, and one file with the fill.

    The fill is process-wide (glibc only) and costs every allocation and free: held for a
    segment's whole start it made NumPy filters 75% slower there. So it is held only
    inside x264's own calls, and filters never run under it: a reader-writer lock where
    filters (`unfilled`) run side by side and a filled block (`filled`) runs alone, next
    as soon as the filters running when it asked have finished."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._filters = 0
        """Filters running now."""
        self._fills = 0
        """Filled blocks running or waiting to run: new filters wait for them."""
        self._filling = False
        self._mallopt = ctypes.CDLL(None).mallopt if platform.libc_ver()[0] == "glibc" else None

    def _set(self, byte: int) -> None:
        if self._mallopt is not None:
            self._mallopt(ctypes.c_int(M_PERTURB), ctypes.c_int(byte))

    @contextmanager
    def filled(self) -> Iterator[None]:
        """Run the block with fresh memory filled, alone: no filter and no other filled block beside it."""
        with self._changed:
            self._fills += 1
            self._changed.wait_for(lambda: not self._filling and self._filters == 0)
            self._filling = True
        self._set(0x55)
        try:
            yield
        finally:
            self._set(int(os.environ.get("MALLOC_PERTURB_", "0") or 0))
            with self._changed:
                self._filling = False
                self._fills -= 1
                self._changed.notify_all()

    @contextmanager
    def unfilled(self) -> Iterator[None]:
        """Run the block (a filter) with the heap as the process left it, never filled."""
        with self._changed:
            self._changed.wait_for(lambda: self._fills == 0)
            self._filters += 1
        try:
            yield
        finally:
            with self._changed:
                self._filters -= 1
                if self._filters == 0:
                    self._changed.notify_all()


heap_fill = _HeapFill()


class _FramePool:
    """YUV frames for the encoder, reused once the writer has encoded them (libx264 copies
    its input while encoding), each with its plane views: no frame-sized allocation and no
    view set-up per frame."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self._free: queue.SimpleQueue[av.VideoFrame] = queue.SimpleQueue()
        self._views: dict[int, list[np.ndarray]] = {}
        """Plane views of every frame the pool made, by `id(frame)`."""
        self._i420 = np.empty((height * 3 // 2, width), np.uint8)
        """OpenCV's packed 4:2:0 output, reused by `from_bgr` (only the writer thread calls it)."""

    def take(self) -> tuple[av.VideoFrame, list[np.ndarray]]:
        try:
            frame = self._free.get_nowait()
        except queue.Empty:
            frame = av.VideoFrame(self.width, self.height, YUV)
            self._views[id(frame)] = plane_views(frame, self.width, self.height)
        return frame, self._views[id(frame)]

    def from_bgr(self, image: np.ndarray) -> av.VideoFrame:
        """A pool frame holding BGR `image` in 4:2:0. OpenCV's BT.601 conversion (the
        inverse of the decoder's) took 0.25 ms per 720p frame against 1.4 ms for swscale's
        in the encoder, and came back closer to the decoded planes."""
        cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420, dst=self._i420)
        frame, views = self.take()
        for target, source in zip(views, Planes.packed(self._i420.reshape(-1), self.width, self.height)):
            np.copyto(target, source)
        return frame

    def give_back(self, frame: av.VideoFrame) -> None:
        """Return a frame the encoder is done with (frames from elsewhere are ignored)."""
        if id(frame) in self._views:
            self._free.put(frame)


def _filtered(job: SegmentJob, frame: av.VideoFrame, index: int, pool: _FramePool) -> av.VideoFrame | np.ndarray:
    """The chain applied to decoded `frame`: a pool frame for the encoder (YUV chains, run
    on a copy of the planes, since decoded frames may still be references of the decoder),
    or the BGR image the writer converts (BGR chains). Any failure, user filters included,
    becomes a SegmentError naming the frame."""
    try:
        if job.chain.pixel_format == YUV:
            out, views = pool.take()
            for source, target in zip(plane_views(frame, job.width, job.height), views):
                np.copyto(target, source)
            job.chain.apply_planes(Planes(*views))
            return out
        image = plane_views(frame, job.width, job.height)[0].reshape(job.height, job.width, 3)
        return job.chain.apply_bgr(image)
    except Exception as exc:
        detail = str(exc) if isinstance(exc, RenderRushError) else f"{type(exc).__name__}: {exc}"
        raise SegmentError(
            job.segment.index, f"filters '{job.chain}' failed on frame {job.segment.start + index}: {detail}"
        ) from None


def render_segment(job: SegmentJob) -> SegmentResult:
    """Decode, filter and encode one segment; raises `SegmentError` naming the segment."""
    started = time.perf_counter()
    cv2.setNumThreads(job.threads)
    progress = job.reporter or _SilentReporter()
    progress.update(0, force=True)
    decoded, to_encode = _Handoff(), _Handoff()
    pool = _FramePool(job.width, job.height)

    def read() -> None:
        try:
            for frame in decoded_frames(job):
                if not decoded.put(frame):
                    return
        finally:
            decoded.put(_Handoff.END)

    try:
        writer = _SegmentWriter(job)
    except (av.FFmpegError, OSError) as exc:
        raise SegmentError(job.segment.index, f"encoder: {_reason(exc)}") from None

    def write() -> None:
        try:
            while (item := to_encode.get()) is not _Handoff.END and item is not _Handoff.STOP:
                frame = item if isinstance(item, av.VideoFrame) else pool.from_bgr(item)
                writer.write(frame)
                pool.give_back(frame)
            if item is _Handoff.END:
                writer.finish()
        except BaseException:
            to_encode.close()
            raise

    reader, encoder = _Stage("segment-reader", read), _Stage("segment-writer", write)
    reader.start()
    encoder.start()
    written, complete = 0, False
    try:
        while (frame := decoded.get()) is not _Handoff.END:
            with heap_fill.unfilled():
                filtered = _filtered(job, frame, written, pool)
            if not to_encode.put(filtered):
                break
            written += 1
            progress.update(written)
        complete = written == job.segment.frames
    finally:
        decoded.close()
        to_encode.put(_Handoff.END if complete else _Handoff.STOP)
        reader.join()
        encoder.join()
        if encoder.error or not complete:
            writer.abandon()
    if encoder.error:
        raise SegmentError(job.segment.index, f"encoder: {_reason(encoder.error)}")
    if written < job.segment.frames:
        reason = _reason(reader.error) if reader.error else "the input ended early"
        raise SegmentError(
            job.segment.index,
            f"decoded {written} of {job.segment.frames} frames from frame {job.segment.start} "
            f"({reason}); the input may be corrupt or truncated there",
        )
    out = Path(job.output)
    os.replace(writer.path, out)
    progress.update(written, DONE, force=True)
    return SegmentResult(
        index=job.segment.index,
        frames=written,
        seconds=time.perf_counter() - started,
        output=str(out),
        bytes=out.stat().st_size,
        worker_pid=os.getpid(),
        worker=socket.gethostname(),
    )


class _SilentReporter:
    """Reporter for segments rendered without progress reporting."""

    def update(self, frames: int, state: str = "", force: bool = False) -> None:
        pass
