"""Every allowed codec and container pair, rendered in parallel segments and checked
against the sequential render of the same plan; HDR sources (a rotated HLG phone clip with
audio, a PQ clip with HDR10 metadata) rendered with their metadata checked on the output's
decoded frames; tone mapping; 10-bit filters; and every refusal through the CLI.

Each render is a 1 s 320x180 clip in four segments: multi-segment, and quick."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from renderrush import register_filter, render, unregister_filter
from renderrush.media.codecs import CODECS
from renderrush.media.ffmpeg import decoded_md5
from renderrush.media.hdr import MasteringDisplay, mastering_of

from ..support import hdr, media
from ..support.media import FFMPEG

JOB = dict(workers=2, segment_seconds=0.25, history=False)
PAIRS = [(codec.name, container) for codec in CODECS.values() for container in codec.containers]
SUFFIX = {"mp4": ".mp4", "mov": ".mov", "mkv": ".mkv", "webm": ".webm"}
TAGS = {("hevc", "mp4"): "hvc1", ("hevc", "mov"): "hvc1", ("h264", "mp4"): "avc1", ("prores", "mov"): "apcn"}
AUDIO = {"webm": "opus", "mkv": "aac", "mp4": "aac", "mov": "aac"}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("codecs")


@pytest.fixture(scope="module")
def source(folder: Path) -> Path:
    """1 s, 30 fps, 320x180 H.264 + AAC, tagged BT.709."""
    path = folder / "source.mp4"
    media.ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30:duration=1", "-f", "lavfi", "-i", "sine=duration=1",
        "-vf", media.tags_filter("bt709", "bt709", "bt709"), *media.X264,
        "-c:a", "aac", "-shortest", "-y", path,
    )  # fmt: skip
    return path


def ffmpeg_errors(path: Path) -> str:
    """What ffmpeg prints decoding every stream of `path` with `-v error` (nothing: clean)."""
    proc = subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"], capture_output=True)
    return proc.stderr.decode(errors="replace")


def keyframes(path: Path) -> list[int]:
    with av.open(str(path)) as container:
        return [k for k, frame in enumerate(container.decode(video=0)) if frame.key_frame]


@pytest.mark.parametrize("codec, container", PAIRS, ids=[f"{c}-{k}" for c, k in PAIRS])
def test_every_codec_and_container_in_parallel_segments(source: Path, folder: Path, codec: str, container: str) -> None:
    sequential = folder / f"{codec}.sync{SUFFIX[container]}"
    parallel = folder / f"{codec}.threads{SUFFIX[container]}"
    render(source, sequential, "grayscale", codec=codec, scheduler="sync", **JOB)
    result = render(source, parallel, "grayscale", codec=codec, scheduler="threads", **JOB)
    assert len(result.segments) == 4 and result.frames == 30
    assert decoded_md5(parallel) == decoded_md5(sequential)
    assert ffmpeg_errors(parallel) == ""
    starts = np.cumsum([0] + [s.frames for s in result.segments[:-1]]).tolist()
    assert set(starts) <= set(keyframes(parallel))  # every segment starts on a keyframe
    with av.open(str(parallel)) as out:
        video = out.streams.video[0]
        frames = list(out.decode(video=0))
        assert [a.codec_context.name for a in out.streams.audio] == [AUDIO[container]]
        assert video.codec_tag == TAGS.get((codec, container), video.codec_tag)
    assert len(frames) == 30
    assert frames[0].format.name == CODECS[codec].formats[max(CODECS[codec].formats) if codec == "prores" else 8]
    assert (frames[0].colorspace, frames[0].color_primaries, frames[0].color_trc) == (1, 1, 1)  # BT.709 kept


def flat(mastering: MasteringDisplay) -> list[float]:
    return [*mastering.red, *mastering.green, *mastering.blue, *mastering.white, mastering.max_luminance,
            mastering.min_luminance]  # fmt: skip


def side_data(frame: av.VideoFrame) -> dict[str, object]:
    """A frame's HDR10 metadata, parsed (AV1 stores it at other precisions than HEVC)."""
    found: dict[str, object] = {}
    for side in frame.side_data:
        if side.type.name == "MASTERING_DISPLAY_METADATA":
            found[side.type.name] = mastering_of(bytes(side))
        elif side.type.name == "CONTENT_LIGHT_LEVEL":
            found[side.type.name] = bytes(side)[:8]
    return found


@pytest.mark.parametrize("suffix", [".mp4", ".mov"])
def test_rotated_hlg_phone_clip_stays_hlg_upright_with_audio(folder: Path, suffix: str) -> None:
    source = hdr.hlg_phone_clip(folder)
    sequential, parallel = (folder / f"hlg.{s}{suffix}" for s in ("sync", "threads"))
    render(source, sequential, "brightness:0", scheduler="sync", **JOB)
    result = render(source, parallel, "brightness:0", scheduler="threads", **JOB)
    assert result.encode.codec == "hevc" and result.encode.depth == 10
    # no warning but the joins': measured on the 10-bit scale, x265's keyframes in these 8-frame
    # segments sit 2.6-4 dB above their middles, which the join check reports as it does for x264
    assert [w for w in result.warnings if " pulses: " not in w] == []
    assert decoded_md5(parallel) == decoded_md5(sequential) and ffmpeg_errors(parallel) == ""
    with av.open(str(parallel)) as out:
        video = out.streams.video[0]
        frames = list(out.decode(video=0))
        assert video.codec_tag == "hvc1" and video.codec_context.profile == "Main 10"
        assert [a.codec_context.name for a in out.streams.audio] == ["aac"]
    first = frames[0]
    assert len(frames) == 60 and (first.width, first.height) == (180, 320) and not first.rotation
    assert (first.format.name, first.color_trc, first.color_primaries, first.colorspace) == ("yuv420p10le", 18, 9, 9)
    with av.open(str(source)) as src:  # same picture, turned upright: 10-bit codes within coding noise
        turned = np.rot90(plane(next(src.decode(video=0)), 0), 1)
    assert np.abs(plane(first, 0).astype(int) - turned).mean() < 12  # of 1023


def plane(frame: av.VideoFrame, index: int) -> np.ndarray:
    p = frame.planes[index]
    dtype = np.uint16 if "10" in frame.format.name else np.uint8
    return np.frombuffer(memoryview(p), dtype).reshape(-1, p.line_size // np.dtype(dtype).itemsize)[
        : p.height, : p.width
    ]


@pytest.mark.parametrize("codec, suffix", [("hevc", ".mp4"), ("av1", ".mkv"), (None, ".webm")])
def test_pq_hdr10_metadata_reaches_the_output_frames(folder: Path, codec: str | None, suffix: str) -> None:
    source = hdr.pq_hdr10_clip(folder, seconds=1)
    output = folder / f"pq-{codec}{suffix}"
    result = render(source, output, "grayscale", codec=codec, scheduler="threads", **JOB)
    assert result.encode.codec == (codec or "av1") and result.encode.depth == 10
    with av.open(str(source)) as src, av.open(str(output)) as out:
        expected = side_data(next(src.decode(video=0)))
        frames = list(out.decode(video=0))
    assert set(expected) == {"MASTERING_DISPLAY_METADATA", "CONTENT_LIGHT_LEVEL"}
    got = side_data(frames[0])
    assert got["CONTENT_LIGHT_LEVEL"] == expected["CONTENT_LIGHT_LEVEL"]
    want, have = expected["MASTERING_DISPLAY_METADATA"], got["MASTERING_DISPLAY_METADATA"]
    assert isinstance(want, MasteringDisplay) and isinstance(have, MasteringDisplay)
    assert np.allclose(flat(have), flat(want), rtol=1e-3, atol=1e-4), (have, want)
    assert (frames[0].format.name, frames[0].color_trc, frames[0].color_primaries) == ("yuv420p10le", 16, 9)
    assert len(frames) == 30 and ffmpeg_errors(output) == ""


def test_tonemap_gives_sdr_h264_at_known_light_levels(folder: Path) -> None:
    source = hdr.pq_bands_clip(folder)
    output = folder / "bands-sdr.mp4"
    result = render(source, output, None, tonemap=True, codec="h264", crf=0, scheduler="sync", history=False)
    assert result.encode.tonemap and result.encode.depth == 8
    with av.open(str(output)) as out:
        frame = next(out.decode(video=0))
    assert (frame.format.name, frame.colorspace, frame.color_primaries, frame.color_trc) == ("yuv420p", 1, 1, 1)
    luma = plane(frame, 0)
    levels = [int(np.median(luma[:, k * 80 + 10 : k * 80 + 70])) for k in range(3)]
    assert levels == [75, 151, 235]  # 10, 100, 1000 cd/m²


def test_tonemapped_hlg_phone_clip_is_upright_sdr_with_audio(folder: Path) -> None:
    output = folder / "hlg-sdr.mp4"
    result = render(hdr.hlg_phone_clip(folder), output, "grayscale", tonemap=True, scheduler="threads", **JOB)
    assert (result.encode.codec, result.encode.depth) == ("h264", 8)
    with av.open(str(output)) as out:
        frame = next(out.decode(video=0))
        assert [a.codec_context.name for a in out.streams.audio] == ["aac"]
    assert (frame.width, frame.height, frame.color_trc, frame.color_primaries) == (180, 320, 1, 1)


def test_ten_bit_filters_keep_their_meaning(folder: Path) -> None:
    """brightness:10 adds 10 RGB steps, 10 x 219/255 8-bit luma steps: 34 10-bit codes; the output stays 10-bit."""
    source = media.ten_bit_hevc(folder)
    output = folder / "ten-bright.mkv"
    render(source, output, "brightness:10", scheduler="threads", **JOB)
    with av.open(str(output)) as out:
        frame = next(out.decode(video=0))
    luma = plane(frame, 0)
    left, right = (int(np.median(luma[60:180, x : x + 80])) for x in (40, 200))
    assert frame.format.name == "yuv420p10le"
    assert abs(left - (media.TEN_BIT_LEVELS[0] + 34)) <= 2 and abs(right - (media.TEN_BIT_LEVELS[1] + 34)) <= 2


def test_user_filters_get_8_bit_bgr_unless_they_declare_16(folder: Path) -> None:
    source = media.ten_bit_hevc(folder)
    seen: list[np.dtype] = []

    def look(frame: np.ndarray) -> np.ndarray:
        seen.append(frame.dtype)
        return frame

    for depth in (8, 16):
        register_filter("look_at_depth", depth=depth, replace=True)(look)
        try:
            result = render(source, folder / f"user-{depth}.mp4", "look_at_depth", scheduler="sync", history=False)
        finally:
            unregister_filter("look_at_depth")
        expected = np.uint8 if depth == 8 else np.uint16
        assert set(seen) == {np.dtype(expected)}
        seen.clear()
        warned = [w for w in result.warnings if "look_at_depth get 8-bit BGR" in w]
        assert bool(warned) == (depth == 8), result.warnings


REFUSALS = [
    (["--codec", "prores"], "out.webm", "ProRes cannot go in WEBM: use --codec av1 or vp9 for .webm"),
    (["--codec", "h264"], "out.webm", "H.264 cannot go in WEBM"),
    (["--codec", "vp9"], "out.mov", "VP9 cannot go in MOV"),
    (["--codec", "h264"], "pq.mp4", "is HDR (HDR10) and H.264 here is 8-bit SDR, which would wash it out"),
    (["--crf", "60"], "out.mp4", "CRF must be between 0 (lossless) and 51 (worst), got 60"),
    (["--codec", "av1", "--preset", "hq"], "out.mkv", "unknown AV1 preset 'hq'"),
    (["--codec", "h264", "--preset", "8"], "out.mp4", "unknown H.264 preset '8'"),
]


@pytest.mark.parametrize("flags, name, message", REFUSALS, ids=[r[2][:24] for r in REFUSALS])
def test_bad_combinations_are_refused_in_one_line_with_nothing_written(
    folder: Path, tmp_path: Path, flags: list[str], name: str, message: str
) -> None:
    source = hdr.pq_hdr10_clip(folder, seconds=0.5)
    output = tmp_path / name
    proc = subprocess.run(
        [sys.executable, "-m", "renderrush.cli", "render", str(source), "-o", str(output), "--no-progress", *flags],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("renderrush: error: ") and message in lines[0], proc.stderr
    assert list(tmp_path.iterdir()) == []
