"""Resource limits a render checks: free disk space before it starts, free memory while
it runs.

Disk: segment files and the stitched output exist side by side until the job folder is
removed, so a job needs about twice its output's size beside the output. The output's size
is not known before encoding; it is estimated from the source (its size, or 0.1 bit per
pixel, x264's CRF 23 on busy content, whichever is larger). `force=True` (`--force`)
skips the check for when the estimate is wrong.

Memory: the job's monitor reports the memory still available (container limits
honoured) every half second; below `min_free_memory()` the job is stopped with a
`MemoryLimitError` instead of driving the machine into swap. The threshold is
$RENDERRUSH_MIN_FREE_MEMORY_MB, or 5% of the usable memory, at least 256 MiB.
"""

from __future__ import annotations

import math
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

from ..core.errors import DiskSpaceError, MemoryLimitError, SettingsError
from ..core.resources import total_memory
from ..media.probe import VideoInfo
from .monitor import Sample

MIB = 2**20
BITS_PER_PIXEL = 0.1
DISK_MARGIN = MIB
"""Room for the manifest, status files and the file system's own blocks."""
MEMORY_ENV = "RENDERRUSH_MIN_FREE_MEMORY_MB"


def estimated_output_bytes(info: VideoInfo) -> int:
    """A generous guess of the rendered output's size."""
    pixels = info.width * info.height * info.frame_count
    return max(info.path.stat().st_size, int(pixels * BITS_PER_PIXEL / 8))


def check_disk_space(info: VideoInfo, output: Path, *, force: bool = False) -> None:
    """Raise `DiskSpaceError` when the folder of `output` cannot hold the estimated output
    plus its segments (unless `force`)."""
    if force:
        return
    needed = 2 * estimated_output_bytes(info) + DISK_MARGIN
    usage = shutil.disk_usage(output.parent)
    # a file system that reports no size at all (proc, some FUSE mounts) cannot be judged:
    # whether it can be written is found out when the job's lock file is created
    if usage.total and usage.free < needed:
        free = usage.free
        short = (
            f"not enough free disk space in '{output.parent}': the output and its segments need about "
            f"{needed / MIB:.1f} MiB, {free / MIB:.1f} MiB is free; free some space, choose another folder, "
        )
        raise DiskSpaceError(f"{short}or pass force=True if the estimate is wrong").in_cli_terms(
            f"{short}or use --force if the estimate is wrong"
        )


def min_free_memory() -> int:
    """Bytes of available memory below which a running job is stopped."""
    text = os.environ.get(MEMORY_ENV)
    if text:
        try:
            value = float(text)
        except ValueError:
            value = -1
        if not 0 <= value < math.inf:  # also refuses nan and inf
            raise SettingsError(f"{MEMORY_ENV} must be a number of MiB, 0 or more, got {text!r}")
        return int(value * MIB)
    return max(256 * MIB, total_memory() // 20)


class _EitherEvent(threading.Event):
    """Set when it is set itself or when the caller's own cancel event is: the guard
    stops the job without touching an event the caller may reuse."""

    def __init__(self, other: threading.Event | None) -> None:
        super().__init__()
        self.other = other

    def is_set(self) -> bool:
        return super().is_set() or (self.other is not None and self.other.is_set())


class MemoryGuard:
    """Watches the monitor's samples and cancels the job when memory runs short."""

    def __init__(self, cancel: threading.Event | None, on_sample: Callable[[Sample], None] | None) -> None:
        self.threshold = min_free_memory()
        self.cancel = _EitherEvent(cancel)
        self._on_sample = on_sample
        self.tripped: Sample | None = None

    def __call__(self, sample: Sample) -> None:
        if self.tripped is None and sample.mem_available < self.threshold:
            self.tripped = sample
            self.cancel.set()
        if self._on_sample is not None:
            try:
                self._on_sample(sample)
            except Exception:  # a failing gauge must not switch the guard off with it
                self._on_sample = None

    def raise_if_tripped(self) -> None:
        """After a cancelled job: the `MemoryLimitError` that says why, if the guard stopped it."""
        if self.tripped is not None:
            raise MemoryLimitError(
                f"stopped: only {self.tripped.mem_available / MIB:.0f} MiB of memory was left (the job stops below "
                f"{self.threshold / MIB:.0f} MiB, before the machine swaps); use fewer workers or set "
                f"{MEMORY_ENV}; no output was written"
            )
