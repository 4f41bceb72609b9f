"""Joins: each side against its own segment's middle; a pulse is a warning and a timeline mark."""

from __future__ import annotations

from renderrush.jobs.joins import join_report, join_warnings, mark_pulses
from renderrush.segments.render import SegmentResult


def segment(index: int, first: float, middle: float, last: float, frames: int = 30) -> SegmentResult:
    quality = {"psnr": middle, "edges": {"first": first, "middle": middle, "last": last}}
    return SegmentResult(index, frames, 1.0, f"s{index}.mp4", 1000, 1, quality=quality)


def test_a_side_far_from_its_middle_pulses_and_a_change_of_content_does_not() -> None:
    results = [
        segment(0, 44.0, 41.0, 40.5),
        segment(1, 43.5, 41.0, 40.8, frames=20),  # keyframe 2.5 dB sharper than its segment: a pulse
        segment(2, 29.0, 28.0, 27.5),  # 11.8 dB worse across the join, but so is its whole segment
        SegmentResult(3, 30, 0.0, "s3.mp4", 1000, 0, reused=True),
    ]
    joins = join_report(reversed(results))
    assert joins == [
        {"index": 1, "frame": 30, "before_db": -0.5, "after_db": 2.5, "across_db": 3.0, "pulse": True},
        {"index": 2, "frame": 50, "before_db": -0.2, "after_db": 1.0, "across_db": -11.8, "pulse": False},
        {"index": 3, "frame": 80, "before_db": None, "after_db": None, "across_db": None, "pulse": False},
    ]
    assert join_warnings(joins) == [
        "the join at frame 30 (segments 0 and 1) pulses: its last frame before is -0.5 dB and its first frame "
        "after +2.5 dB from their segments' middles (more than 2 dB is visible)"
    ]
    timeline = [{"index": i} for i in range(4)]
    mark_pulses(timeline, joins)
    assert [entry["pulse"] for entry in timeline] == [False, True, False, False]


def test_differences_between_near_perfect_frames_are_not_pulses() -> None:
    joins = join_report([segment(0, 100.0, 60.0, 100.0), segment(1, 100.0, 49.0, 100.0)])
    assert joins[0]["before_db"] == 0.0 and joins[0]["after_db"] == 1.0 and not joins[0]["pulse"]
