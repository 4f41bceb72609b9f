"""One progress-event stream for the CLI, the widgets and the history.

Segment tasks (in threads, processes or on cluster workers sharing the job folder) write
a tiny status file; a poller thread in the caller's process turns those files into
`ProgressEvent`s and hands them to a callback several times a second.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

from .errors import JobCancelledError
from .plan import Segment

SEGMENT_STARTED = "segment_started"
FRAMES = "frames"
SEGMENT_FINISHED = "segment_finished"
STITCHING = "stitching"
STITCHED = "stitched"

RUNNING, DONE = "running", "done"
WRITE_INTERVAL = 0.1
POLL_INTERVAL = 0.25


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

    @property
    def fps(self) -> float:
        return self.frames_done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the average speed so far, None before the first frame."""
        if not self.frames_done:
            return None
        return (self.frames_total - self.frames_done) / self.fps

    def to_dict(self) -> dict:
        return {**asdict(self), "fps": self.fps, "eta": self.eta}


ProgressCallback = Callable[[ProgressEvent], None]


def progress_path(workdir: Path, index: int) -> Path:
    """Status file of segment `index` inside a job's work folder."""
    return Path(workdir) / f"segment-{index:05d}.progress"


def cancel_marker(workdir: Path) -> Path:
    """File whose presence asks every segment task of a job to stop."""
    return Path(workdir) / "cancel.requested"


class ProgressWriter:
    """Worker side: records frames done and state, at most every `WRITE_INTERVAL` seconds,
    and raises `JobCancelledError` when the caller has asked the job to stop."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._last = 0.0

    def update(self, frames: int, state: str = RUNNING, force: bool = False) -> None:
        if self.path is None:
            return
        now = time.monotonic()
        if not force and now - self._last < WRITE_INTERVAL:
            return
        self._last = now
        if cancel_marker(self.path.parent).exists():
            raise JobCancelledError("the job was cancelled; no output was written")
        tmp = self.path.with_suffix(f".tmp{os.getpid()}-{threading.get_ident()}")
        tmp.write_text(f"{frames} {state}")
        os.replace(tmp, self.path)


def read_progress(path: Path) -> tuple[int, str] | None:
    """(frames, state) from a status file, or None before the segment started."""
    try:
        frames, state = path.read_text().split()
        return int(frames), state
    except (OSError, ValueError):
        return None


class ProgressPoller:
    """Caller side: polls segment status files and emits events until stopped."""

    def __init__(
        self,
        workdir: Path,
        segments: Sequence[Segment],
        callback: ProgressCallback | None,
        interval: float = POLL_INTERVAL,
        label: str = "",
        cancel: threading.Event | None = None,
    ) -> None:
        self.workdir, self.segments, self.callback, self.interval = Path(workdir), list(segments), callback, interval
        self.label, self.cancel = label, cancel
        self._stitching = False
        self.frames_total = sum(s.frames for s in self.segments)
        self._seen: dict[int, tuple[int, str]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="renderrush-progress", daemon=True)
        self.started = time.monotonic()
        self.error: BaseException | None = None

    def __enter__(self) -> "ProgressPoller":
        self.started = time.monotonic()
        if self.callback is not None or self.cancel is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if exc[0] is None:
            self.poll()  # final state: every segment's finish is reported

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if self.cancel is not None and self.cancel.is_set():
                cancel_marker(self.workdir).touch()
            self.poll()

    def _event(self, kind: str, segment: Segment | None = None) -> None:
        if self.callback is None or self.error is not None:
            return
        frames_done = sum(frames for frames, _ in self._seen.values())
        seg_done = self._seen.get(segment.index, (0, ""))[0] if segment else 0
        event = ProgressEvent(
            kind=kind,
            frames_done=frames_done,
            frames_total=self.frames_total,
            segments_done=sum(state == DONE for _, state in self._seen.values()),
            segments_total=len(self.segments),
            elapsed=time.monotonic() - self.started,
            segment=segment.index if segment else None,
            segment_frames_done=seg_done,
            segment_frames_total=segment.frames if segment else 0,
            job=self.label,
        )
        try:
            self.callback(event)
        except BaseException as exc:  # a broken callback must not break or hang the render
            self.error = exc

    def poll(self) -> None:
        """Read every status file once and emit the events that changed, then a frames event."""
        for segment in self.segments:
            status = read_progress(progress_path(self.workdir, segment.index))
            if status is None or status == self._seen.get(segment.index):
                continue
            before = self._seen.get(segment.index)
            self._seen[segment.index] = status
            if before is None:
                self._event(SEGMENT_STARTED, segment)
            if status[1] == DONE:
                self._event(SEGMENT_FINISHED, segment)
        if not self._stitching and stitch_marker(self.workdir).exists():
            self._stitching = True
            self._event(STITCHING)
        self._event(FRAMES)

    def emit(self, kind: str) -> None:
        """Emit a job-level event (such as stitched) once the poller has stopped."""
        self._event(kind)


def stitch_marker(workdir: Path) -> Path:
    """File the stitch task creates when it starts, so the poller can report it."""
    return Path(workdir) / "stitch.started"
