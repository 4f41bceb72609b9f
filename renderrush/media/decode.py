"""Decode one segment's frames from the source, upright and in the filter chain's pixel
format, each with the output timestamp it is shown at.

How a segment finds its frames depends on the source (see `VideoInfo.seek_mode`):
- "time": seek to the keyframe at or before the segment's first frame and keep the frames
  whose time lies in [first frame, next segment's first frame). If the seek lands after the
  first frame (an approximate index, as in MPEG-PS/TS), seek again further back, and in the
  end decode from the start of the file: a segment never starts on the wrong frame.
- "count": timestamps are made up by the demuxer (raw streams, GIF, ...) or jump back, so the
  frames are counted from the start of the file, as the probe's decode pass counted them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

import av
import av.filter
import numpy as np
from av.video.reformatter import ColorRange, Colorspace, VideoReformatter

from ..core.errors import TimelineError, UnsupportedVideoError
from .frametable import Clock, decode_stream
from .probe import VideoInfo
from .tonemap import ToneMapper

YUV = "yuv420p"
YUV10 = "yuv420p10le"
"""The 10-bit work format: 10-bit sources written at 10 bits keep their samples (uint16 planes, 0-1023)."""
BGR, BGR16 = "bgr24", "bgr48le"
YUV_LAYOUTS = ("yuv420p", "yuvj420p")
"""Pixel formats whose planes are the chain's YUV layout as they are (yuvj420p is the same
layout in full range, which the output keeps)."""
WIDE_FORMATS = (YUV10, BGR16)
"""Formats whose samples are 16-bit words."""

RETRY_SECONDS = (0.0, 2.0, 10.0)
"""How far before a segment's first frame each seek aims, before decoding from the start."""

MATRICES = {1: "itu709", 4: "fcc", 5: "itu601", 6: "smpte170m", 7: "smpte240m", 9: "bt2020", 10: "bt2020"}
"""AVColorSpace -> swscale matrix for YUV <-> BGR."""


def plane_views(frame: av.VideoFrame, width: int, height: int) -> list[np.ndarray]:
    """Writable NumPy views (no copy) of a frame's planes, `width` x `height` pixels of
    luma or BGR, rows padded to the plane's line size cut off."""
    views = []
    name = frame.format.name
    packed = name not in (*YUV_LAYOUTS, YUV10)
    dtype, size = (np.uint16, 2) if name in WIDE_FORMATS else (np.uint8, 1)
    for index, plane in enumerate(frame.planes):
        rows, columns = (height, width) if index == 0 else (height // 2, width // 2)
        if packed:
            columns *= 3
        array = np.frombuffer(memoryview(plane), dtype).reshape(-1, plane.line_size // size)
        views.append(array[:rows, :columns])
    return views


def matrix_for(colorspace: int, width: int, height: int) -> str:
    """The YUV matrix of the source: its tag, or what players assume untagged (BT.709 for HD)."""
    if colorspace in MATRICES:
        return MATRICES[colorspace]
    return "itu709" if width >= 1280 or height > 576 else "itu601"


@dataclass(frozen=True)
class Picture:
    """How a decoded frame becomes the upright frame the filters see (small, picklable)."""

    width: int
    """Output (upright, even) width."""
    height: int
    rotation: int = 0
    """Clockwise turn applied after decoding."""
    crop: tuple[int, int] | None = None
    """Decoded size cut to even sides before turning, when a side is odd."""
    alpha: bool = False
    """Composite transparency on black."""
    full_range: bool = False
    matrix: str = "itu601"
    source_depth: int = 8
    transfer: int = 2
    """The source's transfer (PQ and HLG can be tone-mapped)."""
    peak: float = 1000.0
    """The HDR source's peak light, cd/m² (`HdrInfo.peak`)."""
    depth: int = 8
    """Bit depth of the frames the filters see: 10 only where the output keeps 10 bits (`for_encode`)."""
    tonemap: bool = False
    """HDR frames are tone-mapped to 8-bit SDR BT.709 on decode."""

    @classmethod
    def of(cls, info: VideoInfo) -> Picture:
        coded = (info.width - info.width % 2, info.height - info.height % 2)
        width, height = (coded[1], coded[0]) if info.rotation in (90, 270) else coded
        return cls(
            width=width,
            height=height,
            rotation=info.rotation,
            crop=coded if coded != (info.width, info.height) else None,
            alpha=info.has_alpha,
            full_range=info.full_range,
            matrix=matrix_for(info.colorspace, info.width, info.height),
            source_depth=info.bit_depth,
            transfer=info.color_trc,
            peak=info.hdr.peak if info.hdr else 1000.0,
        )

    def for_output(self, depth: int, tonemap: bool) -> Picture:
        """This picture as an output of `depth` bits needs it: 10-bit frames where the
        source and the output both have more than 8 bits; tone-mapped BT.709 frames."""
        if tonemap and self.transfer in (16, 18):
            return replace(self, depth=8, tonemap=True, matrix="itu709", full_range=False)
        return replace(self, depth=10 if self.source_depth > 8 and depth > 8 else 8)

    @property
    def yuv_format(self) -> str:
        """The YUV format the filters and the frame pool work in."""
        return YUV10 if self.depth > 8 else YUV

    def frame_format(self, bgr: bool, bgr_depth: int = 8) -> str:
        """Format of the frames the chain gets: YUV planes, or BGR (16-bit for chains that
        declare 16-bit samples, on a 10-bit picture)."""
        if not bgr:
            return self.yuv_format
        return BGR16 if self.depth > 8 and bgr_depth > 8 else BGR

    @property
    def yuv_range(self) -> ColorRange:
        return ColorRange.JPEG if self.full_range else ColorRange.MPEG


ROTATE = {90: ["transpose=clock"], 180: ["hflip", "vflip"], 270: ["transpose=cclock"]}


class Converter:
    """Turns decoded frames into upright frames in `target` format: transparency composited
    on black, odd sides cropped, rotation applied (FFmpeg filters), then colour converted
    with the source's matrix and range (swscale); frames that need none of it pass as they are."""

    def __init__(self, picture: Picture, target: str, threads: int, first: av.VideoFrame) -> None:
        self.picture, self.target, self.threads = picture, target, threads
        self.size, self.format = (first.width, first.height), first.format.name
        self.reformatter = VideoReformatter()
        steps: list[str] = []
        if picture.alpha:
            steps += ["format=rgba", "premultiply=inplace=1"]
        if picture.crop:
            steps.append(f"crop={picture.crop[0]}:{picture.crop[1]}:0:0")
        steps += ROTATE.get(picture.rotation, [])
        self.graph = self._graph(first, steps) if steps else None
        self.tonemap = ToneMapper(picture.transfer, picture.peak, first.color_range == 2) if picture.tonemap else None

    def _graph(self, first: av.VideoFrame, steps: list[str]) -> Callable[[av.VideoFrame], av.VideoFrame]:
        graph = av.filter.Graph()
        graph.threads = self.threads
        nodes = [
            graph.add_buffer(
                width=first.width, height=first.height, format=first.format, time_base=first.time_base or Fraction(1)
            )
        ]
        for step in steps:
            name, _, args = step.partition("=")
            nodes.append(graph.add(name, args or None))
        nodes.append(graph.add("buffersink"))
        graph.link_nodes(*nodes).configure()

        def run(frame: av.VideoFrame) -> av.VideoFrame:
            graph.vpush(frame)
            return graph.vpull()

        return run

    def __call__(self, frame: av.VideoFrame) -> av.VideoFrame:
        if (frame.width, frame.height) != self.size or frame.format.name != self.format:
            # the stream changed size or format mid-way: match the first frame's
            frame = self.reformatter.reformat(
                frame, width=self.size[0], height=self.size[1], format=self.format, threads=self.threads
            )
        if self.graph is not None:
            frame = self.graph(frame)
        if self.tonemap is not None:
            frame = self._tonemapped(frame)
        name = frame.format.name
        if self.target in (YUV, YUV10):
            if name == self.target or (self.target == YUV and name in YUV_LAYOUTS):
                return frame
            fmt = frame.format
            if fmt.is_rgb or fmt.has_palette:  # RGB sources become limited-range YUV in the source's matrix
                return self.reformatter.reformat(
                    frame,
                    format=self.target,
                    dst_colorspace=Colorspace[self.picture.matrix],
                    dst_color_range=ColorRange.MPEG,
                    threads=self.threads,
                )
            # other YUV (10-bit, 4:2:2, 4:4:4): same range; swscale rounds 10-bit to 8 with its ordered dither
            return self.reformatter.reformat(
                frame,
                format=self.target,
                src_color_range=self.picture.yuv_range,
                dst_color_range=self.picture.yuv_range,
                threads=self.threads,
            )
        if frame.format.is_rgb and name != self.target:
            return self.reformatter.reformat(frame, format=self.target, threads=self.threads)
        if name == self.target:
            return frame
        return self.reformatter.reformat(
            frame,
            format=self.target,
            src_colorspace=Colorspace[self.picture.matrix],
            src_color_range=self.picture.yuv_range,
            dst_color_range=ColorRange.JPEG,
            threads=self.threads,
        )

    def _tonemapped(self, frame: av.VideoFrame) -> av.VideoFrame:
        """An HDR frame as 8-bit SDR BT.709 4:2:0 (`tonemap.ToneMapper`)."""
        assert self.tonemap is not None
        if frame.format.name != YUV10:
            frame = self.reformatter.reformat(frame, format=YUV10, threads=self.threads)
        width, height = frame.width - frame.width % 2, frame.height - frame.height % 2
        out = av.VideoFrame(width, height, YUV)
        self.tonemap(plane_views(frame, width, height), plane_views(out, width, height))
        out.pts, out.time_base = frame.pts, frame.time_base
        return out


def yuv_from_bgr(reformatter: VideoReformatter, frame: av.VideoFrame, picture: Picture, threads: int) -> av.VideoFrame:
    """A BGR frame back to the output's YUV, with the source's matrix and range."""
    return reformatter.reformat(
        frame,
        format=picture.yuv_format,
        dst_colorspace=Colorspace[picture.matrix],
        dst_color_range=picture.yuv_range,
        threads=threads,
    )


@dataclass(frozen=True)
class Source:
    """Where a segment's frames come from (small, picklable)."""

    path: str
    stream_index: int
    seek_mode: str
    origin: float
    time_base: object
    """Output time base (a Fraction)."""
    start: int
    """Index of the segment's first frame."""
    stop: int
    first_pts: int
    """Output timestamp of the first frame."""
    end_pts: int | None
    """Output timestamp of the next segment's first frame (None for the last segment)."""
    frame_pts: tuple[int, ...] = ()
    """Output timestamps of the segment's frames ("count" mode: the probe's, made up where the source had none)."""


def _open(source: Source, threads: int) -> tuple[av.container.InputContainer, Any]:
    container = av.open(source.path, metadata_errors="ignore")
    stream: Any = container.streams[source.stream_index]
    stream.thread_type = "AUTO"
    stream.codec_context.thread_count = threads
    return container, stream


def _counted(source: Source, threads: int, damaged: list[int]) -> Iterator[tuple[av.VideoFrame, int]]:
    container, stream = _open(source, threads)
    with container:
        for index, frame in enumerate(decode_stream(container, stream, damaged)):
            if index >= source.stop:
                return
            if index >= source.start:
                yield frame, source.frame_pts[index - source.start]


def _timed(source: Source, threads: int, damaged: list[int]) -> Iterator[tuple[av.VideoFrame, int]]:
    aims = [None] if source.start == 0 else [*RETRY_SECONDS, None]
    first_time = float(source.first_pts * source.time_base)  # type: ignore[operator]
    for aim in aims:
        container, stream = _open(source, threads)
        with container:
            clock = Clock(stream.time_base, source.origin, source.time_base)  # type: ignore[arg-type]
            if aim is not None:
                target = max(0.0, first_time - aim) + source.origin
                try:
                    container.seek(round(target * av.time_base), backward=True)
                except av.FFmpegError:
                    continue
            started = False
            last = None
            for frame in decode_stream(container, stream, damaged):
                if frame.pts is None:
                    raise TimelineError(-1, f"a frame decoded after frame {source.start} has no timestamp")
                pts = clock(frame.pts)
                if pts < source.first_pts:
                    continue
                if last is not None and pts <= last:  # frames are found by time: times must increase
                    raise TimelineError(
                        -1, f"decoded frame times go back from {last} to {pts} after frame {source.start}"
                    )
                last = pts
                if source.end_pts is not None and pts >= source.end_pts:
                    break
                if not started and aim is not None and pts > source.first_pts:
                    break  # the seek landed after the first frame: aim further back
                started = True
                yield frame, pts
            if started or aim is None:
                return
        damaged.clear()
    raise UnsupportedVideoError(
        f"frame {source.start} could not be found in the file"
    )  # unreachable: the last aim decodes from the start


def segment_frames(source: Source, threads: int, damaged: list[int]) -> Iterator[tuple[av.VideoFrame, int]]:
    """The segment's decoded frames in order, each with its output timestamp; rejected
    packets are counted in `damaged`."""
    if source.seek_mode == "count":
        return _counted(source, threads, damaged)
    return _timed(source, threads, damaged)
