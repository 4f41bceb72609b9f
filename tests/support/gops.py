"""Clips with the GOP shapes people's files have, for the cluster traffic tests: short GOPs
(1 s, phones), x264's defaults (a keyframe every 250 frames: screen recorders, OBS, most
encoders) and a single keyframe. Each is a RenderRush sample (frame-index stripe, AAC tone)
whose video is encoded again with the bundled ffmpeg's libx264; the audio is copied."""

from __future__ import annotations

from pathlib import Path

from renderrush import make_sample_video

from .media import ffmpeg

GOP_OPTIONS = {
    "short": ["-g", "30"],
    "long": [],  # x264's defaults: keyint 250, scenecut 40, closed GOPs with B-frames
    "single": ["-x264-params", "keyint=infinite:scenecut=0"],
}


def gop_clip(folder: Path, gop: str, seconds: float = 12, size: tuple[int, int] = (320, 180), fps: int = 30) -> Path:
    """A `gop` ("short", "long" or "single") H.264 + AAC MP4 of `seconds`, made once per folder."""
    path = folder / f"gop-{gop}-{seconds:g}s-{size[0]}x{size[1]}-{fps}.mp4"
    if path.exists():
        return path
    base = make_sample_video(folder / f"gop-base-{seconds:g}s-{size[0]}x{size[1]}-{fps}.mp4", seconds, size, fps)
    partial = path.with_suffix(".partial.mp4")
    ffmpeg("-i", base, "-map", "0", "-c:v", "libx264", *GOP_OPTIONS[gop], "-c:a", "copy", "-y", partial)
    partial.rename(path)
    return path
