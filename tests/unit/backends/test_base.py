"""The job layer over the Backend seam, checked with a fake backend that renders
nothing: what it is handed, what the job reports and records, and how the job folder
ends, without encoding video."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

from renderrush import History, compare, render
from renderrush.backends.base import BackendRun, Work
from renderrush.core.errors import JobCancelledError, SegmentError
from renderrush.jobs import plan as plan_module
from renderrush.jobs.options import RenderOptions
from renderrush.segments.jobfolder import JobFolder
from renderrush.segments.render import SegmentResult


class FakeBackend:
    """Hands back one result per pending segment and copies the input as the output."""

    def __init__(self, fail: BaseException | None = None) -> None:
        self.fail = fail
        self.works: list[Work] = []

    def run(self, work: Work, cancel: threading.Event | None) -> BackendRun:
        self.works.append(work)
        assert work.folder.path.is_dir()  # prepared (and locked) before the backend runs
        if self.fail is not None:
            raise self.fail
        if cancel is not None and cancel.is_set():
            raise JobCancelledError()
        shutil.copyfile(work.info.path, work.output)
        rendered = [SegmentResult(s.index, s.frames, 0.01, "", 0, os.getpid(), worker="fake") for s in work.pending]
        results = sorted([*work.reused, *rendered], key=lambda r: r.index)
        return BackendRun(results, 0.0, [], scheduler="fake", workers=work.workers, threads_per_worker=1)


def test_the_backend_gets_the_whole_plan_and_the_job_reports_its_run(clip: Path, tmp_path: Path) -> None:
    backend, history = FakeBackend(), History(tmp_path / "h.sqlite3")
    result = render(
        clip, tmp_path / "o.mp4", "invert", workers=3, segment_seconds=1, scheduler=backend, history=history
    )
    (work,) = backend.works
    assert [(s.start, s.stop) for s in work.segments] == [(0, 30), (30, 60), (60, 90)]
    assert work.pending == work.segments and work.reused == [] and work.workers == 3
    assert str(work.chain) == "invert" and work.output == tmp_path / "o.mp4"
    assert (result.scheduler, result.workers, result.frames, len(result.segments)) == ("fake", 3, 90, 3)
    assert [entry["worker"] for entry in result.segment_timeline] == ["fake"] * 3
    assert not JobFolder(tmp_path / "o.mp4").path.exists()  # the job folder goes with the job
    (record,) = history.list()
    assert (record.id, record.status, record.scheduler) == (result.job_id, "finished", "fake")


def test_a_failing_backend_is_recorded_with_its_id_and_leaves_nothing(clip: Path, tmp_path: Path) -> None:
    backend, history = FakeBackend(fail=SegmentError(1, "decoder exploded")), History(tmp_path / "h.sqlite3")
    with pytest.raises(SegmentError, match="segment 1 failed: decoder exploded") as caught:
        render(clip, tmp_path / "o.mp4", workers=2, scheduler=backend, history=history)
    (record,) = history.list()
    assert record.status == "failed" and "decoder exploded" in (record.error or "")
    assert caught.value.job_id == record.id
    assert not (tmp_path / "o.mp4").exists() and not JobFolder(tmp_path / "o.mp4").path.exists()


def test_an_interrupted_job_keeps_its_folder_for_resume(clip: Path, tmp_path: Path) -> None:
    history = History(tmp_path / "h.sqlite3")
    with pytest.raises(KeyboardInterrupt):
        render(clip, tmp_path / "o.mp4", workers=2, scheduler=FakeBackend(fail=KeyboardInterrupt()), history=history)
    assert JobFolder(tmp_path / "o.mp4").path.is_dir()
    assert history.list()[0].status == "interrupted"
    backend = FakeBackend()
    render(clip, tmp_path / "o.mp4", workers=2, scheduler=backend, resume=True, history=False)
    assert backend.works[0].segments  # the same job takes its folder over


def test_cancel_before_start_reaches_no_backend(clip: Path, tmp_path: Path) -> None:
    cancel, backend = threading.Event(), FakeBackend()
    cancel.set()
    with pytest.raises(JobCancelledError):
        render(clip, tmp_path / "o.mp4", workers=2, scheduler=backend, cancel=cancel, history=False)
    assert backend.works == []


def test_a_comparison_probes_once_and_both_runs_share_the_plan(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    probes: list[str] = []
    real_probe = plan_module.probe

    def counting_probe(path: object, **kwargs: object) -> object:
        probes.append(str(path))
        return real_probe(path, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(plan_module, "probe", counting_probe)
    backend = FakeBackend()
    comparison = compare(
        clip, "invert", options=RenderOptions(workers=2, segment_seconds=1.5, history=False), scheduler=backend
    )
    assert len(probes) == 1
    (work,) = backend.works  # the parallel run; the sequential one runs in this process
    sequential = comparison.sequential
    assert sequential.scheduler == "sync" and sequential.workers == 1
    assert [s.frames for s in sequential.segments] == [s.frames for s in work.segments] == [45, 45]
    assert comparison.parallel.segment_seconds == sequential.segment_seconds == 1.5
