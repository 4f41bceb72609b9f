"""Unit tests of `renderrush.media.decode`: a segment's `Source` gives exactly the frames
[start, stop) of the file, each with its output timestamp, whichever way it finds them
("time": seek to a keyframe before the first frame, seek again further back when the seek
lands late, decode from the start in the end; "count": count frames from the start), and
refuses frame times that are missing or go back. `Picture` and `Converter` turn decoded
frames upright (odd sides cropped, rotation, alpha on black) and into the chain's pixel
format with the source's levels; `plane_views` are writable views without row padding."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from renderrush import plan_segments, probe
from renderrush.backends.base import segment_source
from renderrush.core.errors import TimelineError
from renderrush.jobs.plan import Segment
from renderrush.media import decode as decode_module
from renderrush.media.decode import (
    Converter,
    Picture,
    Source,
    plane_views,
    segment_frames,
    yuv_from_bgr,
)
from renderrush.media.picture import matrix_for
from renderrush.media.probe import VideoInfo
from renderrush.media.samples import read_frame_index

from ...support.media import X264, ffmpeg

# ---- sources ----------------------------------------------------------------------------


def decoded(source: Source, damaged: list[int] | None = None) -> list[tuple[int, int]]:
    """(index from the frame's stripe, output timestamp) of every frame the source gives."""
    frames = segment_frames(source, 1, [] if damaged is None else damaged)
    return [(read_frame_index(frame.to_ndarray(format="gray")), pts) for frame, pts in frames]


def expected(info: VideoInfo, start: int, stop: int) -> list[tuple[int, int]]:
    return list(zip(range(start, stop), info.frame_pts[start:stop]))


@pytest.fixture(scope="module")
def info(clip: Path) -> VideoInfo:
    """The 90-frame `clip`: keyframes at frames 0 and 60 (a GOP is 2 s)."""
    found = probe(clip)
    assert found.seek_mode == "time" and found.keyframes == (0, 60) and found.frame_count == 90
    return found


@pytest.fixture(scope="module")
def raw_h264(clip: Path, tmp_path_factory: pytest.TempPathFactory) -> VideoInfo:
    """`clip`'s video as a raw Annex B stream: no container timestamps, so frames are counted."""
    path = tmp_path_factory.mktemp("decode") / "clip.h264"
    ffmpeg("-i", clip, "-map", "0:v", "-c", "copy", "-bsf:v", "h264_mp4toannexb", "-f", "h264", "-y", path)
    found = probe(path)
    assert found.seek_mode == "count" and found.frame_count == 90
    return found


@pytest.fixture(scope="module")
def mpegts(clip: Path, tmp_path_factory: pytest.TempPathFactory) -> VideoInfo:
    """`clip`'s video in MPEG-TS, keyframes every 10 frames: its clock starts at 1.47 s and
    its seek index is approximate (seeks land after the time asked for)."""
    path = tmp_path_factory.mktemp("decode") / "clip.ts"
    ffmpeg("-i", clip, "-map", "0:v", *X264, "-g", 10, "-bf", 2, "-f", "mpegts", "-y", path)
    found = probe(path)
    assert found.seek_mode == "time" and found.origin > 1 and found.frame_count == 90
    return found


class Seeks:
    """Stands in for `decode._open`: records every seek target (seconds on the container's
    clock) and can move it, to act as a container whose index is approximate, or refuse it."""

    def __init__(
        self, monkeypatch: pytest.MonkeyPatch, moved: Callable[[float], float] | None = None, fail: bool = False
    ) -> None:
        self.targets: list[float] = []
        self.moved, self.fail = moved, fail
        real = decode_module._open

        def opened(source: Source, threads: int) -> tuple[Any, Any]:
            container, stream = real(source, threads)
            return _Container(container, self), stream

        monkeypatch.setattr(decode_module, "_open", opened)


class _Container:
    def __init__(self, container: Any, seeks: Seeks) -> None:
        self._container, self._seeks = container, seeks

    def __getattr__(self, name: str) -> Any:
        return getattr(self._container, name)

    def __enter__(self) -> _Container:
        return self

    def __exit__(self, *exc: object) -> None:
        self._container.close()

    def seek(self, offset: int, backward: bool = True) -> None:
        seconds = offset / av.time_base
        self._seeks.targets.append(seconds)
        if self._seeks.fail:
            raise av.error.PermissionError(1, "seek refused for the test")
        if self._seeks.moved is not None:
            seconds = self._seeks.moved(seconds)
        self._container.seek(round(seconds * av.time_base), backward=backward)


# ---- finding a segment's frames ---------------------------------------------------------------


def test_each_planned_segment_gives_exactly_its_frames(info: VideoInfo) -> None:
    # 0.7 s segments: boundaries fall inside the first GOP, so segments start between keyframes
    segments = plan_segments(info, 0.7)
    assert len(segments) > 3 and any(s.start not in info.keyframes for s in segments)
    found: list[tuple[int, int]] = []
    for segment in segments:
        frames = decoded(segment_source(info, segment))
        assert frames == expected(info, segment.start, segment.stop), f"segment {segment.index}"
        found += frames
    assert found == expected(info, 0, 90)


def test_a_one_frame_segment_and_the_last_frame(info: VideoInfo) -> None:
    assert decoded(segment_source(info, Segment(0, 45, 46))) == expected(info, 45, 46)
    last = segment_source(info, Segment(0, 89, 90))
    assert last.end_pts is None
    assert decoded(last) == expected(info, 89, 90)


def test_a_segment_from_the_start_decodes_without_seeking(info: VideoInfo, monkeypatch: pytest.MonkeyPatch) -> None:
    seeks = Seeks(monkeypatch)
    assert decoded(segment_source(info, Segment(0, 0, 20))) == expected(info, 0, 20)
    assert seeks.targets == []


def test_a_segment_seeks_to_its_first_frames_time(info: VideoInfo, monkeypatch: pytest.MonkeyPatch) -> None:
    seeks = Seeks(monkeypatch)
    assert decoded(segment_source(info, Segment(0, 65, 80))) == expected(info, 65, 80)
    assert seeks.targets == [pytest.approx(65 / 30, abs=1e-6)]


def test_a_seek_that_lands_late_is_aimed_further_back(info: VideoInfo, monkeypatch: pytest.MonkeyPatch) -> None:
    # an approximate index: every seek lands 1.5 s later than asked, on the keyframe at 2 s,
    # after the segment's first frame at 1 s; aiming 2 s earlier lands on frame 0
    seeks = Seeks(monkeypatch, moved=lambda seconds: seconds + 1.5)
    assert decoded(segment_source(info, Segment(0, 30, 60))) == expected(info, 30, 60)
    assert seeks.targets == [pytest.approx(1.0), pytest.approx(0.0)]


def test_when_every_seek_lands_late_the_segment_decodes_from_the_start(
    info: VideoInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    # every seek lands on the keyframe at 2 s, after frame 30 (1 s)
    seeks = Seeks(monkeypatch, moved=lambda seconds: 2.5)
    assert decoded(segment_source(info, Segment(0, 30, 50))) == expected(info, 30, 50)
    # the three aims (0, 2 and 10 s before frame 30, not before the file's start) came first
    assert seeks.targets == [pytest.approx(1.0), pytest.approx(0.0), pytest.approx(0.0)]


def test_mpegts_segments_are_exact_though_seeks_land_late(mpegts: VideoInfo, monkeypatch: pytest.MonkeyPatch) -> None:
    seeks = Seeks(monkeypatch)
    retried = 0
    for segment in plan_segments(mpegts, 0.25):
        seeks.targets.clear()
        assert decoded(segment_source(mpegts, segment)) == expected(mpegts, segment.start, segment.stop), segment
        # every seek aims at a time on the file's clock, never before its start
        assert all(target >= mpegts.origin - 1e-6 for target in seeks.targets)
        retried += len(seeks.targets) > 1
    assert retried, "no seek landed late: this file no longer tests the retries"


def test_a_failing_seek_falls_back_to_decoding_from_the_start(info: VideoInfo, monkeypatch: pytest.MonkeyPatch) -> None:
    seeks = Seeks(monkeypatch, fail=True)
    assert decoded(segment_source(info, Segment(0, 40, 50))) == expected(info, 40, 50)
    assert len(seeks.targets) == len(decode_module.RETRY_SECONDS)


def test_counted_source_takes_timestamps_from_the_listing(raw_h264: VideoInfo) -> None:
    segments = plan_segments(raw_h264, 1)
    assert len(segments) > 2
    for segment in segments:
        source = segment_source(raw_h264, segment)
        assert decoded(source) == expected(raw_h264, segment.start, segment.stop)
    # the timestamps are the listing's, whatever they are: the decoder's are not used
    middle = segments[1]
    listed = tuple(range(1000, 1000 + middle.frames))
    shifted = replace(segment_source(raw_h264, middle), frame_pts=listed)
    assert decoded(shifted) == list(zip(range(middle.start, middle.stop), listed))


def _retimed(monkeypatch: pytest.MonkeyPatch, change: Any) -> None:
    """Make the decoder's frames carry other timestamps: `change(position, pts)` after the first frame found."""
    real = decode_module.decode_stream

    def decode_stream(*args: Any) -> Any:
        for position, frame in enumerate(real(*args)):
            frame.pts = change(position, frame.pts)
            yield frame

    monkeypatch.setattr(decode_module, "decode_stream", decode_stream)


def test_frame_times_that_go_back_are_refused(info: VideoInfo, monkeypatch: pytest.MonkeyPatch) -> None:
    step = info.frame_pts[1]
    # frame 5 is shown at frame 3's time again
    _retimed(monkeypatch, lambda position, pts: pts - 2 * step if position == 5 else pts)
    with pytest.raises(TimelineError, match=f"decoded frame times go back from {4 * step} to {3 * step} after frame 0"):
        decoded(segment_source(info, Segment(0, 0, 30)))


def test_a_frame_without_a_timestamp_is_refused(info: VideoInfo, monkeypatch: pytest.MonkeyPatch) -> None:
    _retimed(monkeypatch, lambda position, pts: None if position == 3 else pts)
    with pytest.raises(TimelineError, match="a frame decoded after frame 0 has no timestamp"):
        decoded(segment_source(info, Segment(0, 0, 30)))


# ---- Picture: how decoded frames become upright ------------------------------------------


def test_picture_of_a_plain_source(info: VideoInfo) -> None:
    picture = Picture.of(info)
    assert picture == Picture(width=160, height=120, rotation=0, crop=None, alpha=False, full_range=False)
    assert picture.matrix == "itu601"  # untagged and SD


@pytest.mark.parametrize(
    ("size", "rotation", "upright", "crop"),
    [
        ((321, 241), 0, (320, 240), (320, 240)),
        ((321, 241), 90, (240, 320), (320, 240)),
        ((640, 360), 270, (360, 640), None),
        ((640, 360), 180, (640, 360), None),
    ],
)
def test_picture_crops_odd_sides_then_turns(
    info: VideoInfo, size: tuple[int, int], rotation: int, upright: tuple[int, int], crop: tuple[int, int] | None
) -> None:
    picture = Picture.of(replace(info, width=size[0], height=size[1], rotation=rotation))
    assert (picture.width, picture.height, picture.crop, picture.rotation) == (*upright, crop, rotation)


def test_picture_keeps_range_and_alpha(info: VideoInfo) -> None:
    picture = Picture.of(replace(info, color_range=2, has_alpha=True))
    assert picture.full_range and picture.alpha
    assert picture.yuv_range == av.video.reformatter.ColorRange.JPEG
    assert Picture.of(info).yuv_range == av.video.reformatter.ColorRange.MPEG


@pytest.mark.parametrize(
    ("colorspace", "size", "matrix"),
    [
        (1, (320, 240), "itu709"),  # tagged BT.709 wins over the size
        (6, (1920, 1080), "smpte170m"),
        (9, (640, 480), "bt2020"),
        (2, (1280, 720), "itu709"),  # unspecified: HD is assumed BT.709
        (2, (720, 576), "itu601"),
        (2, (720, 578), "itu709"),
        (2, (160, 120), "itu601"),
    ],
)
def test_matrix_is_the_tag_or_what_players_assume(colorspace: int, size: tuple[int, int], matrix: str) -> None:
    assert matrix_for(colorspace, *size) == matrix


# ---- plane views ----------------------------------------------------------------------------------


def _yuv(width: int, height: int, y: int, u: int = 128, v: int = 128, fmt: str = "yuv420p") -> av.VideoFrame:
    frame = av.VideoFrame(width, height, fmt)
    for view, value in zip(plane_views(frame, width, height), (y, u, v)):
        view[...] = value
    return frame


def test_plane_views_cut_row_padding_and_write_through() -> None:
    frame = av.VideoFrame(50, 40, "yuv420p")
    assert frame.planes[0].line_size > 50  # rows are padded: the views must not show it
    y, u, v = plane_views(frame, 50, 40)
    assert (y.shape, u.shape, v.shape) == ((40, 50), (20, 25), (20, 25))
    y[...], u[...], v[...] = 200, 90, 160
    planes = frame.to_ndarray()  # yuv420p: Y rows, then U and V, without padding
    assert (planes[:40] == 200).all()
    assert (planes[40:].reshape(-1)[: 20 * 25] == 90).all() and (planes[40:].reshape(-1)[20 * 25 :] == 160).all()


def test_plane_view_of_a_packed_frame_is_one_bgr_image() -> None:
    frame = av.VideoFrame(50, 40, "bgr24")
    (image,) = plane_views(frame, 50, 40)
    assert image.shape == (40, 150)
    image.reshape(40, 50, 3)[..., 2] = 255  # red
    assert (frame.to_ndarray(format="rgb24")[..., 0] == 255).all()


# ---- Converter: upright frames in the chain's format, with the source's levels ------------------


def test_yuv420_frames_pass_unchanged_to_a_yuv_chain() -> None:
    for fmt, full_range in (("yuv420p", False), ("yuvj420p", True)):
        frame = _yuv(64, 48, 235, fmt=fmt)
        convert = Converter(Picture(64, 48, full_range=full_range), "yuv420p", 1, frame)
        assert convert(frame) is frame


@pytest.mark.parametrize(
    ("fmt", "full_range", "y", "bgr"),
    [
        ("yuv420p", False, 235, 255),  # limited range: 16..235 spreads to 0..255
        ("yuv420p", False, 16, 0),
        ("yuvj420p", True, 235, 235),  # full range: levels are kept
        ("yuvj420p", True, 255, 255),
    ],
)
def test_bgr_chains_get_full_range_bgr_from_the_sources_levels(fmt: str, full_range: bool, y: int, bgr: int) -> None:
    frame = _yuv(64, 48, y, fmt=fmt)
    out = Converter(Picture(64, 48, full_range=full_range), "bgr24", 1, frame)(frame)
    assert out.format.name == "bgr24"
    assert np.abs(out.to_ndarray().astype(int) - bgr).max() <= 1


def test_rgb_sources_become_limited_range_yuv() -> None:
    image = np.zeros((48, 64, 3), np.uint8)
    image[:, 32:] = 255
    frame = av.VideoFrame.from_ndarray(image, format="rgb24")
    out = Converter(Picture(64, 48), "yuv420p", 1, frame)(frame)
    y = plane_views(out, 64, 48)[0]
    assert out.format.name == "yuv420p"
    assert (y[:, :30] == 16).all() and (y[:, 34:] == 235).all()


def test_ten_bit_yuv_becomes_8bit_with_levels_quartered() -> None:
    frame = av.VideoFrame(64, 48, "yuv420p10le")
    for plane, value in zip(frame.planes, (400, 512, 512)):
        np.frombuffer(memoryview(plane), np.uint16)[...] = value
    out = Converter(Picture(64, 48), "yuv420p", 1, frame)(frame)
    y, u, v = plane_views(out, 64, 48)
    assert out.format.name == "yuv420p"
    assert abs(int(y.mean()) - 100) <= 1 and abs(int(u.mean()) - 128) <= 1 and abs(int(v.mean()) - 128) <= 1


@pytest.mark.parametrize(
    ("rotation", "corner"),
    [
        (90, (slice(0, 4), slice(-4, None))),
        (180, (slice(-4, None), slice(-4, None))),
        (270, (slice(-4, None), slice(0, 4))),
    ],
)
def test_rotation_turns_clockwise(rotation: int, corner: tuple[slice, slice]) -> None:
    image = np.zeros((40, 64, 3), np.uint8)
    image[:4, :4] = 255  # top-left corner marked
    frame = av.VideoFrame.from_ndarray(image, format="bgr24")
    size = (40, 64) if rotation in (90, 270) else (64, 40)
    out = Converter(Picture(*size, rotation=rotation), "bgr24", 1, frame)(frame).to_ndarray()
    assert (out.shape[1], out.shape[0]) == size
    assert (out[corner] == 255).all() and out.sum() == 255 * 4 * 4 * 3


def test_odd_sides_are_cropped_to_even() -> None:
    frame = _yuv(65, 49, 100, fmt="yuv444p")  # 4:4:4 holds odd sizes; H.264 4:2:0 cannot
    out = Converter(Picture(64, 48, crop=(64, 48)), "yuv420p", 1, frame)(frame)
    assert (out.width, out.height, out.format.name) == (64, 48, "yuv420p")
    assert (plane_views(out, 64, 48)[0] == 100).all()


def test_transparency_is_composited_on_black() -> None:
    image = np.zeros((48, 64, 4), np.uint8)
    image[..., :3] = 255  # white everywhere,
    image[:, 32:, 3] = 255  # opaque on the right half only
    frame = av.VideoFrame.from_ndarray(image, format="rgba")
    out = Converter(Picture(64, 48, alpha=True), "yuv420p", 1, frame)(frame)
    y = plane_views(out, 64, 48)[0].astype(int)
    assert (y[:, :30] == 16).all() and (abs(y[:, 34:] - 235) <= 1).all()


def test_a_size_change_mid_stream_is_scaled_to_the_first_frames_size() -> None:
    first = _yuv(64, 48, 50)
    convert = Converter(Picture(64, 48), "yuv420p", 1, first)
    out = convert(_yuv(128, 96, 180))
    assert (out.width, out.height) == (64, 48)
    assert abs(int(plane_views(out, 64, 48)[0].mean()) - 180) <= 1


@pytest.mark.parametrize(("full_range", "white"), [(False, 235), (True, 255)])
def test_yuv_from_bgr_uses_the_sources_range(full_range: bool, white: int) -> None:
    frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 255, np.uint8), format="bgr24")
    out = yuv_from_bgr(av.video.reformatter.VideoReformatter(), frame, Picture(64, 48, full_range=full_range), 1)
    assert out.format.name == "yuv420p"
    assert (abs(plane_views(out, 64, 48)[0].astype(int) - white) <= 1).all()


def _lead_in_run(info: VideoInfo, monkeypatch: pytest.MonkeyPatch) -> tuple[int, list[tuple[int, str]]]:
    """(frames the decoder output, (pts, md5 of the planes) of the segment's frames) for
    frames 40-59 of `clip`, whose GOP starts at frame 0."""
    import hashlib

    output = 0
    real = decode_module.decode_stream

    def counting(*args: Any) -> Any:
        nonlocal output
        for frame in real(*args):
            output += 1
            yield frame

    monkeypatch.setattr(decode_module, "decode_stream", counting)
    source = segment_source(info, Segment(1, 40, 60))
    frames = [
        (pts, hashlib.md5(b"".join(bytes(p) for p in frame.planes)).hexdigest())
        for frame, pts in segment_frames(source, 1, [])
    ]
    return output, frames


def test_frames_before_a_segment_that_nothing_refers_to_are_not_decoded(
    info: VideoInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    skipped, frames = _lead_in_run(info, monkeypatch)
    monkeypatch.setattr(decode_module, "SKIP_LEAD_IN_CODECS", ())
    every, reference = _lead_in_run(info, monkeypatch)
    assert every == 61, "frames 0-39 before the segment, its 20, and frame 60 that ends it"
    assert skipped <= every - 15, f"{skipped}: x264's B-frames that are not references are skipped before frame 40"
    assert frames == reference and [pts for pts, _ in frames] == list(info.frame_pts[40:60])


def test_no_frame_of_a_segment_is_skipped(info: VideoInfo) -> None:
    for segment in plan_segments(info, 0.3):
        assert decoded(segment_source(info, segment)) == expected(info, segment.start, segment.stop)
