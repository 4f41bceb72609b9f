"""How a decoded frame becomes the frame the filters see (`Picture`: upright size,
rotation, crop, alpha, range and matrix, bit depth, tone mapping), the pixel formats the
filters work in, and NumPy views of a frame's planes."""

from __future__ import annotations

from dataclasses import dataclass, replace

import av
import numpy as np
from av.video.reformatter import ColorRange

from .probe import VideoInfo

YUV = "yuv420p"
YUV10 = "yuv420p10le"
"""The 10-bit work format: 10-bit sources written at 10 bits keep their samples (uint16 planes, 0-1023)."""
BGR, BGR16 = "bgr24", "bgr48le"
YUV_LAYOUTS = ("yuv420p", "yuvj420p")
"""Pixel formats whose planes are the chain's YUV layout as they are (yuvj420p is the same
layout in full range, which the output keeps)."""
WIDE_FORMATS = (YUV10, BGR16)
"""Formats whose samples are 16-bit words."""


MATRICES = {1: "itu709", 4: "fcc", 5: "itu601", 6: "smpte170m", 7: "smpte240m", 9: "bt2020", 10: "bt2020"}
"""AVColorSpace -> swscale matrix for YUV <-> BGR."""


def plane_views(frame: av.VideoFrame, width: int, height: int) -> list[np.ndarray]:
    """Writable NumPy views (no copy) of a frame's planes, `width` x `height` pixels of
    luma or BGR, rows padded to the plane's line size cut off."""
    views = []
    name = frame.format.name
    packed = name not in (*YUV_LAYOUTS, YUV10)
    dtype, size = (np.uint16, 2) if name in WIDE_FORMATS else (np.uint8, 1)
    for index, plane in enumerate(frame.planes):
        rows, columns = (height, width) if index == 0 else (height // 2, width // 2)
        if packed:
            columns *= 3
        array = np.frombuffer(memoryview(plane), dtype).reshape(-1, plane.line_size // size)
        views.append(array[:rows, :columns])
    return views


def matrix_for(colorspace: int, width: int, height: int) -> str:
    """The YUV matrix of the source: its tag, or what players assume untagged (BT.709 for HD)."""
    if colorspace in MATRICES:
        return MATRICES[colorspace]
    return "itu709" if width >= 1280 or height > 576 else "itu601"


@dataclass(frozen=True)
class Picture:
    """How a decoded frame becomes the upright frame the filters see (small, picklable)."""

    width: int
    """Output (upright, even) width."""
    height: int
    rotation: int = 0
    """Clockwise turn applied after decoding."""
    crop: tuple[int, int] | None = None
    """Decoded size cut to even sides before turning, when a side is odd."""
    alpha: bool = False
    """Composite transparency on black."""
    full_range: bool = False
    matrix: str = "itu601"
    source_depth: int = 8
    transfer: int = 2
    """The source's transfer (PQ and HLG can be tone-mapped)."""
    peak: float = 1000.0
    """The HDR source's peak light, cd/m² (`HdrInfo.peak`)."""
    depth: int = 8
    """Bit depth of the frames the filters see: 10 only where the output keeps 10 bits (`for_encode`)."""
    tonemap: bool = False
    """HDR frames are tone-mapped to 8-bit SDR BT.709 on decode."""

    @classmethod
    def of(cls, info: VideoInfo) -> Picture:
        coded = (info.width - info.width % 2, info.height - info.height % 2)
        width, height = (coded[1], coded[0]) if info.rotation in (90, 270) else coded
        return cls(
            width=width,
            height=height,
            rotation=info.rotation,
            crop=coded if coded != (info.width, info.height) else None,
            alpha=info.has_alpha,
            full_range=info.full_range,
            matrix=matrix_for(info.colorspace, info.width, info.height),
            source_depth=info.bit_depth,
            transfer=info.color_trc,
            peak=info.hdr.peak if info.hdr else 1000.0,
        )

    def for_output(self, depth: int, tonemap: bool) -> Picture:
        """This picture as an output of `depth` bits needs it: 10-bit frames where the
        source and the output both have more than 8 bits; tone-mapped BT.709 frames."""
        if tonemap and self.transfer in (16, 18):
            return replace(self, depth=8, tonemap=True, matrix="itu709", full_range=False)
        return replace(self, depth=10 if self.source_depth > 8 and depth > 8 else 8)

    @property
    def yuv_format(self) -> str:
        """The YUV format the filters and the frame pool work in."""
        return YUV10 if self.depth > 8 else YUV

    def frame_format(self, bgr: bool, bgr_depth: int = 8) -> str:
        """Format of the frames the chain gets: YUV planes, or BGR (16-bit for chains that
        declare 16-bit samples, on a 10-bit picture)."""
        if not bgr:
            return self.yuv_format
        return BGR16 if self.depth > 8 and bgr_depth > 8 else BGR

    @property
    def yuv_range(self) -> ColorRange:
        return ColorRange.JPEG if self.full_range else ColorRange.MPEG
