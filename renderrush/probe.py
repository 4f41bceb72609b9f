"""Probe a video with PyAV: which stream is the video, how it is shown (rotation, pixel
aspect, colour), every frame's presentation time, and the other streams the output keeps.

The frame table is what the decoder will produce, since segments are cut on it:
- containers with a reliable index and a timestamp on every packet (MP4/MOV, Matroska/WebM)
  are read from a demux pass, which is cheap (packets, no decoding);
- everything else (MPEG-PS/TS, AVI with packed B-frames, FLV, raw elementary streams, GIF,
  APNG, FLIC, ...) is decoded once, which is the only way to know what the decoder outputs
  (one packet can hold two frames, timestamps can be missing or jump back).
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from .errors import EmptyVideoError, InputNotFoundError, NotAVideoError, UnsupportedVideoError

TIMESTAMPED_CONTAINERS = (
    "mov,mp4,m4a,3gp,3g2,mj2",
    "matroska,webm",
    "avi",
    "mpeg",
    "mpegts",
    "mpegtsraw",
    "flv",
    "ogg",
    "asf",
    "nut",
    "mxf",
    "dv",
    "rm",
    "wtv",
)
"""Containers that store a timestamp with each frame: their demux pass lists the frames
(one packet per frame, each with its time), and a frame decoded after a seek is recognised
by its time. Elsewhere (raw elementary streams, GIF, APNG, FLIC, SWF, image sequences)
timestamps are made up by the demuxer while reading: the frames are listed by decoding the
file once, and a segment finds its frames by counting them from the start of the file.
A demux pass that lists the frames wrongly is caught while rendering (`TimelineError`),
and the job is planned again from a decode pass."""

OUTPUT_TIME_BASE_LIMIT = 1_000_000
"""Frame times are kept in the source's time base when it is this fine or coarser, else in
1/90000 s (MPEG's clock)."""

HDR_TRANSFERS = {16: "PQ (SMPTE ST 2084)", 18: "HLG (ARIB STD-B67)"}
"""AVColorTransferCharacteristic values of HDR video."""

UNSPECIFIED = 2
"""AVColorSpace / primaries / transfer value for 'not tagged'."""
RANGE_TV, RANGE_PC = 1, 2
"""AVColorRange values: limited (16-235) and full (0-255) range."""

STILL_DISPOSITIONS = ("attached_pic", "still_image", "timed_thumbnails")


@dataclass(frozen=True)
class StreamInfo:
    """A non-main stream of the source (audio, subtitle, data, attachment, other video)."""

    index: int
    kind: str
    codec: str
    language: str | None = None
    title: str | None = None
    channels: int = 0
    text: bool = False
    """For subtitles: text based (an MP4 can hold it as mov_text); bitmaps cannot."""
    problem: str = ""
    """Why the stream cannot be kept, where that is not plain from its kind."""

    def describe(self) -> str:
        detail = ", ".join(part for part in (self.language, self.title) if part)
        problem = f": {self.problem}" if self.problem else ""
        return f"{self.kind} stream #{self.index} ({self.codec}{', ' + detail if detail else ''}){problem}"


@dataclass(frozen=True)
class VideoInfo:
    """What RenderRush needs to know about a source video."""

    path: Path
    width: int
    """Width of the decoded (coded) picture, before rotation."""
    height: int
    fps: Fraction
    """Average frame rate (frame count over the time the frames cover)."""
    frame_count: int
    duration: float
    codec: str
    pix_fmt: str
    has_audio: bool
    audio_codec: str | None
    container: str
    frame_times: tuple[float, ...] = field(repr=False, compare=False, default=())
    """Presentation time of each frame in seconds, from the start of the file (its first
    packet of any stream), in the order the decoder outputs them."""
    keyframes: tuple[int, ...] = field(repr=False, compare=False, default=())
    """Indices (in presentation order) of frames that are keyframes."""
    stream_index: int = 0
    """Index of the main video stream in the container (cover art and stills are skipped)."""
    time_base: Fraction = Fraction(1, 90000)
    """Unit of `frame_pts`."""
    frame_pts: tuple[int, ...] = field(repr=False, compare=False, default=())
    """`frame_times` in units of `time_base`, exact: the output's timestamps."""
    last_frame_duration: int = 0
    """How long the last frame is shown, in `time_base` units."""
    origin: float = 0.0
    """Container start time in seconds: source timestamps minus this are `frame_times`."""
    seek_mode: str = "time"
    """"time": a segment seeks and finds its first frame by time; "count": it decodes
    from the start of the file and counts frames (timestamps are made up or jump back)."""
    timeline: str = "packets"
    """Where `frame_times` came from: "packets" (demux pass) or "decoded" (decode pass)."""
    rotation: int = 0
    """Clockwise degrees (0, 90, 180, 270) the decoded picture is turned to be shown upright."""
    sample_aspect: Fraction = Fraction(1)
    """Pixel aspect ratio of the decoded picture (before rotation)."""
    color_range: int = RANGE_TV
    colorspace: int = UNSPECIFIED
    color_primaries: int = UNSPECIFIED
    color_trc: int = UNSPECIFIED
    bit_depth: int = 8
    has_alpha: bool = False
    audio_streams: tuple[StreamInfo, ...] = ()
    subtitle_streams: tuple[StreamInfo, ...] = ()
    other_streams: tuple[StreamInfo, ...] = ()
    """Streams no MP4 output can hold: data, attachments, extra video (cover art)."""
    damaged_frames: int = 0
    """Packets the decoder rejected during the decode pass (their frames are not counted)."""

    @property
    def full_range(self) -> bool:
        return self.color_range == RANGE_PC

    @property
    def is_rgb(self) -> bool:
        """RGB or palette pictures (GIF, PNG, QuickTime Animation), which become YUV."""
        try:
            fmt = av.VideoFormat(self.pix_fmt)
        except (ValueError, av.FFmpegError):
            return False
        return fmt.is_rgb or fmt.has_palette

    @property
    def upright_size(self) -> tuple[int, int]:
        """Width and height as shown: rotated by 90 or 270 degrees, the sides swap."""
        return (self.height, self.width) if self.rotation in (90, 270) else (self.width, self.height)

    @property
    def display_aspect(self) -> float:
        width, height = self.upright_size
        sar = 1 / self.sample_aspect if self.rotation in (90, 270) else self.sample_aspect
        return float(width * sar / height)

    def to_dict(self) -> dict:
        """JSON-friendly summary (without the per-frame tables)."""
        return {
            "path": str(self.path),
            "width": self.width,
            "height": self.height,
            "fps": str(self.fps),
            "fps_float": float(self.fps),
            "frame_count": self.frame_count,
            "duration": self.duration,
            "codec": self.codec,
            "pix_fmt": self.pix_fmt,
            "has_audio": self.has_audio,
            "audio_codec": self.audio_codec,
            "container": self.container,
            "keyframe_count": len(self.keyframes),
            "rotation": self.rotation,
            "sample_aspect": str(self.sample_aspect),
            "display_aspect": round(self.display_aspect, 4),
            "color_range": "full" if self.full_range else "limited",
            "bit_depth": self.bit_depth,
            "variable_frame_rate": self.variable_frame_rate,
            "audio_streams": len(self.audio_streams),
            "subtitle_streams": len(self.subtitle_streams),
            "seek_mode": self.seek_mode,
        }

    @property
    def variable_frame_rate(self) -> bool:
        steps = {b - a for a, b in zip(self.frame_pts, self.frame_pts[1:])}
        return len(steps) > 1 and (max(steps) - min(steps)) * self.time_base > 0.002


def check_input_path(path: Path) -> None:
    """Refuse what cannot be a video file before any demuxer blocks on it (a FIFO or a
    device would be read forever)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise InputNotFoundError(f"input '{path}' does not exist: check the path") from None
    except OSError as exc:
        raise InputNotFoundError(f"cannot read input '{path}': {exc.strerror}") from None
    if stat.S_ISDIR(mode):
        raise InputNotFoundError(f"input '{path}' is a folder, not a file: give the path of a video file")
    if not stat.S_ISREG(mode):
        raise NotAVideoError(
            f"input '{path}' is not a regular file (a device, pipe or socket): save the video to a file first"
        )
    if path.stat().st_size == 0:
        raise EmptyVideoError(f"input '{path}' is empty (0 bytes): the file was not written completely")
    if not os.access(path, os.R_OK):
        raise InputNotFoundError(f"cannot read input '{path}': permission denied")


def open_input(path: Path) -> av.container.InputContainer:
    """The source opened for demuxing, or a clear error."""
    check_input_path(path)
    try:
        return av.open(os.fspath(path), metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise NotAVideoError(
            f"input '{path.name}' is not a readable video ({exc.strerror or exc}): "
            "it may be another kind of file or truncated; use an MP4, MOV, MKV or AVI video"
        ) from None


def _is_still(stream: av.video.stream.VideoStream) -> bool:
    return any(stream.disposition & getattr(av.stream.Disposition, name) for name in STILL_DISPOSITIONS)


def main_video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream:
    """The stream a viewer sees: cover art and thumbnails are skipped; of the rest the
    default-flagged, then the largest, then the first (as ffmpeg picks)."""
    streams = [s for s in container.streams.video if not _is_still(s)]
    if not streams:
        if container.streams.video:
            raise NotAVideoError("the file holds only a still picture (cover art), no video: use a video file")
        raise NotAVideoError("the file has no video stream (is it an audio file?): use a video file")

    best = container.streams.best("video")  # FFmpeg's pick: prefers streams whose frames it saw while probing
    if best is not None and best in streams:
        return best

    def score(stream: av.video.stream.VideoStream) -> tuple[bool, int, int]:
        ctx = stream.codec_context
        area = (ctx.width * ctx.height) if ctx is not None else 0
        return bool(stream.disposition & av.stream.Disposition.default), area, -stream.index

    return max(streams, key=score)


def output_time_base(stream_time_base: Fraction | None) -> Fraction:
    if stream_time_base and stream_time_base.denominator <= OUTPUT_TIME_BASE_LIMIT:
        return Fraction(stream_time_base)
    return Fraction(1, 90000)


class Clock:
    """Maps a stream's timestamps to output timestamps: counted from the container's
    start, in the output time base."""

    def __init__(self, stream_time_base: Fraction, origin: float, out: Fraction) -> None:
        self.scale = Fraction(stream_time_base) / out
        self.offset = Fraction(origin) / out

    def __call__(self, pts: int) -> int:
        return round(pts * self.scale - self.offset)


def decode_stream(
    container: av.container.InputContainer, stream: Any, damaged: list[int] | None = None
) -> Iterator[av.VideoFrame]:
    """Every frame the decoder outputs, as `ffmpeg` would decode them: a packet the decoder
    rejects is skipped (and counted in `damaged`) instead of ending the stream, and a file
    that ends early ends the stream where it breaks."""
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.FFmpegError:  # the file ends early: flush what the decoder holds
            packet = None
        try:
            yield from (stream.codec_context.decode(packet) if packet is None else packet.decode())
        except av.FFmpegError:
            if damaged is not None:
                damaged.append(packet.pts if packet is not None and packet.pts is not None else -1)
            if packet is None:
                return
        if packet is None:
            return


@dataclass
class _Table:
    """Frame times (stream time base) and keyframe flags, in presentation order."""

    pts: list[int | None]
    keys: list[bool]
    durations: list[int]
    damaged: int = 0


def _packet_table(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> tuple[_Table, bool]:
    """Presentation times from one demux pass; the flag says the file ended early."""
    entries: list[tuple[int | None, bool, int]] = []
    truncated = False
    try:
        for packet in container.demux(stream):
            if packet.size == 0 or packet.is_discard:  # flush packets; edit-list cuts the decoder drops
                continue
            entries.append((packet.pts, packet.is_keyframe, packet.duration or 0))
    except av.FFmpegError:
        truncated = True
    if any(pts is None for pts, _, _ in entries):
        return _Table([e[0] for e in entries], [e[1] for e in entries], [e[2] for e in entries]), truncated
    entries.sort(key=lambda e: e[0])  # type: ignore[arg-type,return-value]
    return _Table([e[0] for e in entries], [e[1] for e in entries], [e[2] for e in entries]), truncated


def _decoded_table(container: av.container.InputContainer, stream: Any) -> _Table:
    """Presentation times of the frames the decoder really outputs (one decode pass)."""
    stream.thread_type = "AUTO"
    damaged: list[int] = []
    table = _Table([], [], [])
    for frame in decode_stream(container, stream, damaged):
        table.pts.append(frame.pts)
        table.keys.append(bool(frame.key_frame))
        table.durations.append(frame.duration or 0)
    table.damaged = len(damaged)
    return table


def _truncate_to_decodable(path: Path, stream_index: int, table: _Table) -> _Table:
    """A file that ends early: keep the frames its decoder still outputs (the last packets
    may be cut off). Decodes from the last keyframe only."""
    with av.open(os.fspath(path), metadata_errors="ignore") as container:
        stream: Any = container.streams[stream_index]
        last_key = max((i for i, key in enumerate(table.keys) if key), default=0)
        seen: set[int] = set()
        start = table.pts[last_key]
        if last_key > 0 and start is not None:
            container.seek(start, backward=True, stream=stream)
        for frame in decode_stream(container, stream):
            if frame.pts is not None:
                seen.add(frame.pts)
        keep = [i for i, pts in enumerate(table.pts) if i < last_key or pts in seen]
    return _Table([table.pts[i] for i in keep], [table.keys[i] for i in keep], [table.durations[i] for i in keep])


def _frame_rate(stream: av.video.stream.VideoStream, pts: list[int], time_base: Fraction) -> Fraction:
    if len(pts) > 1 and pts[-1] > pts[0]:
        measured = Fraction((len(pts) - 1), 1) / ((pts[-1] - pts[0]) * time_base)
        declared = stream.average_rate or stream.guessed_rate
        if declared and abs(float(declared) / float(measured) - 1) < 0.01:
            return Fraction(declared)
        return measured.limit_denominator(1001)
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if rate:
        return Fraction(rate)
    return Fraction(25)


def _fill_times(pts: list[int | None], step: int) -> tuple[list[int], bool]:
    """Times for frames without one, and times that do not move forward (a timestamp
    reset in a broadcast stream), continued from the frame before; the flag says times
    were made up, so a frame cannot be found again by its time."""
    good: list[int | None] = []
    for value in pts:
        last = next((v for v in reversed(good) if v is not None), None)
        good.append(value if value is not None and (last is None or value > last) else None)
    made_up = any(v is None for v in good)
    out: list[int] = []
    i = 0
    while i < len(good):
        if good[i] is not None:
            out.append(good[i])  # type: ignore[arg-type]
            i += 1
            continue
        j = i
        while j < len(good) and good[j] is None:
            j += 1
        before = out[-1] if out else None
        after = good[j] if j < len(good) else None
        gap = j - i
        for k in range(1, gap + 1):  # spread the frames evenly between their neighbours
            if before is not None and after is not None and after - before > gap:
                out.append(before + (after - before) * k // (gap + 1))
            elif before is not None:
                out.append(before + k * step)
            else:
                out.append((after if after is not None else gap * step) - (gap + 1 - k) * step)
        i = j
    if any(b <= a for a, b in zip(out, out[1:])):  # no room between neighbours: continue from the frame before
        out = []
        for value in pts:
            out.append(value if value is not None and (not out or value > out[-1]) else (out[-1] + step if out else 0))
    return out, made_up


def _rotation(frame: av.VideoFrame) -> int:
    """Clockwise turn that shows the picture upright (a display matrix's counter-clockwise
    angle, as `ffmpeg` applies it)."""
    angle = -(frame.rotation or 0)
    return int(round(angle / 90.0)) % 4 * 90


def _first_frame(path: Path, stream_index: int) -> av.VideoFrame:
    """The first decodable frame: colour, rotation and size as the decoder gives them."""
    with av.open(os.fspath(path), metadata_errors="ignore") as container:
        stream = container.streams[stream_index]
        for frame in decode_stream(container, stream):
            return frame
    raise EmptyVideoError(
        f"input '{path.name}' has a video stream but no frames that decode: it is empty, damaged or truncated"
    )


def _other_streams(
    container: av.container.InputContainer, main: int
) -> tuple[list[StreamInfo], list[StreamInfo], list[StreamInfo]]:
    audio, subtitles, other = [], [], []
    for stream in container.streams:
        if stream.index == main:
            continue
        ctx: Any = stream.codec_context
        codec = ctx.name if ctx is not None else (getattr(stream, "codec_tag", "") or "unknown")
        meta = stream.metadata or {}
        language = meta.get("language") if meta.get("language") not in (None, "und") else None
        title = meta.get("title") or meta.get("handler_name") if stream.type == "subtitle" else meta.get("title")
        if stream.type == "audio" and ctx is not None and ctx.channels and ctx.sample_rate:
            audio.append(StreamInfo(stream.index, "audio", codec, language, meta.get("title"), ctx.channels))
        elif stream.type == "audio":
            problem = "no decodable audio in the file (no channel count or sample rate)"
            other.append(StreamInfo(stream.index, "audio", codec, language, meta.get("title"), problem=problem))
        elif stream.type == "subtitle":
            text = bool(ctx is not None and ctx.codec.text_sub)
            subtitles.append(StreamInfo(stream.index, "subtitle", codec, language, title, text=text))
        else:
            kind = {"video": "video", "data": "data", "attachment": "attachment"}.get(stream.type, stream.type)
            other.append(StreamInfo(stream.index, kind, codec, language, meta.get("title") or meta.get("filename")))
    return audio, subtitles, other


def probe(path: str | os.PathLike, *, decode_pass: bool = False) -> VideoInfo:
    """Inspect `path` and return its `VideoInfo`, or raise a specific `RenderRushError`.
    `decode_pass=True` lists the frames by decoding the file even where the demuxer's
    timestamps look reliable."""
    path = Path(path).expanduser().absolute()
    with open_input(path) as container:
        stream = main_video_stream(container)
        if stream.codec_context is None:
            raise UnsupportedVideoError(
                f"input '{path.name}': its video codec cannot be decoded by the FFmpeg bundled with RenderRush; "
                "convert it first (for example to H.264)"
            )
        try:
            first = _first_frame(path, stream.index)
        except av.FFmpegError as exc:
            raise UnsupportedVideoError(
                f"input '{path.name}': the {stream.codec_context.name} video cannot be decoded ({exc.strerror or exc})"
            ) from None
        if first.color_trc in HDR_TRANSFERS:
            raise UnsupportedVideoError(
                f"input '{path.name}' is HDR video ({HDR_TRANSFERS[first.color_trc]}): RenderRush writes 8-bit SDR "
                "H.264 and would wash out its colours; tone-map it to SDR first (for example with ffmpeg's "
                "zscale and tonemap filters)"
            )
        if first.width < 2 or first.height < 2:
            raise UnsupportedVideoError(f"video size {first.width}x{first.height} is too small: need at least 2x2")
        stream_time_base = stream.time_base or Fraction(1, 90000)
        origin = (container.start_time or 0) / av.time_base
        trusted = container.format.name in TIMESTAMPED_CONTAINERS and not decode_pass
        table, truncated = _packet_table(container, stream) if trusted else (_Table([], [], []), False)
        if trusted and (not table.pts or any(p is None for p in table.pts) or len(set(table.pts)) != len(table.pts)):
            trusted = False
        if not trusted:
            with av.open(os.fspath(path), metadata_errors="ignore") as again:
                table = _decoded_table(again, again.streams[stream.index])
        elif truncated:
            table = _truncate_to_decodable(path, stream.index, table)
        if not table.pts:
            raise EmptyVideoError(
                f"input '{path.name}' has a video stream but no decodable frames: it is empty or truncated"
            )
        audio, subtitles, other = _other_streams(container, stream.index)
        out_tb = output_time_base(stream_time_base)
        declared = stream.average_rate or stream.guessed_rate or stream.base_rate or Fraction(25)
        step = max(1, round(1 / (Fraction(declared) * stream_time_base)))
        raw_pts, made_up = _fill_times(table.pts, step)
        if all(p is None for p in table.pts):
            origin = 0.0
        clock = Clock(stream_time_base, origin, out_tb)
        pts = [clock(p) for p in raw_pts]
        times = [float(p * out_tb) for p in pts]
        fps = _frame_rate(stream, pts, out_tb)
        last = table.durations[-1] if table.durations and table.durations[-1] else 0
        last_duration = round(last * stream_time_base / out_tb) if last else max(1, round(1 / (fps * out_tb)))
        seekable = container.format.name in TIMESTAMPED_CONTAINERS and not made_up
        keyframes = tuple(i for i, key in enumerate(table.keys) if key) or (0,)
        fmt = av.VideoFormat(first.format.name)
        pix_fmt = first.format.name
        color_range = first.color_range or RANGE_TV
        if pix_fmt.startswith("yuvj"):
            color_range = RANGE_PC
        if fmt.is_rgb or fmt.has_palette:
            color_range = RANGE_TV  # RGB pictures become limited-range YUV, as ffmpeg makes them
        sar = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio
        duration = float((pts[-1] - pts[0] + last_duration) * out_tb)
        return VideoInfo(
            path=path,
            width=first.width,
            height=first.height,
            fps=fps,
            frame_count=len(pts),
            duration=duration,
            codec=stream.codec_context.name,
            pix_fmt=pix_fmt,
            has_audio=bool(audio),
            audio_codec=audio[0].codec if audio else None,
            container=container.format.name,
            frame_times=tuple(times),
            keyframes=keyframes,
            stream_index=stream.index,
            time_base=out_tb,
            frame_pts=tuple(pts),
            last_frame_duration=last_duration,
            origin=origin,
            seek_mode="time" if seekable else "count",
            timeline="packets" if trusted else "decoded",
            rotation=_rotation(first),
            sample_aspect=Fraction(sar) if sar and sar > 0 and math.isfinite(float(sar)) else Fraction(1),
            color_range=color_range,
            colorspace=first.colorspace,
            color_primaries=first.color_primaries,
            color_trc=first.color_trc,
            bit_depth=max(c.bits for c in fmt.components) if fmt.components else 8,
            has_alpha=fmt.has_palette or any(c.is_alpha for c in fmt.components),
            audio_streams=tuple(audio),
            subtitle_streams=tuple(subtitles),
            other_streams=tuple(other),
            damaged_frames=table.damaged,
        )
