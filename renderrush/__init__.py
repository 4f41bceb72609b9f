"""RenderRush: notebook-first parallel video rendering with dask."""

from .compare import Comparison, compare
from .engine import JobResult, render
from .errors import (
    EmptyVideoError,
    FFmpegError,
    FilterError,
    InputNotFoundError,
    JobCancelledError,
    NotAVideoError,
    OutputError,
    RenderRushError,
    SegmentError,
    SettingsError,
    StitchError,
    UnsupportedVideoError,
)
from .filters import FilterChain, Param, available_filters, register_filter, unregister_filter
from .plan import Segment, plan_segments
from .probe import VideoInfo, probe
from .progress import ProgressEvent
from .render import EncodeSettings, SegmentResult
from .samples import make_sample_video

__version__ = "0.1.0"

__all__ = [
    "Comparison", "EmptyVideoError", "EncodeSettings", "FFmpegError", "FilterChain", "FilterError",
    "InputNotFoundError", "JobCancelledError", "JobResult", "NotAVideoError", "OutputError", "Param", "ProgressEvent",
    "RenderRushError", "Segment", "SegmentError", "SegmentResult", "SettingsError", "StitchError",
    "UnsupportedVideoError", "VideoInfo", "available_filters", "compare", "make_sample_video",
    "plan_segments", "probe", "register_filter", "render", "unregister_filter",
]  # fmt: skip
