"""The benchmark input: a clip as a camera or an editor writes it, x264's default settings (a
keyframe every 250 frames) with AAC audio, made with the bundled ffmpeg binary."""

from __future__ import annotations

import subprocess
from pathlib import Path

from renderrush.media.ffmpeg import ffmpeg_exe


def camera_clip(path: Path, *, seconds: float, size: str, grain: int = 0) -> Path:
    """`testsrc2` at 30 fps with a sine tone; `grain` adds temporal noise of that strength
    (`noise=alls=...`), which makes the encoder work as it does on real footage."""
    video = ["-vf", f"noise=alls={grain}:allf=t"] if grain else []
    subprocess.run(
        [
            ffmpeg_exe(),
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=size={size}:rate=30:duration={seconds}",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:duration={seconds}",
            *video,
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
            str(path),
        ],
        check=True,
    )
    return path
