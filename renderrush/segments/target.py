"""Find each segment's CRF for a VMAF target, inside the segment's own task (so it runs on
whatever backend renders segments, a cluster included), as Av1an's target quality and
ab-av1's crf-search do:

1. a sample of the segment's frames, after the filters, exactly as the encoder would take
   them (`probe_indices`: the whole segment up to `PROBE_FRAMES`, else `PROBE_RUNS` runs of
   consecutive frames spread over it, so the encoder still sees motion);
2. probe encodes of that sample at a few CRFs with the job's encoder settings, each
   measured with libvmaf through the same path as the final VMAF (`media.quality`);
3. the next CRF from the probes so far (`next_crf`): a first guess from the job's `crf`,
   then a step along an assumed slope, then linear interpolation between the two probes
   either side of the target (or extrapolation along the last two, slope clamped);
4. at most `MAX_PROBES` probes; the search stops early once a probe lands within
   `CLOSE_ENOUGH` of the target or two neighbouring whole CRFs bracket it;
5. the chosen CRF is the whole CRF whose interpolated VMAF is nearest the target (`choose`).

CRFs are whole numbers on x264's scale (0-51, `EncodeSettings.crf`), which every codec maps
onto its own. Probe results already known (`Target.known`, from the job's cache) are used
without encoding again, so a repeated job encodes no probe.
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from ..core.errors import SegmentError, translate_av_errors
from ..media.decode import Converter, Picture, Source, segment_frames
from ..media.encode import EncodeSettings, FramePool, VideoTags, heap_fill
from ..media.quality import measured_writer

CRF_LIMITS = (0, 51)
"""The CRF range searched (x264's scale, as `EncodeSettings.crf`)."""
PROBE_FRAMES = 60
"""Most frames a probe encodes (fewer for large pictures: `PROBE_BYTES`)."""
PROBE_BYTES = 64 << 20
"""Memory the probe sample may take (YUV 4:2:0 frames): 21 frames of 1080p, 46 of 720p."""
PROBE_RUNS = 3
"""Runs of consecutive frames a longer segment's sample is taken from."""
MAX_PROBES = 5
"""Probe encodes per segment at most (cached probes count too, so a search is repeatable)."""
CLOSE_ENOUGH = 0.5
"""A probe this close to the target (VMAF points) ends the search."""
TOLERANCE = 1.5
"""A segment within this of the target met it."""
FIRST_SLOPE = -1.2
"""VMAF per CRF step assumed before two probes: x264 veryfast on 640x360 measured -1.0
on a clean pattern and -1.7 on a grainy one near VMAF 92."""
SLOPES = (-6.0, -0.3)
"""Slopes used for extrapolation are clamped to this range (VMAF falls as CRF rises)."""


@dataclass(frozen=True)
class Target:
    """A segment's quality target, with the probes a cache already knows for it."""

    vmaf: float
    known: tuple[tuple[int, float], ...] = ()
    """(crf, vmaf) of earlier probes of the same frames, filters and encoder settings."""


@dataclass(frozen=True)
class Search:
    """The outcome of one segment's CRF search."""

    target: float
    crf: int
    predicted: float
    """VMAF the probes predict at `crf`."""
    points: tuple[tuple[int, float], ...]
    """Every probe used, (crf, vmaf), by CRF."""
    encoded: int
    """Probes encoded by this search (the rest came from the cache)."""
    reachable: bool
    """The prediction is within `TOLERANCE` of the target."""

    def to_dict(self) -> dict[str, Any]:
        """As `SegmentResult.target` carries it."""
        return {
            "vmaf": self.target,
            "crf": self.crf,
            "predicted_vmaf": round(self.predicted, 3),
            "probes": [[crf, round(vmaf, 3)] for crf, vmaf in self.points],
            "probe_encodes": self.encoded,
            "reachable": self.reachable,
        }


def probe_indices(frames: int, frame_bytes: int) -> list[int]:
    """Which of a segment's `frames` frames the probes encode: all of them up to
    `PROBE_FRAMES` (and `PROBE_BYTES`), else `PROBE_RUNS` equal runs of consecutive
    frames centred in equal parts of the segment."""
    budget = max(PROBE_RUNS * 4, min(PROBE_FRAMES, PROBE_BYTES // max(1, frame_bytes)))
    if frames <= budget:
        return list(range(frames))
    run = budget // PROBE_RUNS
    indices: list[int] = []
    for part in range(PROBE_RUNS):
        centre = (2 * part + 1) * frames // (2 * PROBE_RUNS)
        first = min(max(0, centre - run // 2), frames - run)
        indices.extend(range(first, first + run))
    return sorted(set(indices))


def predict(points: dict[int, float], crf: float) -> float:
    """VMAF at `crf` by linear interpolation between probes (the nearest probe's beyond them)."""
    ordered = sorted(points.items())
    if crf <= ordered[0][0]:
        return ordered[0][1]
    for (c0, v0), (c1, v1) in zip(ordered, ordered[1:]):
        if crf <= c1:
            return v0 + (v1 - v0) * (crf - c0) / (c1 - c0)
    return ordered[-1][1]


def _slope(a: tuple[int, float], b: tuple[int, float]) -> float:
    slope = (b[1] - a[1]) / (b[0] - a[0]) if b[0] != a[0] else FIRST_SLOPE
    return min(max(slope, SLOPES[0]), SLOPES[1])


def next_crf(points: dict[int, float], target: float, start: int, limits: tuple[int, int] = CRF_LIMITS) -> int | None:
    """The CRF to probe next, or None when the probes so far settle the choice."""
    lo, hi = limits
    if not points:
        return min(max(start, lo), hi)
    if any(abs(v - target) <= CLOSE_ENOUGH for v in points.values()):
        return None
    better = sorted((c, v) for c, v in points.items() if v >= target)  # lower CRFs
    worse = sorted((c, v) for c, v in points.items() if v < target)
    if better and worse:
        (c0, v0), (c1, v1) = better[-1], worse[0]
        if c1 - c0 <= 1:
            return None
        guess = c0 + (v0 - target) * (c1 - c0) / (v0 - v1)
        return min(max(round(guess), c0 + 1), c1 - 1)
    side = better if better else worse
    edge = side[-1] if better else side[0]  # the probe nearest the target
    if (better and edge[0] >= hi) or (worse and edge[0] <= lo):
        return None  # the CRF range ends here: the target is out of reach
    slope = FIRST_SLOPE
    if len(side) > 1:
        slope = _slope(side[-2], side[-1]) if better else _slope(side[0], side[1])
    step = (target - edge[1]) / slope  # positive when better (raise CRF), negative when worse
    guess = round(edge[0] + step)
    return min(max(guess, edge[0] + 1), hi) if better else max(min(guess, edge[0] - 1), lo)


def choose(points: dict[int, float], target: float) -> tuple[int, float]:
    """The whole CRF between the probes whose interpolated VMAF is nearest `target`, with
    that VMAF. On a tie, one that meets the target; among equals above it the highest CRF
    (fewest bits: a flat picture scores the same at any CRF), below it the lowest."""
    crfs = range(min(points), max(points) + 1)

    def rank(crf: int) -> tuple[float, int]:
        vmaf = predict(points, crf)
        return abs(vmaf - target), (-crf if vmaf >= target else crf)

    best = min(crfs, key=rank)
    return best, predict(points, best)


def search_crf(
    measure: Callable[[int], float],
    target: float,
    start: float,
    *,
    known: Iterable[tuple[int, float]] = (),
    limits: tuple[int, int] = CRF_LIMITS,
    max_probes: int = MAX_PROBES,
) -> Search:
    """Search the CRF for `target`, probing with `measure(crf) -> VMAF` at most
    `max_probes` times (see the module's docstring); `known` probes cost nothing."""
    cached = dict(known)
    points: dict[int, float] = {}
    encoded = 0
    for _ in range(max_probes):
        crf = next_crf(points, target, round(start), limits)
        if crf is None:
            break
        if crf in cached:
            points[crf] = cached[crf]
        else:
            points[crf] = measure(crf)
            encoded += 1
    crf, predicted = choose(points, target)
    points_ = tuple(sorted(points.items()))
    return Search(target, crf, predicted, points_, encoded, abs(predicted - target) <= TOLERANCE)


Filter = Callable[[av.VideoFrame, int, FramePool], "av.VideoFrame | np.ndarray"]
"""The segment's filter chain applied to decoded frame `index`, as the renderer applies it."""
JobFilter = Callable[[Any, av.VideoFrame, int, FramePool], "av.VideoFrame | np.ndarray"]
"""`render._filtered`: a `Filter` once given the job."""


@dataclass(frozen=True)
class Prober:
    """Probe encodes of one segment's sample: what `render_segment` knows of the segment."""

    index: int
    """The segment's index (errors name it)."""
    source: Source
    frames: int
    picture: Picture
    pixel_format: str
    """The chain's pixel format (what the decoded frames are converted to)."""
    filtered: Filter
    fps: Fraction
    encode: EncodeSettings
    tags: VideoTags
    threads: int
    work_dir: Path

    @classmethod
    def of(cls, job: Any, filtered: JobFilter, work_dir: Path) -> Prober:
        """The prober of `job`, a `render.SegmentJob` (not imported: render imports this module)."""
        return cls(
            index=job.segment.index,
            source=job.source,
            frames=job.segment.frames,
            picture=job.picture,
            pixel_format=job.chain.pixel_format,
            filtered=functools.partial(filtered, job),
            fps=job.fps,
            encode=job.encode,
            tags=job.tags,
            threads=job.threads,
            work_dir=work_dir,
        )

    def sample(self) -> list[av.VideoFrame]:
        """The sampled frames after the filters, as the encoder would take them."""
        frame_bytes = self.picture.width * self.picture.height * 3 // 2
        wanted = probe_indices(self.frames, frame_bytes)
        pool = FramePool(self.picture, self.threads)
        chosen, last = set(wanted), wanted[-1]
        convert: Converter | None = None
        sample: list[av.VideoFrame] = []
        decoded = segment_frames(self.source, self.threads, [])
        try:
            for index, (frame, _pts) in enumerate(decoded):
                if index > last:
                    break
                if index not in chosen:
                    continue
                convert = convert or Converter(self.picture, self.pixel_format, self.threads, frame)
                with heap_fill.unfilled():
                    out: Any = self.filtered(convert(frame), index, pool)
                sample.append(out if isinstance(out, av.VideoFrame) else pool.from_bgr(out))
        finally:
            close = getattr(decoded, "close", None)
            if close is not None:
                close()
        return sample

    def vmaf(self, sample: list[av.VideoFrame], crf: int) -> float:
        """VMAF of `sample` encoded at `crf` with the job's other encoder settings."""
        with tempfile.TemporaryDirectory(prefix="renderrush-probe-", dir=self.work_dir) as folder:
            encode = replace(self.encode, crf=crf)
            probe_file = Path(folder) / "probe.mp4"
            writer, meter = measured_writer(
                probe_file, self.fps, encode, self.picture, self.tags, len(sample), vmaf=True
            )
            try:
                for frame in sample:
                    meter.keep(frame)
                    writer.write(frame)
                writer.finish()
                quality = meter.finish()
            finally:
                meter.close()
        assert quality.vmaf is not None
        return quality.vmaf

    def search(self, target: Target | None) -> Search:
        """The segment's CRF for `target`; the sample is decoded only if a probe must be encoded."""
        assert target is not None
        sample: list[av.VideoFrame] = []

        def measure(crf: int) -> float:
            if not sample:
                sample.extend(self.sample())
            return self.vmaf(sample, crf)

        with translate_av_errors(SegmentError, "probe: {reason}", also=(OSError, ValueError), leading=(self.index,)):
            return search_crf(measure, target.vmaf, self.encode.crf, known=target.known)


def with_target(job: Any, filtered: JobFilter, work_dir: Path) -> tuple[Any, dict[str, Any] | None]:
    """`job` (a `render.SegmentJob`) to encode at the CRF searched for its target, with VMAF
    measured, and the search (`Search.to_dict()`); `job` as it is without a target."""
    if job.target is None:
        return job, None
    search = Prober.of(job, filtered, work_dir).search(job.target)
    return replace(job, encode=replace(job.encode, crf=search.crf), vmaf=True), search.to_dict()
