"""Tone mapping: HDR (PQ or HLG, BT.2020, 10-bit) to 8-bit SDR BT.709, in NumPy.

The operator is John Hable's filmic curve ("Uncharted 2"), as FFmpeg's `tonemap=hable`
computes it: light is measured in units of SDR white (100 cd/m²), the curve is applied
to the brightest of R, G and B and the pixel scaled by the same ratio (hue and
saturation kept), normalised so the content's peak (MaxCLL, else the mastering display's
peak, else 1000 cd/m²) lands on SDR white. Light at 10, 100 and 1000 cd/m² of a
1000-nit master comes out at 8-bit luma 75, 151 and 235 (limited range), within a level
of what ffmpeg's zscale + `tonemap=hable` makes of it: highlights reach white, darker
light keeps its order.

Steps per frame: limited-range YUV -> R'G'B' (BT.2020 matrix) -> linear light (PQ EOTF;
HLG inverse OETF and its OOTF for a 1000 cd/m² display, system gamma 1.2) -> BT.709
primaries (gamut clipped) -> Hable -> display light encoded for a BT.1886 display (gamma
2.4, as zscale's `t=bt709` encodes display light) -> limited-range YUV 4:2:0 (BT.709).
"""

from __future__ import annotations

import cv2
import numpy as np

from .hdr import HLG, PQ

SDR_WHITE = 100.0
"""cd/m² of SDR reference white: the unit the curve works in."""
HLG_DISPLAY = 1000.0
"""Nominal peak of the display HLG is shown on (BT.2100's reference)."""

BT2020_TO_BT709 = np.array(
    [[1.6605, -0.5876, -0.0728], [-0.1246, 1.1329, -0.0083], [-0.0182, -0.1006, 1.1187]], np.float32
)
"""Linear-light RGB, BT.2020 primaries to BT.709 (ITU-R BT.2087)."""

A, B, C, D, E, F = 0.15, 0.50, 0.10, 0.20, 0.02, 0.30


def hable(x: np.ndarray | float) -> np.ndarray | float:
    return (x * (x * A + C * B) + D * E) / (x * (x * A + B) + D * F) - E / F


def pq_eotf(signal: np.ndarray) -> np.ndarray:
    """PQ signal (0-1) to cd/m² (SMPTE ST 2084)."""
    m1, m2, c1, c2, c3 = 2610 / 16384, 2523 / 32, 3424 / 4096, 2413 / 128, 2392 / 128
    p = np.power(np.clip(signal, 0, 1), 1 / m2)
    return 10000 * np.power(np.maximum(p - c1, 0) / (c2 - c3 * p), 1 / m1)


def hlg_inverse_oetf(signal: np.ndarray) -> np.ndarray:
    """HLG signal (0-1) to scene light (0-1) (ARIB STD-B67 / BT.2100)."""
    a, b, c = 0.17883277, 0.28466892, 0.55991073
    signal = np.clip(signal, 0, 1)
    return np.where(signal <= 0.5, signal * signal / 3, (np.exp((signal - c) / a) + b) / 12)


def bt1886_inverse(light: np.ndarray) -> np.ndarray:
    """Display light (0-1 of SDR white) to a BT.709 signal for a BT.1886 display (gamma 2.4, black 0)."""
    return np.power(np.clip(light, 0, 1), 1 / 2.4)


class ToneMapper:
    """Tone-maps 10-bit 4:2:0 planes of one HDR source to 8-bit BT.709 planes."""

    def __init__(self, transfer: int, peak: float, full_range: bool = False) -> None:
        if transfer not in (PQ, HLG):
            raise ValueError(f"transfer {transfer} is not HDR")
        self.transfer, self.full_range = transfer, full_range
        self.peak = (HLG_DISPLAY if transfer == HLG else peak) / SDR_WHITE
        self.norm = float(hable(self.peak))
        codes = np.arange(1024, dtype=np.float64) / 1023
        if transfer == PQ:
            self.linear = (pq_eotf(codes) / SDR_WHITE).astype(np.float32)
        else:
            self.linear = hlg_inverse_oetf(codes).astype(np.float32)
        """Linear light (SDR-white units for PQ; scene light for HLG) of every 10-bit signal code."""

    def _rgb_prime(self, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Non-linear R'G'B' codes (0-1023) of full-size planes, BT.2020 non-constant luminance."""
        if self.full_range:
            luma, cb, cr = y / 1023, (u - 512) / 1023, (v - 512) / 1023
        else:
            luma, cb, cr = (y - 64) / 876, (u - 512) / 896, (v - 512) / 896
        r = luma + 1.4746 * cr
        b = luma + 1.8814 * cb
        g = (luma - 0.2627 * r - 0.0593 * b) / 0.6780
        return np.rint(np.clip(np.stack([r, g, b], -1), 0, 1) * 1023).astype(np.int32)

    def __call__(self, planes: list[np.ndarray], out: list[np.ndarray]) -> None:
        """Tone-map 10-bit planes (Y, U, V as uint16 arrays) into 8-bit `out` planes."""
        height, width = planes[0].shape
        y = planes[0].astype(np.float32)
        u = cv2.resize(planes[1], (width, height), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        v = cv2.resize(planes[2], (width, height), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        rgb = self.linear[self._rgb_prime(y, u, v)]
        if self.transfer == HLG:  # OOTF: scene light to display light on a 1000 cd/m² display
            scene = rgb @ np.array([0.2627, 0.6780, 0.0593], np.float32)
            rgb *= (HLG_DISPLAY / SDR_WHITE) * np.power(np.maximum(scene, 1e-6), 0.2)[..., None]
        rgb = np.maximum(rgb @ BT2020_TO_BT709.T, 0)
        signal = np.maximum(rgb.max(axis=-1), 1e-6)
        rgb *= (np.asarray(hable(signal)) / self.norm / signal)[..., None]
        rgb = bt1886_inverse(rgb).astype(np.float32)
        luma = rgb @ np.array([0.2126, 0.7152, 0.0722], np.float32)
        cb = (rgb[..., 2] - luma) / 1.8556
        cr = (rgb[..., 0] - luma) / 1.5748
        half = (width // 2, height // 2)
        np.copyto(out[0], np.clip(np.rint(16 + 219 * luma), 0, 255).astype(np.uint8))
        np.copyto(
            out[1],
            np.clip(np.rint(128 + 224 * cv2.resize(cb, half, interpolation=cv2.INTER_AREA)), 0, 255),
            casting="unsafe",
        )
        np.copyto(
            out[2],
            np.clip(np.rint(128 + 224 * cv2.resize(cr, half, interpolation=cv2.INTER_AREA)), 0, 255),
            casting="unsafe",
        )
