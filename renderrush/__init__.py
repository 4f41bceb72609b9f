"""RenderRush: notebook-first parallel video rendering with dask.

The public names are loaded on first use (PEP 562): `import renderrush` stays cheap
(no dask, NumPy, OpenCV, PyAV or jsonschema) so that the command line starts at once;
`from renderrush import render` and `renderrush.render` import what they need then.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .core.errors import (
    AdviceError,
    ClusterError,
    DashboardError,
    DiskSpaceError,
    EmptyVideoError,
    FFmpegError,
    FilterError,
    HistoryError,
    InputError,
    InputNotFoundError,
    JobCancelledError,
    JobError,
    MemoryLimitError,
    MonitorError,
    NotAVideoError,
    OutputBusyError,
    OutputError,
    RenderRushError,
    RenderRushWarning,
    ReportError,
    ResourceError,
    SchedulerError,
    SegmentError,
    SettingsError,
    StitchError,
    TimelineError,
    UnsupportedVideoError,
    UploadError,
)

__version__ = "0.1.0"

_EXPORTS = {
    "recording.advisor": ("advise",),
    "backends.base": ("Backend", "BackendRun", "Work"),
    "jobs.compare": ("compare",),
    "media.encode": ("EncodeSettings",),
    "jobs.engine": ("render", "run_job"),
    "media.filters": ("FilterChain", "Param", "available_filters", "register_filter", "unregister_filter"),
    "recording.health": ("HealthReport", "system_health"),
    "recording.history": ("History",),
    "recording.monitor": ("Monitor",),
    "jobs.options": ("RenderOptions",),
    "jobs.plan": ("JobPlan", "plan_job", "plan_segments"),
    "core.segment": ("Segment",),
    "media.probe": ("VideoInfo", "probe"),
    "segments.progress": ("ProgressEvent",),
    "recording.records": ("JobRecord",),
    "recording.report": ("history_report", "import_report", "job_report", "load_report", "write_report"),
    "jobs.result": ("Comparison", "JobResult"),
    "jobs.rerender": ("rerender",),
    "media.samples": ("make_sample_video",),
    "segments.render": ("SegmentResult",),
}
_LAZY = {name: module for module, names in _EXPORTS.items() for name in names}
"""Public name -> the submodule that defines it."""

_ERRORS = tuple(
    name
    for name, value in vars().items()
    if isinstance(value, type) and issubclass(value, (RenderRushError, RenderRushWarning))
)
__all__ = sorted({*_ERRORS, *_LAZY})
"""Every error class, and every public name of the submodules (loaded on first use)."""


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        # AttributeError (not ImportError) lets `from renderrush import media` fall back to the subpackage.
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module_name}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:  # what type checkers and IDEs see: the eager imports
    from .backends.base import Backend, BackendRun, Work
    from .core.segment import Segment
    from .jobs.compare import compare
    from .jobs.engine import render, run_job
    from .jobs.options import RenderOptions
    from .jobs.plan import JobPlan, plan_job, plan_segments
    from .jobs.rerender import rerender
    from .jobs.result import Comparison, JobResult
    from .media.encode import EncodeSettings
    from .media.filters import FilterChain, Param, available_filters, register_filter, unregister_filter
    from .media.probe import VideoInfo, probe
    from .media.samples import make_sample_video
    from .recording.advisor import advise
    from .recording.health import HealthReport, system_health
    from .recording.history import History
    from .recording.monitor import Monitor
    from .recording.records import JobRecord
    from .recording.report import history_report, import_report, job_report, load_report, write_report
    from .segments.progress import ProgressEvent
    from .segments.render import SegmentResult
