"""HDR sources as probe reports them (format, bit depth, mastering display, light levels)
and tone mapping checked against known PQ light levels and ffmpeg's own `tonemap=hable`."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from renderrush import probe
from renderrush.media.hdr import HLG, PQ, HdrInfo, MasteringDisplay
from renderrush.media.tonemap import ToneMapper

from ...support.hdr import PQ_NITS, ffmpeg_hable, hlg_phone_clip, pq_bands_clip, pq_hdr10_clip

P3 = MasteringDisplay((0.68, 0.32), (0.265, 0.69), (0.15, 0.06), (0.3127, 0.329), 1000.0, 0.005)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hdr")


def test_pq_with_hdr10_metadata_is_reported(folder: Path) -> None:
    info = probe(pq_hdr10_clip(folder, seconds=0.5))
    assert (info.bit_depth, info.pix_fmt, info.color_trc, info.color_primaries, info.colorspace) == (
        10, "yuv420p10le", PQ, 9, 9
    )  # fmt: skip
    assert info.hdr == HdrInfo(PQ, P3, 1000, 400)
    assert info.hdr.format == "HDR10" and info.hdr.peak == 1000
    assert info.to_dict()["hdr"]["mastering_display"]["max_luminance"] == 1000


def test_hlg_phone_clip_is_reported_with_its_rotation(folder: Path) -> None:
    info = probe(hlg_phone_clip(folder, seconds=0.5))
    assert info.hdr is not None and info.hdr.format == "HLG" and info.hdr.mastering is None
    assert (info.bit_depth, info.rotation, info.upright_size, info.has_audio) == (10, 270, (180, 320), True)


def test_metadata_becomes_encoder_parameters() -> None:
    hdr = HdrInfo(PQ, P3, 1000, 400)
    assert hdr.x265_params() == (
        "master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,50):max-cll=1000,400:hdr10=1"
    )
    assert hdr.svtav1_params() == (
        "mastering-display=G(0.26500,0.69000)B(0.15000,0.06000)R(0.68000,0.32000)WP(0.31270,0.32900)"
        "L(1000.0000,0.0050):content-light=1000,400"
    )
    assert HdrInfo(HLG).x265_params() == "" and HdrInfo(HLG).format == "HLG"
    assert HdrInfo(PQ, dolby_vision="profile 8.1").format == "PQ, Dolby Vision profile 8.1"


def _grey_planes(codes: list[int], width: int = 32) -> list[np.ndarray]:
    luma = np.repeat(np.array(codes, np.uint16), width)[None, :].repeat(8, 0)
    chroma = np.full((4, luma.shape[1] // 2), 512, np.uint16)
    return [luma, chroma, chroma.copy()]


def _tonemapped(transfer: int, codes: list[int]) -> np.ndarray:
    planes = _grey_planes(codes)
    out = [np.zeros(p.shape, np.uint8) for p in planes]
    ToneMapper(transfer, 1000.0)(planes, out)
    return out


def test_pq_light_levels_land_in_order_with_highlights_at_white() -> None:
    y, u, v = _tonemapped(PQ, list(PQ_NITS.values()))
    levels = [int(np.median(y[:, k * 32 : (k + 1) * 32])) for k in range(3)]
    assert levels == [75, 151, 235]  # 10, 100, 1000 cd/m²
    assert np.all(u == 128) and np.all(v == 128)  # grey stays grey


def test_tone_mapping_is_monotonic_for_pq_and_hlg() -> None:
    codes = list(range(64, 941, 16))
    for transfer in (PQ, HLG):
        luma = _tonemapped(transfer, codes)[0][0, ::32].astype(int)
        assert np.all(np.diff(luma) >= 0) and luma[0] == 16 and luma[-1] >= 230, (transfer, luma)


def test_tone_map_matches_ffmpegs_hable_on_a_clip(folder: Path, tmp_path: Path) -> None:
    """The same 8-bit luma as ffmpeg's zscale + tonemap=hable within a level, band by band."""
    source = pq_bands_clip(folder)
    reference = np.fromfile(ffmpeg_hable(source, tmp_path / "ref.yuv"), np.uint8)[: 240 * 64].reshape(64, 240)
    with av.open(str(source)) as container:
        frame = next(container.decode(video=0))
    planes = [np.frombuffer(memoryview(p), np.uint16).reshape(-1, p.line_size // 2) for p in frame.planes]
    planes = [planes[0][:64, :240], planes[1][:32, :120], planes[2][:32, :120]]
    out = [np.zeros(p.shape, np.uint8) for p in planes]
    ToneMapper(PQ, probe(source).hdr.peak)(planes, out)  # type: ignore[union-attr]
    assert np.abs(out[0].astype(int) - reference).max() <= 1
