"""Re-render one segment of a finished render at another quality and stitch the output again,
reusing every other segment as encoded: the resume machinery does the work. The first render
must have kept its segments (`keep_segments=True`, `--keep-segments`); the segment gets a CRF of
its own (by default 4 below the one it had: visibly better, about 1.6 times the bytes), and the
joins around it are checked again like any render's.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from ..core.errors import SettingsError
from ..core.layout import MANIFEST, progress_path, timestamps_path
from ..media.codecs import CODECS, check_crf
from ..recording.monitor import Sample
from ..recording.recorded import HistoryOption
from ..segments.jobfolder import JobFolder
from ..segments.progress import ProgressCallback
from .engine import recorded_job, run_job
from .plan import plan_job
from .result import JobResult

BETTER_BY = 4
"""CRF steps below the segment's own a re-render takes by default (x264's scale)."""


def rerender(
    result: JobResult,
    segment: int,
    *,
    crf: float | None = None,
    history: HistoryOption = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    on_sample: Callable[[Sample], None] | None = None,
) -> JobResult:
    """Render segment `segment` of the finished render `result` again at `crf` (x264's scale;
    default: its own CRF minus 4) and write `result.output` anew, every other segment reused.
    The new result's segments are those of the output now (the others marked `reused`)."""
    output = Path(result.output)
    folder = JobFolder(output, segment_suffix=CODECS[result.encode.codec].segment_suffix)
    if not (folder.path / MANIFEST).is_file():
        raise SettingsError(
            f"the segments of '{output.name}' were not kept: render it with keep_segments=True "
            "(--keep-segments) to re-render one of its segments later"
        )
    count = len(result.segments)
    if isinstance(segment, bool) or not isinstance(segment, int) or not 0 <= segment < count:
        raise SettingsError(f"segment must be a whole number from 0 to {count - 1}, got {segment!r}")
    own = next((s.crf for s in result.segments if s.index == segment), None)
    crf = check_crf(crf if crf is not None else max(0.0, (own if own is not None else result.encode.crf) - BETTER_BY))
    encode = result.encode
    values: dict[str, object] = dict(
        filters=result.filters,
        workers=1,
        scheduler="sync",  # one segment to render: no pool
        preset=encode.preset,
        crf=encode.crf,  # the job's own CRF: the kept segments were made with it
        codec=encode.codec,
        tonemap=encode.tonemap,
        resume=True,
        keep_segments=True,
        history=history,
        label="rerender",
    )
    segment_file = folder.segment_file(segment)
    for path in (segment_file, timestamps_path(segment_file), progress_path(folder.path, segment)):
        path.unlink(missing_ok=True)
    with recorded_job("render", os.fspath(result.input), output, None, values, cancel=cancel, on_sample=on_sample) as (
        recording,
        job,
    ):
        plan = plan_job(result.input, job, recording.history, output=output)
        plan = replace(plan, crfs={**plan.crfs, segment: float(crf)})
        recording.result = run_job(plan, output, job, progress=progress, cancel=recording.cancel)
    return recording.result
