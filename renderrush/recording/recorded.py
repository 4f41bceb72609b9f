"""Every render and compare lands in the job history: finished, failed or interrupted,
with a monitor timeline of the machine and the job's processes while it ran."""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import HistoryError, JobCancelledError, RenderRushWarning
from .history import History
from .limits import MemoryGuard
from .monitor import Monitor, Sample

HistoryOption = History | str | os.PathLike | bool | None
"""A History, a database path, None/True for the default database, False for none."""


_UNUSABLE: set[str] = set()
"""Histories this process has already warned about (a notebook renders many jobs)."""


def open_history(history: HistoryOption) -> History | None:
    """The History a job records into, or None when recording is switched off or the
    history cannot be used: a history is a record of jobs, never a reason to refuse one,
    so that is one warning (once per history and process), not an error."""
    if history is False:
        return None
    if isinstance(history, History):
        return history
    try:
        return History(None if history is None or history is True else history)
    except HistoryError as exc:
        if str(exc) not in _UNUSABLE:
            _UNUSABLE.add(str(exc))
            warnings.warn(RenderRushWarning(f"jobs are not recorded: {exc}"), stacklevel=3)
        return None


@dataclass
class Recording:
    """The layer around one job: its history, its monitor and memory guard, and what it
    produced; the job runs with `cancel` (set by the caller or by the memory guard)."""

    history: History | None
    cancel: threading.Event
    monitor: Monitor
    result: Any = None
    job_id: int | None = None
    started_at: float = field(default_factory=time.time)

    def timeline(self) -> list[dict[str, Any]]:
        samples = self.monitor.timeline()
        workers = getattr(self.result, "worker_metrics", None) or []
        return sorted(samples + [{**m, "source": "worker"} for m in workers], key=lambda s: s["t"])

    def window(self, started_at: float, seconds: float) -> list[dict[str, Any]]:
        """The monitor's samples taken while one part of the job ran (a comparison's run),
        timed from that part's start."""
        offset = started_at - self.started_at
        samples = self.monitor.between(offset, offset + seconds + 0.5)
        return [{**s.to_dict(), "t": s.t - offset} for s in samples]


@contextmanager
def recorded(
    kind: str,
    history: HistoryOption,
    request: dict[str, Any],
    *,
    cancel: threading.Event | None = None,
    on_sample: Callable[[Sample], None] | None = None,
) -> Iterator[Recording]:
    """Run a job under a Monitor and a `MemoryGuard`, and record it in `history` whatever
    way it ends. The monitor runs even when nothing is recorded: the guard needs its
    samples to stop a job before the machine swaps, and `on_sample` (live gauges) too.
    A failed or interrupted job's error carries the history id in `job_id`."""
    guard = MemoryGuard(cancel, on_sample)
    recording = Recording(open_history(history), guard.cancel, Monitor(on_sample=guard))

    def record(status: str, error: BaseException | None = None) -> None:
        if recording.history is None:
            return
        produced = {"result": recording.result} if kind == "render" else {"comparison": recording.result}
        try:
            recording.job_id = recording.history.record_job(
                kind,
                status,
                error=error,
                request=request,
                monitor_summary=recording.monitor.summary(),
                timeline=recording.timeline(),
                **(produced if recording.result is not None else {}),
            )
        except HistoryError as exc:  # the job itself went fine or already failed: say so, do not mask it
            warnings.warn(RenderRushWarning(f"this {kind} job was not recorded in the history: {exc}"), stacklevel=4)
        if error is not None and recording.job_id is not None:
            try:
                error.job_id = recording.job_id  # type: ignore[attr-defined]
            except AttributeError:  # a builtin exception that takes no attributes
                pass

    try:
        with recording.monitor:
            try:
                yield recording
            except JobCancelledError:
                guard.raise_if_tripped()  # the guard stopped it: say so (MemoryLimitError)
                raise
        if hasattr(recording.result, "timeline"):
            recording.result.timeline = recording.monitor.timeline()
    except (KeyboardInterrupt, JobCancelledError) as exc:
        record("interrupted", exc)
        raise
    except BaseException as exc:
        record("failed", exc)
        raise
    record("finished")
    recording.result.job_id = recording.job_id
