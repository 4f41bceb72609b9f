"""Every render and compare lands in the job history: finished, failed or interrupted,
with a monitor timeline of the machine and the job's processes while it ran."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from .advisor import Recommendation, past_runs, recommend
from .errors import HistoryError, JobCancelledError, RenderRushWarning
from .history import History
from .monitor import Monitor, Sample
from .probe import VideoInfo

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


def advise(info: VideoInfo, filters: str, history: History | None) -> Recommendation:
    """The advisor's workers and segment length for this clip, using past runs when it can."""
    runs = past_runs(history, filters)
    return recommend(info.width, info.height, info.duration, history_runs=runs, frames=info.frame_count)


@dataclass
class Recording:
    """What a job hands back to `recorded` for the history."""

    result: Any = None
    monitor: Monitor = field(default_factory=Monitor)
    job_id: int | None = None

    def timeline(self) -> list[dict[str, Any]]:
        samples = self.monitor.timeline()
        workers = getattr(self.result, "worker_metrics", None) or []
        return sorted(samples + [{**m, "source": "worker"} for m in workers], key=lambda s: s["t"])


@contextmanager
def recorded(
    kind: str, history: History | None, request: dict[str, Any], on_sample: Callable[[Sample], None] | None = None
) -> Iterator[Recording]:
    """Run a job under a Monitor (whose samples also go to `on_sample`, e.g. live gauges)
    and record it, whatever way it ends."""
    recording = Recording(monitor=Monitor(on_sample=on_sample))

    def record(status: str, error: BaseException | None = None) -> None:
        if history is None:
            return
        produced = {"result": recording.result} if kind == "render" else {"comparison": recording.result}
        try:
            recording.job_id = history.record_job(
                kind,
                status,
                error=error,
                request=request,
                monitor_summary=recording.monitor.summary(),
                timeline=recording.timeline(),
                **(produced if recording.result is not None else {}),
            )
        except HistoryError as exc:  # the job itself went fine or already failed: say so, do not mask it
            warnings.warn(RenderRushWarning(f"this {kind} job was not recorded in the history: {exc}"), stacklevel=3)

    try:
        with recording.monitor:
            yield recording
    except (KeyboardInterrupt, JobCancelledError) as exc:
        record("interrupted", exc)
        raise
    except BaseException as exc:
        record("failed", exc)
        raise
    record("finished")
