"""Probe a video with PyAV: geometry, exact frame count and per-frame presentation times
(from demuxing, cheap). When the file ends early (truncated), the last group of pictures
is decoded with ffmpeg so cut-off packets do not inflate the count."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av

from .ffmpeg import ffmpeg_command
from .errors import EmptyVideoError, InputNotFoundError, NotAVideoError, UnsupportedVideoError


@dataclass(frozen=True)
class VideoInfo:
    """What RenderRush needs to know about a source video."""

    path: Path
    width: int
    height: int
    fps: Fraction
    frame_count: int
    duration: float
    codec: str
    pix_fmt: str
    has_audio: bool
    audio_codec: str | None
    container: str
    frame_times: tuple[float, ...] = field(repr=False, compare=False, default=())
    """Presentation time of each frame in seconds, on ffmpeg's timeline (0 = container start)."""
    keyframes: tuple[int, ...] = field(repr=False, compare=False, default=())
    """Indices (in presentation order) of frames that are keyframes."""

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
        }


def _open(path: Path) -> av.container.InputContainer:
    if not path.exists():
        raise InputNotFoundError(f"input '{path}' does not exist: check the path")
    if not path.is_file():
        raise InputNotFoundError(f"input '{path}' is not a file")
    if path.stat().st_size == 0:
        raise EmptyVideoError(f"input '{path}' is empty (0 bytes): the file was not written completely")
    try:
        return av.open(os.fspath(path), metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise NotAVideoError(
            f"input '{path.name}' is not a readable video ({exc.strerror or exc}): "
            "it may be another kind of file or truncated; use an MP4, MOV, MKV or AVI video"
        ) from None


def _frame_rate(stream: av.video.stream.VideoStream, times: list[float]) -> Fraction:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if rate:
        return Fraction(rate)
    if len(times) > 1 and times[-1] > times[0]:
        return Fraction((len(times) - 1) / (times[-1] - times[0])).limit_denominator(1001)
    raise UnsupportedVideoError("cannot tell the frame rate of this video")


def _decodable_frames(path: Path, seek: float) -> int:
    """Frames ffmpeg decodes from `seek` seconds to the end, decoded exactly as a
    segment's decoder would: used on truncated files, whose cut-off last packets
    must not count as frames."""
    args = (["-ss", f"{seek:.6f}"] if seek > 0 else []) + ["-i", path, "-map", "0:v:0", "-f", "null", "-progress", "pipe:1", "-"]
    proc = subprocess.run(ffmpeg_command(*args), capture_output=True, text=True, errors="replace")
    counts = [int(line[6:]) for line in proc.stdout.splitlines() if line.startswith("frame=") and line[6:].strip().isdigit()]
    return counts[-1] if counts else 0


def probe(path: str | os.PathLike) -> VideoInfo:
    """Inspect `path` and return its `VideoInfo`, or raise a specific `RenderRushError`."""
    path = Path(path).expanduser().absolute()
    with _open(path) as container:
        if not container.streams.video:
            raise NotAVideoError(f"input '{path.name}' has no video stream (is it an audio file?): use a video file")
        stream = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        time_base = stream.time_base
        origin = (container.start_time or 0) / av.time_base
        entries: list[tuple[int, bool]] = []
        truncated = False
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                stamp = packet.pts if packet.pts is not None else packet.dts
                entries.append((stamp if stamp is not None else len(entries), packet.is_keyframe))
        except av.FFmpegError:
            truncated = True  # the file ends early: its last packets are checked below
        if not entries:
            raise EmptyVideoError(f"input '{path.name}' has a video stream but no frames: it is empty or truncated")
        entries.sort()
        keyframes = [i for i, (_, key) in enumerate(entries) if key] or [0]
        times = [float(stamp * time_base) - origin for stamp, _ in entries]
        if truncated:
            last_key = keyframes[-1]
            seek = (times[last_key - 1] + times[last_key]) / 2 if last_key else 0.0
            decodable = last_key + min(_decodable_frames(path, seek), len(entries) - last_key)
            if decodable == 0:
                raise EmptyVideoError(f"input '{path.name}' has no decodable frames: the file is damaged or truncated")
            entries, times = entries[:decodable], times[:decodable]
        codec = stream.codec_context
        if codec.width < 2 or codec.height < 2:
            raise UnsupportedVideoError(f"video size {codec.width}x{codec.height} is too small: need at least 2x2")
        fps = _frame_rate(stream, times)
        return VideoInfo(
            path=path,
            width=codec.width,
            height=codec.height,
            fps=fps,
            frame_count=len(entries),
            duration=float(len(entries) / fps),
            codec=codec.name,
            pix_fmt=codec.pix_fmt or "unknown",
            has_audio=audio is not None,
            audio_codec=audio.codec_context.name if audio is not None else None,
            container=container.format.name,
            frame_times=tuple(times),
            keyframes=tuple(k for k in keyframes if k < len(entries)),
        )
