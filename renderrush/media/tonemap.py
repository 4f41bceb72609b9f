"""Tone mapping: HDR (PQ or HLG, BT.2020, 10-bit) to 8-bit SDR BT.709, in OpenCV and NumPy.

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
TIE = 1 / 128
"""R'G'B' codes this close to a rounding boundary (in codes) are computed the reference's way:
fifteen times the float32 error of cv2.transform and of the reference's arithmetic together
(at most 2e-4 and 3e-4 from exact in 20 million random pixels)."""
BAND_PIXELS = 1 << 17
"""Pixels tone-mapped at a time (8 MB of work planes), the fastest measured on 720p and 1080p:
smaller bands pay Python's cost per call more often, larger ones leave the CPU's cache."""
HABLE_RATIO = (A * (F - E), B * (F * C - E), F * A, F * B, F * D * F)
"""hable(x) / x = (a x + b) / ((c x + d) x + e), exactly: the E / F offset cancels."""


def hable(x: np.ndarray | float) -> np.ndarray | float:
    """John Hable's filmic curve, as FFmpeg's `tonemap=hable`."""
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


class _Buffers:
    """Work arrays for one band of rows, kept between frames and bands: a band's planes stay
    in the CPU's cache from one step to the next, where whole-frame planes would go to
    memory and back at every step (and fresh arrays cost page faults on every frame)."""

    def __init__(self, rows: int, width: int) -> None:
        size, half = (rows, width), (rows // 2, width // 2)
        self.yuv16, self.low, self.high = (np.empty((*size, 3), np.uint16) for _ in range(3))
        self.yuv, self.codes = np.empty((*size, 3), np.float32), np.empty((*size, 3), np.float32)
        self.ties = np.empty((rows, width * 3), np.uint8)
        self.maps = [np.zeros((*size, 2), np.int16) for _ in range(3)]
        """Each channel's codes as cv2.remap coordinates: (x = code, y = 0)."""
        self.lin = [np.empty(size, np.float32) for _ in range(3)]
        self.rgb = [np.empty(size, np.float32) for _ in range(3)]
        self.signal, self.scale, self.work, self.denominator = (np.empty(size, np.float32) for _ in range(4))
        self.luma = np.empty(size, np.uint8)
        self.half = [np.empty(half, np.float32) for _ in range(3)]
        self.chroma = [np.empty(half, np.uint8) for _ in range(2)]


class ToneMapper:
    """Tone-maps 10-bit 4:2:0 planes of one HDR source to 8-bit BT.709 planes.

    The reference is a per-pixel NumPy version of the steps in the module's docstring
    (kept in tests/unit/media/test_tonemap.py); this computes the same function, to within
    a code value, about six times faster: OpenCV on float32 planes, a band of rows at a time
    in buffers kept between frames; R'G'B' codes from one affine map (`_codes`), linear
    light looked up in a table of the 1024 codes, Hable's curve as the ratio hable(s) / s,
    x ** (1 / 2.4) as exp(log(x) / 2.4), the HLG OOTF (one gain per pixel) folded into that
    ratio, and chroma averaged to 4:2:0 from R', B' and luma (linear: the same as averaging
    Cb and Cr). One per stream: its buffers make a call not thread-safe.
    """

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
        self.table = self.linear.reshape(1, 1024)
        if full_range:
            luma, offset, chroma = 1.0, 0.0, 1.0
        else:
            luma, offset, chroma = 1023 / 876, -64 * 1023 / 876, 1023 / 896
        kr, kb = 1.4746, 1.8814
        gr, gb = 0.2627 * kr / 0.6780, 0.0593 * kb / 0.6780
        self.matrix = np.array(  # rows: R', G', B' codes from (Y, U, V, 1) codes
            [
                [luma, 0, kr * chroma, offset - 512 * kr * chroma],
                [luma, -gb * chroma, -gr * chroma, offset + 512 * (gb + gr) * chroma],
                [luma, kb * chroma, 0, offset - 512 * kb * chroma],
            ]
        )
        self.buffers: _Buffers | None = None
        self.upsampled: tuple[np.ndarray, np.ndarray] | None = None

    def __call__(self, planes: list[np.ndarray], out: list[np.ndarray]) -> None:
        """Tone-map 10-bit planes (Y, U, V as uint16 arrays) into 8-bit `out` planes."""
        height, width = planes[0].shape
        # a band holds about BAND_PIXELS pixels, an even number of rows (4:2:0 chroma rows
        # in pairs); an odd height goes in one band
        rows = height if height % 2 else min(height, max(2, BAND_PIXELS // width // 2 * 2))
        if self.buffers is None or self.buffers.luma.shape != (rows, width):
            self.buffers = _Buffers(rows, width)
        if self.upsampled is None or self.upsampled[0].shape != (height, width):
            self.upsampled = (np.empty((height, width), np.uint16), np.empty((height, width), np.uint16))
        u, v = (
            cv2.resize(plane, (width, height), dst=full, interpolation=cv2.INTER_LINEAR)
            for plane, full in zip(planes[1:], self.upsampled)
        )
        for top in range(0, height, rows):
            band, half = slice(top, top + rows), slice(top // 2, (top + rows) // 2)
            self._band(planes[0][band], u[band], v[band], [out[0][band], out[1][half], out[2][half]])

    def _band(self, y: np.ndarray, u: np.ndarray, v: np.ndarray, out: list[np.ndarray]) -> None:
        """Tone-map a band of rows: Y, upsampled U and V (uint16) into 8-bit `out` planes."""
        rows, width = y.shape
        buf = self.buffers
        assert buf is not None
        maps, lin, (red, green, blue) = (
            (m[:rows] for m in buf.maps),
            [p[:rows] for p in buf.lin],
            (p[:rows] for p in buf.rgb),
        )
        signal, scale, work, denominator = (p[:rows] for p in (buf.signal, buf.scale, buf.work, buf.denominator))
        cv2.mixChannels([self._codes(y, u, v, buf).view(np.int16)], list(maps), [0, 0, 1, 2, 2, 4])
        for channel in range(3):  # linear light of each code: a table look-up (nearest "pixel")
            cv2.remap(self.table, buf.maps[channel][:rows], None, cv2.INTER_NEAREST, dst=lin[channel])
        for row, plane in zip(BT2020_TO_BT709, (red, green, blue)):  # BT.709 primaries, gamut clipped
            cv2.addWeighted(lin[0], float(row[0]), lin[1], float(row[1]), 0.0, dst=plane)
            cv2.scaleAdd(lin[2], float(row[2]), plane, dst=plane)
            cv2.max(plane, 1e-12, dst=plane)  # (not 0: log below)
        cv2.max(cv2.max(red, green, dst=signal), blue, dst=signal)
        if self.transfer == HLG:
            # OOTF: display light = scene light x 10 Ys ** 0.2 (1000 cd/m², SDR-white units),
            # one gain per pixel: applied to the curve's input and folded into its ratio.
            cv2.addWeighted(lin[0], 0.2627, lin[1], 0.6780, 0.0, dst=work)
            cv2.scaleAdd(lin[2], 0.0593, work, dst=work)
            cv2.log(cv2.max(work, 1e-6, dst=work), dst=work)
            cv2.exp(np.multiply(work, np.float32(0.2), out=work), dst=work)
            np.multiply(work, np.float32(HLG_DISPLAY / SDR_WHITE), out=work)
            np.multiply(signal, work, out=signal)
        # hable(s) / s / norm as the rational function: no cancellation near s = 0
        a, b, c, d, e = (np.float32(k) for k in HABLE_RATIO)
        np.add(np.multiply(signal, a, out=scale), b, out=scale)
        np.add(np.multiply(signal, c, out=denominator), d, out=denominator)
        np.add(np.multiply(denominator, signal, out=denominator), e, out=denominator)
        cv2.divide(scale, denominator, dst=scale, scale=1 / self.norm)
        if self.transfer == HLG:
            np.multiply(scale, work, out=scale)
        for plane in (red, green, blue):  # display light (clipped at white) to BT.1886: x ** (1 / 2.4)
            cv2.min(cv2.multiply(plane, scale, dst=plane), 1.0, dst=plane)
            cv2.log(plane, dst=plane)
            cv2.exp(np.multiply(plane, np.float32(1 / 2.4), out=plane), dst=plane)
        luma = cv2.addWeighted(red, 0.2126, green, 0.7152, 0.0, dst=work)
        cv2.scaleAdd(blue, 0.0722, luma, dst=luma)
        np.copyto(out[0], cv2.convertScaleAbs(luma, dst=buf.luma[:rows], alpha=219, beta=16))
        size = (width // 2, rows // 2)
        ys, bs, rs = (
            cv2.resize(plane, size, dst=small[: rows // 2], interpolation=cv2.INTER_AREA)
            for plane, small in zip((luma, blue, red), buf.half)
        )
        cb, cr = (p[: rows // 2] for p in buf.chroma)
        np.copyto(out[1], cv2.addWeighted(bs, 224 / 1.8556, ys, -224 / 1.8556, 128, dst=cb, dtype=cv2.CV_8U))
        np.copyto(out[2], cv2.addWeighted(rs, 224 / 1.5748, ys, -224 / 1.5748, 128, dst=cr, dtype=cv2.CV_8U))

    def _codes(self, y: np.ndarray, u: np.ndarray, v: np.ndarray, buf: _Buffers) -> np.ndarray:
        """Non-linear R'G'B' codes (0-1023, uint16, rows x width x 3) of full-size pixels,
        BT.2020 non-constant luminance: `_exact_codes`, computed fast."""
        rows, width = y.shape
        # One affine map of (Y, U, V) to R'G'B' codes in float32 (cv2.transform: 2e-4 from
        # exact; its uint16 output is 6e-3 off), rounded (half to even, saturated at 0) TIE
        # below and TIE above. Integer inputs put many codes exactly on a half, where float
        # rounding decides, and a code's step can move a saturated colour several levels (a
        # channel near the gamut edge, gamma 1/2.4): codes whose two roundings differ are
        # recomputed the reference's way.
        yuv = buf.yuv[:rows]
        np.copyto(yuv, cv2.merge([y, u, v], dst=buf.yuv16[:rows]))
        flat = (rows, width * 3)  # one channel: cv2 reads a number as (x, 0, 0, 0) on 3 channels
        codes = cv2.transform(yuv, self.matrix, dst=buf.codes[:rows]).reshape(flat)
        low, high = (
            cv2.add(codes, offset, dst=bound[:rows].reshape(flat), dtype=cv2.CV_16U)
            for offset, bound in ((-TIE, buf.low), (TIE, buf.high))
        )
        ties = cv2.findNonZero(cv2.compare(low, high, cv2.CMP_NE, dst=buf.ties[:rows]))
        cv2.min(low, 1023, dst=low)  # (a tie at 1023.5 is recomputed, clipped, below)
        if ties is not None:
            at, columns = ties.reshape(-1, 2)[:, 1], ties.reshape(-1, 2)[:, 0]
            pixels = columns // 3
            low[at, columns] = self._exact_codes(y[at, pixels], u[at, pixels], v[at, pixels], columns % 3)
        return buf.low[:rows]

    def _exact_codes(self, y: np.ndarray, u: np.ndarray, v: np.ndarray, channel: np.ndarray) -> np.ndarray:
        """R'G'B' codes of some pixels (channel 0, 1, 2: R', G', B') in the reference's float32 arithmetic."""
        y, u, v = (plane.astype(np.float32) for plane in (y, u, v))
        if self.full_range:
            luma, cb, cr = y / 1023, (u - 512) / 1023, (v - 512) / 1023
        else:
            luma, cb, cr = (y - 64) / 876, (u - 512) / 896, (v - 512) / 896
        r = luma + 1.4746 * cr
        b = luma + 1.8814 * cb
        g = (luma - 0.2627 * r - 0.0593 * b) / 0.6780
        return np.rint(np.clip(np.choose(channel, [r, g, b]), 0, 1) * 1023).astype(np.uint16)
