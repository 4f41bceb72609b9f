"""Joins between segments: does the quality jump where one segment ends and the next begins?

Each segment's meter gives the PSNR of its first frame, its middle and its last frame
(`media.quality.edge_psnr`). At every join, the last frame of the segment before and the
first frame of the one after are compared with the middles of their own segments; a side
more than `PULSE_DB` away from its middle is a visible pulse (a keyframe much sharper than
the frames around it, or a segment ending blurrier than it ran). Each join is reported in
`JobResult.joins`, a pulsing one also as a warning line and on the segment timeline.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..segments.render import SegmentResult

PULSE_DB = 2.0
"""A side of a join further than this from its segment's middle pulses."""
VISIBLE_DB = 50.0
"""PSNR above this is counted as this: differences between near-perfect frames are invisible."""


def _db(value: float) -> float:
    return min(float(value), VISIBLE_DB)


def join_report(results: Iterable[SegmentResult]) -> list[dict[str, Any]]:
    """One entry per join, in order: `index` (the segment after it), `frame` (its first
    frame), `before_db` (last frame of the segment before minus that segment's middle),
    `after_db` (first frame after minus its segment's middle), `across_db` (first frame
    after minus last frame before) and `pulse`; the figures are None where a side was not
    measured (a segment taken over from an interrupted run)."""
    ordered = sorted(results, key=lambda r: r.index)
    joins = []
    frame = 0
    for left, right in zip(ordered, ordered[1:]):
        frame += left.frames
        before = (left.quality or {}).get("edges")
        after = (right.quality or {}).get("edges")
        entry: dict[str, Any] = {"index": right.index, "frame": frame}
        if before and after:
            last, first = _db(before["last"]), _db(after["first"])
            entry["before_db"] = round(last - _db(before["middle"]), 2)
            entry["after_db"] = round(first - _db(after["middle"]), 2)
            entry["across_db"] = round(first - last, 2)
            entry["pulse"] = max(abs(entry["before_db"]), abs(entry["after_db"])) > PULSE_DB
        else:
            entry.update(before_db=None, after_db=None, across_db=None, pulse=False)
        joins.append(entry)
    return joins


def join_warnings(joins: Iterable[dict[str, Any]]) -> list[str]:
    """One line for each join that pulses."""
    return [
        f"the join at frame {j['frame']} (segments {j['index'] - 1} and {j['index']}) pulses: its last frame before "
        f"is {j['before_db']:+.1f} dB and its first frame after {j['after_db']:+.1f} dB from their segments' middles "
        f"(more than {PULSE_DB:g} dB is visible)"
        for j in joins
        if j["pulse"]
    ]


def mark_pulses(timeline: list[dict[str, Any]], joins: Iterable[dict[str, Any]]) -> None:
    """Mark each timeline entry whose segment starts at a pulsing join (`"pulse": True`)."""
    pulsing = {j["index"] for j in joins if j["pulse"]}
    for entry in timeline:
        entry["pulse"] = entry["index"] in pulsing
