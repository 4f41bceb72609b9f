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
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
import av.filter
from av.video.reformatter import ColorRange, Colorspace, VideoReformatter

from ..core.errors import TimelineError, UnsupportedVideoError
from .frametable import Clock, decode_stream
from .picture import BGR, BGR16, YUV, YUV10, YUV_LAYOUTS, Picture, plane_views
from .tonemap import ToneMapper

__all__ = [
    "BGR",
    "BGR16",
    "YUV",
    "YUV10",
    "Converter",
    "Picture",
    "Source",
    "plane_views",
    "segment_frames",
    "yuv_from_bgr",
]

SKIP_LEAD_IN_CODECS = ("h264", "hevc")
"""Codecs whose frames carry their own packet's timestamp and say whether other frames
refer to them: a segment's decoder skips the non-reference frames shown before its first
frame (it decodes them only to drop them; nothing refers to them)."""

RETRY_SECONDS = (0.0, 2.0, 10.0)
"""How far before a segment's first frame each seek aims, before decoding from the start."""

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


def _lead_in_skipper(stream: Any, clock: Clock, first_pts: int) -> Callable[[av.Packet], None] | None:
    """Sets the decoder, packet by packet, to skip non-reference frames timed before the
    segment's first frame: after a seek into a GOP, the frames between the keyframe and the
    segment's start are decoded only as references for later frames and then dropped, and
    the ones no frame refers to need not be decoded at all (x264's default GOP: 250 frames,
    with 3 B-frames of which 2 are not references)."""
    context = stream.codec_context
    if context.name not in SKIP_LEAD_IN_CODECS:
        return None
    skipping = False

    def before_decode(packet: av.Packet) -> None:
        nonlocal skipping
        skip = packet.pts is not None and clock(packet.pts) < first_pts
        if skip != skipping:  # read by the decoder (each frame thread) when the packet is sent
            context.skip_frame = "NONREF" if skip else "DEFAULT"
            skipping = skip

    return before_decode


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
            skipper = _lead_in_skipper(stream, clock, source.first_pts) if source.start > 0 else None
            for frame in decode_stream(container, stream, damaged, skipper):
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
