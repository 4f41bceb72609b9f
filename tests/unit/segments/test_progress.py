"""progress.py: the progress channel between segment tasks and the caller.

Tasks report "FRAMES STATE" through status files replaced atomically (`FileReporter`, at most
every `WRITE_INTERVAL` unless forced; it raises `JobCancelledError` once the cancel marker
exists and never fails the task over a status it cannot write). `FolderStatus` reads them
back with the stitch and cancel markers. `ProgressPoller` turns statuses into events: a
segment's start (again if its frames go back: a re-run), its finish, stitching once, and a
frames event per poll, every event showing the whole job; finished segments stay finished,
unknown segments are ignored, a failing callback is kept in `error` and silences the rest.
`ProgressEvent` derives this run's speed and time left, excluding reused frames.
"""

from __future__ import annotations

import threading
import types
from pathlib import Path

import pytest

from renderrush.core.errors import JobCancelledError
from renderrush.jobs.plan import Segment
from renderrush.segments import progress
from renderrush.segments.progress import (
    DONE,
    FRAMES,
    RUNNING,
    SEGMENT_FINISHED,
    SEGMENT_STARTED,
    STITCHED,
    STITCHING,
    WRITE_INTERVAL,
    FileReporter,
    FolderStatus,
    ProgressEvent,
    ProgressPoller,
    Status,
    Throttle,
    cancel_marker,
    progress_path,
    read_status,
    stitch_marker,
    write_status,
)

SEGMENTS = [Segment(0, 0, 30), Segment(1, 30, 60), Segment(2, 60, 90)]


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(progress, "time", types.SimpleNamespace(monotonic=clock.monotonic))
    return clock


class Source:
    """A status source the test sets directly."""

    def __init__(self) -> None:
        self.statuses: dict[int, Status] = {}
        self.stitch = False
        self.cancelled = threading.Event()

    def __call__(self) -> dict[int, Status]:
        return dict(self.statuses)

    def stitching(self) -> bool:
        return self.stitch

    def request_cancel(self) -> None:
        self.cancelled.set()


def kinds(events: list[ProgressEvent]) -> list[tuple[str, int | None, int]]:
    return [(e.kind, e.segment, e.frames_done) for e in events]


# ---- events --------------------------------------------------------------------------------


def event(**fields: object) -> ProgressEvent:
    base: dict[str, object] = {
        "kind": FRAMES,
        "frames_done": 60,
        "frames_total": 90,
        "segments_done": 1,
        "segments_total": 3,
        "elapsed": 2.0,
    }
    return ProgressEvent(**{**base, **fields})  # type: ignore[arg-type]


def test_speed_and_time_left_count_only_frames_rendered_by_this_run() -> None:
    plain = event()
    assert plain.fps == 30.0 and plain.eta == 1.0
    resumed = event(frames_reused=30)
    assert resumed.fps == 15.0 and resumed.eta == 2.0


@pytest.mark.parametrize("fields", [{"elapsed": 0.0}, {"frames_done": 30, "frames_reused": 30}])
def test_before_the_first_rendered_frame_there_is_no_speed_or_time_left(fields: dict[str, object]) -> None:
    assert event(**fields).fps == 0.0 and event(**fields).eta is None


def test_an_event_as_a_dict_has_its_derived_values() -> None:
    assert event(segment=1, job="parallel").to_dict() == {
        "kind": FRAMES,
        "frames_done": 60,
        "frames_total": 90,
        "segments_done": 1,
        "segments_total": 3,
        "elapsed": 2.0,
        "segment": 1,
        "segment_frames_done": 0,
        "segment_frames_total": 0,
        "job": "parallel",
        "frames_reused": 0,
        "fps": 30.0,
        "eta": 1.0,
    }


# ---- files -----------------------------------------------------------------------------------


def test_the_channels_files_are_named_inside_the_job_folder(tmp_path: Path) -> None:
    assert progress_path(tmp_path, 12) == tmp_path / "segment-00012.progress"
    assert cancel_marker(tmp_path) == tmp_path / "cancel.requested"
    assert stitch_marker(tmp_path) == tmp_path / "stitch.started"


def test_a_status_is_written_whole_and_read_back(tmp_path: Path) -> None:
    path = progress_path(tmp_path, 0)
    assert read_status(path) is None, "not started"
    write_status(path, 17, RUNNING)
    assert path.read_text() == "17 running" and read_status(path) == (17, RUNNING)
    write_status(path, 30, DONE)
    assert read_status(path) == (30, DONE)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["segment-00000.progress"], "no temporaries left"


@pytest.mark.parametrize("text", ["", "17", "17 running now", "many running"])
def test_a_status_that_does_not_parse_is_no_status(tmp_path: Path, text: str) -> None:
    path = progress_path(tmp_path, 0)
    path.write_text(text)
    assert read_status(path) is None


def test_the_throttle_lets_one_call_through_per_interval(clock: Clock) -> None:
    due = Throttle(interval=0.5)
    assert due(False), "the first call is due"
    clock.now += 0.4
    assert not due(False)
    assert due(True), "forced"
    clock.now += 0.4
    assert not due(False), "the forced call restarted the interval"
    clock.now += 0.1
    assert due(False)
    assert Throttle().interval == WRITE_INTERVAL


def test_the_file_reporter_writes_due_and_forced_statuses(tmp_path: Path, clock: Clock) -> None:
    path = progress_path(tmp_path, 3)
    reporter = FileReporter(path)
    reporter.update(0, force=True)
    assert read_status(path) == (0, RUNNING)
    reporter.update(5)
    assert read_status(path) == (0, RUNNING), "too soon: skipped"
    clock.now += WRITE_INTERVAL
    reporter.update(9)
    assert read_status(path) == (9, RUNNING)
    reporter.update(30, DONE, force=True)
    assert read_status(path) == (30, DONE)


def test_the_file_reporter_stops_the_task_once_cancelled(tmp_path: Path, clock: Clock) -> None:
    path = progress_path(tmp_path, 0)
    reporter = FileReporter(path)
    reporter.update(4, force=True)
    FolderStatus(tmp_path, SEGMENTS).request_cancel()
    with pytest.raises(JobCancelledError, match="the job was cancelled; no output was written"):
        reporter.update(5, force=True)
    assert read_status(path) == (4, RUNNING), "nothing written after the cancel"


def test_a_status_that_cannot_be_written_does_not_fail_the_task(tmp_path: Path) -> None:
    reporter = FileReporter(tmp_path / "gone" / "segment-00000.progress")
    reporter.update(1, force=True)
    assert not (tmp_path / "gone").exists()


def test_the_folder_status_reads_what_the_tasks_wrote(tmp_path: Path) -> None:
    status = FolderStatus(tmp_path, SEGMENTS)
    assert status() == {} and not status.stitching()
    write_status(progress_path(tmp_path, 0), 30, DONE)
    write_status(progress_path(tmp_path, 2), 7, RUNNING)
    write_status(progress_path(tmp_path, 9), 1, RUNNING)  # not a segment of this job
    assert status() == {0: (30, DONE), 2: (7, RUNNING)}
    stitch_marker(tmp_path).touch()
    assert status.stitching()
    status.request_cancel()
    assert cancel_marker(tmp_path).exists()


# ---- the poller --------------------------------------------------------------------------------


def test_the_poller_reports_starts_frames_finishes_and_stitching() -> None:
    source, events = Source(), list[ProgressEvent]()
    poller = ProgressPoller(source, SEGMENTS, events.append, label="parallel", frames_reused=0)
    poller.poll()
    assert kinds(events) == [(FRAMES, None, 0)], "a frames event even before anything started"
    source.statuses = {0: (0, RUNNING), 1: (12, RUNNING)}
    poller.poll()
    source.statuses[0] = (10, RUNNING)
    poller.poll()
    source.statuses[0] = (30, DONE)
    poller.poll()
    source.stitch = True
    poller.poll()
    poller.poll()
    assert kinds(events[1:]) == [
        (SEGMENT_STARTED, 0, 12),  # every event shows the whole job: segment 1's frames too
        (SEGMENT_STARTED, 1, 12),
        (FRAMES, None, 12),
        (FRAMES, None, 22),
        (SEGMENT_FINISHED, 0, 42),
        (FRAMES, None, 42),
        (STITCHING, None, 42),
        (FRAMES, None, 42),
        (FRAMES, None, 42),
    ]
    finished = events[5]
    assert (finished.segments_done, finished.segment_frames_done, finished.segment_frames_total) == (1, 30, 30)
    assert {(e.frames_total, e.segments_total, e.job) for e in events} == {(90, 3, "parallel")}


def test_a_segment_whose_frames_go_back_was_restarted() -> None:
    source, events = Source(), list[ProgressEvent]()
    poller = ProgressPoller(source, SEGMENTS, events.append)
    source.statuses = {1: (20, RUNNING)}
    poller.poll()
    source.statuses = {1: (3, RUNNING)}  # its worker died: another one renders it again
    poller.poll()
    assert kinds(events) == [(SEGMENT_STARTED, 1, 20), (FRAMES, None, 20), (SEGMENT_STARTED, 1, 3), (FRAMES, None, 3)]


def test_finished_and_unknown_segments_do_not_change_the_count() -> None:
    source, events = Source(), list[ProgressEvent]()
    poller = ProgressPoller(source, SEGMENTS, events.append)
    source.statuses = {2: (30, DONE), 7: (5, RUNNING)}
    poller.poll()
    source.statuses = {2: (0, RUNNING), 7: (9, RUNNING)}  # a stale status after the finish
    poller.poll()
    assert kinds(events) == [
        (SEGMENT_STARTED, 2, 30),
        (SEGMENT_FINISHED, 2, 30),
        (FRAMES, None, 30),
        (FRAMES, None, 30),
    ]
    assert events[-1].segments_done == 1


def test_reused_frames_are_counted_done_but_not_as_speed(clock: Clock) -> None:
    source, events = Source(), list[ProgressEvent]()
    poller = ProgressPoller(source, SEGMENTS, events.append, frames_reused=30)
    clock.now += 2.0
    source.statuses = {0: (30, DONE), 1: (30, RUNNING)}
    poller.poll()
    last = events[-1]
    assert (last.frames_done, last.frames_reused, last.elapsed) == (60, 30, 2.0)
    assert last.fps == 15.0 and last.eta == 2.0


def test_a_failing_callback_is_kept_and_silences_the_poller() -> None:
    source, calls = Source(), list[str]()

    def callback(event: ProgressEvent) -> None:
        calls.append(event.kind)
        raise ValueError("widget closed")

    poller = ProgressPoller(source, SEGMENTS, callback)
    source.statuses = {0: (1, RUNNING)}
    poller.poll()
    source.statuses = {0: (30, DONE)}
    poller.poll()
    poller.emit(STITCHED)
    assert calls == [SEGMENT_STARTED] and isinstance(poller.error, ValueError)


def test_leaving_the_poller_reports_the_final_state_unless_the_job_failed() -> None:
    source, events = Source(), list[ProgressEvent]()
    with ProgressPoller(source, SEGMENTS, events.append, interval=60):
        source.statuses = {0: (30, DONE), 1: (30, DONE), 2: (30, DONE)}
    assert events[-1].kind == FRAMES and events[-1].frames_done == 90 and events[-1].segments_done == 3
    events.clear()
    with pytest.raises(RuntimeError):
        with ProgressPoller(source, SEGMENTS, events.append, interval=60):
            raise RuntimeError("segment failed")
    assert events == []


def test_emit_sends_a_job_level_event() -> None:
    source, events = Source(), list[ProgressEvent]()
    poller = ProgressPoller(source, SEGMENTS, events.append, label="sequential")
    source.statuses = {0: (30, DONE)}
    poller.poll()
    poller.emit(STITCHED)
    assert (events[-1].kind, events[-1].segment, events[-1].frames_done, events[-1].job) == (
        STITCHED,
        None,
        30,
        "sequential",
    )


def test_the_callers_cancel_request_reaches_the_tasks() -> None:
    source, cancel = Source(), threading.Event()
    with ProgressPoller(source, SEGMENTS, None, interval=0.01, cancel=cancel):
        cancel.set()
        assert source.cancelled.wait(timeout=10), "the poller passes the cancel on without a callback too"


def test_a_poller_with_nothing_to_tell_starts_no_thread() -> None:
    def threads() -> set[str]:
        return {thread.name for thread in threading.enumerate()}

    with ProgressPoller(Source(), SEGMENTS, None):
        assert "renderrush-progress" not in threads()
    with ProgressPoller(Source(), SEGMENTS, lambda event: None, interval=60):
        assert "renderrush-progress" in threads()
    assert "renderrush-progress" not in threads(), "stopped on leaving"
