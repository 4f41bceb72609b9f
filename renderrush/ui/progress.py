"""Live progress of a render: one total bar with frames/s and ETA, one small bar per segment."""

from __future__ import annotations

import html

import ipywidgets as w

from ..segments.progress import SEGMENT_FINISHED, STITCHED, STITCHING, ProgressEvent
from ._common import Component, fmt_seconds

JOB_TITLES = {"": "Render", "sequential": "Sequential run", "parallel": "Parallel run"}


class ProgressView(Component):
    """Total and per-segment progress bars fed by the engine's `ProgressEvent`s.

    Parameters
    ----------
    title:
        Heading shown above the bars.
    bar_width:
        CSS width of each segment bar.

    Pass `view.update` as a render's `progress=` callback (or let a `ControlPanel` do
    it): it is safe to call from the engine's background thread. `tick(elapsed)` keeps
    the elapsed time moving between events. The latest state is in `frames_done`,
    `frames_total`, `fps`, `eta`, `segment_fractions` and `events`.
    """

    def __init__(self, title: str = "Progress", bar_width: str = "110px") -> None:
        super().__init__()
        self.bar_width = bar_width
        self.events = 0
        self.last_event: ProgressEvent | None = None
        self.job = ""
        self.state = "idle"
        self.stitching = False
        """The job has reached its stitch (a stitching event came, or every segment is done)."""
        self.heading = w.HTML(f"<b>{html.escape(title)}</b>")
        self.total = w.FloatProgress(
            value=0.0, min=0.0, max=1.0, description="Total", bar_style="info", layout=w.Layout(width="98%")
        )
        self.status = w.HTML("Waiting for a job.")
        self.segment_bars: list[w.FloatProgress] = []
        self._segments_box = w.GridBox(
            layout=w.Layout(grid_template_columns=f"repeat(auto-fill, {bar_width})", grid_gap="2px 6px")
        )
        self.widget = w.VBox([self.heading, self.total, self.status, self._segments_box])
        self.widget.add_class("rr-progress")
        self.total.add_class("rr-progress-total")

    def __repr__(self) -> str:
        return f"<ProgressView: {self.state}>"

    # ---- state --------------------------------------------------------------------------
    @property
    def frames_done(self) -> int:
        return self.last_event.frames_done if self.last_event else 0

    @property
    def frames_total(self) -> int:
        return self.last_event.frames_total if self.last_event else 0

    @property
    def fps(self) -> float:
        return self.last_event.fps if self.last_event else 0.0

    @property
    def eta(self) -> float | None:
        return self.last_event.eta if self.last_event else None

    @property
    def segment_fractions(self) -> list[float]:
        return [bar.value for bar in self.segment_bars]

    # ---- updates ------------------------------------------------------------------------
    def reset(self, segments: int = 0, job: str = "") -> None:
        """Empty bars for a new job (`segments` bars, more are added as events arrive)."""
        with self._lock:
            self.job, self.last_event, self.events, self.state = job, None, 0, "running"
            self.stitching = False
            self.total.value, self.total.bar_style = 0.0, "info"
            self.total.description = JOB_TITLES.get(job, job)
            self.status.value = "Starting…"
            self._ensure_bars(segments, reset=True)

    def _ensure_bars(self, count: int, reset: bool = False) -> None:
        if reset:
            for bar in self.segment_bars:
                bar.value, bar.bar_style = 0.0, ""
            bars = self.segment_bars[:count]
        else:
            bars = list(self.segment_bars)
        while len(bars) < count:
            index = len(bars)
            bars.append(
                w.FloatProgress(
                    value=0.0,
                    min=0.0,
                    max=1.0,
                    description=f"#{index}",
                    style={"description_width": "28px"},
                    layout=w.Layout(width=self.bar_width, height="14px"),
                )
            )
        if bars != self.segment_bars:
            self.segment_bars = bars
            self._segments_box.children = tuple(bars)

    def update(self, event: ProgressEvent) -> None:
        """Apply one progress event (thread-safe)."""
        with self._lock:
            if event.job != self.job or self.state != "running":
                self.reset(event.segments_total, event.job)
            self.events += 1
            self.last_event = event
            self.stitching = self.stitching or event.kind == STITCHING
            self._ensure_bars(event.segments_total)
            if event.segment is not None and event.segment < len(self.segment_bars):
                bar = self.segment_bars[event.segment]
                total = max(1, event.segment_frames_total)
                bar.value = min(1.0, event.segment_frames_done / total)
                if event.kind == SEGMENT_FINISHED:
                    bar.value, bar.bar_style = 1.0, "success"
                else:
                    bar.bar_style = "info"
            fraction = event.frames_done / event.frames_total if event.frames_total else 0.0
            self.total.value = min(1.0, fraction)
            if event.kind == STITCHED:
                self.total.value, self.total.bar_style = 1.0, "success"
            self.status.value = self._status_text(event)

    def _status_text(self, event: ProgressEvent, elapsed: float | None = None) -> str:
        # stitching comes after "segments N/N": a segment whose frames are all in is still
        # encoding its last frames until it says it is done
        all_frames = event.frames_total and event.frames_done >= event.frames_total
        if event.kind == STITCHED:
            stage = " · done"
        elif self.stitching or (all_frames and event.segments_done >= event.segments_total):
            stage = " · stitching"
        elif all_frames:
            stage = " · finishing segments"
        else:
            stage = ""
        return (
            f"{event.frames_done}/{event.frames_total} frames · <b>{event.fps:.0f} frames/s</b> · "
            f"ETA {fmt_seconds(event.eta) if event.kind != STITCHED else '0 s'} · "
            f"segments {event.segments_done}/{event.segments_total} · elapsed {fmt_seconds(elapsed or event.elapsed)}"
            f"{stage}"
        )

    def tick(self, elapsed: float) -> None:
        """Refresh the elapsed time between events (the runner calls this twice a second)."""
        with self._lock:
            if self.state != "running":
                return
            if self.last_event is None:
                self.status.value = f"Preparing… elapsed {fmt_seconds(elapsed)}"
            elif self.last_event.kind != STITCHED:
                self.status.value = self._status_text(self.last_event, max(elapsed, self.last_event.elapsed))

    def finish(self, message: str, ok: bool = True) -> None:
        """Mark the job as ended with a message (green when `ok`, red otherwise)."""
        with self._lock:
            self.state = "finished" if ok else "failed"
            self.total.bar_style = "success" if ok else "danger"
            if ok:
                self.total.value = 1.0
            else:
                for bar in self.segment_bars:
                    if bar.value < 1.0:
                        bar.bar_style = "danger"
            self.status.value = html.escape(message)
