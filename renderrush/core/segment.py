"""The segment: a half-open range of the source's frames, rendered as one task. Every layer
speaks of segments, so the word lives here, not with the planner that makes them."""

from __future__ import annotations

from dataclasses import dataclass


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
