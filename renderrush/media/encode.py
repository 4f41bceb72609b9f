"""Encode a segment in this process with the job's codec (`codecs.py`: libx264, libx265,
SVT-AV1, libvpx-vp9 or ProRes): the segment file writer, the frames it reuses, and the
heap fill that makes x264's output depend only on its input."""

from __future__ import annotations

import ctypes
import os
import platform
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import cast

import av
import cv2
import numpy as np
from av.video.reformatter import VideoReformatter

from ..core.errors import SettingsError
from .avlog import closing_report
from .codecs import CODECS, check_codec, check_crf, check_preset, encoder_options
from .decode import Picture, plane_views, yuv_from_bgr
from .filters import Planes
from .tags import VideoTags

__all__ = ["EncodeSettings", "FramePool", "SegmentWriter", "VideoTags", "heap_fill"]

os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its banner on stderr unless told errors only

X264_PARAMS = "sliced-threads=1:sync-lookahead=0"
"""x264 threads split each frame into slices encoded in lockstep, with no asynchronous
lookahead thread: the output depends only on the input and the thread count (threaded
lookahead made equal runs differ now and then; see also `HeapFill`), and
it encoded 720p about 20% faster here than frame threads without lookahead (152 vs 125
fps), for ~0.7% larger files at equal PSNR. (`codecs.encoder_options` passes it.)"""


@dataclass(frozen=True)
class EncodeSettings:
    """Encoder settings of every segment; `threads` is fixed per job so output never
    depends on the worker count (x264's and x265's output change with their thread
    count); see `X264_PARAMS` for why equal runs give equal output. `preset` and `crf`
    are on x264's scale for every codec (`codecs.Codec` maps them); `depth` is the
    output's bit depth; `tonemap` turns HDR into 8-bit SDR BT.709 (`tonemap.py`)."""

    preset: str = "veryfast"
    crf: float = 23
    threads: int = 2
    codec: str = "h264"
    depth: int = 8
    tonemap: bool = False

    def __post_init__(self) -> None:
        check_codec(self.codec)
        check_preset(self.preset, self.codec)
        check_crf(self.crf)
        if self.threads < 1:
            raise SettingsError(f"encoder threads must be at least 1, got {self.threads}")
        if self.depth not in CODECS[self.codec].formats:
            raise SettingsError(f"{CODECS[self.codec].label} cannot be written at {self.depth} bits here")

    @property
    def pix_fmt(self) -> str:
        """The encoder's pixel format."""
        return CODECS[self.codec].formats[self.depth]


FILL_AFTER_FIRST_PACKET = 16
"""Frames the heap fill lasts after the encoder's first packet, for the reference frames
x264 allocates after its lookahead is full (up to 16)."""


class SegmentWriter:
    """The job's encoder in this process, writing the segment file to `path` (the caller's
    temporary name: the caller renames it once the segment is complete) in the codec's
    segment container (MP4; MOV for ProRes). Every segment starts on a keyframe (a fresh
    encoder), with the same parameter sets, so segments join by stream copy. x264 opens,
    and encodes until `FILL_AFTER_FIRST_PACKET` frames after its first packet, with the
    heap filled (see `HeapFill`): it allocates its frames while its lookahead fills.
    Frames in another layout than the encoder's (ProRes is 4:2:2) are converted."""

    def __init__(
        self,
        path: str | Path,
        fps: Fraction,
        encode: EncodeSettings,
        picture: Picture,
        tags: VideoTags,
        *,
        measure: bool = False,
    ) -> None:
        self.path = Path(path)
        codec = CODECS[encode.codec]
        tags = tags.for_output(encode.tonemap)
        self.container = av.open(str(self.path), "w", format=codec.segment_format)
        self.stream = cast(av.video.stream.VideoStream, self.container.add_stream(codec.encoder, rate=fps))
        self.stream.width, self.stream.height, self.stream.pix_fmt = picture.width, picture.height, encode.pix_fmt
        context = self.stream.codec_context
        context.time_base = self._time_base = 1 / fps
        context.thread_count = encode.threads
        tags.apply(context)
        self._tags = tags
        options = encoder_options(codec, encode.preset, encode.crf, encode.threads, tags.encoder_params(encode.codec))
        self.measures = measure and codec.name == "h264" and encode.threads == 1 and encode.depth == 8
        """x264 measures what it encodes: each packet carries its frame's squared error (side
        data), and its closing report (`report`) the mean SSIM. Neither changes the bitstream.
        Only with one thread: sliced threads measure each slice before the loop filter has
        crossed its edges (0.14 dB and 0.013 SSIM off on a grainy clip at two slices)."""
        if self.measures:
            context.flags |= av.codec.context.Flags.psnr
            options["x264-params"] += ":ssim=1"
        self.report: list[str] = []
        """What the encoder logged as it closed (`finish`), when it measures itself."""
        self.stream.options = dict(options.items())
        self._convert = picture.yuv_format != encode.pix_fmt
        self._range = picture.yuv_range
        self._reformatter = VideoReformatter()
        self._threads = encode.threads
        self._written = 0
        self.on_packets: Callable[[list[av.Packet]], None] | None = None
        """Called with the encoder's packets before they are muxed (the quality meter decodes them)."""
        self._fill_until: int | None = None if codec.name == "h264" else 0
        """Frames encoded with the heap filled; None until the first packet. Only x264 reads
        memory it never wrote: x265, SVT-AV1, libvpx and ProRes give the same frames for any
        `MALLOC_PERTURB_`, and are kept out of the fill, which only exposes them to it."""
        with heap_fill.filled() if self._in_fill_window else nullcontext():
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
        if self._convert:
            frame = self._reformatter.reformat(
                frame,
                format=self.stream.pix_fmt,
                src_color_range=self._range,
                dst_color_range=self._range,
                threads=self._threads,
            )
        self._tags.mark(frame)  # prores_ks writes the frame's colour description, not the context's
        # numbered in the encoder's time base: PyAV would rescale a pts from the frame's own
        frame.pts, frame.time_base = self._written, self._time_base
        self._mux(self._encode(frame))
        self._written += 1

    def finish(self) -> None:
        self._mux(self._encode(None))
        self.container.close()
        if self.measures:
            with closing_report() as self.report:
                del self.stream, self.container  # x264 reports as its context is freed: the last references

    def _mux(self, packets: list[av.Packet]) -> None:
        if self.on_packets is not None and packets:
            self.on_packets(packets)  # before muxing, which moves their timestamps to the stream's time base
        self.container.mux(packets)

    def abandon(self) -> None:
        """Close without finishing and remove the unfinished file."""
        try:
            if hasattr(self, "container"):
                self.container.close()
        except (av.FFmpegError, OSError):
            pass  # the segment is discarded either way
        self.path.unlink(missing_ok=True)


M_PERTURB = -6
"""glibc `mallopt` parameter: fill every allocation with one byte (and freed memory too)."""


class HeapFill:
    """Fills fresh heap memory with one fixed byte (glibc's `M_PERTURB`) while libx264
    opens and encodes its first frames (see `SegmentWriter`). x264's MB-tree reads some
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


heap_fill = HeapFill()


OPENCV_MATRICES = ("itu601", "smpte170m")
"""OpenCV's BGR -> I420 conversion is limited-range BT.601."""


class FramePool:
    """YUV frames for the encoder, reused once the writer has encoded them (libx264 copies
    its input while encoding), each with its plane views: no frame-sized allocation and no
    view set-up per frame."""

    def __init__(self, picture: Picture, threads: int) -> None:
        self.width, self.height = picture.width, picture.height
        self.picture, self.threads = picture, threads
        self.format = picture.yuv_format
        self._opencv = picture.matrix in OPENCV_MATRICES and not picture.full_range and picture.depth == 8
        self._reformatter = VideoReformatter()
        self._free: queue.SimpleQueue[av.VideoFrame] = queue.SimpleQueue()
        self._views: dict[int, list[np.ndarray]] = {}
        """Plane views of every frame the pool made, by `id(frame)`."""
        self._i420 = np.empty((self.height * 3 // 2, self.width), np.uint8)
        """OpenCV's packed 4:2:0 output, reused by `from_bgr` (only the writer thread calls it)."""

    def take(self) -> tuple[av.VideoFrame, list[np.ndarray]]:
        try:
            frame = self._free.get_nowait()
        except queue.Empty:
            frame = av.VideoFrame(self.width, self.height, self.format)
            self._views[id(frame)] = plane_views(frame, self.width, self.height)
        return frame, self._views[id(frame)]

    def from_bgr(self, image: np.ndarray) -> av.VideoFrame:
        """A pool frame holding BGR `image` in 4:2:0. OpenCV's BT.601 conversion (the
        inverse of the decoder's) took 0.25 ms per 720p frame against 1.4 ms for swscale's
        in the encoder, and came back closer to the decoded planes. Other matrices and full
        range go through swscale."""
        if not self._opencv:
            bgr = av.VideoFrame.from_ndarray(image, format="bgr48le" if image.dtype == np.uint16 else "bgr24")
            return yuv_from_bgr(self._reformatter, bgr, self.picture, self.threads)
        cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420, dst=self._i420)
        frame, views = self.take()
        for target, source in zip(views, Planes.packed(self._i420.reshape(-1), self.width, self.height)):
            np.copyto(target, source)
        return frame

    def give_back(self, frame: av.VideoFrame) -> None:
        """Return a frame the encoder is done with (frames from elsewhere are ignored)."""
        if id(frame) in self._views:
            self._free.put(frame)
