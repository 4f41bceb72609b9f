"""VMAF through the ffmpeg binary's libvmaf (PyAV's FFmpeg has none): pairs of luma planes
piped to one ffmpeg process per segment, which runs on another core."""

from __future__ import annotations

import json
import subprocess
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..core.errors import FFmpegError
from .ffmpeg import error_reason, ffmpeg_command

__all__ = ["VMAF_MODEL", "VmafPipe"]

VMAF_MODEL = "vmaf_v0.6.1"
"""The model libvmaf uses by default; built into the imageio-ffmpeg binary."""


class VmafPipe:
    """libvmaf in an ffmpeg process: pairs of (reference, distorted) luma planes go in
    through its stdin, stacked in one picture twice the height with neutral chroma; the mean score comes
    out of its JSON log."""

    def __init__(self, width: int, height: int, fps: Fraction, threads: int = 1, peak: int = 255) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="renderrush-vmaf-")
        self.log = Path(self._dir.name) / "vmaf.json"
        self._stderr = open(Path(self._dir.name) / "stderr.txt", "w+")  # noqa: SIM115 - closed in finish()
        # yuv420p with neutral chroma, not gray: ffmpeg takes gray as full range and would
        # stretch the luma when converting it for libvmaf
        deep = peak > 255  # 10-bit samples go in as 10-bit, little-endian, as NumPy holds them
        neutral = np.full(width * height, (peak + 1) // 2, np.uint16 if deep else np.uint8)
        self._chroma = neutral.tobytes()  # U and V of the double-height picture
        graph = (
            f"[0:v]split[a][b];[a]crop={width}:{height}:0:0[ref];"
            f"[b]crop={width}:{height}:0:{height}[dist];"
            f"[dist][ref]libvmaf=log_path={self.log}:log_fmt=json:n_threads={threads}"
        )
        pix_fmt = "yuv420p10le" if deep else "yuv420p"
        args = ["-f", "rawvideo", "-pix_fmt", pix_fmt, "-s", f"{width}x{2 * height}", "-r", str(fps), "-i", "pipe:0"]
        command = ffmpeg_command(*args, "-lavfi", graph, "-f", "null", "-")
        command.remove("-nostdin")  # its input is stdin
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._stderr)
        self.pairs = 0

    def add(self, reference: np.ndarray, distorted: np.ndarray) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(reference.tobytes())
            self.proc.stdin.write(distorted.tobytes())
            self.proc.stdin.write(self._chroma)
        except BrokenPipeError:
            pass  # ffmpeg stopped: finish() reports why
        self.pairs += 1

    def finish(self) -> float:
        """The mean VMAF of every pair; raises `FFmpegError` if libvmaf failed."""
        try:
            assert self.proc.stdin is not None
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
            self.proc.wait()
            self._stderr.seek(0)
            if self.proc.returncode != 0 or not self.log.exists():
                raise FFmpegError(f"measuring VMAF failed: {error_reason(self._stderr.read())}")
            return float(json.loads(self.log.read_text())["pooled_metrics"]["vmaf"]["mean"])
        finally:
            self.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._stderr.close()
        self._dir.cleanup()
