"""Worker count and segment length for a job, from simple rules or from past timings.

Without usable history the advice is rule-based:
  workers = min(cores, workers that fit in available memory), and
  segment_seconds = duration / (workers * k), k = min(2, floor(duration / workers / 2 s))
  (up to two segments per worker, a whole number per worker so no last round runs half
  empty, and at least 2 s each; 2 s when the clip is shorter than 2 s per worker; k = 1 where
  the clip's keyframes lie more than half such a segment apart), with workers then
  reduced to the number of segments when the clip is too short to give each one a segment.

With timings of comparable runs (the same machine and chain: `past_runs`; a
pixel count within 25% and, when the clip's frame count is known, between half and twice
as many frames) at three or more worker counts, it fits Amdahl's law to seconds per frame,
t(n) = s + p / n. A fit is used only if it explains the timings (r2 >= 0.9) and has a
serial part (s > 0: nothing real scales perfectly, and s = 0 is what a least-squares fit
clamps to when the timings are noise). It never advises fewer workers than usable cores
(the fit predicts fewer can only be slower) and adds workers, up to 2 per core, while the
next one saves at least 5% (see `recommend`). A rejected fit falls back to the rules and
the reason says why: after ~200 unrelated small jobs an accepted fit (r2 = 0.59, s = 0)
once advised 8 workers on 2 cores and halved the throughput.

Memory per worker (`worker_memory`) = 150 MB (Python, numpy, OpenCV, dask) +
1.25 (safety) * width * height * 300 bytes, where 300 bytes per pixel is ~40 for the
few frames in flight and the decoder plus ~260 for x264 (lookahead and reference frames),
all in the worker's process. Measured when x264 ran as its own process: 1080p about
120 MB Python + 490-580 MB encoder at 1-2 encoder threads (estimate 927 MB); 360p about
67 + 110 MB (estimate 236 MB). More encoder threads use more (780 MB at 8 threads, 1080p).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from renderrush.core.errors import AdviceError
from renderrush.recording.machine import machine_info, same_machine

from ..core import resources

if TYPE_CHECKING:
    from renderrush.media.probe import VideoInfo
    from renderrush.recording.history import History

MIN_SEGMENT_SECONDS = 2.0
SEGMENTS_PER_WORKER = 2
"""Each segment pays a seek and an encoder start: 9 segments of a 30 s 720p clip cost
11.5 ms of CPU per frame against 10.8 for 4 (grayscale, in-process pipeline); two per
worker still lets a fast worker take over from a slow one."""
LONG_GOP = 0.5
"""Keyframes further apart than this fraction of a segment make the rule plan one segment
per worker: on a 20 s 720p clip with x264's 250-frame GOP, 2 workers, 4 segments decoded
400 frames they dropped, and took 5.75 s against 5.53 s for 2 segments (quiet, 3 rounds)."""
WORKER_BASE_BYTES = 150 * 1000**2
BYTES_PER_PIXEL = 300
MEMORY_SAFETY = 1.25
SIMILAR_PIXELS = 0.25
GAIN_THRESHOLD = 0.05
MAX_WORKERS_PER_CORE = 2
MIN_R2 = 0.9
MIN_WORKER_COUNTS = 3
LENGTH_RATIO = 2.0
"""Comparable clip length: between 1/2 and 2 times this clip's frames (short jobs are
dominated by start-up, long ones by throughput)."""
WORKER_START_SECONDS = 0.6
"""Wall time to start a pool of 2 worker processes that import the renderer (PyAV, NumPy,
OpenCV): 0.5-1.0 s measured on 2 busy cores (`pools.warm_pool(2)`, fresh process)."""
SEQUENTIAL_SECONDS_PER_PIXEL = 12e-9
"""Wall seconds per frame per pixel of one in-process segment (decode, built-in filter, x264
veryfast): about 11 ms per 1280x720 frame on 2 cores. Used when no past run of the chain at
one worker says better."""
PAST_JOBS = 200
"""How many of the newest finished jobs of a chain `past_runs` reads."""


@dataclass(frozen=True)
class RunTiming:
    """Wall time of one past render of `frames` frames at width x height with `workers` workers."""

    workers: int
    wall_seconds: float
    width: int
    height: int
    frames: int


def past_runs(history: History | None, filters: str) -> list[RunTiming]:
    """Timings of the newest finished jobs of the filter chain `filters` on this machine,
    for `recommend` (which keeps those of a similar resolution and length). The engine,
    the CLI and the notebook's control panel all advise from these: a render gives one
    timing, a comparison two (its sequential run at 1 worker and its parallel run)."""
    if history is None:
        return []
    here = machine_info()
    timings = []
    for r in history.list(status="finished", filters=filters, limit=PAST_JOBS):
        if not (r.workers and r.wall_seconds and r.frames and r.width and r.height and same_machine(r.machine, here)):
            continue
        timings.append(RunTiming(r.workers, r.wall_seconds, r.width, r.height, r.frames))
        sequential = r.details.get("sequential") if r.kind == "compare" else None
        if sequential and sequential.get("wall_seconds") and sequential.get("frames"):
            timings.append(RunTiming(1, sequential["wall_seconds"], r.width, r.height, sequential["frames"]))
    return timings


@dataclass(frozen=True)
class AmdahlFit:
    """Seconds per frame t(n) = serial + parallel / n, fitted by least squares."""

    serial: float
    parallel: float
    r2: float

    def predict(self, workers: int) -> float:
        """Predicted seconds per frame with `workers` workers."""
        return self.serial + self.parallel / workers


@dataclass(frozen=True)
class Recommendation:
    workers: int
    segment_seconds: float
    method: str  # "rules", "amdahl" or "in-process"
    reason: str
    memory_cap_workers: int
    fit: AmdahlFit | None = None
    segments: int = 1
    """How many segments `segment_seconds` makes of the clip: what `reason` describes."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return asdict(self)


def worker_memory(width: int, height: int) -> int:
    """Estimated peak bytes one worker needs at this resolution (formula in the module docstring)."""
    return int(WORKER_BASE_BYTES + MEMORY_SAFETY * width * height * BYTES_PER_PIXEL)


def fit_amdahl(runs: Sequence[RunTiming]) -> AmdahlFit:
    """Fit seconds per frame t(n) = s + p/n over `runs` (one resolution) with s, p >= 0.

    Needs at least two distinct worker counts. If the unconstrained least-squares fit
    makes s or p negative, the better of the two one-term fits (s = 0 or p = 0) is used.
    """
    if len({r.workers for r in runs}) < 2:
        raise AdviceError("an Amdahl fit needs timings at two or more different worker counts")
    for r in runs:
        if r.workers < 1 or r.frames < 1 or r.wall_seconds <= 0:
            raise AdviceError(f"invalid run timing {r}: workers and frames must be >= 1, wall time > 0")
    inv_n = np.array([1.0 / r.workers for r in runs])
    y = np.array([r.wall_seconds / r.frames for r in runs])
    a = np.column_stack([np.ones_like(inv_n), inv_n])
    (s, p), *_ = np.linalg.lstsq(a, y, rcond=None)
    if s < 0 or p < 0:
        serial_only = (float(y.mean()), 0.0)
        parallel_only = (0.0, max(0.0, float(inv_n @ y / (inv_n @ inv_n))))
        s, p = min(serial_only, parallel_only, key=lambda sp: float(np.sum((y - sp[0] - sp[1] * inv_n) ** 2)))
    ss_res = float(np.sum((y - s - p * inv_n) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0
    return AmdahlFit(float(s), float(p), r2)


def recommend(
    width: int,
    height: int,
    duration: float,
    history_runs: Sequence[RunTiming] | None = None,
    cores: int | None = None,
    available_memory: int | None = None,
    frames: int | None = None,
    segment_seconds: float | None = None,
    gop_seconds: float | None = None,
) -> Recommendation:
    """Advise workers and segment seconds for a width x height clip of `duration` seconds
    (`gop_seconds`: its mean keyframe interval, where known).

    Uses the Amdahl fit when `history_runs` holds comparable timings (module docstring) at
    three or more worker counts and the fit passes its checks: then workers is the smallest
    n in min(cores, memory cap)..min(cores * 2, memory cap) for which t(n+1) is less than
    5% below t(n); otherwise the rules in the module docstring, one worker per usable core.
    Given `frames`, a job for which parallel workers would save less time than starting
    them costs runs in the calling process ("in-process": one worker, one segment).
    Given `segment_seconds` (the user's choice), only workers are advised and the reason
    describes the segments of that length, the ones that will run.
    """
    if width < 1 or height < 1 or not duration > 0:
        raise AdviceError(f"cannot advise on a {width}x{height} clip of {duration} s: all must be positive")
    cores = resources.available_cores() if cores is None else cores
    if cores < 1:
        raise AdviceError(f"cores must be at least 1, got {cores}")
    memory_cap, resources_text = _room(width, height, available_memory, cores)
    similar = [r for r in history_runs or () if abs(r.width * r.height / (width * height) - 1) <= SIMILAR_PIXELS]
    if frames is not None:
        short = _in_process(width, height, duration, frames, similar, cores, memory_cap, segment_seconds)
        if short is not None:
            return short
        similar = [r for r in similar if 1 / LENGTH_RATIO <= r.frames / frames <= LENGTH_RATIO]
    default = min(cores, memory_cap)
    counts = len({r.workers for r in similar})
    fit = fit_amdahl(similar) if counts >= 2 else None
    rejection = _rejection(fit, similar, counts)
    if fit is None or rejection:
        seconds, workers, count, seg_text = _segments(duration, default, segment_seconds, gop_seconds)
        reason = (
            f"Rules ({rejection}): {resources_text} allow {_count(default, 'worker')}, one per usable core; {seg_text}."
        )
        return Recommendation(workers, seconds, "rules", reason, memory_cap, fit, count)
    best, fit_text = _fitted_workers(fit, similar, counts, default, cores, memory_cap)
    seconds, workers, count, seg_text = _segments(duration, best, segment_seconds, gop_seconds)
    reason = f"{fit_text}; never fewer than one worker per usable core; {resources_text}; {seg_text}."
    return Recommendation(workers, seconds, "amdahl", reason, memory_cap, fit, count)


def _room(width: int, height: int, available_memory: int | None, cores: int) -> tuple[int, str]:
    """How many workers memory has room for, and the sentence that says what the machine has."""
    free = resources.available_memory() if available_memory is None else available_memory
    per_worker = worker_memory(width, height)
    memory_cap = max(1, free // per_worker)
    text = (
        f"{_count(cores, 'core')} and {free / 1e9:.1f} GB free memory (room for "
        f"{_count(memory_cap, 'worker')} at ~{per_worker / 1e6:.0f} MB each at {width}x{height})"
    )
    return memory_cap, text


def _fitted_workers(
    fit: AmdahlFit, similar: Sequence[RunTiming], counts: int, default: int, cores: int, memory_cap: int
) -> tuple[int, str]:
    """The smallest worker count past which one more saves under the threshold (from the
    Amdahl fit, within the per-core and memory limits), and why."""
    limit = max(default, min(cores * MAX_WORKERS_PER_CORE, memory_cap))
    best = next((n for n in range(default, limit) if _gain(fit, n) < GAIN_THRESHOLD), limit)
    if best < limit:
        stop_text = f"under the {GAIN_THRESHOLD:.0%} threshold"
    elif limit == memory_cap:
        stop_text = f"but memory has room for only {_count(limit, 'worker')}"
    else:
        stop_text = f"but {MAX_WORKERS_PER_CORE} workers per core is the upper limit"
    measured = max(r.workers for r in similar)
    beyond = f"; extrapolated beyond the {measured} workers measured" if best > measured else ""
    text = (
        f"Amdahl fit over {_count(len(similar), 'comparable run')} at {counts} worker counts: t(n) = "
        f"{fit.serial * 1000:.2f} + {fit.parallel * 1000:.2f}/n ms per frame (r2 = {fit.r2:.2f}); predicted "
        f"{fit.predict(best) * 1000:.2f} ms/frame at {_count(best, 'worker')}, "
        f"{fit.predict(best + 1) * 1000:.2f} at {best + 1} ({_gain(fit, best):.1%} faster, {stop_text}){beyond}"
    )
    return best, text


def _rejection(fit: AmdahlFit | None, runs: Sequence[RunTiming], counts: int) -> str:
    """Why the past runs cannot be trusted to pick workers ("" when the fit is usable)."""
    if counts < MIN_WORKER_COUNTS:
        return (
            f"{_count(len(runs), 'comparable past run')} at {_count(counts, 'worker count')}; "
            f"a fit needs {MIN_WORKER_COUNTS}"
        )
    assert fit is not None
    model = f"t(n) = {fit.serial * 1000:.2f} + {fit.parallel * 1000:.2f}/n ms"
    if fit.r2 < MIN_R2:
        return f"Amdahl fit rejected: r2 = {fit.r2:.2f} is below {MIN_R2} ({model} over {_count(len(runs), 'run')})"
    if fit.serial <= 0:
        return f"Amdahl fit rejected: its serial part is 0 ({model}), which only noise gives"
    return ""


def _in_process(
    width: int,
    height: int,
    duration: float,
    frames: int,
    similar: Sequence[RunTiming],
    cores: int,
    memory_cap: int,
    given: float | None = None,
) -> Recommendation | None:
    """One worker in the calling process when running in parallel on every core would save
    less time than starting worker processes costs; None otherwise."""
    at_one = sorted(r.wall_seconds / r.frames for r in similar if r.workers == 1)
    if at_one:
        per_frame, source = at_one[len(at_one) // 2], f"the median of {_count(len(at_one), 'past run')} at 1 worker"
    else:
        per_frame, source = width * height * SEQUENTIAL_SECONDS_PER_PIXEL, "a per-pixel estimate"
    expected = frames * per_frame
    # The most a pool of `cores` workers could save is all but 1/cores of the job: when even
    # that is below what starting the workers costs, the pool can only make the job slower.
    saving = expected * (1 - 1 / cores)
    if saving >= WORKER_START_SECONDS:
        return None
    seconds, count = (
        (max(duration, MIN_SEGMENT_SECONDS), 1) if given is None else (given, _segment_count(duration, given))
    )
    what = (
        "one segment" if given is None else f"{_count(count, 'segment')} of {given:.1f} s as asked, one after another"
    )
    reason = (
        f"In process: {frames} frames at {per_frame * 1000:.1f} ms each ({source}) should take {expected:.2f} s; "
        f"{_count(cores, 'worker')} could save at most {saving:.2f} s, less than the ~{WORKER_START_SECONDS:.1f} s "
        f"it takes to start worker processes; {what}, no pool."
    )
    return Recommendation(1, seconds, "in-process", reason, memory_cap, segments=count)


def _gain(fit: AmdahlFit, workers: int) -> float:
    """Fraction of t(n) saved by one more worker: 1 - t(n+1) / t(n)."""
    return 1 - fit.predict(workers + 1) / fit.predict(workers)


def rule_segment_seconds(duration: float, workers: int, gop_seconds: float | None = None) -> float:
    """Up to two segments per worker, always a whole number per worker so no worker
    sits idle in a last, half-empty round, and at least 2 s each (every segment pays a
    seek and an encoder start). A clip too short for 2 s per worker gets 2 s segments.
    One per worker where keyframes are sparse (`gop_seconds`, the mean keyframe interval,
    over half the two-per-worker length): the extra boundaries would fall far from any
    keyframe, and each such segment decodes from the keyframe before it frames it then
    drops (`LONG_GOP`)."""
    per_worker = duration / workers
    if per_worker < MIN_SEGMENT_SECONDS:
        return MIN_SEGMENT_SECONDS
    rounds = min(SEGMENTS_PER_WORKER, math.floor(per_worker / MIN_SEGMENT_SECONDS))
    if gop_seconds is not None and gop_seconds > LONG_GOP * per_worker / rounds:
        rounds = 1
    return per_worker / rounds


def mean_gop_seconds(duration: float, keyframes: Sequence[int]) -> float | None:
    """The mean keyframe interval of a clip, None when its keyframes are not known."""
    return duration / len(keyframes) if keyframes else None


def _segment_count(duration: float, seconds: float) -> int:
    return max(1, round(duration / seconds))


def _segments(
    duration: float, workers: int, given: float | None = None, gop_seconds: float | None = None
) -> tuple[float, int, int, str]:
    """Segment seconds for `workers` (`given`: the user's), the workers the resulting segments
    can keep busy, the number of segments, and a sentence."""
    seconds = rule_segment_seconds(duration, workers, gop_seconds) if given is None else given
    count = _segment_count(duration, seconds)
    asked = "" if given is None else " (as asked)"
    if given is None and gop_seconds is not None and seconds != rule_segment_seconds(duration, workers):
        asked = f" (one per worker: its keyframes lie {gop_seconds:.1f} s apart)"
    text = f"{seconds:.1f} s segments{asked} make {_count(count, 'segment')} of the {duration:.1f} s clip"
    if count < workers:
        text += f", so only {_count(count, 'worker')} can be busy"
    return seconds, min(workers, count), count, text


def as_run(recommendation: Recommendation, segments: int, segment_seconds: float, why: str) -> Recommendation:
    """The advice, told about the segments that really run when they are not the ones it
    planned (`why`: a resumed job keeps its first plan's segments, for example), so that
    it never describes a plan that is not running."""
    if segments == recommendation.segments and segment_seconds == recommendation.segment_seconds:
        return recommendation
    reason = (
        f"{why}: {_count(segments, 'segment')} of about {segment_seconds:.1f} s run on "
        f"{_count(recommendation.workers, 'worker')} (workers advised by {recommendation.method})."
    )
    return replace(recommendation, segments=segments, segment_seconds=segment_seconds, reason=reason)


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def advise(
    info: VideoInfo, filters: str, history: History | None, segment_seconds: float | None = None
) -> Recommendation:
    """The advisor's workers and segment length for this clip, from the history's past runs
    of the same filters on this machine when it has comparable ones (`past_runs`), else
    from rules; workers alone when the user chose `segment_seconds`. The engine, the CLI,
    the control panel and notebook 02 all ask here."""
    runs = past_runs(history, filters)
    return recommend(
        info.width,
        info.height,
        info.duration,
        history_runs=runs,
        frames=info.frame_count,
        segment_seconds=segment_seconds,
        gop_seconds=mean_gop_seconds(info.duration, info.keyframes),
    )
