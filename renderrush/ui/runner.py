"""Run one render or comparison at a time in a background thread, so the notebook's
kernel stays responsive, while the engine's `Monitor` samples resources and listeners (the widgets)
receive progress events, samples and heartbeats."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from ..core.errors import JobCancelledError, RenderRushError
from ..core.periodic import Periodic
from ..jobs.compare import compare
from ..jobs.engine import render
from ..jobs.rerender import rerender
from ..jobs.result import Comparison, JobResult
from ..recording.recorded import HistoryOption, open_history
from ..recording.records import JobRecord
from ..segments.progress import ProgressEvent
from ._common import error_sentence

KINDS = ("render", "compare", "rerender")
HISTORY_STATUS = {"finished": "finished", "failed": "failed", "cancelled": "interrupted"}


@dataclass
class Job:
    """One render or comparison started by a `JobRunner`."""

    kind: str
    request: dict[str, Any]
    """The keyword arguments given to `render` or `compare` (JSON-ready)."""
    cancel_event: threading.Event = field(default_factory=threading.Event)
    status: str = "running"
    """"running", then "finished", "failed" or "cancelled"."""
    result: JobResult | None = None
    comparison: Comparison | None = None
    error: BaseException | None = None
    record: JobRecord | None = None
    """The job's row in the history, once it ended (None without a history)."""
    started: float = field(default_factory=time.time)
    ended: float | None = None
    events: int = 0
    """Progress events received."""
    _done: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def elapsed(self) -> float:
        return (self.ended or time.time()) - self.started

    @property
    def message(self) -> str:
        """One line saying how the job ended (or that it runs)."""
        if self.status == "running":
            return f"{self.kind} running for {self.elapsed:.1f} s"
        if self.status == "cancelled":
            return f"{self.kind} cancelled after {self.elapsed:.1f} s; no output was written"
        if self.status == "failed":
            return f"{self.kind} failed: {error_sentence(self.error)}" if self.error else f"{self.kind} failed"
        if self.comparison is not None:
            c = self.comparison
            return (
                f"compared in {self.elapsed:.1f} s: speedup {c.speedup:.2f}× with {c.workers} workers "
                f"(efficiency {c.efficiency:.0%}), outputs {'identical' if c.identical else 'DIFFER'}"
            )
        r = self.result
        assert r is not None
        return f"rendered {r.frames} frames in {r.wall_seconds:.2f} s ({r.fps:.0f} frames/s) to {r.output.name}"

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has ended (True) or `timeout` seconds passed (False)."""
        return self._done.wait(timeout)


class JobRunner:
    """Runs jobs in a background thread and tells listeners what happens.

    Parameters
    ----------
    history:
        Where the engine records every job (finished, failed or cancelled), with the
        engine's meaning: a `History` or database path, None for the default history,
        False to record nothing. `Job.record` is the job's row once it ended.
    heartbeat:
        Seconds between `tick` calls (keeps elapsed times moving between events).

    A listener is any object with some of these methods, all called from background
    threads except `on_job_started`: `on_job_started(job)`, `on_progress(event)`,
    `on_sample(sample)`, `on_tick(job, elapsed)`, `on_job_finished(job)`. Exceptions in listeners are kept in
    `listener_errors` and never stop a job.
    """

    def __init__(self, history: HistoryOption = None, heartbeat: float = 0.5) -> None:
        self.history = open_history(history)
        self.heartbeat = heartbeat
        self.listeners: list[Any] = []
        self.listener_errors: list[BaseException] = []
        self.job: Job | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self.job is not None and not self.job.done

    def add_listener(self, listener: Any) -> None:
        self.listeners.append(listener)

    def _notify(self, method: str, *args: Any) -> None:
        for listener in self.listeners:
            handler = getattr(listener, method, None)
            if handler is None:
                continue
            try:
                handler(*args)
            except Exception as exc:  # noqa: BLE001 — a broken widget must not break the job
                self.listener_errors.append(exc)

    def start(self, kind: str, **request: Any) -> Job:
        """Start `render(**request)`, `compare(**request)` or a re-render (`request`: `base`, the
        finished `JobResult`, `segment` and optionally `crf`) in the background; returns the `Job`.

        Raises `RenderRushError` if a job is running already."""
        if kind not in KINDS:
            raise RenderRushError(f"unknown job kind '{kind}': use one of {', '.join(KINDS)}")
        if self.running:
            raise RenderRushError("a job is running already: wait for it or cancel it first")
        job = Job(kind, {k: (str(v) if isinstance(v, os.PathLike) else v) for k, v in request.items()})
        self.job = job
        self._notify("on_job_started", job)
        heartbeat = Periodic(
            self.heartbeat, lambda: self._notify("on_tick", job, job.elapsed), name="renderrush-ui-heartbeat"
        )
        heartbeat.start()  # before the job: the job's end stops it
        self._thread = threading.Thread(
            target=self._run, args=(job, heartbeat), name=f"renderrush-ui-{kind}", daemon=True
        )
        self._thread.start()
        return job

    def cancel(self) -> None:
        """Ask the running job to stop (it ends within a fraction of a second)."""
        if self.job is not None:
            self.job.cancel_event.set()

    def wait(self, timeout: float | None = None) -> Job | None:
        """Block until the current job ended (or `timeout` passed); returns it."""
        if self.job is not None:
            self.job.wait(timeout)
        return self.job

    def _on_progress(self, job: Job, event: ProgressEvent) -> None:
        job.events += 1
        self._notify("on_progress", event)

    def _run(self, job: Job, heartbeat: Periodic) -> None:
        try:
            options = dict(
                job.request,
                progress=lambda e: self._on_progress(job, e),
                cancel=job.cancel_event,
                history=self.history if self.history is not None else False,  # opened once, here
                on_sample=lambda sample: self._notify("on_sample", sample),  # the engine's own monitor
            )
            if job.kind == "render":
                job.result = render(**options)
            elif job.kind == "rerender":  # one segment of the render `base` again, at its own CRF
                job.result = rerender(
                    options["base"],
                    options["segment"],
                    crf=options.get("crf"),
                    **{k: options[k] for k in ("history", "progress", "cancel", "on_sample")},
                )
            else:
                job.comparison = compare(**options)
            job.status = "finished"
        except JobCancelledError as exc:
            job.status, job.error = "cancelled", exc
        except Exception as exc:  # noqa: BLE001
            job.status, job.error = "failed", exc
        finally:
            heartbeat.stop()  # no tick after the job ended: it would show a running clock again
            job.ended = time.time()
            try:
                job.record = self._record(job)
            except Exception as exc:  # noqa: BLE001
                self.listener_errors.append(exc)
            self._notify("on_job_finished", job)
            job._done.set()

    # ---- history ------------------------------------------------------------------------
    def _record(self, job: Job) -> JobRecord | None:
        """The job's history row: the engine records every job itself (the runner passes
        its history on), so this only looks the row up."""
        if self.history is None:
            return None
        produced = job.result if job.result is not None else job.comparison
        job_id = getattr(produced, "job_id", None)
        if job_id is not None:
            return self.history.get(job_id)
        return self.find_record(job)

    def find_record(self, job: Job) -> JobRecord | None:
        """The newest history row recorded for `job` since it started, or None."""
        if self.history is None:
            return None
        since = datetime.fromtimestamp(job.started, timezone.utc) - timedelta(seconds=1)
        status = HISTORY_STATUS.get(job.status)
        name = Path(str(job.request.get("input", ""))).name
        for record in self.history.list(kind=job.kind, since=since, limit=20):
            if record.status == status and record.input == name:
                return record
        return None
