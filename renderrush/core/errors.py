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

PyAV's errors become these in one place, `translate_av_errors` (a context manager, like
httpx's `map_exceptions`): the caller names the error class and the sentence, FFmpeg's own
reason fills `{reason}`.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Iterable
from contextlib import AbstractContextManager
from types import TracebackType
from typing import TypeVar

E = TypeVar("E", bound="RenderRushError")


class RenderRushError(Exception):
    """Base class for all errors RenderRush raises on purpose."""

    job_id: int | None = None
    """The history id of the job this error ended, when it was recorded (set by `recording`)."""
    cli_message: str | None = None
    """The message in command-line terms (commands and flags), where `str(error)` names Python
    calls or keywords: the `renderrush` command prints this one (`in_cli_terms`)."""

    def in_cli_terms(self: E, message: str) -> E:
        """This error, with `message` for the command line (kept in the instance's dict, so it
        survives pickling between processes like `job_id`)."""
        self.cli_message = message
        return self


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


def av_reason(exc: BaseException) -> str:
    """What went wrong, in FFmpeg's words where the error is one of PyAV's (its `strerror`,
    without the Python class and errno that `str()` adds), else the exception's text."""
    reason = getattr(exc, "strerror", None) if _is_av_error(exc) else None
    return str(reason or exc) or type(exc).__name__


def _is_av_error(exc: BaseException) -> bool:
    # PyAV is imported by whoever raised the error: looking it up in sys.modules keeps this
    # module (imported by `renderrush --help`) free of PyAV's import time.
    av = sys.modules.get("av")
    return av is not None and isinstance(exc, av.FFmpegError)


class translate_av_errors(AbstractContextManager[None]):
    """The one place where PyAV's errors become RenderRush's: inside `with
    translate_av_errors(StitchError, "joining into {name} failed: {reason}", name=...)`, an
    `av.FFmpegError` (and any of `also`) is raised again as `error` with the message filled
    in (`{reason}` is FFmpeg's own sentence), from None: users see one line, not a chain of
    tracebacks through PyAV. Other exceptions pass through untouched. `leading` arguments
    come before the message, for errors that take more (`SegmentError(index, message)`)."""

    def __init__(
        self,
        error: type[RenderRushError],
        message: str,
        *,
        also: tuple[type[BaseException], ...] = (),
        leading: tuple[object, ...] = (),
        **fields: object,
    ) -> None:
        self.error, self.message, self.also, self.leading, self.fields = error, message, also, leading, fields

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if exc is None or isinstance(exc, RenderRushError):
            return None
        if _is_av_error(exc) or (self.also and isinstance(exc, self.also)):
            raise self.error(*self.leading, self.message.format(reason=av_reason(exc), **self.fields)) from None
        return None


def did_you_mean(name: str, names: Iterable[str]) -> str:
    """ " (did you mean 'x'?)" for the closest of `names` to a mistyped `name` (a filter, a
    parameter, an option); "" when none is close."""
    close = difflib.get_close_matches(name.lower(), list(names), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
