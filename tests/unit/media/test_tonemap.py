"""The fast tone mapper against the plain NumPy one it replaced (kept here as the reference):
the same 8-bit planes within a code value on frames with every level and colour, PQ and
HLG, limited and full range, whole or in bands, on padded plane views as decoded frames
give them; and the same R'G'B' codes, exactly, for every pair of codes a channel reads."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from renderrush.media import tonemap
from renderrush.media.hdr import HLG, PQ
from renderrush.media.tonemap import ToneMapper

# ---- the reference: renderrush/media/tonemap.py as it was before it was made fast ----

SDR_WHITE, HLG_DISPLAY = 100.0, 1000.0
BT2020_TO_BT709 = np.array(
    [[1.6605, -0.5876, -0.0728], [-0.1246, 1.1329, -0.0083], [-0.0182, -0.1006, 1.1187]], np.float32
)
A, B, C, D, E, F = 0.15, 0.50, 0.10, 0.20, 0.02, 0.30


def hable(x: np.ndarray | float) -> np.ndarray | float:
    return (x * (x * A + C * B) + D * E) / (x * (x * A + B) + D * F) - E / F


def pq_eotf(signal: np.ndarray) -> np.ndarray:
    m1, m2, c1, c2, c3 = 2610 / 16384, 2523 / 32, 3424 / 4096, 2413 / 128, 2392 / 128
    p = np.power(np.clip(signal, 0, 1), 1 / m2)
    return 10000 * np.power(np.maximum(p - c1, 0) / (c2 - c3 * p), 1 / m1)


def hlg_inverse_oetf(signal: np.ndarray) -> np.ndarray:
    a, b, c = 0.17883277, 0.28466892, 0.55991073
    signal = np.clip(signal, 0, 1)
    return np.where(signal <= 0.5, signal * signal / 3, (np.exp((signal - c) / a) + b) / 12)


def bt1886_inverse(light: np.ndarray) -> np.ndarray:
    return np.power(np.clip(light, 0, 1), 1 / 2.4)


class ReferenceToneMapper:
    def __init__(self, transfer: int, peak: float, full_range: bool = False) -> None:
        self.transfer, self.full_range = transfer, full_range
        self.peak = (HLG_DISPLAY if transfer == HLG else peak) / SDR_WHITE
        self.norm = float(hable(self.peak))
        codes = np.arange(1024, dtype=np.float64) / 1023
        if transfer == PQ:
            self.linear = (pq_eotf(codes) / SDR_WHITE).astype(np.float32)
        else:
            self.linear = hlg_inverse_oetf(codes).astype(np.float32)

    def _rgb_prime(self, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        if self.full_range:
            luma, cb, cr = y / 1023, (u - 512) / 1023, (v - 512) / 1023
        else:
            luma, cb, cr = (y - 64) / 876, (u - 512) / 896, (v - 512) / 896
        r = luma + 1.4746 * cr
        b = luma + 1.8814 * cb
        g = (luma - 0.2627 * r - 0.0593 * b) / 0.6780
        return np.rint(np.clip(np.stack([r, g, b], -1), 0, 1) * 1023).astype(np.int32)

    def __call__(self, planes: list[np.ndarray], out: list[np.ndarray]) -> None:
        height, width = planes[0].shape
        y = planes[0].astype(np.float32)
        u = cv2.resize(planes[1], (width, height), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        v = cv2.resize(planes[2], (width, height), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        rgb = self.linear[self._rgb_prime(y, u, v)]
        if self.transfer == HLG:
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


# ---- the comparisons ----

H, W = 256, 512


def every_level_and_colour() -> list[np.ndarray]:
    """10-bit Y, U, V planes (codes 0-1023, out of the limited range too): in the top half
    luma runs through all its levels every 64 pixels under chroma that sweeps U across
    against V down (greys, saturated primaries and secondaries, colours outside BT.709's
    gamut) and black and white patches; the bottom half random codes."""
    rng = np.random.default_rng(2020)
    y = np.empty((H, W), np.uint16)
    y[: H // 2] = (np.arange(W)[None, :] * 16 + np.arange(H // 2)[:, None] * 8) % 1024
    y[H // 2 :] = rng.integers(0, 1024, (H // 2, W))
    chroma = []
    for sweep in (np.arange(W // 2)[None, :] * 1023 // (W // 2 - 1), np.arange(H // 4)[:, None] * 1023 // (H // 4 - 1)):
        plane = np.empty((H // 2, W // 2), np.uint16)
        plane[: H // 4] = sweep
        plane[H // 4 :] = rng.integers(0, 1024, (H // 4, W // 2))
        plane[:8, :8] = 512  # grey under
        chroma.append(plane)
    y[:16, :8], y[:16, 8:16] = 0, 1023  # black and peak white
    return [y, *chroma]


def padded(planes: list[np.ndarray], dtype: type) -> list[np.ndarray]:
    """Views of planes in wider rows, as `plane_views` gives a decoded frame's planes."""
    views = []
    for plane in planes:
        rows = np.zeros((plane.shape[0], plane.shape[1] + 24), dtype)
        rows[:, : plane.shape[1]] = plane
        views.append(rows[:, : plane.shape[1]])
    return views


def tone_mapped(mapper: ToneMapper | ReferenceToneMapper, planes: list[np.ndarray]) -> list[np.ndarray]:
    out = padded([np.zeros(p.shape, np.uint8) for p in planes], np.uint8)
    mapper(padded(planes, np.uint16), out)
    return out


@pytest.mark.parametrize("band_rows", [None, 40])  # one band; bands of 40 rows and one of 16
@pytest.mark.parametrize(
    ("transfer", "peak", "full_range"),
    [(PQ, 1000.0, False), (PQ, 4000.0, True), (HLG, 1000.0, False), (HLG, 1000.0, True)],
)
def test_output_is_within_a_code_of_the_reference(
    transfer: int, peak: float, full_range: bool, band_rows: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if band_rows:
        monkeypatch.setattr(tonemap, "BAND_PIXELS", band_rows * W)
    planes = every_level_and_colour()
    want = tone_mapped(ReferenceToneMapper(transfer, peak, full_range), planes)
    mapper = ToneMapper(transfer, peak, full_range)
    for _ in range(2):  # the second frame in the buffers the first left
        have = tone_mapped(mapper, planes)
        for plane, (a, b) in enumerate(zip(have, want)):
            difference = np.abs(a.astype(int) - b.astype(int))
            assert difference.max() <= 1, (plane, np.argwhere(difference > 1)[:5])
            assert np.mean(difference == 0) > 0.99, plane  # off by one only at rounding boundaries
    # the frame reaches both ends of every 8-bit range: this compares saturated colours too
    assert all(plane.min() <= 17 and plane.max() >= 233 for plane in want), [(p.min(), p.max()) for p in want]


@pytest.mark.parametrize("full_range", [False, True])
def test_rgb_codes_are_the_references_for_every_pair_of_codes(full_range: bool) -> None:
    """R' reads Y and V, B' reads Y and U, G' all three: every (Y, U = V) pair, and random
    triples. Integer codes land exactly on a rounding half often; a code off by one there
    moves a colour at the gamut edge several levels (see `_codes`)."""
    y, uv = np.meshgrid(np.arange(1024, dtype=np.uint16), np.arange(1024, dtype=np.uint16), indexing="ij")
    rng = np.random.default_rng(709)
    u, v = uv.copy(), uv.copy()
    u[512:], v[512:] = rng.integers(0, 1024, (2, 512, 1024))
    mapper = ToneMapper(PQ, 1000.0, full_range)
    mapper.buffers = tonemap._Buffers(1024, 1024)
    have = mapper._codes(y, u, v, mapper.buffers)
    want = ReferenceToneMapper(PQ, 1000.0, full_range)._rgb_prime(*(p.astype(np.float32) for p in (y, u, v)))
    assert np.array_equal(have, want)
