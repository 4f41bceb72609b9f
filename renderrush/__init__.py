"""RenderRush: notebook-first parallel video rendering with dask."""

from .compare import Comparison, compare
from .engine import JobResult, render
from .errors import (
    EmptyVideoError,
    FFmpegError,
    FilterError,
    ClusterError,
    HistoryError,
    InputNotFoundError,
    JobCancelledError,
    NotAVideoError,
    OutputBusyError,
    OutputError,
    RenderRushError,
    RenderRushWarning,
    ReportError,
    SegmentError,
    SettingsError,
    StitchError,
    UnsupportedVideoError,
)
from .filters import FilterChain, Param, available_filters, register_filter, unregister_filter
from .health import HealthReport, system_health
from .history import History, JobRecord
from .monitor import Monitor
from .plan import Segment, plan_segments
from .probe import VideoInfo, probe
from .progress import ProgressEvent
from .segment import EncodeSettings, SegmentResult
from .recording import advise
from .report import history_report, import_report, job_report, load_report, write_report
from .samples import make_sample_video

__version__ = "0.1.0"

__all__ = [
    "ClusterError", "Comparison", "EmptyVideoError", "EncodeSettings", "FFmpegError", "FilterChain", "FilterError",
    "HealthReport", "History", "HistoryError", "InputNotFoundError", "JobCancelledError", "JobRecord", "JobResult",
    "Monitor", "NotAVideoError", "OutputBusyError", "OutputError", "Param", "ProgressEvent", "RenderRushError", "RenderRushWarning", "ReportError", "Segment",
    "SegmentError", "SegmentResult", "SettingsError", "StitchError", "UnsupportedVideoError", "VideoInfo", "advise",
    "available_filters", "compare", "history_report", "import_report", "job_report", "load_report",
    "make_sample_video", "plan_segments", "probe", "register_filter", "render", "system_health",
    "unregister_filter", "write_report",
]  # fmt: skip
