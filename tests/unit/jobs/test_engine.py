"""The job layer (`renderrush.jobs.engine`): `backend_for` picks where segments run from the
scheduler option (a backend object as given, a dask cluster, or this machine); `run_job`
checks the output, prepares the job folder, hands the backend a `Work` and turns its run
into a `JobResult`, removing the folder afterwards except after Ctrl-C (kept for resume);
`replanned` retries once from a decode pass after a `TimelineError`; `render` merges an
options object with keywords and runs all that inside one recorded job.

A fake backend stands in for the real ones, so nothing is encoded: its output is a copy
of the input and its segments are described, not rendered."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from renderrush import History, make_sample_video, render
from renderrush.backends.base import BackendRun, Work
from renderrush.backends.cluster import DaskBackend
from renderrush.backends.local import LocalBackend
from renderrush.core.errors import (
    DiskSpaceError,
    JobCancelledError,
    OutputError,
    SegmentError,
    SettingsError,
    TimelineError,
)
from renderrush.core.layout import MANIFEST, timing_path
from renderrush.jobs import engine
from renderrush.jobs.options import RenderOptions
from renderrush.jobs.plan import plan_job
from renderrush.recording import limits
from renderrush.segments.jobfolder import JobFolder, OutputLock
from renderrush.segments.progress import ProgressEvent
from renderrush.segments.render import SegmentResult, write_timestamps

CLIP_FRAMES = 90


class FakeBackend:
    """Describes one result per pending segment and copies the input as the output.

    `before(work, cancel)` runs first (it may raise, or leave files in the job folder);
    `run_fields` replace what the returned `BackendRun` says about the run."""

    def __init__(self, before: Callable[[Work, threading.Event | None], None] | None = None, **run_fields: Any) -> None:
        self.before = before
        self.run_fields = run_fields
        self.works: list[Work] = []
        self.cancels: list[threading.Event | None] = []

    def run(self, work: Work, cancel: threading.Event | None) -> BackendRun:
        self.works.append(work)
        self.cancels.append(cancel)
        if self.before is not None:
            self.before(work, cancel)
        shutil.copyfile(work.info.path, work.output)
        rendered = [
            SegmentResult(s.index, s.frames, 0.01, str(work.folder.segment_file(s.index)), 10, 1) for s in work.pending
        ]
        results = sorted([*work.reused, *rendered], key=lambda r: r.index)
        fields: dict[str, Any] = dict(scheduler="fake", workers=work.workers, threads_per_worker=1)
        fields.update(self.run_fields)
        return BackendRun(results, fields.pop("stitch_seconds", 0.0), fields.pop("dropped", []), **fields)


def options_for(backend: object, **values: Any) -> RenderOptions:
    return RenderOptions(scheduler=backend, history=False, **{"workers": 3, "segment_seconds": 1, **values})


def test_default_workers_is_every_usable_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "available_cores", lambda: 5)
    assert engine.default_workers() == 5


def test_a_backend_object_is_used_as_given() -> None:
    backend = FakeBackend()
    assert engine.backend_for(RenderOptions(scheduler=backend)) is backend


@pytest.mark.parametrize(
    ("scheduler", "expected"),
    [("sync", "sync"), ("threads", "threads"), ("processes", "processes"), ("sequential", "sync")],
)
def test_local_scheduler_names_run_on_this_machine(scheduler: str, expected: str) -> None:
    assert engine.backend_for(RenderOptions(scheduler=scheduler)) == LocalBackend(expected)


class FakeClient:
    """What `is_cluster` recognises a `distributed.Client` by (it has a `run` method too)."""

    def submit(self) -> None: ...

    def scheduler_info(self) -> None: ...

    def run(self) -> None: ...


@pytest.mark.parametrize("scheduler", ["local", "tcp://10.0.0.5:8786", "10.0.0.5:8786", FakeClient()])
@pytest.mark.parametrize("shared_storage", [False, True])
def test_clusters_run_on_a_dask_backend(scheduler: object, shared_storage: bool) -> None:
    backend = engine.backend_for(RenderOptions(scheduler=scheduler, shared_storage=shared_storage))
    assert backend == DaskBackend(scheduler, shared_storage)


def test_run_job_hands_the_backend_the_whole_plan(clip: Path, tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    def look(work: Work, cancel: threading.Event | None) -> None:
        seen["manifest"] = json.loads((work.folder.path / MANIFEST).read_text())
        seen["locked"] = work.folder.lock.held

    backend = FakeBackend(look)
    options = options_for(backend, label="mine")
    plan = plan_job(clip, options)
    cancel = threading.Event()
    events: list[ProgressEvent] = []
    engine.run_job(plan, tmp_path / "o.mp4", options, progress=events.append, cancel=cancel)
    (work,) = backend.works
    assert work.info is plan.info and work.chain is plan.chain and work.encode == plan.encode
    assert work.workers == 3 and work.segments == plan.segments
    assert [(s.start, s.stop) for s in work.pending] == [(0, 30), (30, 60), (60, 90)]
    assert work.reused == []
    assert work.output == (tmp_path / "o.mp4").absolute()
    assert work.folder.path == JobFolder(tmp_path / "o.mp4").path
    assert work.progress == events.append and work.label == "mine"
    assert backend.cancels == [cancel]
    assert seen["locked"] and [s["start"] for s in seen["manifest"]["segments"]] == [0, 30, 60]


def test_run_job_reports_the_backends_run(clip: Path, tmp_path: Path) -> None:
    backend = FakeBackend(
        scheduler="distributed (fake)",
        workers=5,
        threads_per_worker=2,
        stitch_seconds=0.25,
        dropped=["chapters"],
        worker_metrics=[{"t": 0.0, "worker": "w"}],
        input_bytes_to_workers=123,
        output_bytes_from_workers=456,
    )
    options = options_for(backend, preset="fast", crf=30)
    plan = plan_job(clip, options)
    before = time.time()
    result = engine.run_job(plan, tmp_path / "o.mp4", options)
    assert (result.input, result.output) == (plan.info.path, (tmp_path / "o.mp4").absolute())
    assert (result.filters, result.scheduler, result.workers, result.threads_per_worker) == (
        "none",
        "distributed (fake)",
        5,
        2,
    )
    assert (result.segment_seconds, result.encode.preset, result.encode.crf) == (1.0, "fast", 30)
    assert result.info is plan.info
    assert (result.frames, [s.index for s in result.segments]) == (CLIP_FRAMES, [0, 1, 2])
    assert result.stitch_seconds == 0.25 and result.worker_metrics == [{"t": 0.0, "worker": "w"}]
    assert (result.input_bytes_to_workers, result.output_bytes_from_workers) == (123, 456)
    assert result.warnings == ["not kept: chapters"]
    assert result.recommendation is None  # workers were given
    assert before <= result.started_at <= time.time()
    assert result.output.read_bytes() == clip.read_bytes()
    assert not JobFolder(result.output).path.exists() and not OutputLock(result.output).path.exists()


def test_segment_bytes_from_the_backend_are_not_kept_in_the_result(clip: Path, tmp_path: Path) -> None:
    class BytesBackend(FakeBackend):
        def run(self, work: Work, cancel: threading.Event | None) -> BackendRun:
            run = super().run(work, cancel)
            run.results = [SegmentResult(r.index, r.frames, 0.0, "", 3, 1, data=b"abc") for r in run.results]
            return run

    options = options_for(BytesBackend())
    result = engine.run_job(plan_job(clip, options), tmp_path / "o.mp4", options)
    assert [s.data for s in result.segments] == [None, None, None]
    assert [s.bytes for s in result.segments] == [3, 3, 3]


def test_the_segment_timeline_is_read_before_the_job_folder_goes(clip: Path, tmp_path: Path) -> None:
    def time_segments(work: Work, cancel: threading.Event | None) -> None:
        now = time.time()
        for s in work.pending:
            timing = {"start": now + s.index, "end": now + s.index + 0.5, "worker": f"w{s.index % 2}"}
            timing_path(work.folder.segment_file(s.index)).write_text(json.dumps(timing))

    options = options_for(FakeBackend(time_segments))
    result = engine.run_job(plan_job(clip, options), tmp_path / "o.mp4", options)
    timeline = result.segment_timeline
    assert [(e["index"], e["worker"], e["frames"], e["reused"]) for e in timeline] == [
        (0, "w0", 30, False),
        (1, "w1", 30, False),
        (2, "w0", 30, False),
    ]
    assert [e["end"] - e["start"] for e in timeline] == pytest.approx([0.5] * 3, abs=1e-3)
    assert [e["start"] for e in timeline] == sorted(e["start"] for e in timeline)
    assert not JobFolder(result.output).path.exists()


def test_without_workers_the_advisors_recommendation_is_reported(clip: Path, tmp_path: Path) -> None:
    backend = FakeBackend()
    options = RenderOptions(scheduler=backend, history=False)
    plan = plan_job(clip, options)
    assert plan.recommendation is not None
    result = engine.run_job(plan, tmp_path / "o.mp4", options)
    assert result.recommendation == plan.recommendation.to_dict()
    assert result.workers == plan.workers == backend.works[0].workers


def test_a_failed_backend_leaves_no_folder_no_lock_and_no_output(clip: Path, tmp_path: Path) -> None:
    def fail(work: Work, cancel: threading.Event | None) -> None:
        raise SegmentError(2, "decoder exploded")

    options = options_for(FakeBackend(fail))
    with pytest.raises(SegmentError, match="segment 2 failed: decoder exploded"):
        engine.run_job(plan_job(clip, options), tmp_path / "o.mp4", options)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_ctrl_c_keeps_the_folder_but_frees_the_output(clip: Path, tmp_path: Path) -> None:
    def interrupt(work: Work, cancel: threading.Event | None) -> None:
        raise KeyboardInterrupt

    options = options_for(FakeBackend(interrupt))
    with pytest.raises(KeyboardInterrupt):
        engine.run_job(plan_job(clip, options), tmp_path / "o.mp4", options)
    folder = JobFolder(tmp_path / "o.mp4")
    assert (folder.path / MANIFEST).is_file()
    assert not folder.lock.path.exists()
    # a fresh job (no resume) may take the output over at once
    again = options_for(FakeBackend())
    engine.run_job(plan_job(clip, again), tmp_path / "o.mp4", again)
    assert not folder.path.exists()


@pytest.fixture(scope="module")
def one_second(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 frames of H.264: stands for a finished first segment of `clip`."""
    return make_sample_video(tmp_path_factory.mktemp("engine") / "first.mp4", seconds=1, size=(64, 48), audio=False)


def test_resume_hands_the_backend_only_unfinished_segments(clip: Path, one_second: Path, tmp_path: Path) -> None:
    def finish_first_then_interrupt(work: Work, cancel: threading.Event | None) -> None:
        target = work.folder.segment_file(0)
        write_timestamps(target, [3000 * i for i in range(30)])
        shutil.copyfile(one_second, target)
        raise KeyboardInterrupt

    first = options_for(FakeBackend(finish_first_then_interrupt))
    with pytest.raises(KeyboardInterrupt):
        engine.run_job(plan_job(clip, first), tmp_path / "o.mp4", first)
    backend = FakeBackend()
    again = options_for(backend, resume=True)
    result = engine.run_job(plan_job(clip, again), tmp_path / "o.mp4", again)
    (work,) = backend.works
    assert [s.index for s in work.pending] == [1, 2]
    (reused,) = work.reused
    assert (reused.index, reused.frames, reused.reused) == (0, 30, True)
    assert reused.pts == tuple(3000 * i for i in range(30))
    assert (result.frames, result.frames_reused) == (CLIP_FRAMES, 30)
    assert [e["worker"] for e in result.segment_timeline][0] is None  # a reused segment ran nowhere this time


def test_a_resumed_job_reports_its_own_segments_not_the_new_advice(clip: Path, tmp_path: Path) -> None:
    """Interrupted with 3 one-second segments, resumed without options: the advisor would
    plan other segments, but the job goes on with its first plan's, and says so."""

    def interrupt(work: Work, cancel: threading.Event | None) -> None:
        raise KeyboardInterrupt

    first = options_for(FakeBackend(interrupt))  # 3 workers, 1 s segments
    with pytest.raises(KeyboardInterrupt):
        engine.run_job(plan_job(clip, first), tmp_path / "o.mp4", first)
    backend = FakeBackend()
    again = RenderOptions(scheduler=backend, history=False, resume=True)
    plan = plan_job(clip, again)
    assert plan.recommendation is not None and len(plan.segments) != 3, "the advice alone plans otherwise"
    result = engine.run_job(plan, tmp_path / "o.mp4", again)
    assert len(result.segments) == 3
    advice = result.recommendation
    assert advice is not None and advice["segments"] == 3
    assert advice["reason"].startswith("Resuming the interrupted run with its own segments (0 rendered already): ")
    assert "3 segments of about 1.0 s" in advice["reason"] and advice["segment_seconds"] == pytest.approx(1.0)


def test_given_segment_length_is_the_one_the_advice_describes(clip: Path) -> None:
    plan = plan_job(clip, RenderOptions(segment_seconds=0.5, scheduler="threads", history=False))
    advice = plan.recommendation
    assert advice is not None and len(plan.segments) == advice.segments == 6
    assert advice.segment_seconds == plan.segment_seconds == 0.5
    assert (
        "6 segments of 0.5 s as asked" in advice.reason or "0.5 s segments (as asked) make 6 segments" in advice.reason
    )


def test_a_cancelled_job_never_reaches_the_backend(clip: Path, tmp_path: Path) -> None:
    backend, cancel = FakeBackend(), threading.Event()
    cancel.set()
    options = options_for(backend)
    with pytest.raises(JobCancelledError):
        engine.run_job(plan_job(clip, options), tmp_path / "o.mp4", options, cancel=cancel)
    assert backend.works == [] and list(tmp_path.iterdir()) == []


def test_the_output_is_checked_before_any_work(clip: Path, tmp_path: Path) -> None:
    backend = FakeBackend()
    options = options_for(backend)
    plan = plan_job(clip, options)
    with pytest.raises(OutputError, match="must end in one of"):
        engine.run_job(plan, tmp_path / "o.avi", options)
    source = tmp_path / "in.mp4"
    shutil.copyfile(clip, source)
    with pytest.raises(OutputError, match="is the input file"):
        engine.run_job(plan_job(source, options), source, options)
    assert backend.works == [] and sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def test_too_little_disk_space_stops_the_job_unless_forced(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    full = SimpleNamespace(disk_usage=lambda path: SimpleNamespace(total=10**12, used=10**12, free=1000))
    monkeypatch.setattr(limits, "shutil", full)
    backend = FakeBackend()
    options = options_for(backend)
    with pytest.raises(DiskSpaceError, match="not enough free disk space"):
        engine.run_job(plan_job(clip, options), tmp_path / "o.mp4", options)
    assert backend.works == [] and list(tmp_path.iterdir()) == []
    forced = options.replace(force=True)
    assert engine.run_job(plan_job(clip, forced), tmp_path / "o.mp4", forced).frames == CLIP_FRAMES


def test_replanned_tries_once_more_from_a_decode_pass() -> None:
    calls: list[bool] = []

    def flaky(decode_pass: bool) -> str:
        calls.append(decode_pass)
        if not decode_pass:
            raise TimelineError(1, "frames out of order")
        return "decoded"

    assert engine.replanned(flaky) == "decoded" and calls == [False, True]
    calls.clear()

    def fine(decode_pass: bool) -> str:
        calls.append(decode_pass)
        return "first"

    assert engine.replanned(fine) == "first" and calls == [False]


def test_replanned_gives_up_after_the_decode_pass_and_on_other_errors() -> None:
    calls: list[bool] = []

    def always(decode_pass: bool) -> None:
        calls.append(decode_pass)
        raise TimelineError(0, f"decode_pass={decode_pass}")

    with pytest.raises(TimelineError, match="decode_pass=True"):
        engine.replanned(always)
    assert calls == [False, True]
    calls.clear()

    def broken(decode_pass: bool) -> None:
        calls.append(decode_pass)
        raise SegmentError(0, "not a timeline problem")

    with pytest.raises(SegmentError, match="not a timeline problem"):
        engine.replanned(broken)
    assert calls == [False]


def test_render_keywords_amend_the_options_object(clip: Path, tmp_path: Path) -> None:
    backend = FakeBackend()
    options = RenderOptions(filters="grayscale", workers=2, segment_seconds=1.5, crf=30, label="base", history=False)
    render(clip, tmp_path / "a.mp4", options=options, scheduler=backend, label="mine")
    render(clip, tmp_path / "b.mp4", "invert", options=options, scheduler=backend, crf=18)
    first, second = backend.works
    assert (str(first.chain), first.workers, first.encode.crf, first.label) == ("grayscale", 2, 30, "mine")
    assert [s.frames for s in first.segments] == [45, 45]
    assert (str(second.chain), second.encode.crf, second.label) == ("invert", 18, "base")
    assert options.crf == 30 and str(options.filters) == "grayscale"  # the caller's object is left as it was


def test_render_passes_the_merged_options_to_backend_for(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[RenderOptions] = []
    backend = FakeBackend()

    def fake_backend_for(options: RenderOptions) -> FakeBackend:
        asked.append(options)
        return backend

    monkeypatch.setattr(engine, "backend_for", fake_backend_for)
    result = render(
        clip, tmp_path / "o.mp4", "invert", scheduler="multiprocessing", workers=2, force=True, history=False
    )
    (options,) = asked
    assert (options.scheduler, options.workers, options.force, str(options.chain)) == ("processes", 2, True, "invert")
    assert result.scheduler == "fake" and len(backend.works) == 1


def test_render_refuses_an_unknown_keyword_before_any_work(clip: Path, tmp_path: Path) -> None:
    backend = FakeBackend()
    with pytest.raises(SettingsError, match=r"unknown option 'wokers' \(did you mean 'workers'\?\)"):
        render(clip, tmp_path / "o.mp4", wokers=2, scheduler=backend, history=False)
    assert backend.works == [] and list(tmp_path.iterdir()) == []


def test_render_replans_from_a_decode_pass_within_one_recorded_job(clip: Path, tmp_path: Path) -> None:
    def timeline_fails_once(work: Work, cancel: threading.Event | None) -> None:
        if work.info.timeline == "packets":
            raise TimelineError(1, "a frame decoded after frame 30 has no timestamp")

    backend, history = FakeBackend(timeline_fails_once), History(tmp_path / "h.sqlite3")
    result = render(clip, tmp_path / "o.mp4", workers=2, segment_seconds=1.5, scheduler=backend, history=history)
    assert [w.info.timeline for w in backend.works] == ["packets", "decoded"]
    assert result.info.timeline == "decoded" and result.frames == CLIP_FRAMES
    (record,) = history.list()
    assert (record.id, record.status) == (result.job_id, "finished")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.sqlite3", "o.mp4"]


def test_render_fails_when_the_decode_pass_does_not_help(clip: Path, tmp_path: Path) -> None:
    def timeline_fails(work: Work, cancel: threading.Event | None) -> None:
        raise TimelineError(1, f"timeline {work.info.timeline}")

    backend, history = FakeBackend(timeline_fails), History(tmp_path / "h.sqlite3")
    with pytest.raises(TimelineError, match="timeline decoded") as caught:
        render(clip, tmp_path / "o.mp4", workers=2, scheduler=backend, history=history)
    assert len(backend.works) == 2
    (record,) = history.list()
    assert (record.id, record.status) == (caught.value.job_id, "failed")


def test_render_hands_the_backend_a_cancel_that_follows_the_callers(clip: Path, tmp_path: Path) -> None:
    cancel = threading.Event()
    seen: list[bool] = []

    def press_cancel(work: Work, backend_cancel: threading.Event | None) -> None:
        assert backend_cancel is not None
        seen.append(backend_cancel.is_set())
        cancel.set()
        seen.append(backend_cancel.is_set())

    backend = FakeBackend(press_cancel)
    render(clip, tmp_path / "o.mp4", workers=2, scheduler=backend, cancel=cancel, history=False)
    assert seen == [False, True]
    assert backend.cancels[0] is not cancel  # the memory guard can set it without touching the caller's event
