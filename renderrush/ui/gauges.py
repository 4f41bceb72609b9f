"""Live gauges (CPU, memory, frames/s, speedup) and a CPU/memory timeline, as Plotly
`FigureWidget`s fed by a `renderrush.recording.monitor.Monitor` and the engine's progress events."""

from __future__ import annotations

from collections import deque

import ipywidgets as w
import plotly.graph_objects as go
import psutil

from ..core.resources import available_cores, available_memory, total_memory
from ..recording.monitor import Sample
from ..segments.progress import ProgressEvent
from ._common import Component, sync_figure
from .figure import Figure

GAUGES = ("cpu", "memory", "fps", "speedup")
TITLES = {"cpu": "CPU %", "memory": "Memory %", "fps": "Frames/s", "speedup": "Speedup ×"}
UNMEASURED = "—"
"""What a gauge shows instead of a number until its value was measured (never a made-up 0)."""


def _gauge(title: str, maximum: float, index: int, columns: int, suffix: str = "") -> go.Indicator:
    return go.Indicator(
        mode="gauge",
        title={"text": f"{title}<br>{UNMEASURED}", "font": {"size": 14}},
        number={"suffix": suffix, "valueformat": ".0f" if suffix != "×" else ".2f", "font": {"size": 22}},
        gauge={"axis": {"range": [0, maximum]}, "bar": {"color": "#1f77b4"}},
        domain={"row": index // columns, "column": index % columns},
    )


def speedup_top(workers: int, value: float = 0.0) -> float:
    """Top of the speedup dial: the most this job's workers or this machine's cores could give
    (at least 2, so a one-worker render never reads 0-1), or the speedup when above."""
    return max(2.0, float(workers), float(available_cores()), value)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


class LiveGauges(Component):
    """Four Plotly Indicator gauges and a timeline, updated while a job runs.

    Parameters
    ----------
    window:
        Seconds of history the CPU/memory timeline keeps (older points scroll out).
    fps_max:
        Initial top of the frames/s gauge (it grows when renders are faster).
    columns:
        Gauges per row: 4 (one row) or 2 (two rows, for narrow layouts).
    width:
        Figure width in pixels (None: Plotly's default; give one when composing side by side).

    Feed it with `update_sample(sample)` (a `Monitor`'s `on_sample`), `update_progress(event)`
    (frames/s; during the parallel half of a comparison also a live speedup against the
    sequential half) and `set_speedup(value, workers)`. All are thread-safe. The latest
    readings are in `values`; the figures are `gauges_figure` and `timeline_figure`. The
    timeline runs on across jobs (a gap separates them) until `window` seconds scroll it out.
    """

    def __init__(
        self, window: float = 120.0, fps_max: float = 300.0, columns: int = 4, width: int | None = None
    ) -> None:
        super().__init__()
        self.window = window
        self.values: dict[str, float | None] = {name: None for name in GAUGES}
        self.samples = 0
        self.baseline_fps: float | None = None
        """Sequential frames/s the live speedup is measured against."""
        self.workers = available_cores()
        self._points: deque[tuple[float, float | None, float | None, float | None]] = deque()
        self._fps_max = fps_max
        self._offset = 0.0  # timeline position where the current job's monitor time 0 lies
        rows = -(-len(GAUGES) // columns)
        self.gauges_figure = Figure(
            data=[
                _gauge(TITLES["cpu"], 100, 0, columns, "%"),
                _gauge(TITLES["memory"], 100, 1, columns, "%"),
                _gauge(TITLES["fps"], fps_max, 2, columns),
                _gauge(TITLES["speedup"], speedup_top(self.workers), 3, columns, "×"),
            ],
            layout=go.Layout(
                grid={"rows": rows, "columns": columns, "pattern": "independent"},
                height=200 * rows,
                width=width,
                margin={"l": 30, "r": 30, "t": 40, "b": 10},
            ),
        )
        self.timeline_figure = Figure(
            data=[
                go.Scatter(x=[], y=[], mode="lines", name="CPU % (machine)"),
                go.Scatter(x=[], y=[], mode="lines", name="CPU % (job, of usable cores)"),
                go.Scatter(x=[], y=[], mode="lines", name="Memory %"),
            ],
            layout=go.Layout(
                height=250,
                width=width,
                margin={"l": 45, "r": 10, "t": 30, "b": 35},
                title={"text": "CPU and memory"},
                xaxis={"title": {"text": "seconds"}},
                yaxis={"range": [0, 100], "title": {"text": "%"}},
                legend={"orientation": "h", "y": -0.35},
            ),
        )
        self.widget = w.VBox([self.gauges_figure, self.timeline_figure])
        self.widget.add_class("rr-gauges")
        self._measure_now()

    def _measure_now(self) -> None:
        """First readings of CPU and memory, so the page opens with measured values (the CPU
        over a tenth of a second, memory within the job's limit, as the monitor reads them)."""
        cpu = psutil.cpu_percent(interval=0.1)
        total = total_memory()
        memory = 100.0 * max(0, total - available_memory()) / total if total else None
        with self._lock:
            self.values.update(cpu=cpu, memory=memory)
            with self.gauges_figure.batch_update():
                self._show(0, cpu)
                self._show(1, memory)
            sync_figure(self.gauges_figure)

    def _show(self, index: int, value: float | None) -> None:
        """Gauge `index` shows `value`, or a dash and an empty gauge when it is None (not measured)."""
        gauge = self.gauges_figure.data[index]
        title = TITLES[GAUGES[index]]
        if value is None:
            gauge.mode, gauge.value, gauge.title.text = "gauge", None, f"{title}<br>{UNMEASURED}"
        else:
            digits = 2 if GAUGES[index] == "speedup" else 1
            gauge.mode, gauge.value, gauge.title.text = "gauge+number", round(value, digits), title

    def __repr__(self) -> str:
        return "<LiveGauges>"

    def reset(self, workers: int | None = None) -> None:
        """Start a new job: zero frames/s and speedup; the timeline continues after a gap."""
        with self._lock:
            if workers:
                self.workers = workers
            if self._points:
                self._offset = self._points[-1][0] + 1.0
                self._points.append((self._offset - 0.5, None, None, None))  # breaks the lines between jobs
            self.samples = 0
            self.values.update(fps=None, speedup=None)
            with self.gauges_figure.batch_update():
                self._show(2, None)
                self._show(3, None)
                self.gauges_figure.data[3].gauge.axis.range = [0, speedup_top(self.workers)]
            sync_figure(self.gauges_figure)

    def update_sample(self, sample: Sample) -> None:
        """Show one monitor sample: CPU and memory gauges, and a timeline point."""
        total = sample.mem_used + sample.mem_available
        memory = 100.0 * sample.mem_used / total if total else 0.0
        job_cpu = min(100.0, sample.job_cpu_percent / max(1, available_cores()))
        with self._lock:
            self.samples += 1
            self.values.update(cpu=sample.cpu_percent, memory=memory)
            t = self._offset + sample.t
            self._points.append((t, sample.cpu_percent, job_cpu, memory))
            while self._points and self._points[0][0] < t - self.window:
                self._points.popleft()
            xs = [p[0] for p in self._points]
            with self.gauges_figure.batch_update():
                self._show(0, sample.cpu_percent)
                self._show(1, memory)
            with self.timeline_figure.batch_update():
                for index, trace in enumerate(self.timeline_figure.data, start=1):
                    trace.x, trace.y = xs, [_rounded(p[index]) for p in self._points]
            sync_figure(self.gauges_figure)
            sync_figure(self.timeline_figure)

    def update_progress(self, event: ProgressEvent) -> None:
        """Show the job's frames/s; during a comparison's parallel run, the live speedup."""
        fps = event.fps
        with self._lock:
            self.values["fps"] = fps
            speedup = None
            if event.job != "sequential" and self.baseline_fps:
                speedup = fps / self.baseline_fps
                self.values["speedup"] = speedup
            with self.gauges_figure.batch_update():
                if fps > self._fps_max:
                    self._fps_max = fps * 1.5
                    self.gauges_figure.data[2].gauge.axis.range = [0, self._fps_max]
                self._show(2, fps)
                if speedup is not None:
                    self._show(3, speedup)
            sync_figure(self.gauges_figure)

    def set_baseline(self, fps: float | None) -> None:
        """Sequential frames/s that later parallel runs are compared with."""
        with self._lock:
            self.baseline_fps = fps

    def set_speedup(self, value: float, workers: int | None = None) -> None:
        """Show a measured speedup (the gauge's range reaches the ideal: `speedup_top`)."""
        with self._lock:
            if workers:
                self.workers = workers
            self.values["speedup"] = value
            with self.gauges_figure.batch_update():
                self.gauges_figure.data[3].gauge.axis.range = [0, speedup_top(self.workers, value)]
                self._show(3, value)
            sync_figure(self.gauges_figure)
