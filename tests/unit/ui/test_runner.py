"""`renderrush.ui.runner`: one render or comparison at a time in a background thread. Listeners
hear the start, every progress event, heartbeats while it runs (none after it ended) and the
end; a broken listener never stops a job; a cancelled or failed job ends with a one-line
message; every job's history row is found once it ended."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from renderrush.core.errors import RenderRushError
from renderrush.jobs.result import Comparison, JobResult
from renderrush.recording.history import History
from renderrush.ui import Job, JobRunner

from ...support.filters import FilterRegistry


class Listener:
    """Records every call, in order; `broken` names methods that raise."""

    def __init__(self, *broken: str) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.broken = broken
        self.threads: dict[str, set[str]] = {}

    def _called(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))
        self.threads.setdefault(name, set()).add(threading.current_thread().name)
        if name in self.broken:
            raise RuntimeError(f"{name} is broken")

    def on_job_started(self, job: Job) -> None:
        self._called("on_job_started", job)

    def on_progress(self, event: Any) -> None:
        self._called("on_progress", event)

    def on_sample(self, sample: Any) -> None:
        self._called("on_sample", sample)

    def on_tick(self, job: Job, elapsed: float) -> None:
        self._called("on_tick", job, elapsed)

    def on_job_finished(self, job: Job) -> None:
        self._called("on_job_finished", job)

    def names(self, *only: str) -> list[str]:
        return [name for name, _ in self.calls if not only or name in only]


# ---- Job ---------------------------------------------------------------------------------------
def test_job_message_says_how_it_ended(rendered: JobResult) -> None:
    job = Job("render", {}, started=time.time() - 3.0)
    assert re.fullmatch(r"render running for 3\.\d s", job.message) and not job.done
    job.status, job.ended = "cancelled", job.started + 2.5
    assert job.elapsed == pytest.approx(2.5) and job.message == "render cancelled after 2.5 s; no output was written"
    job.status = "failed"
    assert job.message == "render failed"
    job.error = FileNotFoundError(2, "No such file or directory", "/in/clip.mp4")
    assert job.message == "render failed: no such file or directory: /in/clip.mp4"
    job.status, job.error, job.result = "finished", None, rendered
    assert job.message == (
        f"rendered 30 frames in {rendered.wall_seconds:.2f} s ({rendered.fps:.0f} frames/s) to out.mp4"
    )
    compared = Job("compare", {}, status="finished", started=10.0, ended=12.0)
    compared.comparison = Comparison(sequential=rendered, parallel=rendered, identical=False)
    assert compared.message == "compared in 2.0 s: speedup 1.00× with 2 workers (efficiency 50%), outputs DIFFER"


def test_job_wait_times_out_until_it_is_done() -> None:
    job = Job("render", {})
    assert job.wait(0.01) is False
    job._done.set()
    assert job.wait(0.01) is True and job.done


# ---- JobRunner ---------------------------------------------------------------------------------
def test_unknown_kinds_and_a_second_job_are_refused(tmp_path: Path) -> None:
    runner = JobRunner(False)
    assert runner.wait() is None and not runner.running
    runner.cancel()  # nothing to cancel: nothing happens
    with pytest.raises(RenderRushError, match="unknown job kind 'sweep': use one of render, compare"):
        runner.start("sweep", input="x.mp4")
    runner.job = Job("render", {})  # one that has not ended
    assert runner.running
    with pytest.raises(RenderRushError, match="a job is running already: wait for it or cancel it first"):
        runner.start("render", input="x.mp4")


def test_a_render_runs_in_the_background_and_is_found_in_the_history(
    tmp_path: Path, small_clip: Path, history: History
) -> None:
    listener = Listener()
    runner = JobRunner(history, heartbeat=0.02)
    runner.add_listener(listener)
    job = runner.start(
        "render", input=small_clip, output=tmp_path / "out.mp4", filters="invert", workers=1, scheduler="sync"
    )
    assert job.request == {
        "input": str(small_clip),
        "output": str(tmp_path / "out.mp4"),
        "filters": "invert",
        "workers": 1,
        "scheduler": "sync",
    }, "paths as text: the request is JSON-ready"
    assert runner.wait(30) is job and job.done and not runner.running
    assert job.status == "finished", job.message
    assert job.result is not None and job.result.frames == 30 and (tmp_path / "out.mp4").is_file()
    assert job.record is not None and job.record.id == job.result.job_id and job.record.status == "finished"
    names = listener.names()
    assert names[0] == "on_job_started" and names[-1] == "on_job_finished" and names.count("on_job_finished") == 1
    assert job.events == names.count("on_progress") > 0
    assert listener.threads["on_job_started"] == {threading.current_thread().name}
    assert listener.threads["on_job_finished"] == {"renderrush-ui-render"}
    time.sleep(0.1)  # five heartbeats: none may come after the end
    assert listener.names()[-1] == "on_job_finished", "no clock running again after the job ended"
    assert runner.listener_errors == []


def test_a_failed_job_is_recorded_and_broken_listeners_are_kept(tmp_path: Path, history: History) -> None:
    broken, listener = Listener("on_job_started", "on_job_finished"), Listener()
    runner = JobRunner(history)
    runner.add_listener(broken)
    runner.add_listener(object())  # no listener methods at all: skipped
    runner.add_listener(listener)
    job = runner.start("render", input=tmp_path / "missing.mp4", output=tmp_path / "out.mp4", scheduler="sync")
    runner.wait(30)
    assert (
        job.status == "failed" and job.message.startswith("render failed: input '") and "does not exist" in job.message
    )
    assert job.result is None and job.record is not None and job.record.status == "failed"
    assert job.record.input == "missing.mp4" and runner.find_record(job) == job.record
    assert [str(e) for e in runner.listener_errors] == ["on_job_started is broken", "on_job_finished is broken"]
    assert listener.names("on_job_started", "on_job_finished") == ["on_job_started", "on_job_finished"]


def test_a_cancelled_job_ends_soon_and_is_recorded_as_interrupted(
    tmp_path: Path, small_clip: Path, history: History, registry: FilterRegistry
) -> None:
    slow = registry.slow("runner_test_slow", delay=0.1)  # 30 frames: a 3 s job unless cancelled
    runner = JobRunner(history)
    job = runner.start(
        "render", input=small_clip, output=tmp_path / "out.mp4", filters=slow, workers=1, scheduler="sync"
    )
    runner.cancel()
    assert job.cancel_event.is_set()
    runner.wait(30)
    assert job.status == "cancelled" and job.message.startswith("render cancelled after ")
    assert not (tmp_path / "out.mp4").exists()
    assert job.record is not None and job.record.status == "interrupted"


def test_without_a_history_nothing_is_looked_up(tmp_path: Path) -> None:
    runner = JobRunner(False)
    assert runner.history is None
    job = runner.start("render", input=tmp_path / "missing.mp4", output=tmp_path / "out.mp4", scheduler="sync")
    runner.wait(30)
    assert job.status == "failed" and job.record is None and runner.find_record(job) is None


def test_find_record_matches_kind_status_input_and_time(history: History) -> None:
    runner = JobRunner(history)
    request = {"input": "/videos/clip.mp4", "output": "o.mp4", "filters": "grayscale", "workers": 2}
    job = Job("render", dict(request), status="failed", started=time.time())
    assert runner.find_record(job) is None
    history.record_job("render", "failed", request={**request, "input": "/videos/other.mp4"})  # another input
    interrupted = history.record_job("render", "interrupted", request=request)
    failed = history.record_job("render", "failed", request=request)
    assert runner.find_record(job).id == failed
    job.status = "cancelled"  # a cancelled job is an interrupted one in the history
    assert runner.find_record(job).id == interrupted
    job.started = time.time() + 60  # rows recorded before the job started are not its rows
    assert runner.find_record(job) is None
