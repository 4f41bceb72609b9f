"""The codec table: CRF and preset mapping onto each encoder's own scale, the default codec
for each kind of source and container, and every refusal of what cannot go together, each
one line naming what would work."""

from __future__ import annotations

import pytest

from renderrush.core.errors import SettingsError
from renderrush.media.codecs import (
    CODECS,
    CONTAINERS,
    OUTPUT_SUFFIXES,
    check_crf,
    check_preset,
    choose_codec,
    container_for,
    encoder_options,
)


@pytest.mark.parametrize(
    "codec, own",
    [("h264", (0, 18, 23, 51)), ("hevc", (0, 22, 28, 51)), ("av1", (1, 28, 35, 63)), ("vp9", (0, 25, 32, 63))],
)
def test_crf_keeps_its_x264_meaning_on_each_scale(codec: str, own: tuple[int, ...]) -> None:
    """0 stays the best, 51 the worst, 23 lands on the encoder's own default-quality point."""
    assert tuple(CODECS[codec].crf(x) for x in (0, 18, 23, 51)) == own


def test_prores_crf_picks_a_profile_lower_is_better() -> None:
    profiles = [encoder_options(CODECS["prores"], "veryfast", crf, 2)["profile"] for crf in (0, 17, 18, 23, 30, 51)]
    assert profiles == ["3", "3", "2", "2", "1", "0"]  # hq, hq, standard, standard, lt, proxy
    assert encoder_options(CODECS["prores"], "lt", 0, 2)["profile"] == "1"  # a profile name wins


@pytest.mark.parametrize(
    "codec, preset, own",
    [("hevc", "veryfast", "veryfast"), ("av1", "veryfast", "10"), ("av1", "veryslow", "4"), ("vp9", "medium", "4")],
)
def test_x264_presets_map_onto_each_encoder(codec: str, preset: str, own: str) -> None:
    assert CODECS[codec].preset(preset) == own


def test_an_encoders_own_presets_are_accepted_and_checked() -> None:
    assert check_preset("8", "av1") == "8" and check_preset("placebo", "hevc") == "placebo"
    assert check_preset("8") == "8"  # no codec yet: any encoder's own name
    with pytest.raises(SettingsError, match=r"unknown AV1 preset '14'; use one of ultrafast, .* or AV1's own 0, 1"):
        check_preset("14", "av1")
    with pytest.raises(SettingsError, match="unknown H.264 preset 'hq'"):
        check_preset("hq", "h264")


@pytest.mark.parametrize("crf", [-1, 51.5, True, "23"])
def test_crf_outside_the_range_is_refused(crf: object) -> None:
    with pytest.raises(SettingsError, match="CRF must be between 0 .lossless. and 51"):
        check_crf(crf)


def test_encoder_threads_are_fixed_in_the_options() -> None:
    """x265 gets its thread pool and one frame thread (output independent of the worker count);
    at one thread, no pool."""
    options = encoder_options(CODECS["hevc"], "veryfast", 23, 3, "hdr10=1")
    assert options["x265-params"] == "log-level=error:pools=3:frame-threads=1:hdr10=1"
    assert (
        encoder_options(CODECS["hevc"], "veryfast", 23, 1)["x265-params"]
        == "log-level=error:pools=none:frame-threads=1"
    )
    assert encoder_options(CODECS["h264"], "fast", 20, 2) == {
        "preset": "fast",
        "crf": "20",
        "x264-params": "sliced-threads=1:sync-lookahead=0",
    }


@pytest.mark.parametrize(
    "suffix, depth, hdr, tonemap, codec, bits",
    [
        (".mp4", 8, "", False, "h264", 8),
        (".mov", 10, "", False, "hevc", 10),
        (".mkv", 10, "HLG", False, "hevc", 10),
        (".mp4", 10, "HDR10", True, "h264", 8),
        (".webm", 8, "", False, "vp9", 8),
        (".webm", 10, "PQ", False, "av1", 10),  # this libvpx has no 10-bit VP9
        (".webm", 10, "PQ", True, "vp9", 8),
    ],
)
def test_default_codec_follows_source_and_container(
    suffix: str, depth: int, hdr: str, tonemap: bool, codec: str, bits: int
) -> None:
    chosen, out_depth = choose_codec(None, container_for(suffix), bit_depth=depth, hdr=hdr, tonemap=tonemap)
    assert (chosen.name, out_depth) == (codec, bits)


def test_prores_is_10_bit_422_and_h264_stays_8_bit() -> None:
    assert choose_codec("prores", CONTAINERS["mov"], bit_depth=8, hdr="", tonemap=False)[1] == 10
    assert CODECS["prores"].formats[10] == "yuv422p10le"
    assert choose_codec("h264", CONTAINERS["mp4"], bit_depth=10, hdr="", tonemap=False)[1] == 8


@pytest.mark.parametrize(
    "codec, suffix, message",
    [
        (
            "prores",
            ".webm",
            "ProRes cannot go in WEBM: use --codec av1 or vp9 for .webm, or write ProRes to .mov, .mkv",
        ),
        (
            "h264",
            ".webm",
            "H.264 cannot go in WEBM: use --codec av1 or vp9 for .webm, or write H.264 to .mp4, .mov, .mkv",
        ),
        ("prores", ".mp4", "ProRes cannot go in MP4: use --codec h264 or hevc or av1 or vp9 for .mp4"),
        ("vp9", ".mov", "VP9 cannot go in MOV: use --codec h264 or hevc or prores for .mov"),
    ],
)
def test_codec_and_container_that_cannot_go_together_are_refused(codec: str, suffix: str, message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        choose_codec(codec, container_for(suffix), bit_depth=8, hdr="", tonemap=False)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


@pytest.mark.parametrize("codec", ["h264", "vp9"])
def test_hdr_into_an_8_bit_codec_without_tonemap_is_refused(codec: str) -> None:
    container = container_for(".mkv")
    with pytest.raises(SettingsError) as caught:
        choose_codec(codec, container, bit_depth=10, hdr="HLG", tonemap=False, source="input 'phone.mov'")
    label = CODECS[codec].label
    assert str(caught.value) == (
        f"input 'phone.mov' is HDR (HLG) and {label} here is 8-bit SDR, which would wash it out: "
        f"add --tonemap for SDR {label}, or use --codec hevc or av1 to keep HDR"
    )
    assert choose_codec(codec, container, bit_depth=10, hdr="HLG", tonemap=True)[1] == 8


def test_a_missing_encoder_is_refused_naming_the_ones_there(monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    from renderrush.media import codecs

    monkeypatch.setitem(codecs.CODECS, "av1", replace(CODECS["av1"], encoder="libnotthere"))
    with pytest.raises(SettingsError) as caught:
        choose_codec("av1", CONTAINERS["mkv"], bit_depth=8, hdr="", tonemap=False)
    assert str(caught.value) == (
        "the FFmpeg inside PyAV has no libnotthere encoder, so AV1 cannot be written here; "
        "use --codec h264 or hevc or vp9 or prores"
    )


def test_every_container_has_suffixes_and_every_codec_a_container() -> None:
    assert OUTPUT_SUFFIXES == (".mp4", ".m4v", ".mov", ".mkv", ".webm")
    assert all(set(c.containers) <= set(CONTAINERS) for c in CODECS.values())
    with pytest.raises(SettingsError, match="no container for '.avi'"):
        container_for(".avi")
