"""Output-path rules: where a render may write, and how long its name may be. Files are
written under a temporary name beside the final path and renamed into place only on
success (`atomic.py`), so no half-written file ever sits at the final path."""

from __future__ import annotations

import os
from pathlib import Path

from ..core.errors import OutputError
from .codecs import OUTPUT_SUFFIXES

WORK_NAME_EXTRA = 24
"""Bytes a work file beside the output may add to the output's name: the temporary name
the output is written under adds at most `atomic.TEMP_NAME_EXTRA` (23), the job's lock
`.NAME.renderrush.lock` 17; the rest is headroom, so the limit users see stays put."""


def _name_max(folder: Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def check_output_path(output: Path, source: Path) -> Path:
    """Validate where a render may write; returns the absolute output path."""
    output = output.expanduser().absolute()
    if output.suffix.lower() not in OUTPUT_SUFFIXES:
        raise OutputError(
            f"output '{output.name}' must end in one of {', '.join(OUTPUT_SUFFIXES)} (MP4, MOV, Matroska or WebM)"
        )
    if not output.parent.is_dir():
        raise OutputError(f"output folder '{output.parent}' does not exist: create it first")
    name_bytes, name_max = len(os.fsencode(output.name)), _name_max(output.parent)
    if name_bytes + WORK_NAME_EXTRA > name_max:
        raise OutputError(
            f"output name '{output.name[:24]}...' is too long ({name_bytes} bytes): RenderRush names its work files "
            f"after it, so use at most {name_max - WORK_NAME_EXTRA} bytes here"
        )
    if output.is_dir():
        raise OutputError(f"output '{output}' is a folder: give a file name ending in .mp4")
    if output.exists() and source.exists() and output.samefile(source):
        raise OutputError(f"output '{output}' is the input file: choose another name")
    if not os.access(output.parent, os.W_OK):
        raise OutputError(f"cannot write to folder '{output.parent}': check its permissions")
    return output
