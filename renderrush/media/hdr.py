"""HDR as a source shows it and an encoder is told it: the format (HLG, PQ/HDR10, HDR10+,
Dolby Vision), the mastering display (SMPTE ST 2086) and content light levels read from a
decoded frame's side data, and the same metadata written as x265 and SVT-AV1 parameters
so the output's bitstream carries it."""

from __future__ import annotations

import re
import struct
import subprocess
from dataclasses import dataclass
from typing import Any

import av

PQ, HLG = 16, 18
"""AVColorTransferCharacteristic values of HDR video (SMPTE ST 2084, ARIB STD-B67)."""
HDR_TRANSFERS = {PQ: "PQ", HLG: "HLG"}
TRANSFER_NAMES = {PQ: "smpte2084", HLG: "arib-std-b67"}
"""x265 / SVT-AV1 names of the transfers."""
DOVI_CODEC_TAGS = ("dvh1", "dvhe", "dav1", "dva1")
DOVI_RECORD = re.compile(r"DOVI configuration record:.*?profile: (\d+).*?compatibility id: (\d+)")


@dataclass(frozen=True)
class MasteringDisplay:
    """SMPTE ST 2086 mastering display: chromaticities (CIE 1931 x, y) and luminance (cd/m²)."""

    red: tuple[float, float]
    green: tuple[float, float]
    blue: tuple[float, float]
    white: tuple[float, float]
    max_luminance: float
    min_luminance: float

    def x265(self) -> str:
        """x265's `master-display` value: G, B, R, white in 0.00002 units, luminance in 0.0001 cd/m²."""

        def xy(point: tuple[float, float]) -> str:
            return f"({round(point[0] * 50000)},{round(point[1] * 50000)})"

        luminance = f"L({round(self.max_luminance * 10000)},{round(self.min_luminance * 10000)})"
        return f"G{xy(self.green)}B{xy(self.blue)}R{xy(self.red)}WP{xy(self.white)}{luminance}"

    def svtav1(self) -> str:
        """SVT-AV1's `mastering-display` value (the same order, plain numbers)."""

        def xy(point: tuple[float, float]) -> str:
            return f"({point[0]:.5f},{point[1]:.5f})"

        return (
            f"G{xy(self.green)}B{xy(self.blue)}R{xy(self.red)}WP{xy(self.white)}"
            f"L({self.max_luminance:.4f},{self.min_luminance:.4f})"
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "red": list(self.red),
            "green": list(self.green),
            "blue": list(self.blue),
            "white": list(self.white),
            "max_luminance": self.max_luminance,
            "min_luminance": self.min_luminance,
        }


@dataclass(frozen=True)
class HdrInfo:
    """What makes a source HDR, as its first decoded frame and its container say."""

    transfer: int
    """AVColorTransferCharacteristic: `PQ` or `HLG`."""
    mastering: MasteringDisplay | None = None
    max_cll: int = 0
    """Maximum content light level, cd/m² (0: not given)."""
    max_fall: int = 0
    """Maximum frame-average light level, cd/m²."""
    hdr10_plus: bool = False
    """Dynamic HDR10+ metadata (SMPTE ST 2094-40) on the frames."""
    dolby_vision: str = ""
    """Dolby Vision, as "profile 8.4" (profile.compatibility id) or "present"; empty when none."""

    @property
    def format(self) -> str:
        """HLG, PQ, HDR10 (PQ with static metadata), HDR10+; with Dolby Vision named after it."""
        if self.transfer == HLG:
            name = "HLG"
        elif self.hdr10_plus:
            name = "HDR10+"
        else:
            name = "HDR10" if self.mastering or self.max_cll else "PQ"
        return f"{name}, Dolby Vision {self.dolby_vision}" if self.dolby_vision else name

    @property
    def peak(self) -> float:
        """Brightest light the content holds, cd/m²: MaxCLL, else the mastering display's peak,
        else 1000 (HLG's nominal display, and a common PQ master)."""
        if self.max_cll:
            return float(self.max_cll)
        if self.mastering and self.mastering.max_luminance > 0:
            return self.mastering.max_luminance
        return 1000.0

    def x265_params(self) -> str:
        """x265 parameters that write the HDR10 SEI messages (mastering display, light level)."""
        params = []
        if self.mastering:
            params.append(f"master-display={self.mastering.x265()}")
        if self.max_cll or self.max_fall:
            params.append(f"max-cll={self.max_cll},{self.max_fall}")
        if params:
            params.append("hdr10=1")
        return ":".join(params)

    def svtav1_params(self) -> str:
        """SVT-AV1 parameters that write the same metadata as AV1 metadata OBUs."""
        params = []
        if self.mastering:
            params.append(f"mastering-display={self.mastering.svtav1()}")
        if self.max_cll or self.max_fall:
            params.append(f"content-light={self.max_cll},{self.max_fall}")
        return ":".join(params)

    def to_dict(self) -> dict[str, object]:
        return {
            "format": self.format,
            "transfer": HDR_TRANSFERS.get(self.transfer, str(self.transfer)),
            "mastering_display": self.mastering.to_dict() if self.mastering else None,
            "max_cll": self.max_cll,
            "max_fall": self.max_fall,
            "dolby_vision": self.dolby_vision or None,
        }


def _ratio(values: tuple[int, ...], k: int) -> float:
    return values[k] / values[k + 1] if values[k + 1] else 0.0


def mastering_of(data: bytes) -> MasteringDisplay | None:
    """Parse FFmpeg's AVMasteringDisplayMetadata: primaries R, G, B then white (x, y
    rationals), min and max luminance (rationals), has_primaries, has_luminance."""
    if len(data) < 88:
        return None
    values = struct.unpack("<20i", data[:80])
    has_primaries, has_luminance = struct.unpack("<2i", data[80:88])
    if not (has_primaries and has_luminance):
        return None
    points = [(_ratio(values, 4 * i), _ratio(values, 4 * i + 2)) for i in range(4)]
    return MasteringDisplay(points[0], points[1], points[2], points[3], _ratio(values, 18), _ratio(values, 16))


def dolby_vision_profile(path: str) -> str:
    """ "8.4"-style profile from ffmpeg's description of the stream, or "present"."""
    from .ffmpeg import ffmpeg_exe

    proc = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", path], capture_output=True, text=True, errors="replace"
    )
    match = DOVI_RECORD.search(proc.stderr)
    return f"profile {match.group(1)}.{match.group(2)}" if match else "present"


def hdr_of(frame: av.VideoFrame, stream: av.video.stream.VideoStream, path: str) -> HdrInfo | None:
    """The HDR description of a source whose first decoded frame is `frame` (None: SDR)."""
    if frame.color_trc not in HDR_TRANSFERS:
        return None
    mastering, cll, fall, plus, dovi = None, 0, 0, False, False
    sides: list[Any] = list(frame.side_data)  # iterating gives the SideData objects (the stubs say keys)
    for side in sides:
        name = side.type.name
        if name == "MASTERING_DISPLAY_METADATA":
            mastering = mastering_of(bytes(side))
        elif name == "CONTENT_LIGHT_LEVEL":
            cll, fall = struct.unpack("<2I", bytes(side)[:8])
        elif name == "DYNAMIC_HDR_PLUS":
            plus = True
        elif name.startswith("DOVI"):
            dovi = True
    dovi = dovi or str(stream.codec_tag).lower() in DOVI_CODEC_TAGS
    return HdrInfo(
        transfer=frame.color_trc,
        mastering=mastering,
        max_cll=cll,
        max_fall=fall,
        hdr10_plus=plus,
        dolby_vision=dolby_vision_profile(path) if dovi else "",
    )
