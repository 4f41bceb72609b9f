"""Notebook components for RenderRush, built from ipywidgets and Plotly `FigureWidget`s on
the package's public API. A front end: imports the jobs layer and every layer below it. Each is a plain class whose `widget` attribute is the root
ipywidget; display the component itself or compose `component.widget` in any layout.

- `ControlPanel`: video source, filter chain editor, workers / segment seconds /
  scheduler (pre-set by the advisor), Render, Compare and Cancel.
- `VideoSource`, `FilterEditor`: the panel's first two parts, usable alone.
- `ProgressView`: total bar with frames/s and ETA, one small bar per segment.
- `LiveGauges`: CPU, memory, frames/s and speedup gauges plus a CPU/memory timeline.
- `ResultsView`: sequential-vs-parallel chart, before/after frames, the video, a JSON report.
- `ScalingChart`: wall time and speedup against the number of workers.
- `SegmentTimeline`: one bar per segment on a lane per worker, live and from the history.
- `HistoryView`, `HealthView`: past jobs with trends and export; the machine's health score.
- `Dashboard`: all of the above on one screen.
- `JobRunner`: runs render/compare in a background thread and feeds the components.
- `session_folder()`: a folder of its own for each notebook kernel or web-app visit.
- `Figure`: Plotly's `FigureWidget` as the components use it: loads plotly.js once per page,
  so a page of many figures still follows every change (see `renderrush.ui.figure`).

Needs the `ui` extra: `pip install renderrush[ui]` (ipywidgets, plotly, anywidget).
"""

from ._common import Component, frame_preview
from .dashboard import Dashboard
from .figure import Figure
from .filters import FilterEditor
from .gauges import LiveGauges
from .history import HealthView, HistoryView
from .panel import ControlPanel
from .progress import ProgressView
from .results import ResultsView
from .runner import Job, JobRunner
from .scaling import ScalingChart
from .session import default_output_root, session_folder
from .source import MAX_UPLOAD_BYTES, UploadError, VideoSource, sanitize_filename
from .timeline import SegmentTimeline

__all__ = [
    "MAX_UPLOAD_BYTES",
    "Component",
    "ControlPanel",
    "Dashboard",
    "Figure",
    "FilterEditor",
    "HealthView",
    "HistoryView",
    "Job",
    "JobRunner",
    "LiveGauges",
    "ProgressView",
    "ResultsView",
    "ScalingChart",
    "SegmentTimeline",
    "UploadError",
    "VideoSource",
    "default_output_root",
    "frame_preview",
    "sanitize_filename",
    "session_folder",
]
