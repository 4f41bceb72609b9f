"""Probe a video with PyAV: which stream is the video, how it is shown (rotation, pixel
aspect, colour, bit depth, HDR format and metadata), what RenderRush refuses (undecodable
codecs, tiny pictures), and
the `VideoInfo` a job is planned from. The frame table comes from `frametable.py`, the
other streams' descriptions from `streams.py`.
"""

from __future__ import annotations

import math
import os
import stat
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av

from ..core.errors import (
    EmptyVideoError,
    InputNotFoundError,
    NotAVideoError,
    UnsupportedVideoError,
    translate_av_errors,
)
from .frametable import decode_stream, list_frames
from .hdr import HdrInfo, hdr_of
from .streams import StreamInfo, other_streams

UNSPECIFIED = 2
"""AVColorSpace / primaries / transfer value for 'not tagged'."""
RANGE_TV, RANGE_PC = 1, 2
"""AVColorRange values: limited (16-235) and full (0-255) range."""

STILL_DISPOSITIONS = ("attached_pic", "still_image", "timed_thumbnails")


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
    hdr: HdrInfo | None = None
    """HDR format and metadata (None: SDR)."""

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
    def display_rotation(self) -> int:
        """The rotation as ffmpeg reports it ("displaymatrix: rotation of 90.00 degrees"): the
        display matrix's counter-clockwise degrees, -180 to 90; `rotation` is the opposite turn."""
        return (180 - self.rotation) % 360 - 180

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
            "rotation": self.display_rotation,  # ffmpeg's convention, so the two tools agree
            "sample_aspect": str(self.sample_aspect),
            "display_aspect": round(self.display_aspect, 4),
            "color_range": "full" if self.full_range else "limited",
            "bit_depth": self.bit_depth,
            "hdr": self.hdr.to_dict() if self.hdr else None,
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
    unreadable = (
        "input '{name}' is not a readable video ({reason}): "
        "it may be another kind of file or truncated; use an MP4, MOV, MKV or AVI video"
    )
    with translate_av_errors(NotAVideoError, unreadable, name=path.name):
        return av.open(os.fspath(path), metadata_errors="ignore")


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


def upright_rotation(frame: av.VideoFrame) -> int:
    """Clockwise turn that shows the picture upright (a display matrix's counter-clockwise
    angle, as `ffmpeg` applies it)."""
    angle = -(frame.rotation or 0)
    return int(round(angle / 90.0)) % 4 * 90


def _has_alpha(frame: av.VideoFrame) -> bool:
    """Whether the picture can be transparent. A palette format has an alpha in every palette
    entry, transparent or not (MS RLE's and FLIC's are always 255), so there the first frame
    decides: any pixel with alpha below 255."""
    fmt = frame.format
    if fmt.has_palette:
        return bool((frame.to_ndarray(format="rgba")[..., 3] < 255).any())
    return any(c.is_alpha for c in fmt.components)


def _first_frame(path: Path, stream_index: int) -> av.VideoFrame:
    """The first decodable frame: colour, rotation and size as the decoder gives them."""
    with av.open(os.fspath(path), metadata_errors="ignore") as container:
        stream = container.streams[stream_index]
        for frame in decode_stream(container, stream):
            return frame
    raise EmptyVideoError(
        f"input '{path.name}' has a video stream but no frames that decode: it is empty, damaged or truncated"
    )


def _decodable_first_frame(path: Path, stream: av.video.stream.VideoStream) -> av.VideoFrame:
    """The main video stream's first frame, or the one-line error that says why there is none."""
    if stream.codec_context is None:
        raise UnsupportedVideoError(
            f"input '{path.name}': its video codec cannot be decoded by the FFmpeg bundled with RenderRush; "
            "convert it first (for example to H.264)"
        )
    undecodable = "input '{name}': the {codec} video cannot be decoded ({reason})"
    with translate_av_errors(UnsupportedVideoError, undecodable, name=path.name, codec=stream.codec_context.name):
        first = _first_frame(path, stream.index)
    if first.width < 2 or first.height < 2:
        raise UnsupportedVideoError(f"video size {first.width}x{first.height} is too small: need at least 2x2")
    return first


def _color_range(first: av.VideoFrame, fmt: av.VideoFormat) -> int:
    """The range the source's pictures are in: full for JPEG-style formats, limited for RGB
    and palette pictures (they become limited-range YUV, as ffmpeg makes them)."""
    if fmt.is_rgb or fmt.has_palette:
        return RANGE_TV
    if first.format.name.startswith("yuvj"):
        return RANGE_PC
    return first.color_range or RANGE_TV


def probe(path: str | os.PathLike, *, decode_pass: bool = False) -> VideoInfo:
    """Inspect `path` and return its `VideoInfo`, or raise a specific `RenderRushError`.
    `decode_pass=True` lists the frames by decoding the file even where the demuxer's
    timestamps look reliable."""
    path = Path(path).expanduser().absolute()
    with open_input(path) as container:
        stream = main_video_stream(container)
        first = _decodable_first_frame(path, stream)
        frames = list_frames(container, stream, path, decode_pass=decode_pass)
        audio, subtitles, other = other_streams(container, stream.index)
        fmt = av.VideoFormat(first.format.name)
        pix_fmt = first.format.name
        sar = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio
        return VideoInfo(
            path=path,
            width=first.width,
            height=first.height,
            fps=frames.fps,
            frame_count=len(frames.pts),
            duration=frames.duration,
            codec=stream.codec_context.name,
            pix_fmt=pix_fmt,
            has_audio=bool(audio),
            audio_codec=audio[0].codec if audio else None,
            container=container.format.name,
            frame_times=frames.times,
            keyframes=frames.keyframes,
            stream_index=stream.index,
            time_base=frames.time_base,
            frame_pts=frames.pts,
            last_frame_duration=frames.last_duration,
            origin=frames.origin,
            seek_mode=frames.seek_mode,
            timeline=frames.timeline,
            rotation=upright_rotation(first),
            sample_aspect=Fraction(sar) if sar and sar > 0 and math.isfinite(float(sar)) else Fraction(1),
            color_range=_color_range(first, fmt),
            colorspace=first.colorspace,
            color_primaries=first.color_primaries,
            color_trc=first.color_trc,
            bit_depth=max(c.bits for c in fmt.components) if fmt.components else 8,
            has_alpha=_has_alpha(first),
            audio_streams=tuple(audio),
            subtitle_streams=tuple(subtitles),
            other_streams=tuple(other),
            damaged_frames=frames.damaged,
            hdr=hdr_of(first, stream, os.fspath(path)),
        )
