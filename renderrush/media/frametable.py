"""List a video stream's frames as the decoder will output them: each frame's presentation
time (in the output's time base, from the container's start), which frames are keyframes,
and how a segment finds its frames again (by time, or by counting from the start).

The frame table is what the decoder will produce, since segments are cut on it:
- containers that store a timestamp with each frame (`TIMESTAMPED_CONTAINERS`) are read
  from a demux pass, which is cheap (packets, no decoding);
- everything else (raw elementary streams, GIF, APNG, FLIC, ...), and any demux pass whose
  timestamps are missing or repeat, is decoded once, which is the only way to know what the
  decoder outputs (one packet can hold two frames, timestamps can be missing or jump back).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from ..core.errors import EmptyVideoError

TIMESTAMPED_CONTAINERS = (
    "mov,mp4,m4a,3gp,3g2,mj2",
    "matroska,webm",
    "avi",
    "mpeg",
    "mpegts",
    "mpegtsraw",
    "flv",
    "ogg",
    "asf",
    "nut",
    "mxf",
    "dv",
    "rm",
    "wtv",
)
"""Containers that store a timestamp with each frame: their demux pass lists the frames
(one packet per frame, each with its time), and a frame decoded after a seek is recognised
by its time. Elsewhere (raw elementary streams, GIF, APNG, FLIC, SWF, image sequences)
timestamps are made up by the demuxer while reading: the frames are listed by decoding the
file once, and a segment finds its frames by counting them from the start of the file.
A demux pass that lists the frames wrongly is caught while rendering (`TimelineError`),
and the job is planned again from a decode pass."""

OUTPUT_TIME_BASE_LIMIT = 1_000_000
"""Frame times are kept in the source's time base when it is this fine or coarser, else in
1/90000 s (MPEG's clock)."""


MAX_REORDER = 4
"""Furthest (in frames) a decoded timestamp may stray from its sorted place and still be
taken for a mislabelled frame: packed B-frames stray by one, a clock that jumps back
(a broadcast recording across a reset) moves timestamps much further."""


def output_time_base(stream_time_base: Fraction | None) -> Fraction:
    if stream_time_base and stream_time_base.denominator <= OUTPUT_TIME_BASE_LIMIT:
        return Fraction(stream_time_base)
    return Fraction(1, 90000)


class Clock:
    """Maps a stream's timestamps to output timestamps: counted from the container's
    start, in the output time base."""

    def __init__(self, stream_time_base: Fraction, origin: float, out: Fraction) -> None:
        self.scale = Fraction(stream_time_base) / out
        self.offset = Fraction(origin) / out

    def __call__(self, pts: int) -> int:
        return round(pts * self.scale - self.offset)


def decode_stream(
    container: av.container.InputContainer,
    stream: Any,
    damaged: list[int] | None = None,
    before_decode: Callable[[av.Packet], None] | None = None,
) -> Iterator[av.VideoFrame]:
    """Every frame the decoder outputs, as `ffmpeg` would decode them: a packet the decoder
    rejects is skipped (and counted in `damaged`) instead of ending the stream, and a file
    that ends early ends the stream where it breaks. `before_decode` sees each packet just
    before the decoder does (to set what the decoder may skip)."""
    # Crop exactly where the stream says the picture starts (Theora's picture offset): by
    # default libavcodec keeps the planes aligned and leaves the columns left of it in.
    stream.codec_context.flags |= av.codec.context.Flags.unaligned
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.FFmpegError:  # the file ends early: flush what the decoder holds
            packet = None
        if packet is not None and before_decode is not None:
            before_decode(packet)
        try:
            yield from (stream.codec_context.decode(packet) if packet is None else packet.decode())
        except av.FFmpegError:
            if damaged is not None:
                damaged.append(packet.pts if packet is not None and packet.pts is not None else -1)
            if packet is None:
                return
        if packet is None:
            return


@dataclass(frozen=True)
class FrameTable:
    """The frames of the main video stream, in the order the decoder outputs them."""

    time_base: Fraction
    """Unit of `pts` and `last_duration`."""
    pts: tuple[int, ...]
    """Each frame's output timestamp, from the container's start."""
    keyframes: tuple[int, ...]
    fps: Fraction
    last_duration: int
    origin: float
    """Container start time in seconds (0 when no frame had a timestamp)."""
    seek_mode: str
    """"time" or "count" (see `VideoInfo.seek_mode`)."""
    timeline: str
    """"packets" (demux pass) or "decoded" (decode pass)."""
    damaged: int

    @property
    def times(self) -> tuple[float, ...]:
        return tuple(float(p * self.time_base) for p in self.pts)

    @property
    def duration(self) -> float:
        return float((self.pts[-1] - self.pts[0] + self.last_duration) * self.time_base)


@dataclass
class _Table:
    """Frame times (stream time base) and keyframe flags, in presentation order."""

    pts: list[int | None]
    keys: list[bool]
    durations: list[int]
    damaged: int = 0


def _packet_table(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> tuple[_Table, bool]:
    """Presentation times from one demux pass; the flag says the file ended early."""
    entries: list[tuple[int | None, bool, int]] = []
    truncated = False
    try:
        for packet in container.demux(stream):
            if packet.size == 0 or packet.is_discard:  # flush packets; edit-list cuts the decoder drops
                continue
            entries.append((packet.pts, packet.is_keyframe, packet.duration or 0))
    except av.FFmpegError:
        truncated = True
    if any(pts is None for pts, _, _ in entries):
        return _Table([e[0] for e in entries], [e[1] for e in entries], [e[2] for e in entries]), truncated
    entries.sort(key=lambda e: e[0])  # type: ignore[arg-type,return-value]
    return _Table([e[0] for e in entries], [e[1] for e in entries], [e[2] for e in entries]), truncated


def _decoded_table(container: av.container.InputContainer, stream: Any) -> _Table:
    """Presentation times of the frames the decoder really outputs (one decode pass)."""
    stream.thread_type = "AUTO"
    damaged: list[int] = []
    table = _Table([], [], [])
    for frame in decode_stream(container, stream, damaged):
        table.pts.append(frame.pts)
        table.keys.append(bool(frame.key_frame))
        table.durations.append(frame.duration or 0)
    table.damaged = len(damaged)
    return table


def _truncate_to_decodable(path: Path, stream_index: int, table: _Table) -> _Table:
    """A file that ends early: keep the frames its decoder still outputs (the last packets
    may be cut off). Decodes from the last keyframe only."""
    with av.open(os.fspath(path), metadata_errors="ignore") as container:
        stream: Any = container.streams[stream_index]
        last_key = max((i for i, key in enumerate(table.keys) if key), default=0)
        seen: set[int] = set()
        start = table.pts[last_key]
        if last_key > 0 and start is not None:
            container.seek(start, backward=True, stream=stream)
        for frame in decode_stream(container, stream):
            if frame.pts is not None:
                seen.add(frame.pts)
        keep = [i for i, pts in enumerate(table.pts) if i < last_key or pts in seen]
    return _Table([table.pts[i] for i in keep], [table.keys[i] for i in keep], [table.durations[i] for i in keep])


def _frame_rate(stream: av.video.stream.VideoStream, pts: list[int], time_base: Fraction) -> Fraction:
    if len(pts) > 1 and pts[-1] > pts[0]:
        measured = Fraction((len(pts) - 1), 1) / ((pts[-1] - pts[0]) * time_base)
        declared = stream.average_rate or stream.guessed_rate
        if declared and abs(float(declared) / float(measured) - 1) < 0.01:
            return Fraction(declared)
        return measured.limit_denominator(1001)
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if rate:
        return Fraction(rate)
    return Fraction(25)


def _sorted_if_shuffled(pts: list[int | None]) -> tuple[list[int | None], bool]:
    """The times in presentation order when the decoder labelled its frames with their
    neighbours' times: with packed B-frames (Xvid and DivX AVIs) it outputs the frames in
    order but times them 1, 2, 3, 5, 4, 6, ... Every frame has a time, no time repeats and
    none is more than `MAX_REORDER` places from its sorted place: the sorted times are the
    frames' times (filling them in would leave a hole and show every later frame late).
    The flag says they were reordered."""
    known = [p for p in pts if p is not None]
    if len(known) != len(pts) or len(set(known)) != len(known):
        return pts, False
    ranked = sorted(range(len(known)), key=known.__getitem__)
    if ranked == list(range(len(known))) or any(abs(rank - i) > MAX_REORDER for rank, i in enumerate(ranked)):
        return pts, False
    ordered: list[int | None] = [known[i] for i in ranked]
    return ordered, True


def _fill_times(pts: list[int | None], step: int) -> tuple[list[int], bool]:
    """Times for frames without one, and times that do not move forward (a timestamp
    reset in a broadcast stream), continued from the frame before; the flag says times
    were made up, so a frame cannot be found again by its time."""
    good: list[int | None] = []
    for value in pts:
        last = next((v for v in reversed(good) if v is not None), None)
        good.append(value if value is not None and (last is None or value > last) else None)
    made_up = any(v is None for v in good)
    out: list[int] = []
    i = 0
    while i < len(good):
        if good[i] is not None:
            out.append(good[i])  # type: ignore[arg-type]
            i += 1
            continue
        j = i
        while j < len(good) and good[j] is None:
            j += 1
        before = out[-1] if out else None
        after = good[j] if j < len(good) else None
        gap = j - i
        for k in range(1, gap + 1):  # spread the frames evenly between their neighbours
            if before is not None and after is not None and after - before > gap:
                out.append(before + (after - before) * k // (gap + 1))
            elif before is not None:
                out.append(before + k * step)
            else:
                out.append((after if after is not None else gap * step) - (gap + 1 - k) * step)
        i = j
    if any(b <= a for a, b in zip(out, out[1:])):  # no room between neighbours: continue from the frame before
        out = []
        for value in pts:
            out.append(value if value is not None and (not out or value > out[-1]) else (out[-1] + step if out else 0))
    return out, made_up


def list_frames(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    path: Path,
    *,
    decode_pass: bool = False,
) -> FrameTable:
    """The frame table of `stream` (the main video of `container`, opened from `path`), from
    a demux pass where the container's timestamps can be trusted, else from a decode pass.
    `decode_pass=True` decodes even where they look reliable."""
    stream_time_base = stream.time_base or Fraction(1, 90000)
    origin = (container.start_time or 0) / av.time_base
    trusted = container.format.name in TIMESTAMPED_CONTAINERS and not decode_pass
    table, truncated = _packet_table(container, stream) if trusted else (_Table([], [], []), False)
    if trusted and (not table.pts or any(p is None for p in table.pts) or len(set(table.pts)) != len(table.pts)):
        trusted = False
    if not trusted:
        with av.open(os.fspath(path), metadata_errors="ignore") as again:
            table = _decoded_table(again, again.streams[stream.index])
    elif truncated:
        table = _truncate_to_decodable(path, stream.index, table)
    if not table.pts:
        raise EmptyVideoError(
            f"input '{path.name}' has a video stream but no decodable frames: it is empty or truncated"
        )
    out_tb = output_time_base(stream_time_base)
    declared = stream.average_rate or stream.guessed_rate or stream.base_rate or Fraction(25)
    step = max(1, round(1 / (Fraction(declared) * stream_time_base)))
    ordered, reordered = _sorted_if_shuffled(table.pts)
    raw_pts, made_up = _fill_times(ordered, step)
    made_up = made_up or reordered  # the decoder's own times go back: a frame cannot be found by them
    if all(p is None for p in table.pts):
        origin = 0.0
    clock = Clock(stream_time_base, origin, out_tb)
    pts = [clock(p) for p in raw_pts]
    fps = _frame_rate(stream, pts, out_tb)
    last = table.durations[-1] if table.durations and table.durations[-1] else 0
    last_duration = round(last * stream_time_base / out_tb) if last else max(1, round(1 / (fps * out_tb)))
    seekable = container.format.name in TIMESTAMPED_CONTAINERS and not made_up
    return FrameTable(
        time_base=out_tb,
        pts=tuple(pts),
        keyframes=tuple(i for i, key in enumerate(table.keys) if key) or (0,),
        fps=fps,
        last_duration=last_duration,
        origin=origin,
        seek_mode="time" if seekable else "count",
        timeline="packets" if trusted else "decoded",
        damaged=table.damaged,
    )
