"""Plan a job: probe the input once, choose workers and segment length, and split the
video into frame-exact segments: half-open ranges [start, stop) that cover every frame
exactly once, each with the seek time that lands the decoder on its first frame."""

from __future__ import annotations

import bisect
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.errors import SettingsError
from ..core.resources import encoder_threads
from ..core.segment import Segment
from ..media.codecs import CODECS, CONTAINERS, OUTPUT_SUFFIXES, choose_codec, container_for
from ..media.cutting import cuttable
from ..media.encode import EncodeSettings
from ..media.filters import FilterChain
from ..media.probe import VideoInfo, probe
from ..media.scenes import scene_cuts
from ..recording.advisor import advise, as_run, mean_gop_seconds, rule_segment_seconds
from .options import RenderOptions, check_workers, is_cluster

if TYPE_CHECKING:
    from ..recording.advisor import Recommendation
    from ..recording.history import History


def _frame_time(info: VideoInfo, frame: int) -> float:
    return info.frame_times[frame] if info.frame_times else frame / float(info.fps)


def _seek_time(info: VideoInfo, frame: int) -> float:
    return (_frame_time(info, frame - 1) + _frame_time(info, frame)) / 2 if frame else 0.0


def _snap(boundary: int, keyframes: tuple[int, ...], tolerance: int) -> int:
    """Move a boundary to the nearest keyframe within `tolerance` frames (cheaper seeking)."""
    pos = bisect.bisect_left(keyframes, boundary)
    near = [k for k in keyframes[max(0, pos - 1) : pos + 1] if abs(k - boundary) <= tolerance]
    return min(near, key=lambda k: abs(k - boundary)) if near else boundary


def _near(boundary: int, frames: tuple[int, ...], tolerance: int) -> bool:
    return _snap(boundary, frames, tolerance) != boundary or boundary in frames


def plan_segments(
    info: VideoInfo, segment_seconds: float, snap_to_keyframes: bool = False, cuts: Sequence[int] | None = None
) -> list[Segment]:
    """Segments of about `segment_seconds` each: the frames split evenly into the nearest
    whole number of segments (so no short last segment runs alone at the end), none empty.
    A boundary moves to a keyframe at most a tenth of a segment away, where seeking decodes
    no frame it then drops; `snap_to_keyframes` allows half a segment. With scene `cuts`
    (frame indices), a boundary moves onto the nearest cut up to half a segment away, where
    the picture changes anyway (no keyframe "pulse" inside a shot), else onto a keyframe
    as with `snap_to_keyframes`."""
    if not (isinstance(segment_seconds, (int, float)) and math.isfinite(segment_seconds) and segment_seconds > 0):
        raise SettingsError(f"segment length must be a positive number of seconds, got {segment_seconds!r}")
    length = max(1, round(segment_seconds * float(info.fps)))
    count = max(1, round(info.frame_count / length))
    boundaries = [round(i * info.frame_count / count) for i in range(1, count)]
    if cuts is not None:
        scenes = tuple(sorted(cuts))
        boundaries = [
            _snap(b, scenes, length // 2) if _near(b, scenes, length // 2) else _snap(b, info.keyframes, length // 2)
            for b in boundaries
        ]
    elif info.keyframes:
        tolerance = length // 2 if snap_to_keyframes else length // 10
        boundaries = [_snap(b, info.keyframes, tolerance) for b in boundaries]
    edges = sorted({0, *boundaries, info.frame_count})
    return _segments(info, edges)


def _segments(info: VideoInfo, edges: list[int]) -> list[Segment]:
    return [
        Segment(index=i, start=start, stop=stop, seek_time=_seek_time(info, start), start_time=_frame_time(info, start))
        for i, (start, stop) in enumerate(zip(edges, edges[1:]))
    ]


def plan_gop_segments(info: VideoInfo, segment_seconds: float) -> tuple[list[Segment], str | None]:
    """Segments of whole GOPs, for an input shipped to workers in pieces: each piece then
    starts at its own keyframe and ends before the next segment's, so every GOP crosses
    the network once. The boundaries `plan_segments` would choose move to the nearest
    keyframe (they may merge): GOPs are grouped into segments of about `segment_seconds`,
    and a GOP longer than that makes its segment grow to it (a single-keyframe file is
    one segment). Returns the segments and, when the keyframes allowed fewer segments than
    asked, a sentence for `JobResult.warnings` saying so."""
    asked = plan_segments(info, segment_seconds)
    keyframes = sorted({0, *info.keyframes})
    edges = sorted({0, *(_snap(s.start, tuple(keyframes), info.frame_count) for s in asked[1:]), info.frame_count})
    segments = _segments(info, edges)
    if len(segments) >= len(asked):
        return segments, None
    gop = max(b - a for a, b in zip(keyframes, [*keyframes[1:], info.frame_count])) / float(info.fps)
    return segments, (
        f"the input's keyframes allow {len(segments)} segment{'s' if len(segments) != 1 else ''} where {len(asked)} "
        f"of about {segment_seconds:g} s were asked (its longest GOP is {gop:.1f} s): on a cluster each segment "
        "starts at a keyframe so that each GOP is sent to the workers once"
    )


@dataclass(frozen=True)
class JobPlan:
    """What a job renders, decided once from one probe: both runs of a comparison share it."""

    info: VideoInfo
    chain: FilterChain
    encode: EncodeSettings
    workers: int
    segment_seconds: float
    segments: list[Segment]
    recommendation: Recommendation | None = None
    """The advisor's choice, when workers were not given."""
    notes: tuple[str, ...] = ()
    """What the plan could not do as asked, for `JobResult.warnings` (fewer, longer segments)."""
    cuts: tuple[int, ...] = ()
    """Scene cuts found in the source (frame numbers), when boundaries were moved onto them."""
    crfs: dict[int, float] = field(default_factory=dict)
    """A CRF of its own for some segments (by index): `rerender` redoes one at another quality."""

    def sequential(self) -> JobPlan:
        """The same segments and encoder settings, one worker: the honest baseline."""
        return replace(self, workers=1, recommendation=None)


def encode_settings(info: VideoInfo, options: RenderOptions, output: str | os.PathLike | None = None) -> EncodeSettings:
    """The encoder for `info` written to `output` (its suffix picks the container; without
    one, the codec's own first container): the codec asked for or the default for the
    source, its bit depth, and every refusal of what cannot go together (`SettingsError`)."""
    suffix = Path(output).suffix.lower() if output is not None else ""
    if suffix in OUTPUT_SUFFIXES:
        container = container_for(suffix)
    else:  # no output yet (compare), or a suffix `check_output_path` refuses with its own message
        container = CONTAINERS[CODECS[options.codec].containers[0] if options.codec else "mp4"]
    codec, depth = choose_codec(
        options.codec,
        container,
        bit_depth=info.bit_depth,
        hdr=info.hdr.format if info.hdr else "",
        tonemap=options.tonemap,
        source=f"input '{info.path.name}'",
    )
    tonemap = options.tonemap and info.hdr is not None
    return EncodeSettings(
        preset=options.preset,
        crf=options.crf,
        threads=encoder_threads(),
        codec=codec.name,
        depth=depth,
        tonemap=tonemap,
    )


def plan_job(
    input: str | os.PathLike,
    options: RenderOptions,
    history: History | None = None,
    *,
    decode_pass: bool = False,
    output: str | os.PathLike | None = None,
) -> JobPlan:
    """Probe `input` once and decide workers, segment length and segments.

    Without `options.workers` the advisor picks workers and segment length from this
    clip and the history's past runs of the same filters; the synchronous scheduler has
    one worker. A file whose frames can only be counted (no usable timestamps) gets at
    most one segment per worker: each such segment decodes the file from its start. On a
    cluster without shared storage, an input cut into pieces gets segments of whole GOPs
    (`plan_gop_segments`)."""
    info = probe(input, decode_pass=decode_pass)
    chain = options.chain
    encode = encode_settings(info, options, output)
    workers, seconds, advice = options.workers, options.segment_seconds, None
    if options.scheduler == "sync":
        workers = 1
    elif workers is None:
        advice = advise(info, str(chain), history, segment_seconds=seconds)  # the user's length, if given
        workers = advice.workers
        seconds = advice.segment_seconds
    workers = check_workers(workers)
    if seconds is None:
        seconds = rule_segment_seconds(info.duration, workers, mean_gop_seconds(info.duration, info.keyframes))
    if info.seek_mode == "count":
        seconds = max(seconds, info.duration / workers)
    notes: tuple[str, ...] = ()
    cuts: list[int] | None = None
    if is_cluster(options.scheduler) and not options.shared_storage and cuttable(info):
        segments, note = plan_gop_segments(info, seconds)  # pieces of whole GOPs: each GOP crosses the network once
        notes = (note,) if note else ()
    else:
        cuts = scene_cuts(info.path, info.stream_index) if options.split == "scenes" else None
        segments = plan_segments(info, seconds, snap_to_keyframes=options.split == "keyframes", cuts=cuts)
    if advice is not None:  # the advice describes these segments, or says why they differ
        why = (
            "Segments of at least the clip's length per worker, as a file whose frames can only be counted "
            "needs (each segment decodes it from its start)"
            if info.seek_mode == "count"
            else "Planned on the clip's frames and keyframes"
        )
        advice = as_run(advice, len(segments), seconds, why)
    encode = replace(encode, threads=encoder_threads(segments=len(segments)))  # the cores shared by the segments
    return JobPlan(info, chain, encode, workers, seconds, segments, advice, notes, tuple(cuts or ()))
