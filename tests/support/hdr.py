"""HDR and 10-bit source clips made by the bundled ffmpeg binary with libx265, as phones
write them (`hvc1`, BT.2020, 10-bit): an HLG clip turned by a display matrix with audio,
a PQ clip with HDR10 mastering-display and content-light-level metadata, and PQ clips
of flat grey bands at known light levels for tone mapping."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .media import ffmpeg

BT2020 = ["-color_primaries", "bt2020", "-colorspace", "bt2020nc"]
MASTER_DISPLAY = "G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,50)"
"""A P3-D65 1000-nit mastering display, as x265 takes it."""
MAX_CLL = (1000, 400)
PQ_NITS = {10: 334, 100: 509, 1000: 723}
"""PQ light levels as 10-bit limited-range luma codes (cd/m² -> code)."""


def _x265(transfer: str, extra: str = "") -> list[str]:
    params = f"log-level=error:colorprim=bt2020:transfer={transfer}:colormatrix=bt2020nc{extra}"
    return ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", params, "-tag:v", "hvc1"]


def hlg_phone_clip(folder: Path, seconds: float = 2) -> Path:
    """HLG 10-bit HEVC, 320x180 at 30 fps shown turned 90 degrees (180x320 upright), AAC audio."""
    flat = folder / "hlg-flat.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=size=320x180:rate=30:duration={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
        "-vf", "format=yuv420p10le", *_x265("arib-std-b67"), *BT2020, "-color_trc", "arib-std-b67",
        "-c:a", "aac", "-shortest", "-y", flat,
    )  # fmt: skip
    path = folder / "hlg-phone.mp4"
    ffmpeg("-display_rotation", 90, "-i", flat, "-c", "copy", "-y", path)
    return path


def pq_hdr10_clip(folder: Path, seconds: float = 2) -> Path:
    """PQ 10-bit HEVC with HDR10 metadata (`MASTER_DISPLAY`, MaxCLL 1000, MaxFALL 400), 320x180, 30 fps."""
    path = folder / "pq-hdr10.mp4"
    extra = f":hdr10=1:master-display={MASTER_DISPLAY}:max-cll={MAX_CLL[0]},{MAX_CLL[1]}"
    ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=size=320x180:rate=30:duration={seconds}",
        "-vf", "format=yuv420p10le", *_x265("smpte2084", extra), *BT2020, "-color_trc", "smpte2084", "-y", path,
    )  # fmt: skip
    return path


def pq_bands_clip(folder: Path, frames: int = 6) -> Path:
    """PQ HDR10 (MaxCLL 1000), 240x64: three grey bands at 10, 100 and 1000 cd/m² (`PQ_NITS`), lossless."""
    width, height = 240, 64
    luma = np.zeros((height, width), np.uint16)
    for k, code in enumerate(PQ_NITS.values()):
        luma[:, k * 80 : (k + 1) * 80] = code
    chroma = np.full((height // 2, width // 2), 512, np.uint16)
    frame = np.concatenate([luma.ravel(), chroma.ravel(), chroma.ravel()]).astype("<u2").tobytes()
    path = folder / "pq-bands.mp4"
    extra = f":hdr10=1:master-display={MASTER_DISPLAY}:max-cll={MAX_CLL[0]},{MAX_CLL[1]}:lossless=1"
    ffmpeg(
        "-f", "rawvideo", "-pix_fmt", "yuv420p10le", "-s", f"{width}x{height}", "-r", 30, "-i", "-",
        *_x265("smpte2084", extra), *BT2020, "-color_trc", "smpte2084", "-y", path,
        stdin=frame * frames,
    )  # fmt: skip
    return path


def ffmpeg_hable(source: Path, output: Path) -> Path:
    """ffmpeg's own tone map of `source` (zscale to linear light, BT.709 primaries,
    `tonemap=hable` with the content's 1000-nit peak, BT.709 limited range) as raw 8-bit 4:2:0."""
    chain = (
        "zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,tonemap=hable:desat=0:peak=10,"
        "zscale=t=bt709:m=bt709:r=tv,format=yuv420p"
    )
    ffmpeg("-i", source, "-vf", chain, "-f", "rawvideo", "-y", output)
    return output
