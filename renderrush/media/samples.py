"""Sample videos generated with ffmpeg (never downloaded): a moving test pattern with a
tone track, plus a binary frame-index stripe so tests can tell every frame apart."""

from __future__ import annotations

import math
import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..core.atomic import atomic_path
from ..core.errors import SettingsError
from .ffmpeg import run_ffmpeg

INDEX_BITS = 16
"""Bits in the frame-index stripe: frames 0..65535 are distinguishable."""

VIDEO_CODECS = {
    ".mp4": ["-c:v", "libx264"],
    ".m4v": ["-c:v", "libx264"],
    ".mov": ["-c:v", "libx264"],
    ".mkv": ["-c:v", "libx264"],
    ".avi": ["-c:v", "mpeg4", "-q:v", "3"],
}
AUDIO_CODECS = {".avi": ["-c:a", "libmp3lame", "-b:a", "128k"]}
DEFAULT_AUDIO_CODEC = ["-c:a", "aac", "-b:a", "128k"]


def stripe_height(height: int) -> int:
    """Height in pixels of the frame-index stripe at the top of a sample frame."""
    return max(8, height // 10)


def _index_stripe_filters(width: int, height: int) -> list[str]:
    """drawbox filters painting the frame number `n` in binary across the top stripe."""
    block, stripe = width // INDEX_BITS, stripe_height(height)
    # Half a block, centred, where that still covers the middle pixel `read_frame_index` reads;
    # below 64 pixels wide (blocks of 2 or 3) the whole block.
    box, offset = (block // 2, block // 4) if block >= 4 else (block, 0)
    boxes = [f"drawbox=x=0:y=0:w={width}:h={stripe}:color=black:t=fill"]
    for bit in range(INDEX_BITS):
        boxes.append(
            f"drawbox=x={bit * block + offset}:y={stripe // 4}:w={box}:h={max(1, stripe // 2)}"
            f":color=white:t=fill:enable='mod(floor(n/{2**bit})\\,2)'"
        )
    return boxes


def read_frame_index(luma: np.ndarray) -> int:
    """Decode the frame-index stripe from a sample frame's luma (or grayscale) plane."""
    height, width = luma.shape[:2]
    block, stripe = width // INDEX_BITS, stripe_height(height)
    row = luma[stripe // 2]
    bits = [int(row[bit * block + block // 2] > 127) for bit in range(INDEX_BITS)]
    return sum(bit << k for k, bit in enumerate(bits))


def make_sample_video(
    path: str | os.PathLike,
    seconds: float = 10,
    size: tuple[int, int] = (1280, 720),
    fps: float | Fraction | str = 30,
    audio: bool = True,
) -> Path:
    """Write a test-pattern video (testsrc2 plus an index stripe) with an optional 440 Hz tone.

    The container and codecs follow the suffix: .mp4/.m4v/.mov/.mkv get H.264 (4:4:4 when a
    side is odd, since 4:2:0 H.264 needs even sizes) with AAC, .avi gets MPEG-4 Part 2 with MP3.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in VIDEO_CODECS:
        raise SettingsError(f"cannot write a sample as '{suffix or path.name}': use one of {', '.join(VIDEO_CODECS)}")
    width, height = size
    if width < 32 or height < 16:
        raise SettingsError(f"sample size {width}x{height} is too small: use at least 32x16")
    try:
        rate = Fraction(fps).limit_denominator(100000)
    except (TypeError, ValueError, ZeroDivisionError):
        raise SettingsError(f"fps must be a number or a fraction such as 30000/1001, got '{fps}'") from None
    if not math.isfinite(seconds) or seconds <= 0 or rate <= 0:
        raise SettingsError("sample length and fps must be positive")
    frames = max(1, round(seconds * rate))
    even_w, even_h = width + width % 2, height + height % 2
    video_filter = ",".join([*_index_stripe_filters(width, height), "format=rgb24", f"crop={width}:{height}:0:0"])
    args: list[str] = ["-f", "lavfi", "-i", f"testsrc2=size={even_w}x{even_h}:rate={rate}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={float(frames / rate):.6f}"]
    args += ["-map", "0:v", "-vf", video_filter, "-frames:v", str(frames), *VIDEO_CODECS[suffix]]
    if suffix != ".avi":
        odd = width % 2 or height % 2
        args += ["-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv444p" if odd else "yuv420p"]
    args += ["-g", str(max(1, round(2 * rate)))]
    if audio:
        args += ["-map", "1:a", *AUDIO_CODECS.get(suffix, DEFAULT_AUDIO_CODEC)]
    with atomic_path(path) as partial:
        run_ffmpeg([*args, "-y", partial], what=f"writing sample video {path.name}")
    return path
