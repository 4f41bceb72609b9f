"""`renderrush.ui.progress`: the progress view follows the engine's events: a total bar with
frames/s, ETA and elapsed time, one bar per segment (green when finished), fresh bars for a
new job or a comparison's second run, and an end state that says how the job ended."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from renderrush.segments.progress import ProgressEvent
from renderrush.ui import ProgressView

EventFactory = Callable[..., ProgressEvent]


def test_progress_view_follows_events(event: EventFactory) -> None:
    view = ProgressView()
    view.reset(3)
    assert len(view.segment_bars) == 3 and view.state == "running"
    view.update(event("segment_started", 10, 0.5, segment=0, seg_done=10))
    assert view.total.value == pytest.approx(10 / 90) and view.segment_fractions[0] == pytest.approx(1 / 3)
    assert "20 frames/s" in view.status.value and "ETA 4.0 s" in view.status.value
    view.update(event("segment_finished", 30, 1.0, segment=0, seg_done=30, segments_done=1))
    assert view.segment_bars[0].bar_style == "success" and "segments 1/3" in view.status.value
    view.tick(2.5)
    assert "elapsed 2.5 s" in view.status.value
    view.update(event("stitched", 90, 3.0, segments_done=3))
    assert view.total.value == 1.0 and view.total.bar_style == "success"
    view.update(event("frames", 45, 1.0, job="parallel"))  # a comparison's second run: fresh bars
    assert view.total.description == "Parallel run" and view.segment_fractions == [0.0, 0.0, 0.0]
    view.finish("cancelled", ok=False)
    assert view.state == "failed" and view.total.bar_style == "danger" and view.status.value == "cancelled"


def test_a_new_view_is_idle_and_ignores_ticks() -> None:
    view = ProgressView(title="Job <1>")
    assert (view.state, view.frames_done, view.frames_total, view.fps, view.eta) == ("idle", 0, 0, 0.0, None)
    assert view.segment_bars == [] and view.heading.value == "<b>Job &lt;1&gt;</b>"
    view.tick(3.0)
    assert view.status.value == "Waiting for a job." and repr(view) == "<ProgressView: idle>"


def test_ticks_before_the_first_event_say_it_is_preparing(event: EventFactory) -> None:
    view = ProgressView()
    view.reset(2, job="sequential")
    assert view.status.value == "Starting…" and view.total.description == "Sequential run"
    view.tick(1.3)
    assert view.status.value == "Preparing… elapsed 1.3 s"
    view.update(event("frames", 30, 2.0, job="sequential"))
    view.tick(1.0)  # a tick older than the event never moves the clock back
    assert "elapsed 2.0 s" in view.status.value
    assert (view.frames_done, view.frames_total, view.fps, view.eta) == (30, 90, 15.0, 4.0)


def test_status_names_the_stage(event: EventFactory) -> None:
    view = ProgressView()
    view.update(event("frames", 90, 3.0, segments_done=2))  # every frame in, the last segment still encoding
    assert view.status.value.endswith("segments 2/3 · elapsed 3.0 s · finishing segments"), view.status.value
    assert "stitching" not in view.status.value, "never stitching before segments 3/3"
    view.update(event("frames", 90, 3.1, segments_done=3))  # all done: the stitch is next (its event may lag)
    assert view.status.value.endswith("segments 3/3 · elapsed 3.1 s · stitching") and view.state == "running"
    view.update(event("stitching", 90, 3.2, segments_done=3))
    assert view.status.value.endswith(" · stitching")
    view.update(event("frames", 90, 3.3, segments_done=3))
    assert view.status.value.endswith(" · stitching"), "still stitching until stitched"
    view.update(event("stitched", 90, 3.5))
    assert view.status.value.endswith(" · done") and "ETA 0 s" in view.status.value
    view.tick(9.0)  # a stitched job's clock stands still
    assert "elapsed 3.5 s" in view.status.value


def test_bars_follow_the_segment_count(event: EventFactory) -> None:
    view = ProgressView()
    view.reset(5)
    assert len(view._segments_box.children) == 5
    view.reset(2)  # fewer segments: bars dropped
    assert len(view.segment_bars) == 2 and view._segments_box.children == tuple(view.segment_bars)
    view.update(event("segment_started", 0, 0.1, segment=2, seg_done=15))  # events know there are 3
    assert [bar.description for bar in view.segment_bars] == ["#0", "#1", "#2"]
    assert view.segment_fractions == [0.0, 0.0, 0.5] and view.segment_bars[2].bar_style == "info"
    view.update(event("segment_started", 0, 0.2, segment=7))  # out of range: ignored
    assert len(view.segment_bars) == 3 and view.events == 2


def test_finish_marks_the_end(event: EventFactory) -> None:
    view = ProgressView()
    view.update(event("segment_finished", 30, 1.0, segment=0, seg_done=30, segments_done=1))
    view.update(event("segment_started", 40, 1.2, segment=1, seg_done=10))
    view.finish("failed: <disk full>", ok=False)
    assert [bar.bar_style for bar in view.segment_bars] == ["success", "danger", "danger"]
    assert view.status.value == "failed: &lt;disk full&gt;" and view.total.value == pytest.approx(40 / 90)
    view.update(event("frames", 10, 0.5))  # an event after the end starts a new job
    assert view.state == "running" and view.events == 1 and view.segment_fractions == [0.0, 0.0, 0.0]
    view.finish("rendered")
    assert (view.state, view.total.value, view.total.bar_style) == ("finished", 1.0, "success")
    assert repr(view) == "<ProgressView: finished>"
