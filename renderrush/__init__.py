"""RenderRush: notebook-first parallel video rendering with dask.

The public names are loaded on first use (PEP 562): `import renderrush` stays cheap
(no dask, NumPy, OpenCV, PyAV or jsonschema) so that the command line starts at once;
`from renderrush import render` and `renderrush.render` import what they need then.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from .errors import (
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
    "advisor": ("advise",),
    "backend": ("Backend", "BackendRun", "Work"),
    "compare": ("compare",),
    "encode": ("EncodeSettings",),
    "engine": ("render", "run_job"),
    "filters": ("FilterChain", "Param", "available_filters", "register_filter", "unregister_filter"),
    "health": ("HealthReport", "system_health"),
    "history": ("History",),
    "monitor": ("Monitor",),
    "options": ("RenderOptions",),
    "plan": ("JobPlan", "Segment", "plan_job", "plan_segments"),
    "probe": ("VideoInfo", "probe"),
    "progress": ("ProgressEvent",),
    "records": ("JobRecord",),
    "report": ("history_report", "import_report", "job_report", "load_report", "write_report"),
    "result": ("Comparison", "JobResult"),
    "samples": ("make_sample_video",),
    "segment": ("SegmentResult",),
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
        # AttributeError (not ImportError) lets `from renderrush import resources` fall back to the submodule.
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module_name}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _Package(types.ModuleType):
    """`renderrush.probe` and `renderrush.compare` are public functions that share their names
    with submodules. Importing a submodule binds it on its package, which would replace the
    function (`renderrush.probe(...)` would then fail after any `import renderrush.probe`);
    this keeps the function."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _LAZY.get(name) == name:
            return  # the function is (or will be) resolved by __getattr__
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

if TYPE_CHECKING:  # what type checkers and IDEs see: the eager imports
    from .advisor import advise
    from .backend import Backend, BackendRun, Work
    from .compare import compare
    from .encode import EncodeSettings
    from .engine import render, run_job
    from .filters import FilterChain, Param, available_filters, register_filter, unregister_filter
    from .health import HealthReport, system_health
    from .history import History
    from .monitor import Monitor
    from .options import RenderOptions
    from .plan import JobPlan, Segment, plan_job, plan_segments
    from .probe import VideoInfo, probe
    from .progress import ProgressEvent
    from .records import JobRecord
    from .report import history_report, import_report, job_report, load_report, write_report
    from .result import Comparison, JobResult
    from .samples import make_sample_video
    from .segment import SegmentResult
