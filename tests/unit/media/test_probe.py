"""Probing a source (renderrush/probe.py): `probe` opens the file, picks the stream a viewer
sees (cover art skipped), and returns the `VideoInfo` a job is planned from: coded size,
display rotation and pixel aspect, colour range/matrix/primaries/transfer, bit depth,
alpha, the frame table and the other streams. It refuses, each with its own error and a
message that says what to do: a missing path, a folder, a pipe or device, an empty or
unreadable file, no video or only a still picture, a codec nothing decodes, HDR, and a
picture smaller than 2x2."""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import av
import pytest

from renderrush import make_sample_video
from renderrush.core.errors import EmptyVideoError, InputNotFoundError, NotAVideoError, UnsupportedVideoError
from renderrush.media.probe import (
    RANGE_PC,
    RANGE_TV,
    UNSPECIFIED,
    VideoInfo,
    check_input_path,
    main_video_stream,
    open_input,
    probe,
)
from renderrush.media.streams import StreamInfo

from ...support.media import X264, _user_data_first, ffmpeg, ffmpeg_info

GREY = "color=c=0x404040:s=64x48:r=15:d=1"
"""15 frames of a flat 64x48 picture."""


def lavfi(path: Path, *args: str | int, source: str = GREY) -> Path:
    ffmpeg("-f", "lavfi", "-i", source, *args, "-y", path)
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("probe")


@pytest.fixture(scope="module")
def sample(folder: Path) -> Path:
    """1 s, 30 fps, 64x48 H.264 + AAC (mono) sample: 30 frames."""
    return make_sample_video(folder / "sample.mp4", seconds=1, size=(64, 48), fps=30)


@pytest.fixture(scope="module")
def grey(folder: Path) -> Path:
    """The `GREY` clip as H.264 in MP4, no audio."""
    return lavfi(folder / "grey.mp4", *X264)


# ---- what a plain sample is --------------------------------------------------------------


def test_sample_is_described_in_full(sample: Path) -> None:
    info = probe(sample)
    assert info.path == sample and info.path.is_absolute()
    assert (info.width, info.height, info.upright_size) == (64, 48, (64, 48))
    assert (info.fps, info.frame_count, info.duration) == (30, 30, pytest.approx(1.0))
    assert (info.codec, info.pix_fmt, info.container) == ("h264", "yuv420p", "mov,mp4,m4a,3gp,3g2,mj2")
    assert (info.has_audio, info.audio_codec) == (True, "aac")
    assert info.audio_streams == (StreamInfo(1, "audio", "aac", channels=1),)
    assert info.subtitle_streams == info.other_streams == ()
    assert info.stream_index == 0
    assert info.time_base == Fraction(1, 15360)
    assert info.frame_pts == tuple(512 * i for i in range(30))
    assert info.frame_times == pytest.approx([i / 30 for i in range(30)])
    assert info.keyframes[0] == 0
    assert (info.last_frame_duration, info.origin, info.seek_mode, info.timeline) == (512, 0.0, "time", "packets")
    assert (info.rotation, info.sample_aspect, info.display_aspect) == (0, 1, pytest.approx(4 / 3))
    assert (info.color_range, info.full_range, info.colorspace, info.color_trc) == (RANGE_TV, False, UNSPECIFIED, 2)
    assert (info.bit_depth, info.has_alpha, info.is_rgb, info.variable_frame_rate) == (8, False, False, False)
    assert info.damaged_frames == 0


def test_to_dict_is_a_json_summary_without_frame_tables(sample: Path) -> None:
    info = probe(sample)
    summary = json.loads(json.dumps(info.to_dict()))
    assert summary == {
        "path": str(sample),
        "width": 64,
        "height": 48,
        "fps": "30",
        "fps_float": 30.0,
        "frame_count": 30,
        "duration": info.duration,
        "codec": "h264",
        "pix_fmt": "yuv420p",
        "has_audio": True,
        "audio_codec": "aac",
        "container": "mov,mp4,m4a,3gp,3g2,mj2",
        "keyframe_count": len(info.keyframes),
        "rotation": 0,
        "sample_aspect": "1",
        "display_aspect": 1.3333,
        "color_range": "limited",
        "bit_depth": 8,
        "hdr": None,
        "variable_frame_rate": False,
        "audio_streams": 1,
        "subtitle_streams": 0,
        "seek_mode": "time",
    }


def test_decode_pass_gives_the_same_frames(sample: Path) -> None:
    packets, decoded = probe(sample), probe(sample, decode_pass=True)
    assert decoded.frame_pts == packets.frame_pts and decoded.keyframes == packets.keyframes
    assert (packets.timeline, decoded.timeline) == ("packets", "decoded")
    assert replace(decoded, timeline="packets") == packets  # nothing else differs (the tables do not compare)


def test_relative_and_home_paths_become_absolute(sample: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(sample.parent)
    assert probe(sample.name).path == sample
    monkeypatch.setenv("HOME", str(sample.parent))
    assert probe(f"~/{sample.name}").path == sample


def test_silent_video_has_no_audio(grey: Path) -> None:
    info = probe(grey)
    assert (info.has_audio, info.audio_codec, info.audio_streams, info.frame_count, info.fps) == (
        False,
        None,
        (),
        15,
        15,
    )


# ---- geometry ----------------------------------------------------------------------------


@pytest.mark.parametrize("display_rotation, rotation", [(90, 270), (180, 180), (-90, 90)])
def test_display_rotation_becomes_the_clockwise_turn_to_upright(
    folder: Path, grey: Path, display_rotation: int, rotation: int
) -> None:
    """ffmpeg's `-display_rotation` is counter-clockwise: a phone held upright records 90,
    which is shown by turning the picture 270 degrees clockwise."""
    path = folder / f"rotated{display_rotation}.mp4"
    ffmpeg("-display_rotation", display_rotation, "-i", grey, "-c", "copy", "-y", path)
    info = probe(path)
    assert (info.rotation, info.width, info.height) == (rotation, 64, 48)  # the coded picture is unchanged
    upright = (64, 48) if rotation == 180 else (48, 64)
    assert info.upright_size == upright
    assert info.display_aspect == pytest.approx(upright[0] / upright[1])
    described = re.search(r"rotation of (-?\d+)\.00 degrees", ffmpeg_info(path))
    assert described, "the bundled ffmpeg describes the display matrix"
    assert info.display_rotation == info.to_dict()["rotation"] == int(described.group(1)), "ffmpeg's own number"


def test_anamorphic_pixels_set_the_display_aspect(folder: Path) -> None:
    info = probe(lavfi(folder / "anamorphic.mp4", "-vf", "setsar=8/9", *X264))
    assert (info.width, info.height, info.sample_aspect) == (64, 48, Fraction(8, 9))
    assert info.display_aspect == pytest.approx(64 * 8 / 9 / 48)
    assert info.to_dict()["sample_aspect"] == "8/9"
    # turned a quarter, the pixels' aspect turns with the picture
    turned = replace(info, rotation=90)
    assert turned.upright_size == (48, 64)
    assert turned.display_aspect == pytest.approx(48 * 9 / 8 / 64)


def info_with(**fields: object) -> VideoInfo:
    base = dict(
        path=Path("x.mp4"),
        width=64,
        height=48,
        fps=Fraction(30),
        frame_count=3,
        duration=0.1,
        codec="h264",
        pix_fmt="yuv420p",
        has_audio=False,
        audio_codec=None,
        container="mp4",
    )
    return VideoInfo(**{**base, **fields})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "frame_pts, time_base, variable",
    [
        pytest.param((0, 3000, 6000, 9000), Fraction(1, 90000), False, id="constant"),
        pytest.param((0, 3000, 6001, 9000), Fraction(1, 90000), False, id="one-tick-jitter"),
        pytest.param((0, 3000, 6000, 6180, 9000), Fraction(1, 90000), True, id="2ms-apart-steps"),
        pytest.param((0, 1, 2, 4), Fraction(1, 30), True, id="a-frame-held-twice"),
        pytest.param((0,), Fraction(1, 90000), False, id="one-frame"),
    ],
)
def test_variable_frame_rate_means_steps_more_than_2ms_apart(
    frame_pts: tuple[int, ...], time_base: Fraction, variable: bool
) -> None:
    assert info_with(frame_pts=frame_pts, time_base=time_base).variable_frame_rate is variable


@pytest.mark.parametrize(
    "pix_fmt, rgb",
    [("rgb24", True), ("argb", True), ("pal8", True), ("yuv420p", False), ("gray", False), ("no-such-format", False)],
)
def test_is_rgb_for_rgb_and_palette_formats(pix_fmt: str, rgb: bool) -> None:
    assert info_with(pix_fmt=pix_fmt).is_rgb is rgb


# ---- colour ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, pix_fmt, colour, full",
    [
        pytest.param([], "yuv420p", (UNSPECIFIED, UNSPECIFIED, UNSPECIFIED), False, id="untagged"),
        pytest.param(
            ["-vf", "setparams=range=tv:colorspace=bt709:color_primaries=bt709:color_trc=bt709"],
            "yuv420p",
            (1, 1, 1),
            False,
            id="bt709",
        ),
        pytest.param(
            ["-vf", "setparams=colorspace=smpte170m:color_primaries=smpte170m:color_trc=smpte170m"],
            "yuv420p",
            (6, 6, 6),
            False,
            id="bt601",
        ),
        pytest.param(["-pix_fmt", "yuvj420p"], "yuvj420p", (UNSPECIFIED, UNSPECIFIED, UNSPECIFIED), True, id="yuvj"),
        pytest.param(
            ["-vf", "setparams=range=pc", "-pix_fmt", "yuv420p"], "yuvj420p", (UNSPECIFIED,) * 3, True, id="tagged-pc"
        ),
    ],
)
def test_colour_description_comes_from_the_first_frame(
    folder: Path,
    request: pytest.FixtureRequest,
    args: list[str],
    pix_fmt: str,
    colour: tuple[int, int, int],
    full: bool,
) -> None:
    info = probe(lavfi(folder / f"{request.node.callspec.id}.mp4", *args, *X264))
    assert info.pix_fmt == pix_fmt
    assert (info.colorspace, info.color_primaries, info.color_trc) == colour
    assert (info.full_range, info.color_range) == (full, RANGE_PC if full else RANGE_TV)
    assert info.to_dict()["color_range"] == ("full" if full else "limited")


def test_ten_bit_source_has_its_bit_depth(folder: Path) -> None:
    info = probe(lavfi(folder / "ten-bit.mkv", "-c:v", "ffv1", "-pix_fmt", "yuv420p10le"))
    assert (info.pix_fmt, info.bit_depth, info.codec) == ("yuv420p10le", 10, "ffv1")


ALPHA_SOURCE = "color=c=white@0:s=64x48:r=15:d=1,format=rgba,drawbox=x=8:y=8:w=16:h=16:color=red@1:t=fill"
"""Transparent white with an opaque red square."""
PALETTE_WITH_TRANSPARENCY = (
    "[0:v]split[a][b];[a]palettegen=reserve_transparent=1[p];[b][p]paletteuse=alpha_threshold=128"
)


@pytest.mark.parametrize(
    "name, source, args, pix_fmt, alpha",
    [
        pytest.param("argb.mov", ALPHA_SOURCE, ["-c:v", "qtrle", "-pix_fmt", "argb"], "argb", True, id="qtrle-argb"),
        pytest.param("rgb.mov", GREY, ["-c:v", "qtrle", "-pix_fmt", "rgb24"], "rgb24", False, id="qtrle-rgb"),
        pytest.param("opaque-pal.mov", GREY, ["-vf", "format=pal8", "-c:v", "png"], "pal8", False, id="opaque-palette"),
        pytest.param(
            "clear-pal.mov",
            ALPHA_SOURCE,
            ["-filter_complex", PALETTE_WITH_TRANSPARENCY, "-c:v", "png"],
            "pal8",
            True,
            id="palette-with-transparency",
        ),
    ],
)
def test_rgb_and_palette_sources(
    folder: Path, name: str, source: str, args: list[str], pix_fmt: str, alpha: bool
) -> None:
    """RGB becomes limited-range YUV (as ffmpeg makes it), whatever range the decoder
    reports (PNG says full); a palette is transparent only if a pixel is."""
    path = lavfi(folder / name, *args, source=source)
    info = probe(path)
    assert (info.pix_fmt, info.is_rgb, info.has_alpha) == (pix_fmt, True, alpha)
    assert info.color_range == RANGE_TV and not info.full_range


@pytest.mark.parametrize("trc, name", [("smpte2084", "PQ"), ("arib-std-b67", "HLG")])
def test_hdr_is_reported_not_refused(folder: Path, trc: str, name: str) -> None:
    """HDR tags without metadata: the format from the transfer, no mastering display."""
    path = lavfi(
        folder / f"hdr-{trc}.mkv", "-vf", f"setparams=colorspace=bt2020nc:color_primaries=bt2020:color_trc={trc}", *X264
    )
    info = probe(path)
    assert info.hdr is not None and info.hdr.format == name
    assert info.to_dict()["hdr"] == {
        "format": name,
        "transfer": name,
        "mastering_display": None,
        "max_cll": 0,
        "max_fall": 0,
        "dolby_vision": None,
    }


@pytest.mark.parametrize("size, refused", [("1x8", True), ("8x1", True), ("2x2", False)])
def test_pictures_under_2x2_are_refused(folder: Path, size: str, refused: bool) -> None:
    path = lavfi(folder / f"tiny-{size}.nut", "-c:v", "rawvideo", "-pix_fmt", "gray", source=f"color=s={size}:r=15:d=1")
    if refused:
        with pytest.raises(UnsupportedVideoError, match=f"video size {size} is too small: need at least 2x2"):
            probe(path)
    else:
        info = probe(path)
        assert (info.width, info.height, info.frame_count) == (2, 2, 15)


# ---- which stream ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cover(folder: Path) -> Path:
    return lavfi(folder / "cover.png", "-frames:v", 1, source="color=c=orange:s=32x32")


def test_cover_art_before_the_video_is_skipped(folder: Path, grey: Path, cover: Path) -> None:
    muxed = folder / "cover-last.mp4"
    ffmpeg(
        "-i",
        grey,
        "-i",
        cover,
        "-map",
        "0",
        "-map",
        "1",
        "-c:v:0",
        "copy",
        "-c:v:1",
        "png",
        "-disposition:v:1",
        "attached_pic",
        "-y",
        muxed,
    )
    path = folder / "cover-first.mp4"
    path.write_bytes(_user_data_first(muxed.read_bytes()))  # the cover becomes stream 0
    info = probe(path)
    assert (info.stream_index, info.width, info.height, info.codec, info.frame_count) == (1, 64, 48, "h264", 15)
    assert [(s.index, s.kind, s.codec) for s in info.other_streams] == [(0, "video", "png")]


def test_still_picture_only_is_not_a_video(folder: Path, cover: Path) -> None:
    path = folder / "song.m4a"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "sine=duration=0.3",
        "-i",
        cover,
        "-map",
        "0",
        "-map",
        "1",
        "-c:a",
        "aac",
        "-c:v",
        "png",
        "-disposition:v",
        "attached_pic",
        "-y",
        path,
    )
    with pytest.raises(NotAVideoError, match="only a still picture"):
        probe(path)


def test_audio_only_is_not_a_video(folder: Path) -> None:
    path = folder / "tone.m4a"
    ffmpeg("-f", "lavfi", "-i", "sine=duration=0.3", "-c:a", "aac", "-y", path)
    with pytest.raises(NotAVideoError, match=r"no video stream \(is it an audio file\?\)"):
        probe(path)


def test_ffmpegs_pick_wins_among_moving_pictures(folder: Path) -> None:
    path = folder / "two-videos.mkv"
    small, large = "color=s=64x48:r=15:d=1", "color=s=128x96:r=15:d=1"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        small,
        "-f",
        "lavfi",
        "-i",
        large,
        "-map",
        "0",
        "-map",
        "1",
        *X264,
        "-disposition:v:0",
        0,
        "-disposition:v:1",
        "default",
        "-y",
        path,
    )
    info = probe(path)
    assert (info.stream_index, info.width, info.height) == (1, 128, 96)
    assert [(s.index, s.kind) for s in info.other_streams] == [(0, "video")]


Default, Still, Plain = av.stream.Disposition.default, av.stream.Disposition.attached_pic, av.stream.Disposition(0)


def fake_stream(index: int, disposition: av.stream.Disposition, size: tuple[int, int] | None) -> SimpleNamespace:
    ctx = SimpleNamespace(width=size[0], height=size[1]) if size else None
    return SimpleNamespace(index=index, disposition=disposition, codec_context=ctx)


@pytest.mark.parametrize(
    "streams, best, chosen",
    [
        pytest.param([(Plain, (64, 48)), (Default, (32, 24)), (Plain, (640, 480))], None, 1, id="default-flag-first"),
        pytest.param([(Plain, (64, 48)), (Plain, (640, 480)), (Plain, (320, 240))], None, 1, id="then-largest"),
        pytest.param([(Plain, (64, 48)), (Plain, (64, 48)), (Plain, None)], None, 0, id="then-first"),
        pytest.param([(Still, (1000, 1000)), (Plain, (64, 48))], 0, 1, id="ffmpegs-pick-a-still"),
        pytest.param([(Plain, (64, 48)), (Plain, (640, 480))], 0, 0, id="ffmpegs-pick-wins"),
    ],
)
def test_main_video_stream_falls_back_to_default_then_largest_then_first(
    streams: list[tuple[av.stream.Disposition, tuple[int, int] | None]], best: int | None, chosen: int
) -> None:
    videos = [fake_stream(i, disposition, size) for i, (disposition, size) in enumerate(streams)]
    container = SimpleNamespace(
        streams=SimpleNamespace(video=videos, best=lambda kind: None if best is None else videos[best])
    )
    assert main_video_stream(container).index == chosen  # type: ignore[arg-type]


def test_undecodable_codec_is_unsupported(folder: Path) -> None:
    source = make_sample_video(folder / "mpeg4.avi", seconds=0.5, size=(64, 48), fps=30, audio=False)
    data = source.read_bytes()
    assert b"FMP4" in data[:8192]
    path = folder / "undecodable.avi"
    path.write_bytes(data[:8192].replace(b"FMP4", b"QQQQ") + data[8192:])  # a FourCC no decoder knows
    with pytest.raises(UnsupportedVideoError, match="'undecodable.avi': its video codec cannot be decoded"):
        probe(path)


# ---- what cannot be a video file ---------------------------------------------------------


def test_check_input_path_refuses_what_is_not_a_readable_file(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError, match="does not exist: check the path"):
        check_input_path(tmp_path / "missing.mp4")
    with pytest.raises(InputNotFoundError, match="is a folder, not a file"):
        check_input_path(tmp_path)
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(EmptyVideoError, match=r"is empty \(0 bytes\)"):
        check_input_path(tmp_path / "empty.mp4")
    (tmp_path / "file.mp4").write_bytes(b"x")
    with pytest.raises(InputNotFoundError, match="cannot read input .*: Not a directory"):
        check_input_path(tmp_path / "file.mp4" / "clip.mp4")
    check_input_path(tmp_path / "file.mp4")  # a readable file passes, whatever it holds


def test_a_pipe_is_refused_before_anything_reads_it(tmp_path: Path) -> None:
    fifo = tmp_path / "stream.mp4"
    os.mkfifo(fifo)
    with pytest.raises(NotAVideoError, match="is not a regular file \\(a device, pipe or socket\\)"):
        probe(fifo)  # opening it for reading would block forever
    with pytest.raises(NotAVideoError, match="not a regular file"):
        check_input_path(Path("/dev/null"))


def test_unreadable_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "locked.mp4"
    path.write_bytes(b"x")
    path.chmod(0)
    if os.access(path, os.R_OK):  # root reads anything: make the check say what it says for everyone else
        monkeypatch.setattr(os, "access", lambda p, mode: False)
    with pytest.raises(InputNotFoundError, match="cannot read input .*locked.mp4': permission denied"):
        check_input_path(path)


def test_open_input_names_a_file_it_cannot_read(tmp_path: Path, sample: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_bytes(b"not a video, just some notes\n" * 40)
    with pytest.raises(NotAVideoError, match="input 'notes.mp4' is not a readable video .*use an MP4, MOV, MKV or AVI"):
        open_input(path)
    with open_input(sample) as container:
        assert len(container.streams.video) == 1
