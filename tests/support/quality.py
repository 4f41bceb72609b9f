"""ffmpeg's own measures of an encode, to check RenderRush's against: per-frame luma MSE and
SSIM from the `psnr` and `ssim` filters, VMAF from `libvmaf`, and clips with easy and hard parts."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from .media import ffmpeg


def ffmpeg_luma_stats(distorted: Path, reference: Path, folder: Path) -> tuple[list[float], list[float]]:
    """(luma MSE, luma SSIM) of every frame of `distorted` against `reference`, from ffmpeg's
    `psnr` and `ssim` filters' stats files."""
    psnr_log, ssim_log = folder / "psnr.log", folder / "ssim.log"
    graph = f"[0:v]split[a][b];[1:v]split[c][d];[a][c]psnr=stats_file={psnr_log};[b][d]ssim=stats_file={ssim_log}"
    ffmpeg("-i", distorted, "-i", reference, "-lavfi", graph, "-f", "null", "-")
    mse = [float(re.search(r"mse_y:(\S+)", line).group(1)) for line in psnr_log.read_text().splitlines()]  # type: ignore[union-attr]
    ssim = [float(re.search(r" Y:(\S+)", line).group(1)) for line in ssim_log.read_text().splitlines()]  # type: ignore[union-attr]
    return mse, ssim


def psnr_of_mean(mse: list[float]) -> float:
    mean = sum(mse) / len(mse)
    return 100.0 if mean == 0 else 10 * math.log10(255**2 / mean)


def ffmpeg_vmaf(distorted: Path, reference: Path, folder: Path) -> list[float]:
    """VMAF (vmaf_v0.6.1) of every frame of `distorted` against `reference`."""
    log = folder / "vmaf.json"
    ffmpeg(
        "-i", distorted, "-i", reference, "-lavfi", f"[0:v][1:v]libvmaf=log_path={log}:log_fmt=json", "-f", "null", "-"
    )
    return [frame["metrics"]["vmaf"] for frame in json.loads(log.read_text())["frames"]]


def noisy_clip(path: Path, seconds: float = 2, size: str = "320x180", noise: int = 25, crf: int = 12) -> Path:
    """A test pattern with moving grain (hard to encode), H.264 at a high quality."""
    source = f"testsrc2=size={size}:rate=30:duration={seconds},noise=alls={noise}:allf=t"
    ffmpeg("-f", "lavfi", "-i", source, "-c:v", "libx264", "-crf", crf, "-pix_fmt", "yuv420p", "-y", path)
    return path


def clean_then_noisy_clip(path: Path, seconds: float = 2, size: str = "320x180") -> Path:
    """`seconds` of a clean test pattern, then `seconds` of the same with heavy grain."""
    clean = f"testsrc2=size={size}:rate=30:duration={seconds}"
    graph = f"{clean}[a];{clean},noise=alls=30:allf=t[b];[a][b]concat=n=2:v=1:a=0"
    ffmpeg("-f", "lavfi", "-i", graph, "-c:v", "libx264", "-crf", 10, "-pix_fmt", "yuv420p", "-y", path)
    return path
