"""Error types: every failure a user can cause or fix is a `RenderRushError` subclass
whose message says what was wrong and what to do about it."""

from __future__ import annotations


class RenderRushError(Exception):
    """Base class for all errors RenderRush raises on purpose."""


class RenderRushWarning(UserWarning):
    """Something went wrong beside the job, which goes on (the CLI prints one
    `renderrush: warning:` line): a damaged or unwritable history, for example."""


class InputNotFoundError(RenderRushError):
    """The input path does not exist or is not a file."""


class NotAVideoError(RenderRushError):
    """The input exists but holds no decodable video stream."""


class EmptyVideoError(RenderRushError):
    """The input has a video stream but no frames (empty or truncated file)."""


class UnsupportedVideoError(RenderRushError):
    """The video is readable but cannot be processed (for example, too small)."""


class FilterError(RenderRushError):
    """An unknown filter name, a malformed chain or a parameter out of range."""


class OutputError(RenderRushError):
    """The output path cannot be written (bad suffix, missing folder, same as input)."""


class OutputBusyError(OutputError):
    """Another job (another process, or this one) is rendering to the same output right now."""


class SegmentError(RenderRushError):
    """Rendering one segment failed; the message names the segment and ffmpeg's reason."""

    def __init__(self, index: int, message: str) -> None:
        # Both values stay in `args` so the error survives pickling between processes.
        super().__init__(index, message)
        self.index = index
        self.reason = message

    def __str__(self) -> str:
        return f"segment {self.index} failed: {self.reason}"


class TimelineError(SegmentError):
    """A segment decoded frames whose times do not increase, so frames cannot be found by
    their time in this file; the job is planned again from a decode pass."""


class ClusterError(RenderRushError):
    """The dask cluster cannot be reached, or its workers kept dying on a segment."""


class JobCancelledError(RenderRushError):
    """The job was cancelled by the user before it finished; no output was written."""

    def __init__(self, message: str = "the job was cancelled; no output was written") -> None:
        super().__init__(message)


class StitchError(RenderRushError):
    """Joining the rendered segments (and the source audio) into the output failed."""


class SettingsError(RenderRushError):
    """An invalid job setting: scheduler, worker count, segment length, preset or CRF."""


class FFmpegError(RenderRushError):
    """An ffmpeg command that RenderRush runs itself (sample generation, probing) failed."""


class ResourceError(RenderRushError):
    """The machine lacks what the job needs: free disk space at the output, or memory."""


class DiskSpaceError(ResourceError):
    """Not enough free disk space at the output for the estimated output and its segments."""


class MemoryLimitError(ResourceError):
    """The job was stopped because the machine was about to run out of memory (and swap)."""


class HistoryError(RenderRushError):
    """The job history database cannot be opened, read or written."""


class ReportError(RenderRushError):
    """A JSON performance report is unreadable, of an unknown version or invalid."""
