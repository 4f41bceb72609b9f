"""The job folder's layout: every file name RenderRush writes beside an output, spelled once.

For an output `NAME`, the job works in the folder `.NAME.renderrush` (kept for `--resume`
until the output is written) under the lock file `.NAME.renderrush.lock`. Inside the folder:
`manifest.json` (the plan and the job's signature), per segment `segment-00007.mp4` with its
`.progress` status file, its `.pts.json` output timestamps and its `.timing.json` times, and
the markers `cancel.requested` (every task stops) and `stitch.started` (the join began).
"""

from __future__ import annotations

import os
from pathlib import Path

FOLDER_SUFFIX = ".renderrush"
LOCK_SUFFIX = ".renderrush.lock"
MANIFEST = "manifest.json"
SEGMENT_SUFFIX = ".mp4"
TIMING_SUFFIX = ".timing.json"


def work_folder(output: Path) -> Path:
    """The job folder beside `output`."""
    return output.with_name(f".{output.name}{FOLDER_SUFFIX}")


def lock_path(output: Path) -> Path:
    """The lock file that keeps two jobs off one output."""
    return output.with_name(f".{output.name}{LOCK_SUFFIX}")


def segment_file(folder: Path, index: int, suffix: str = SEGMENT_SUFFIX) -> Path:
    """Segment `index`'s encoded file."""
    return Path(folder) / f"segment-{index:05d}{suffix}"


def progress_path(folder: Path, index: int) -> Path:
    """Status file of segment `index` inside a job's folder."""
    return Path(folder) / f"segment-{index:05d}.progress"


def cancel_marker(folder: Path) -> Path:
    """File whose presence asks every segment task of a job to stop."""
    return Path(folder) / "cancel.requested"


def stitch_marker(folder: Path) -> Path:
    """File the stitch step creates when it starts, so the poller can report it."""
    return Path(folder) / "stitch.started"


def timestamps_path(segment: str | os.PathLike[str]) -> Path:
    """Where a segment's output timestamps are kept beside its file."""
    return Path(segment).with_suffix(".pts.json")


def timing_path(segment: str | os.PathLike[str]) -> Path:
    """Where a segment task leaves its start and end times beside its file."""
    return Path(f"{os.fspath(segment)}{TIMING_SUFFIX}")
