"""plan_segments covers every frame exactly once, with frame-exact seek times."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from renderrush import SettingsError, VideoInfo, plan_segments


def fake_info(frames: int, fps: Fraction = Fraction(30), keyframes: tuple[int, ...] = ()) -> VideoInfo:
    return VideoInfo(
        path=Path("x.mp4"),
        width=64,
        height=48,
        fps=fps,
        frame_count=frames,
        duration=float(frames / fps),
        codec="h264",
        pix_fmt="yuv420p",
        has_audio=False,
        audio_codec=None,
        container="mp4",
        frame_times=tuple(float(i / fps) for i in range(frames)),
        keyframes=keyframes,
    )


@pytest.mark.parametrize("frames", [1, 2, 29, 30, 31, 89, 90, 91, 1000])
@pytest.mark.parametrize("seconds", [0.01, 0.5, 1, 1.3, 2.7, 100])
def test_segments_cover_every_frame_once(frames: int, seconds: float) -> None:
    segments = plan_segments(fake_info(frames), seconds)
    covered = [f for s in segments for f in range(s.start, s.stop)]
    assert covered == list(range(frames))
    assert all(s.frames > 0 for s in segments)
    assert [s.index for s in segments] == list(range(len(segments)))
    length = max(1, round(seconds * 30))
    assert len(segments) == max(1, round(frames / length))
    assert max(s.frames for s in segments) - min(s.frames for s in segments) <= 1, "split evenly"


def test_seek_time_lies_between_previous_and_first_frame() -> None:
    info = fake_info(100)
    for seg in plan_segments(info, 1)[1:]:
        assert info.frame_times[seg.start - 1] < seg.seek_time < info.frame_times[seg.start]
    assert plan_segments(info, 1)[0].seek_time == 0


def test_variable_frame_rate_seek_uses_real_timestamps() -> None:
    times = (0.0, 0.01, 0.5, 0.52, 1.9, 2.0)
    info = VideoInfo(
        path=Path("v.mkv"),
        width=64,
        height=48,
        fps=Fraction(3),
        frame_count=6,
        duration=2.0,
        codec="h264",
        pix_fmt="yuv420p",
        has_audio=False,
        audio_codec=None,
        container="matroska",
        frame_times=times,
    )
    seeks = [s.seek_time for s in plan_segments(info, 1 / 3)]
    assert seeks == pytest.approx([0.0, 0.005, 0.255, 0.51, 1.21, 1.95])


def test_snap_to_keyframes_moves_boundaries_but_still_covers_all() -> None:
    segments = plan_segments(fake_info(300, keyframes=(0, 50, 120, 250)), 2, snap_to_keyframes=True)
    # boundaries 60, 120, 180, 240 move to a keyframe within half a segment (30 frames)
    assert [s.start for s in segments] == [0, 50, 120, 180, 250]
    assert sum(s.frames for s in segments) == 300


def test_boundaries_move_to_keyframes_within_a_tenth_of_a_segment() -> None:
    info = fake_info(300, keyframes=(0, 55, 120, 250))
    segments = plan_segments(info, 2)  # 60 frames: boundaries 60, 120, 180, 240, 6 frames of tolerance
    assert [s.start for s in segments] == [0, 55, 120, 180, 240]
    assert [s.start_time for s in segments] == [info.frame_times[s.start] for s in segments]


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), "2"])
def test_bad_segment_length_is_rejected(bad: object) -> None:
    with pytest.raises(SettingsError, match="positive number of seconds"):
        plan_segments(fake_info(10), bad)  # type: ignore[arg-type]
