"""One progress-event stream for the CLI, the widgets and the history.

Segment tasks report (frames done, state) through a *reporter*: a tiny status file in
the job folder for local schedulers, or a dask event topic on a cluster. A poller thread
in the caller's process reads those statuses from a *status source* and turns them into
`ProgressEvent`s for a callback several times a second. The same channel carries the
caller's cancel request back to the tasks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from ..core.atomic import atomic_write_text
from ..core.errors import JobCancelledError
from ..core.layout import cancel_marker, progress_path, stitch_marker
from ..core.periodic import Periodic
from ..core.segment import Segment

SEGMENT_STARTED = "segment_started"
FRAMES = "frames"
SEGMENT_FINISHED = "segment_finished"
STITCHING = "stitching"
STITCHED = "stitched"

RUNNING, DONE = "running", "done"
WRITE_INTERVAL = 0.1
POLL_INTERVAL = 0.25

Status = tuple[int, str]
"""(frames done, state) of one segment."""


@dataclass(frozen=True)
class ProgressEvent:
    """A job's progress at one moment; `segment` is set for segment events."""

    kind: str
    frames_done: int
    frames_total: int
    segments_done: int
    segments_total: int
    elapsed: float
    segment: int | None = None
    segment_frames_done: int = 0
    segment_frames_total: int = 0
    job: str = ""
    """Which run of a comparison ("sequential" or "parallel"); empty for a plain render."""
    frames_reused: int = 0
    """Frames taken over from an interrupted earlier run (`resume=True`), not rendered now."""

    @property
    def fps(self) -> float:
        """Frames per second rendered by this run."""
        return (self.frames_done - self.frames_reused) / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at this run's average speed, None before its first frame."""
        if not self.fps:
            return None
        return (self.frames_total - self.frames_done) / self.fps

    def to_dict(self) -> dict:
        return {**asdict(self), "fps": self.fps, "eta": self.eta}


ProgressCallback = Callable[[ProgressEvent], None]


class Reporter(Protocol):
    """Worker side of the channel: what a segment task calls as it renders."""

    def update(self, frames: int, state: str = RUNNING, force: bool = False) -> None: ...


class SilentReporter:
    """Reporter for segments rendered without progress reporting."""

    def update(self, frames: int, state: str = "", force: bool = False) -> None:
        pass


class Throttle:
    """True at most once per `interval` seconds, or when forced."""

    def __init__(self, interval: float = WRITE_INTERVAL) -> None:
        self.interval, self._last = interval, 0.0

    def __call__(self, force: bool) -> bool:
        now = time.monotonic()
        if force or now - self._last >= self.interval:
            self._last = now
            return True
        return False


def write_status(path: Path, frames: int, state: str) -> None:
    """Replace a status file's content atomically: the poller reads it at any moment."""
    atomic_write_text(path, f"{frames} {state}")


def read_status(path: Path) -> Status | None:
    """(frames, state) from a status file, or None before the segment started."""
    try:
        frames, state = path.read_text().split()
        return int(frames), state
    except (OSError, ValueError):
        return None


class FileReporter:
    """Reports through a status file in the job folder (threads, processes, shared disks),
    and raises `JobCancelledError` once the caller has asked the job to stop."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._due = Throttle()

    def update(self, frames: int, state: str = RUNNING, force: bool = False) -> None:
        if not self._due(force):
            return
        if cancel_marker(self.path.parent).exists():
            raise JobCancelledError()
        try:
            write_status(self.path, frames, state)
        except OSError:
            # progress is advisory: on a full disk the segment's own writes (or the
            # stitch's) fail with the error that says so; a traceback from here would not
            pass


class FolderStatus:
    """Status source reading the status files of a job folder."""

    def __init__(self, workdir: Path, segments: Sequence[Segment]) -> None:
        self.workdir, self.segments = Path(workdir), list(segments)

    def __call__(self) -> dict[int, Status]:
        found = {s.index: read_status(progress_path(self.workdir, s.index)) for s in self.segments}
        return {index: status for index, status in found.items() if status is not None}

    def stitching(self) -> bool:
        return stitch_marker(self.workdir).exists()

    def request_cancel(self) -> None:
        cancel_marker(self.workdir).touch()


class StatusSource(Protocol):
    """Caller side of the channel: current statuses, stitch flag, cancel request."""

    def __call__(self) -> dict[int, Status]: ...

    def stitching(self) -> bool: ...

    def request_cancel(self) -> None: ...


class ProgressPoller:
    """Caller side: polls a status source and emits events until stopped."""

    def __init__(
        self,
        source: StatusSource,
        segments: Sequence[Segment],
        callback: ProgressCallback | None,
        interval: float = POLL_INTERVAL,
        label: str = "",
        cancel: threading.Event | None = None,
        frames_reused: int = 0,
    ) -> None:
        self.source, self.segments, self.callback, self.interval = source, list(segments), callback, interval
        self.label, self.cancel, self.frames_reused = label, cancel, frames_reused
        self.frames_total = sum(s.frames for s in self.segments)
        self._by_index = {s.index: s for s in self.segments}
        self._seen: dict[int, Status] = {}
        self._stitching = False
        self._poller = Periodic(interval, self._tick, name="renderrush-progress")
        self._lock = threading.Lock()
        self.started = time.monotonic()
        self.error: BaseException | None = None

    def __enter__(self) -> ProgressPoller:
        self.started = time.monotonic()
        if self.callback is not None or self.cancel is not None:
            self._poller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._poller.stop()
        if exc[0] is None:
            self.poll()  # final state: every segment's finish is reported

    def _tick(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            self.source.request_cancel()
        self.poll()

    def _event(self, kind: str, segment: Segment | None = None) -> None:
        if self.callback is None or self.error is not None:
            return
        event = ProgressEvent(
            kind=kind,
            frames_done=sum(frames for frames, _ in self._seen.values()),
            frames_total=self.frames_total,
            segments_done=sum(state == DONE for _, state in self._seen.values()),
            segments_total=len(self.segments),
            elapsed=time.monotonic() - self.started,
            segment=segment.index if segment else None,
            segment_frames_done=self._seen.get(segment.index, (0, ""))[0] if segment else 0,
            segment_frames_total=segment.frames if segment else 0,
            job=self.label,
            frames_reused=self.frames_reused,
        )
        try:
            self.callback(event)
        except BaseException as exc:  # a broken callback must not break or hang the render
            self.error = exc

    def poll(self) -> None:
        """Read every status once, then emit the segment events that changed and a frames
        event (all statuses are taken in first, so every event shows the whole job)."""
        with self._lock:
            changes = []
            for index, status in sorted(self.source().items()):
                before = self._seen.get(index)
                if status == before or index not in self._by_index or (before and before[1] == DONE):
                    continue
                self._seen[index] = status
                changes.append((self._by_index[index], before, status))
            for segment, before, status in changes:
                if before is None or status[0] < before[0]:  # first seen, or re-run after a worker died
                    self._event(SEGMENT_STARTED, segment)
                if status[1] == DONE:
                    self._event(SEGMENT_FINISHED, segment)
            if not self._stitching and self.source.stitching():
                self._stitching = True
                self._event(STITCHING)
            self._event(FRAMES)

    def emit(self, kind: str) -> None:
        """Emit a job-level event (such as stitched) once the poller has stopped."""
        self._event(kind)
