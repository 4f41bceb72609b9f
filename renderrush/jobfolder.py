"""A job's working folder beside its output: segment files, status files and a manifest.

The folder is named after the output, so an interrupted job (Ctrl-C, a killed process)
can be resumed: with `resume=True` a folder whose manifest matches the same input,
filters and encoder settings is reused, and every segment file that is complete (it was
renamed into place only after encoding finished, its timestamps are beside it, and its
frame count is checked again)
is kept instead of rendered again.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import av

from .plan import Segment
from .progress import DONE, progress_path, write_status
from .segment import read_timestamps, timestamps_path
from .stitch import count_video_packets

MANIFEST = "manifest.json"


def job_signature(source: Path, chain: str, encode: Any, size: tuple[int, int]) -> dict[str, Any]:
    """What must be unchanged for finished segments to be reusable."""
    stat = source.stat()
    return {
        "source": str(source),
        "source_bytes": stat.st_size,
        "source_mtime_ns": stat.st_mtime_ns,
        "filters": chain,
        "encode": asdict(encode),
        "size": list(size),
    }


class JobFolder:
    """The folder `.NAME.renderrush` beside the output `NAME`."""

    def __init__(self, output: Path) -> None:
        self.path = output.with_name(f".{output.name}.renderrush")

    def segment_file(self, index: int) -> Path:
        return self.path / f"segment-{index:05d}.mp4"

    def _manifest(self) -> dict[str, Any] | None:
        try:
            return json.loads((self.path / MANIFEST).read_text())
        except (OSError, ValueError):
            return None

    def prepare(self, signature: dict[str, Any], segments: list[Segment], resume: bool) -> tuple[list[Segment], set[int]]:
        """Create the folder (or take over a matching one when resuming).

        Returns the segments to use (a resumed job keeps the plan it started with) and
        the indices of segments already complete.
        """
        manifest = self._manifest() if resume else None
        if manifest is not None and manifest.get("signature") == signature:
            segments = [Segment(**s) for s in manifest["segments"]]
            done = [s for s in segments if self._complete(s)]
            keep = {MANIFEST}
            for segment in done:
                keep |= {self.segment_file(segment.index).name, timestamps_path(self.segment_file(segment.index)).name}
            for leftover in self.path.iterdir():  # partial segments, stale statuses and markers
                if leftover.name not in keep:
                    leftover.unlink()
            for segment in done:
                write_status(progress_path(self.path, segment.index), segment.frames, DONE)
            return segments, {s.index for s in done}
        self.remove()
        self.path.mkdir()
        (self.path / MANIFEST).write_text(json.dumps({"signature": signature, "segments": [asdict(s) for s in segments]}))
        return segments, set()

    def _complete(self, segment: Segment) -> bool:
        file = self.segment_file(segment.index)
        try:
            return file.is_file() and count_video_packets(file) == len(read_timestamps(file))
        except (av.FFmpegError, OSError, ValueError):
            return False

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
