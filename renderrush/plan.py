"""Split a video into frame-exact segments: half-open ranges [start, stop) that cover
every frame exactly once, each with the seek time that lands ffmpeg on its first frame."""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

from .errors import SettingsError
from .probe import VideoInfo


@dataclass(frozen=True)
class Segment:
    """Frames [start, stop) of the source, rendered as one task."""

    index: int
    start: int
    stop: int
    seek_time: float = 0.0
    """Halfway between frame start-1 and frame start: decoded frames timed before it are
    dropped, which keeps frame `start` and drops the one before, even with VFR."""
    start_time: float = 0.0
    """Time of frame `start`: the decoder seeks to the keyframe at or before it (a segment
    starting on a keyframe decodes nothing it drops)."""

    @property
    def frames(self) -> int:
        return self.stop - self.start


def _frame_time(info: VideoInfo, frame: int) -> float:
    return info.frame_times[frame] if info.frame_times else frame / float(info.fps)


def _seek_time(info: VideoInfo, frame: int) -> float:
    return (_frame_time(info, frame - 1) + _frame_time(info, frame)) / 2 if frame else 0.0


def _snap(boundary: int, keyframes: tuple[int, ...], tolerance: int) -> int:
    """Move a boundary to the nearest keyframe within `tolerance` frames (cheaper seeking)."""
    pos = bisect.bisect_left(keyframes, boundary)
    near = [k for k in keyframes[max(0, pos - 1) : pos + 1] if abs(k - boundary) <= tolerance]
    return min(near, key=lambda k: abs(k - boundary)) if near else boundary


def plan_segments(info: VideoInfo, segment_seconds: float, snap_to_keyframes: bool = False) -> list[Segment]:
    """Segments of about `segment_seconds` each: the frames split evenly into the nearest
    whole number of segments (so no short last segment runs alone at the end), none empty.
    A boundary moves to a keyframe at most a tenth of a segment away, where seeking decodes
    no frame it then drops; `snap_to_keyframes` allows half a segment."""
    if not (isinstance(segment_seconds, (int, float)) and math.isfinite(segment_seconds) and segment_seconds > 0):
        raise SettingsError(f"segment length must be a positive number of seconds, got {segment_seconds!r}")
    length = max(1, round(segment_seconds * float(info.fps)))
    count = max(1, round(info.frame_count / length))
    boundaries = [round(i * info.frame_count / count) for i in range(1, count)]
    if info.keyframes:
        tolerance = length // 2 if snap_to_keyframes else length // 10
        boundaries = [_snap(b, info.keyframes, tolerance) for b in boundaries]
    edges = sorted({0, *boundaries, info.frame_count})
    return [
        Segment(index=i, start=start, stop=stop, seek_time=_seek_time(info, start), start_time=_frame_time(info, start))
        for i, (start, stop) in enumerate(zip(edges, edges[1:]))
    ]
