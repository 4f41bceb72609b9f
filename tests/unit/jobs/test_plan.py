"""plan_segments covers every frame exactly once, with frame-exact seek times."""

from __future__ import annotations

import random
from fractions import Fraction
from pathlib import Path

import pytest

from renderrush import RenderOptions, SettingsError, VideoInfo, make_sample_video, plan_segments
from renderrush.core import resources
from renderrush.jobs.plan import plan_gop_segments, plan_job

from ...support.gops import gop_clip


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


def test_gop_segments_group_whole_gops_as_x264_defaults_place_them() -> None:
    """x264's default keyint: keyframes at 0 and 250 of 360 frames (12 s at 30 fps)."""
    info = fake_info(360, keyframes=(0, 250))
    segments, note = plan_gop_segments(info, 5)
    assert [(s.start, s.stop) for s in segments] == [(0, 250), (250, 360)] and note is None
    segments, note = plan_gop_segments(info, 2)
    assert [(s.start, s.stop) for s in segments] == [(0, 250), (250, 360)]
    assert note is not None and "allow 2 segments where 6 of about 2 s were asked" in note and "8.3 s" in note
    assert info.frame_times[249] < segments[1].seek_time < info.frame_times[250] == segments[1].start_time


def test_a_single_keyframe_makes_one_segment_and_says_so() -> None:
    segments, note = plan_gop_segments(fake_info(360, keyframes=(0,)), 2)
    assert [(s.start, s.stop) for s in segments] == [(0, 360)]
    assert note is not None and "allow 1 segment where 6" in note and "12.0 s" in note


def test_short_gops_plan_as_asked_with_every_boundary_on_a_keyframe() -> None:
    info = fake_info(360, keyframes=tuple(range(0, 360, 30)))
    segments, note = plan_gop_segments(info, 2)
    assert [(s.start, s.stop) for s in segments] == [(a, a + 60) for a in range(0, 360, 60)] and note is None


@pytest.mark.parametrize("seed", range(20))
def test_gop_segments_start_on_keyframes_and_cover_every_frame(seed: int) -> None:
    rng = random.Random(seed)
    frames = rng.randint(1, 900)
    keyframes = tuple(sorted({0, *rng.sample(range(frames), min(frames, rng.randint(0, 12)))}))
    seconds = rng.choice([0.3, 1, 2, 5, 40])
    segments, note = plan_gop_segments(fake_info(frames, keyframes=keyframes), seconds)
    assert [f for s in segments for f in range(s.start, s.stop)] == list(range(frames))
    assert all(s.start in keyframes for s in segments), "each piece starts at its own keyframe"
    asked = len(plan_segments(fake_info(frames), seconds))
    assert len(segments) <= asked and (note is None) == (len(segments) == asked)


def test_plan_job_groups_gops_only_for_pieces_sent_to_a_cluster(videos: Path) -> None:
    clip = gop_clip(videos, "long")
    cluster = plan_job(clip, RenderOptions(workers=3, segment_seconds=2, scheduler="tcp://127.0.0.1:8786"))
    assert [(s.start, s.stop) for s in cluster.segments] == [(0, 250), (250, 360)]
    assert len(cluster.notes) == 1 and "allow 2 segments where 6" in cluster.notes[0]
    for shared in (
        RenderOptions(workers=3, segment_seconds=2, scheduler="tcp://127.0.0.1:8786", shared_storage=True),
        RenderOptions(workers=3, segment_seconds=2, scheduler="threads"),
    ):
        plan = plan_job(clip, shared)
        assert len(plan.segments) == 6 and plan.notes == (), "shared storage and local jobs plan as before"


def test_scene_cuts_take_boundaries_within_half_a_segment_else_keyframes() -> None:
    info = fake_info(300, keyframes=(0, 130, 250))
    # even boundaries at 100 and 200; a cut at 140 is nearest 100 within 50 frames; none near 200
    segments = plan_segments(info, 100 / float(info.fps), cuts=[20, 140, 290])
    assert [s.start for s in segments] == [0, 140, 250]  # 200 found no cut: the keyframe at 250
    segments = plan_segments(info, 100 / float(info.fps), cuts=[])
    assert [s.start for s in segments] == [0, 130, 250]
    assert sum(s.frames for s in segments) == 300


def test_a_plan_gives_its_segments_the_encoder_threads_they_share(tmp_path: Path) -> None:
    clip = make_sample_video(tmp_path / "clip.mp4", seconds=4, size=(64, 48))
    plan = plan_job(clip, RenderOptions(workers=2, segment_seconds=1))
    assert len(plan.segments) == 4
    assert plan.encode.threads == resources.encoder_threads(segments=4)
