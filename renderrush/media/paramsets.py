"""Parameter sets of H.264 and HEVC segments, put in-band where segments differ.

The stitch copies every segment's packets into one stream that carries the first segment's
decoder configuration (MP4's avcC/hvcC). x264 writes the CRF into its picture parameter
set (`pic_init_qp`), so segments encoded at different CRFs (a quality target) carry
different PPSs: decoded with the first segment's, later segments came out as noise (PSNR
13 dB). When the segments' parameter sets are not all equal, each keyframe gets its own
segment's parameter sets in front of its NAL units, as broadcast streams carry them, so a
decoder starting or seeking anywhere finds the right ones. VP9, AV1 and ProRes keep
their headers in their frames and need nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import av

HEVC_PARAMETER_SETS = (32, 33, 34)
"""VPS, SPS and PPS NAL unit types (prefix SEI in hvcC, x265's options text, is left out)."""


def parameter_sets(codec: str, extradata: bytes | None) -> tuple[bytes, int] | None:
    """The parameter sets in an MP4 decoder configuration (avcC, hvcC) as length-prefixed
    NAL units with the configuration's NAL length size, and that size; None for other
    codecs and configurations in another form."""
    data = bytes(extradata or b"")
    try:
        if codec == "h264" and data[:1] == b"\x01":
            return _avcc(data)
        if codec == "hevc" and len(data) > 22 and data[:1] == b"\x01":
            return _hvcc(data)
    except IndexError:
        return None  # a truncated configuration: leave the packets as they are
    return None


def _unit(data: bytes, at: int) -> tuple[bytes, int]:
    size = int.from_bytes(data[at : at + 2], "big")
    if at + 2 + size > len(data):
        raise IndexError("truncated parameter set")
    return data[at + 2 : at + 2 + size], at + 2 + size


def _prefixed(units: list[bytes], length_size: int) -> bytes:
    return b"".join(len(u).to_bytes(length_size, "big") + u for u in units)


def _avcc(data: bytes) -> tuple[bytes, int]:
    length_size = (data[4] & 3) + 1
    units, at = [], 6
    for _ in range(data[5] & 0x1F):
        unit, at = _unit(data, at)
        units.append(unit)
    count, at = data[at], at + 1
    for _ in range(count):
        unit, at = _unit(data, at)
        units.append(unit)
    return _prefixed(units, length_size), length_size


def _hvcc(data: bytes) -> tuple[bytes, int]:
    length_size = (data[21] & 3) + 1
    units, at = [], 23
    for _ in range(data[22]):
        kind, count, at = data[at] & 0x3F, int.from_bytes(data[at + 1 : at + 3], "big"), at + 3
        for _ in range(count):
            unit, at = _unit(data, at)
            if kind in HEVC_PARAMETER_SETS:
                units.append(unit)
    return _prefixed(units, length_size), length_size


def differ(configurations: Iterable[tuple[bytes, int] | None]) -> bool:
    """Whether segments with these parameter sets need them in-band (they are not all equal)."""
    return len({c for c in configurations if c is not None}) > 1


def with_parameter_sets(packets: Iterable[av.Packet], sets: tuple[bytes, int] | None) -> Iterator[av.Packet]:
    """`packets`, each keyframe with `sets` in front of its NAL units (all as they are
    when `sets` is None)."""
    for packet in packets:
        if sets is None or not packet.is_keyframe:
            yield packet
            continue
        joined = av.Packet(sets[0] + bytes(packet))
        joined.pts, joined.dts, joined.duration = packet.pts, packet.dts, packet.duration
        joined.time_base = packet.time_base
        joined.is_keyframe = True
        yield joined
