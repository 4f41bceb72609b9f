"""`renderrush.ui.timeline`: the segment timeline chart. Live, each segment is a bar on the first
free lane from its start to now, then to its end; a comparison's second run follows the first
on one time axis. From a job's record, each worker gets a lane and each segment its recorded
start and end, with a summary of how busy the workers were; jobs without a timeline draw nothing."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from renderrush.jobs.result import Comparison, JobResult
from renderrush.recording.history import History
from renderrush.segments.progress import ProgressEvent
from renderrush.ui import SegmentTimeline
from renderrush.ui.timeline import RUN_GAP

# Three segments on two workers: "a" runs #0 then #2, "b" runs #1; "a" ends 1 s after "b".
ENTRIES: list[dict[str, Any]] = [
    {"index": 0, "worker": "a", "start": 0.0, "end": 1.0},
    {"index": 1, "worker": "b", "start": 0.5, "end": 1.5},
    {"index": 2, "worker": "a", "start": 1.0, "end": 2.5},
]


def test_segment_timeline_live_then_recorded(rendered: JobResult) -> None:
    view = SegmentTimeline()
    view.reset()
    events = [
        ("segment_started", 0, 0.1),
        ("segment_started", 1, 0.2),
        ("frames", None, 0.5),
        ("segment_finished", 0, 0.6),
        ("segment_started", 2, 0.7),
        ("frames", None, 0.9),
    ]
    for kind, segment, elapsed in events:
        view.update_progress(ProgressEvent(kind, 0, 90, 0, 3, elapsed, segment=segment))
    (trace,) = view.figure.data
    assert list(trace.text) == ["#0", "#1", "#2"]
    assert list(trace.y) == ["worker 1", "worker 2", "worker 1"]  # #2 took the lane #0 freed
    assert list(trace.base) == [0.1, 0.2, 0.7] and list(trace.x) == pytest.approx([0.5, 0.7, 0.2])  # running: to now
    result = rendered
    view.show_result(result)
    (trace,) = view.figure._widget_data
    assert len(trace["x"]) == len(result.segments) == 3 == view.bars
    assert set(trace["y"]) == {"worker 1", "worker 2"}
    for entry, base, width in zip(result.segment_timeline, trace["base"], trace["x"]):
        assert base == pytest.approx(entry["start"], abs=1e-3) and width == pytest.approx(
            entry["end"] - entry["start"], abs=2e-3
        )
    assert "3 segments on 2 workers" in view.summary.value


def test_a_new_timeline_is_empty() -> None:
    view = SegmentTimeline(width=300)
    assert view.bars == 0 and view.figure.data == () and repr(view) == "<SegmentTimeline: 0 segments>"
    assert "No segments yet" in view.summary.value and view.figure._widget_layout["width"] == 300
    view.reset()
    assert "Waiting for the first segment" in view.summary.value and view.figure._widget_data == []


# ---- live --------------------------------------------------------------------------------------
def live(view: SegmentTimeline, kind: str, segment: int | None, elapsed: float, job: str = "") -> None:
    view.update_progress(ProgressEvent(kind, 0, 90, 0, 3, elapsed, segment=segment, job=job))


def test_a_segment_started_again_replaces_its_bar() -> None:
    """A segment re-run after its worker died is drawn once, from its new start."""
    view = SegmentTimeline()
    live(view, "segment_started", 0, 0.1)
    live(view, "segment_started", 1, 0.2)
    live(view, "segment_started", 0, 0.8)
    assert view.bars == 2 and [e["start"] for e in view.runs["render"]] == [0.2, 0.8]
    assert [e["lane"] for e in view.runs["render"]] == [1, 0]  # lane 0 was free again
    assert "2 segments started, 2 rendering on 2 lanes" in view.summary.value
    assert "since the job's segments began" in view.summary.value


def test_a_comparisons_second_run_follows_the_first_live() -> None:
    view = SegmentTimeline()
    for segment, (start, end) in enumerate([(0.1, 0.5), (0.5, 0.9), (0.9, 1.3)]):
        live(view, "segment_started", segment, start, job="sequential")
        live(view, "segment_finished", segment, end, job="sequential")
    live(view, "segment_started", 0, 0.05, job="parallel")
    live(view, "segment_started", 1, 0.05, job="parallel")
    sequential, parallel = view.figure._widget_data
    assert (sequential["name"], parallel["name"]) == ("sequential", "parallel")
    assert set(sequential["y"]) == {"sequential · worker 1"} and sequential["marker"]["opacity"] == [1.0] * 3
    assert parallel["y"] == ["parallel · worker 1", "parallel · worker 2"]
    assert parallel["base"] == [pytest.approx(1.3 + RUN_GAP + 0.05)] * 2, "after the first run, one gap between"
    assert parallel["marker"]["opacity"] == [0.6, 0.6]  # still rendering
    assert view.figure.layout.showlegend and "since the run's segments began" in view.summary.value


# ---- recorded ----------------------------------------------------------------------------------
def test_recorded_runs_get_a_lane_per_worker_and_a_summary() -> None:
    view = SegmentTimeline()
    view.show_runs([("render", 1000.0, ENTRIES)])
    (trace,) = view.figure._widget_data
    assert trace["y"] == ["worker 1", "worker 2", "worker 1"] and trace["base"] == [0.0, 0.5, 1.0]
    assert trace["x"] == [1.0, 1.0, 1.5] and trace["text"] == ["#0", "#1", "#2"]
    assert trace["hovertext"][2] == "segment 2 · a · 1.00–2.50 s"
    assert view.summary.value == (
        "<small><b>render</b>: 3 segments on 2 workers, first began at 0.00 s, workers busy 70% of 2.50 s, "
        "idle tail 1.00 s</small>"
    )
    assert view.figure.layout.height == 120 + 28 * 2 and not view.figure.layout.showlegend


def test_recorded_runs_share_one_time_axis() -> None:
    view = SegmentTimeline()
    later = [{**entry, "worker": f"p{entry['worker']}"} for entry in ENTRIES]
    view.show_runs([("sequential", 100.0, ENTRIES), ("parallel", 103.0, later)])
    sequential, parallel = view.figure._widget_data
    assert sequential["base"] == [0.0, 0.5, 1.0] and parallel["base"] == [3.0, 3.5, 4.0]
    assert parallel["y"][0] == "parallel · worker 1" and view.bars == 6
    assert view.summary.value.count("3 segments on 2 workers") == 2 and "<br>" in view.summary.value


def test_segments_without_times_are_left_out() -> None:
    view = SegmentTimeline()
    untimed = [{"index": 0, "worker": None, "start": None, "end": None}, {"index": 1, "worker": None}]
    view.show_runs([("render", 0.0, untimed)])
    assert view.bars == 0 and "render: 2 segments, times not known" in view.summary.value
    view.show_runs([("render", 0.0, [*ENTRIES, untimed[0]])])
    assert view.bars == 3 and "4 segments on 2 workers" in view.summary.value


def test_a_comparison_is_drawn_from_both_runs(rendered: JobResult) -> None:
    sequential = dataclasses.replace(rendered, started_at=rendered.started_at - 10.0)
    view = SegmentTimeline()
    view.show_comparison(Comparison(sequential=sequential, parallel=rendered, identical=True))
    first, second = view.figure._widget_data
    assert [len(first["x"]), len(second["x"])] == [3, 3] and view.figure.layout.showlegend
    assert min(second["base"]) == pytest.approx(min(first["base"]) + 10.0, abs=2e-3)


def test_details_without_a_timeline_draw_nothing() -> None:
    view = SegmentTimeline()
    view.show_runs([("render", 0.0, ENTRIES)])
    assert not view.show_details("render", {"started_at": 5.0})  # recorded before timelines existed
    assert not view.show_details("compare", {"sequential": {"timeline": ENTRIES}})  # no parallel run
    assert list(view.runs) == ["render"] and view.bars == 3, "what was drawn stays"
    runs = {
        "sequential": {"started_at": 1.0, "timeline": ENTRIES},
        "parallel": {"started_at": 4.0, "timeline": ENTRIES},
    }
    assert view.show_details("compare", runs)
    assert list(view.runs) == ["sequential", "parallel"] and view.figure._widget_data[1]["base"] == [3.0, 3.5, 4.0]


def test_records_of_the_history(rendered: JobResult, history: History) -> None:
    view = SegmentTimeline()
    finished = history.get(history.record_job("render", "finished", result=rendered))
    assert view.show_record(finished) and view.bars == 3
    request = {"input": "clip.mp4", "output": "o.mp4", "filters": "grayscale", "workers": 2}
    failed = history.get(history.record_job("render", "failed", request=request, error="stopped"))
    assert not view.show_record(failed) and view.bars == 3


def test_segments_are_coloured_by_their_quality_with_pulses_and_scene_cuts_marked() -> None:
    entries = [
        {"index": 0, "worker": "w1", "start": 0.0, "end": 1.0, "psnr": 47.0, "ssim": 0.99, "vmaf": None, "crf": 23},
        {"index": 1, "worker": "w2", "start": 0.0, "end": 1.2, "psnr": 31.0, "ssim": 0.9, "vmaf": None, "crf": 23}
        | {"pulse": True, "cut": True},
        {"index": 2, "worker": "w1", "start": 1.0, "end": 2.0, "psnr": 40.0, "ssim": 0.97, "vmaf": 96.0, "crf": 26},
        {"index": 3, "worker": "w2", "start": 1.2, "end": 2.0, "psnr": None, "ssim": None, "vmaf": None, "crf": None},
    ]
    timeline = SegmentTimeline()
    timeline.show_runs([("render", 100.0, entries)])
    bar = timeline.figure._widget_data[0]  # what a page drawn now shows
    assert bar["marker"]["color"] == ["#2ca02c", "#d62728", "#2ca02c", "#1f77b4"]  # unmeasured: the run's colour
    assert bar["marker"]["line"]["color"][1] == "#d62728" and bar["marker"]["line"]["width"] == [1, 3, 1, 1]
    assert bar["text"][1] == "✂ #1"
    assert (
        "PSNR 31.0 dB, SSIM 0.900 · CRF 23 · the join before it pulses · starts on a scene cut" in bar["hovertext"][1]
    )
    assert "VMAF 96.0 · CRF 26" in bar["hovertext"][2]
    summary = timeline.summary.value
    assert "worst segment #1: PSNR 31.0 dB" in summary
    assert "1 join pulses (red outline)" in summary and "1 boundary on scene cuts" in summary
