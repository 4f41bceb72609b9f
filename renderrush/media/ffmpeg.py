"""The ffmpeg binary shipped by imageio-ffmpeg (it has libx264 and AAC), always run with
argument lists, never through a shell."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from ..core.errors import FFmpegError, RenderRushError

BASE_ARGS = ("-nostdin", "-hide_banner", "-loglevel", "error")


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary bundled with imageio-ffmpeg."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg_command(*args: str | Path) -> list[str]:
    """A full ffmpeg argument list: binary, quiet defaults, then `args`."""
    return [ffmpeg_exe(), *BASE_ARGS, *(str(a) for a in args)]


CONTEXT_PREFIX = re.compile(r"^(\[[^\]]*\]\s*)+")
GENERIC = ("Terminating thread", "Task finished", "Nothing was written", "Conversion failed", "Error while filtering")


def error_reason(stderr: str) -> str:
    """The most useful line of ffmpeg's stderr: the first specific error, without the
    "[codec @ 0x...]" context prefixes (ffmpeg's last lines are generic follow-ups)."""
    lines = [CONTEXT_PREFIX.sub("", line).strip() for line in stderr.splitlines()]
    lines = [line for line in lines if line and not line.startswith("Last message repeated")]
    specific = [line for line in lines if not line.startswith(GENERIC)]
    return (specific or lines or ["no message from ffmpeg"])[0]


def run_ffmpeg(args: Sequence[str | Path], what: str, error: type[RenderRushError] = FFmpegError) -> None:
    """Run ffmpeg to completion; on failure raise `error` naming `what` and ffmpeg's reason."""
    proc = subprocess.run(
        ffmpeg_command(*args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, errors="replace"
    )
    if proc.returncode != 0:
        raise error(f"{what} failed: {error_reason(proc.stderr)}")


def decoded_md5(path: str | Path) -> str:
    """MD5 of every decoded video frame of `path`: equal digests mean identical frames."""
    proc = subprocess.run(
        ffmpeg_command("-i", path, "-map", "0:v:0", "-f", "md5", "-"),
        capture_output=True,
        text=True,
        errors="replace",
    )
    if proc.returncode != 0:
        raise FFmpegError(f"decoding {path} failed: {error_reason(proc.stderr)}")
    return proc.stdout.strip().removeprefix("MD5=")
