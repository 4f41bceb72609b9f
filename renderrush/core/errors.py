"""Error types: every failure a user can cause or fix is a `RenderRushError` subclass
whose message says what was wrong and what to do about it. Where a builtin exception means
the same, it is a base too, so `except FileNotFoundError` or `except ValueError` also work.

    RenderRushError
    ├── InputError                     the input cannot be rendered
    │   ├── InputNotFoundError         (FileNotFoundError) missing, a folder, unreadable
    │   ├── NotAVideoError             (ValueError) not a video, a device or pipe, cover art only
    │   ├── EmptyVideoError            (ValueError) no frames that decode
    │   ├── UnsupportedVideoError      (ValueError) undecodable codec, too small
    │   └── UploadError                (ValueError) an upload refused (type, size, name)
    ├── SettingsError                  (ValueError) an invalid option value or unknown option
    │   ├── FilterError                unknown filter, malformed chain, parameter out of range
    │   └── SchedulerError             an unknown scheduler name or address
    ├── AdviceError                    (ValueError) the advisor cannot fit what it was given
    ├── OutputError                    (OSError) the output cannot be written there
    │   └── OutputBusyError            another job renders to the same output
    ├── ResourceError                  not enough room to run
    │   ├── DiskSpaceError             (OSError) too little free disk space
    │   └── MemoryLimitError           available memory fell below the limit
    ├── JobError                       the job started but did not finish
    │   ├── SegmentError               one segment failed (names the segment)
    │   │   └── TimelineError          frames cannot be found by time: replanned from a decode pass
    │   ├── StitchError                joining the segments failed
    │   ├── ClusterError               the dask cluster cannot be reached or keeps losing workers
    │   └── JobCancelledError          stopped by the user; nothing was written
    ├── FFmpegError                    (RuntimeError) an ffmpeg command RenderRush runs failed
    ├── HistoryError                   the job history cannot be opened, read or written
    ├── ReportError                    (ValueError) a JSON report is unreadable or invalid
    ├── MonitorError                   (RuntimeError) a monitor used out of order
    └── DashboardError                 the web app cannot start (port, folder, Voila missing)

    RenderRushWarning (UserWarning)    something beside the job went wrong; the job goes on
"""

from __future__ import annotations


class RenderRushError(Exception):
    """Base class for all errors RenderRush raises on purpose."""

    job_id: int | None = None
    """The history id of the job this error ended, when it was recorded (set by `recording`)."""


class RenderRushWarning(UserWarning):
    """Something went wrong beside the job, which goes on (the CLI prints one
    `renderrush: warning:` line): a damaged or unwritable history, for example."""


class InputError(RenderRushError):
    """The input cannot be rendered."""


class InputNotFoundError(InputError, FileNotFoundError):
    """The input path does not exist or is not a file."""


class NotAVideoError(InputError, ValueError):
    """The input exists but holds no decodable video stream."""


class EmptyVideoError(InputError, ValueError):
    """The input has a video stream but no frames (empty or truncated file)."""


class UnsupportedVideoError(InputError, ValueError):
    """The video is readable but cannot be processed (for example, too small)."""


class SettingsError(RenderRushError, ValueError):
    """An invalid job option (worker count, segment length, preset, CRF, an unknown
    option name), sample setting or environment limit."""


class FilterError(SettingsError):
    """An unknown filter name, a malformed chain or a parameter out of range."""


class SchedulerError(SettingsError):
    """An unknown scheduler: not a local scheduler name, a cluster address or a Client."""


class AdviceError(RenderRushError, ValueError):
    """The advisor was given timings or a clip it cannot work from (one worker count,
    non-positive sizes)."""


class OutputError(RenderRushError, OSError):
    """The output path cannot be written (bad suffix, missing folder, same as input)."""


class OutputBusyError(OutputError):
    """Another job (another process, or this one) is rendering to the same output right now."""


class JobError(RenderRushError):
    """The job started but did not finish; no output was written."""


class SegmentError(JobError):
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


class ClusterError(JobError):
    """The dask cluster cannot be reached, or its workers kept dying on a segment."""


class JobCancelledError(JobError):
    """The job was cancelled by the user before it finished; no output was written."""

    def __init__(self, message: str = "the job was cancelled; no output was written") -> None:
        super().__init__(message)


class StitchError(JobError):
    """Joining the rendered segments (and the source audio) into the output failed."""


class FFmpegError(RenderRushError, RuntimeError):
    """An ffmpeg command that RenderRush runs itself (sample generation, probing) failed."""


class ResourceError(RenderRushError):
    """The machine lacks what the job needs: free disk space at the output, or memory."""


class DiskSpaceError(ResourceError, OSError):
    """Not enough free disk space at the output for the estimated output and its segments."""


class MemoryLimitError(ResourceError):
    """The job was stopped because the machine was about to run out of memory (and swap)."""


class HistoryError(RenderRushError):
    """The job history database cannot be opened, read or written."""


class ReportError(RenderRushError, ValueError):
    """A JSON performance report is unreadable, of an unknown version or invalid."""


class UploadError(InputError, ValueError):
    """An uploaded file was refused (type, size or name)."""


class MonitorError(RenderRushError, RuntimeError):
    """A monitor was used out of order (started twice, for example)."""


class DashboardError(RenderRushError, ValueError):
    """The dashboard web app cannot start: its port, its output folder, or Voila missing."""
