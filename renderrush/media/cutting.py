"""Cut a source into per-segment pieces by stream copy, so that a cluster worker receives
only the bytes of its own segment (see `cluster.py`).

A piece holds the main video stream's packets, in decode order, from the keyframe at or
before the segment's first frame up to the last packet whose frame is shown before the next
segment's first frame (with B-frames the decoder needs packets shown later, which come
earlier in decode order: they are inside that range). The packets keep their timestamps
exactly: a piece is written in the source's own container family (MP4/MOV or Matroska,
whose time bases the source's timestamps already fit), so the worker finds the segment's
frames by time with the same `Source` as on the whole file, only its path and stream index
change. Each piece is checked before it leaves: demuxed again, it must show exactly the
segment's frame times.

Only sources whose frame table came from their packets in an indexed container are cut
("time" mode, MP4/MOV or Matroska). Others (MPEG-PS/TS, AVI, raw streams, GIF: a decode pass
made their table, or their timestamps are made up) are shipped whole, once per job: see
`cuttable`.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

import av

from ..core.errors import RenderRushError, translate_av_errors
from .decode import Source
from .frametable import Clock
from .probe import VideoInfo

PIECE_FORMATS = {"mov,mp4,m4a,3gp,3g2,mj2": ("mov", ".mov"), "matroska,webm": ("matroska", ".mkv")}
"""Container a piece is written in, by the source's container: its own family, which holds
the source's time base and codec as they are."""


class CutError(RenderRushError):
    """A piece could not be cut exactly (the caller ships the whole source instead)."""


@dataclass(frozen=True)
class Piece:
    """One segment's packets in a small container of their own."""

    index: int
    """Segment index."""
    data: bytes
    suffix: str
    """File name extension of the piece's container (".mov", ".mkv")."""
    packets: int

    def source(self, source: Source, path: str) -> Source:
        """`source` (the segment's frames on the whole file) moved onto this piece saved at `path`:
        timestamps and origin are unchanged, the piece has one stream."""
        return replace(source, path=path, stream_index=0)


def cuttable(info: VideoInfo) -> bool:
    """True when `info`'s segments can be cut by stream copy and found again by time."""
    return info.seek_mode == "time" and info.timeline == "packets" and info.container in PIECE_FORMATS


@dataclass
class _Packet:
    """A demuxed packet kept as plain values: a packet object is emptied by muxing, and a
    packet before a segment's first frame can belong to two pieces."""

    data: bytes
    pts: int | None
    dts: int | None
    duration: int
    key: bool
    shown: int | None
    """Output timestamp (the probe's units) of the frame it holds."""


class Cutter:
    """Cuts pieces for segments given in increasing order, reading the source once: packets
    are demuxed sequentially and kept only from the keyframe the next piece starts at."""

    def __init__(self, info: VideoInfo, *, lenient: bool = False) -> None:
        """`lenient`: a piece that cannot be cut exactly comes out as None instead of
        raising `CutError`, and the later pieces still come."""
        if not cuttable(info):
            raise CutError(f"{info.container} sources in '{info.seek_mode}' mode are not cut")
        self.info, self.lenient = info, lenient
        self.format, self.suffix = PIECE_FORMATS[info.container]
        self.bytes_read = 0

    def pieces(self, sources: Iterable[tuple[int, Source]]) -> Iterator[Piece | None]:
        """A `Piece` for each (segment index, Source), in the order given (increasing start)."""
        container = av.open(str(self.info.path), metadata_errors="ignore")
        try:
            stream: Any = container.streams[self.info.stream_index]
            clock = Clock(stream.time_base, self.info.origin, self.info.time_base)
            packets = self._demux(container, stream, clock)
            buffer: list[_Packet] = []
            done = False
            for index, source in sources:
                first, end = source.first_pts, source.end_pts
                boundary = _boundary(buffer, end)
                while not done and not (boundary is not None and boundary[1]):
                    packet = next(packets, None)
                    if packet is None:
                        done = True
                        break
                    buffer.append(packet)
                    if packet.key and packet.shown is not None and packet.shown <= first:
                        del buffer[:-1]  # nothing before a keyframe at or before the first frame is needed
                    boundary = _advance(boundary, packet, end)
                start = _start(buffer, first)
                del buffer[:start]
                stop = _stop(buffer, end)
                try:
                    piece: Piece | None = self._write(index, stream, buffer[:stop], source)
                except CutError:
                    if not self.lenient:
                        raise
                    piece = None
                yield piece
        finally:
            container.close()

    def _demux(
        self, container: av.container.InputContainer, stream: av.video.stream.VideoStream, clock: Clock
    ) -> Iterator[_Packet]:
        packets = container.demux(stream)
        while True:
            try:
                packet = next(packets)
            except (StopIteration, av.FFmpegError):  # a file that ends early ends where it breaks, as in the probe
                return
            if packet.size == 0:
                continue
            self.bytes_read += packet.size
            shown = None if packet.pts is None else clock(packet.pts)
            yield _Packet(bytes(packet), packet.pts, packet.dts, packet.duration or 0, packet.is_keyframe, shown)

    def _write(
        self, index: int, template: av.video.stream.VideoStream, packets: list[_Packet], source: Source
    ) -> Piece:
        buffer = io.BytesIO()
        # The MOV muxer writes a piece's start (an empty edit) in the movie's timescale, 1000
        # by default: 8.333 s became 5 ticks early in 1/15360. The stream's own timescale is exact.
        scale = Fraction(template.time_base or self.info.time_base).denominator
        options = {"movie_timescale": str(scale)} if self.format == "mov" else {}
        refused = "segment {index}: the {format} muxer refused the packets ({reason})"
        with translate_av_errors(CutError, refused, also=(ValueError,), index=index, format=self.format):
            with av.open(buffer, "w", format=self.format, options=options) as out:
                stream = out.add_stream_from_template(template)
                time_base: Any = template.time_base
                for kept in packets:
                    packet = av.Packet(kept.data)
                    packet.pts, packet.dts, packet.duration = kept.pts, kept.dts, kept.duration
                    packet.time_base = time_base
                    packet.is_keyframe = kept.key
                    packet.stream = stream
                    out.mux(packet)
        data = buffer.getvalue()
        check_piece(data, self.info, source)
        return Piece(index=index, data=data, suffix=self.suffix, packets=len(packets))


def _start(buffer: list[_Packet], first: int) -> int:
    """Position of the last keyframe at or before the first frame (0 when there is none:
    the stream starts without a keyframe)."""
    return max((i for i, p in enumerate(buffer) if p.key and p.shown is not None and p.shown <= first), default=0)


def _advance(boundary: tuple[int, bool] | None, packet: _Packet, end: int | None) -> tuple[int, bool] | None:
    """Where reading for a piece ending at `end` stands after `packet`: None until a keyframe
    shown at or after `end` was read, then (its time, whether a packet shown later than it
    followed). Once one did, no later packet holds a frame shown before `end` (the frames an
    open GOP shows before its keyframe follow that keyframe directly in decode order)."""
    if end is None or packet.shown is None:
        return boundary
    if boundary is None:
        return (packet.shown, False) if packet.key and packet.shown >= end else None
    return boundary[0], boundary[1] or packet.shown > boundary[0]


def _boundary(buffer: list[_Packet], end: int | None) -> tuple[int, bool] | None:
    boundary = None
    for packet in buffer:
        boundary = _advance(boundary, packet, end)
    return boundary


def _stop(buffer: list[_Packet], end: int | None) -> int:
    """Length of the piece: up to the last packet shown before `end`."""
    if end is None:
        return len(buffer)
    return max((i + 1 for i, p in enumerate(buffer) if p.shown is not None and p.shown < end), default=0)


def check_piece(data: bytes, info: VideoInfo, source: Source) -> None:
    """Raise `CutError` unless the piece, demuxed again, shows exactly the segment's frames at
    their times (nothing missing, nothing extra between its first and its end)."""
    expected = set(info.frame_pts[source.start : source.stop])
    unreadable = "segment {start}-{stop}: the piece does not read back ({reason})"
    with translate_av_errors(CutError, unreadable, also=(ValueError,), start=source.start, stop=source.stop):
        with av.open(io.BytesIO(data), metadata_errors="ignore") as container:
            assert isinstance(container, av.container.InputContainer)
            stream: Any = container.streams.video[0]
            clock = Clock(Fraction(stream.time_base), info.origin, info.time_base)
            shown = [clock(p.pts) for p in container.demux(stream) if p.size and p.pts is not None and not p.is_discard]
    inside = {pts for pts in shown if pts >= source.first_pts and (source.end_pts is None or pts < source.end_pts)}
    if inside != expected:
        missing, extra = len(expected - inside), len(inside - expected)
        raise CutError(f"frames {source.start}-{source.stop}: the piece misses {missing} frames and adds {extra}")
