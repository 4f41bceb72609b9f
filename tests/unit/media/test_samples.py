"""samples.py: generated test videos. `make_sample_video` writes round(seconds * fps) frames
(at least one) of a test pattern at exactly the size and rate asked, a keyframe at least
every two seconds, codecs by suffix (H.264 4:2:0, 4:4:4 for odd sizes, with AAC; MPEG-4 with
MP3 in .avi), an optional tone as long as the video, and a stripe numbering every frame that
`read_frame_index` reads back. Bad arguments are a `SettingsError` before ffmpeg runs; a
failed ffmpeg leaves no file."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from renderrush.core.errors import FFmpegError, SettingsError
from renderrush.media.samples import INDEX_BITS, make_sample_video, read_frame_index, stripe_height

from ...support.frames import frame_indices


def streams(path: Path) -> dict[str, object]:
    """What a test checks of a sample: codecs, size, pixel format, rate, frames, keyframes, durations."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        packets = sorted((p for p in container.demux(video=0) if p.size), key=lambda p: p.pts or 0)
        info: dict[str, object] = {
            "video": video.codec_context.codec.canonical_name,
            "size": (video.codec_context.width, video.codec_context.height),
            "pix_fmt": video.codec_context.pix_fmt,
            "rate": video.average_rate,
            "frames": len(packets),
            "keyframes": [i for i, p in enumerate(packets) if p.is_keyframe],
            "audio": audio.codec_context.codec.canonical_name if audio else None,
        }
        if audio is not None:
            container.seek(0)
            last = max((p.pts or 0) + (p.duration or 0) for p in container.demux(audio=0) if p.size)
            assert audio.time_base is not None
            info["audio_seconds"] = float(last * audio.time_base)
    return info


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("samples")


def test_a_sample_has_every_frame_numbered_and_a_tone_as_long_as_it(folder: Path) -> None:
    path = make_sample_video(str(folder / "three.mp4"), seconds=3, size=(64, 48), fps=10)
    assert path == folder / "three.mp4"
    info = streams(path)
    assert {k: info[k] for k in ("video", "size", "pix_fmt", "rate", "frames", "audio")} == {
        "video": "h264",
        "size": (64, 48),
        "pix_fmt": "yuv420p",
        "rate": 10,
        "frames": 30,
        "audio": "aac",
    }
    assert frame_indices(path) == list(range(30))
    keyframes = info["keyframes"]
    assert isinstance(keyframes, list) and keyframes[0] == 0
    assert max(np.diff([*keyframes, 30])) <= 20, "a keyframe at least every two seconds"
    assert info["audio_seconds"] == pytest.approx(3.0, abs=0.03)


@pytest.mark.parametrize(
    "suffix, video, audio",
    [(".mkv", "h264", "aac"), (".mov", "h264", "aac"), (".m4v", "h264", "aac"), (".AVI", "mpeg4", "mp3")],
)
def test_the_codecs_follow_the_suffix(folder: Path, suffix: str, video: str, audio: str) -> None:
    path = make_sample_video(folder / f"codecs{suffix}", seconds=0.5, size=(64, 48), fps=10)
    info = streams(path)
    assert (info["video"], info["audio"], info["frames"]) == (video, audio, 5)
    assert frame_indices(path) == list(range(5))


def test_an_odd_size_is_kept_exactly_in_4_4_4(folder: Path) -> None:
    path = make_sample_video(folder / "odd.mp4", seconds=0.5, size=(65, 49), fps=10, audio=False)
    info = streams(path)
    assert (info["size"], info["pix_fmt"], info["audio"]) == ((65, 49), "yuv444p", None)
    assert frame_indices(path) == list(range(5))


@pytest.mark.parametrize(
    "fps, seconds, rate, frames",
    [
        ("30000/1001", 0.5, Fraction(30000, 1001), 15),
        (29.97, 0.2, Fraction(2997, 100), 6),
        (Fraction(25, 2), 0.01, Fraction(25, 2), 1),
    ],
    ids=["ntsc-text", "float", "shorter-than-a-frame"],
)
def test_the_frame_rate_is_exact_and_the_count_rounded(
    folder: Path, fps: float | Fraction | str, seconds: float, rate: Fraction, frames: int
) -> None:
    path = make_sample_video(folder / "rate.mp4", seconds=seconds, size=(64, 48), fps=fps, audio=False)
    info = streams(path)
    assert (info["rate"], info["frames"]) == (rate, frames)


def test_the_smallest_sample_allowed_is_numbered(folder: Path) -> None:
    path = make_sample_video(folder / "smallest.mp4", seconds=0.5, size=(32, 16), fps=10, audio=False)
    assert frame_indices(path) == list(range(5))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"path": "clip.webm"}, "cannot write a sample as '.webm': use one of .mp4, .m4v, .mov, .mkv, .avi"),
        ({"path": "clip"}, "cannot write a sample as 'clip': use one of .mp4, .m4v, .mov, .mkv, .avi"),
        ({"size": (31, 16)}, "sample size 31x16 is too small: use at least 32x16"),
        ({"size": (32, 15)}, "sample size 32x15 is too small: use at least 32x16"),
        ({"fps": "fast"}, "fps must be a number or a fraction such as 30000/1001, got 'fast'"),
        ({"fps": "30/0"}, "fps must be a number or a fraction such as 30000/1001, got '30/0'"),
        ({"fps": None}, "fps must be a number or a fraction such as 30000/1001, got 'None'"),
        ({"fps": 0}, "sample length and fps must be positive"),
        ({"fps": -30}, "sample length and fps must be positive"),
        ({"seconds": 0}, "sample length and fps must be positive"),
        ({"seconds": -1}, "sample length and fps must be positive"),
        ({"seconds": math.nan}, "sample length and fps must be positive"),
        ({"seconds": math.inf}, "sample length and fps must be positive"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_written(
    tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    args: dict[str, object] = {"path": "clip.mp4", "seconds": 1, "size": (64, 48), "fps": 10, **kwargs}
    args["path"] = tmp_path / str(args["path"])
    with pytest.raises(SettingsError) as refused:
        make_sample_video(**args)  # type: ignore[arg-type]
    assert str(refused.value) == message
    assert list(tmp_path.iterdir()) == []


def test_a_failed_ffmpeg_leaves_no_file(tmp_path: Path) -> None:
    with pytest.raises(
        FFmpegError, match=r"^writing sample video big\.mp4 failed: Picture size 20000x20000 is invalid"
    ):
        make_sample_video(tmp_path / "big.mp4", seconds=1, size=(20000, 20000), audio=False)
    assert list(tmp_path.iterdir()) == []


def painted(index: int, size: tuple[int, int] = (160, 120), level: int = 255) -> np.ndarray:
    """A luma plane with `index` in the stripe as the sample draws it, and noise below."""
    width, height = size
    block, stripe = width // INDEX_BITS, stripe_height(height)
    luma = np.random.default_rng(index).integers(0, 256, (height, width), dtype=np.uint8)
    luma[:stripe] = 0
    for bit in range(INDEX_BITS):
        if index >> bit & 1:
            x, y = bit * block + block // 4, stripe // 4
            luma[y : y + max(1, stripe // 2), x : x + max(1, block // 2)] = level
    return luma


@pytest.mark.parametrize("index", [0, 1, 2, 0x8000, 12345, 2**INDEX_BITS - 1])
@pytest.mark.parametrize("size", [(160, 120), (1280, 720), (101, 77)])
def test_the_stripe_reads_back_the_index_painted(index: int, size: tuple[int, int]) -> None:
    assert read_frame_index(painted(index, size)) == index


def test_a_bit_is_set_above_mid_grey() -> None:
    assert read_frame_index(painted(5, level=128)) == 5
    assert read_frame_index(painted(5, level=127)) == 0


def test_the_stripe_is_a_tenth_of_the_height_and_at_least_8_rows() -> None:
    assert [stripe_height(h) for h in (16, 48, 79, 80, 120, 720)] == [8, 8, 8, 8, 12, 72]
