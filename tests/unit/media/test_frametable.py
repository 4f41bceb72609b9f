"""The frame table (renderrush/frametable.py): the frames of the main video stream as the
decoder will output them, each with its presentation time in the output time base counted
from the container's start (its first packet of any stream), which frames are keyframes,
and how a segment finds them again. Containers that store a time with each frame are read
from a demux pass ("packets", found by "time"); raw streams and GIF-like files, and any
`decode_pass=True`, are decoded once ("decoded"), and where times had to be made up the
frames are found by "count". A packet the decoder rejects is skipped and counted."""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import av
import pytest

from renderrush.core.errors import EmptyVideoError
from renderrush.media.frametable import (
    MAX_REORDER,
    Clock,
    FrameTable,
    _fill_times,
    _frame_rate,
    _sorted_if_shuffled,
    decode_stream,
    list_frames,
    output_time_base,
)

from ...support.media import FFMPEG, X264, ffmpeg, piece_times, setpts_expression

SOURCE = ["-f", "lavfi", "-i", "testsrc2=s=64x48:r=30:d=1"]
"""30 frames of a moving 64x48 picture at 30 fps."""


def table(path: Path, **options: bool) -> FrameTable:
    with av.open(str(path)) as container:
        return list_frames(container, container.streams.video[0], path, **options)


def decoded_frames(path: Path) -> list[tuple[int | None, bool]]:
    """(pts, keyframe) of every frame PyAV's plain decode outputs (for clean files)."""
    with av.open(str(path)) as container:
        return [(frame.pts, bool(frame.key_frame)) for frame in container.decode(video=0)]


def packets(path: Path) -> list[tuple[int, int, int | None]]:
    """(byte position, size, pts) of each video packet, in file order (a raw stream's have no pts)."""
    with av.open(str(path)) as container:
        found = [(p.pos, p.size, p.pts) for p in container.demux(container.streams.video[0]) if p.size]
    assert all(pos is not None for pos, _, _ in found)
    return found  # type: ignore[return-value]


def ffmpeg_frame_count(path: Path) -> int:
    """Frames the ffmpeg binary decodes from the first video stream: the reference."""
    proc = subprocess.run(
        [FFMPEG, "-nostdin", "-hide_banner", "-i", str(path), "-map", "0:v:0", "-f", "framemd5", "-"],
        capture_output=True,
        text=True,
    )
    return sum(1 for line in proc.stdout.splitlines() if line and not line.startswith("#"))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("frametable")


@pytest.fixture(scope="module")
def mp4(folder: Path) -> Path:
    """H.264 with B-frames (demux order differs from presentation order), moov first, 30 frames."""
    path = folder / "b-frames.mp4"
    ffmpeg(*SOURCE, *X264, "-g", 15, "-movflags", "+faststart", "-y", path)
    return path


@pytest.fixture(scope="module")
def raw_h264(folder: Path, mp4: Path) -> Path:
    path = folder / "clip.h264"
    ffmpeg("-i", mp4, "-c", "copy", "-bsf:v", "h264_mp4toannexb", "-f", "h264", "-y", path)
    return path


def cut_inside_packet(source: Path, index: int, path: Path) -> tuple[Path, int | None]:
    """`source` cut off halfway through its `index`-th video packet (a recording that
    stopped mid-write); returns the path and that packet's pts."""
    pos, size, pts = packets(source)[index]
    path.write_bytes(source.read_bytes()[: pos + size // 2])
    return path, pts


# ---- pure helpers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stream_tb, expected",
    [
        (Fraction(1, 15360), Fraction(1, 15360)),
        (Fraction(1001, 30000), Fraction(1001, 30000)),
        (Fraction(1, 1_000_000), Fraction(1, 1_000_000)),  # the limit itself is kept
        (Fraction(1, 1_000_001), Fraction(1, 90000)),  # finer than the limit: MPEG's clock
        (None, Fraction(1, 90000)),
    ],
)
def test_output_time_base_keeps_the_source_unit_unless_too_fine(stream_tb: Fraction | None, expected: Fraction) -> None:
    assert output_time_base(stream_tb) == expected


def test_clock_counts_from_the_container_start_in_the_output_unit() -> None:
    clock = Clock(Fraction(1, 1000), 1.4, Fraction(1, 90000))
    assert [clock(pts) for pts in (1400, 1433, 1500, 2400)] == [0, 2970, 9000, 90000]
    # a coarser output unit rounds to the nearest tick
    assert [Clock(Fraction(1, 90000), 0.0, Fraction(1, 30))(pts) for pts in (2900, 6000, 7600)] == [1, 2, 3]


@pytest.mark.parametrize(
    "pts, expected, reordered",
    [
        pytest.param([1, 2, 3, 5, 4, 6], [1, 2, 3, 4, 5, 6], True, id="packed-b-frames"),
        pytest.param([4, 0, 1, 2, 3], [0, 1, 2, 3, 4], True, id="moved-max-reorder"),
        pytest.param([5, 0, 1, 2, 3, 4], [5, 0, 1, 2, 3, 4], False, id="moved-beyond-max-reorder"),
        pytest.param([0, 1, 2, 3], [0, 1, 2, 3], False, id="already-in-order"),
        pytest.param([0, 2, None, 1], [0, 2, None, 1], False, id="a-time-missing"),
        pytest.param([0, 2, 2, 1], [0, 2, 2, 1], False, id="a-time-repeats"),
        pytest.param([10, 11, 12, 13, 14, 0, 1, 2, 3, 4], [10, 11, 12, 13, 14, 0, 1, 2, 3, 4], False, id="clock-reset"),
    ],
)
def test_sorted_if_shuffled_only_sorts_nearby_mislabelled_frames(
    pts: list[int | None], expected: list[int | None], reordered: bool
) -> None:
    assert MAX_REORDER == 4  # the two "moved" cases sit on either side of it
    assert _sorted_if_shuffled(pts) == (expected, reordered)


@pytest.mark.parametrize(
    "pts, step, expected, made_up",
    [
        pytest.param([0, 3, 6], 3, [0, 3, 6], False, id="clean"),
        pytest.param([0, None, None, 30], 10, [0, 10, 20, 30], True, id="hole-spread-evenly"),
        pytest.param([0, 10, None], 10, [0, 10, 20], True, id="missing-at-the-end"),
        pytest.param([None, None, 20], 10, [0, 10, 20], True, id="missing-at-the-start"),
        pytest.param([None, None, None], 5, [0, 5, 10], True, id="all-missing"),
        pytest.param([0, 10, 5, 30], 10, [0, 10, 20, 30], True, id="time-goes-back"),
        pytest.param([0, 10, 10, 20], 10, [0, 10, 15, 20], True, id="time-repeats"),
        pytest.param([0, 1, None, 2], 10, [0, 1, 11, 21], True, id="no-room-continues-from-frame-before"),
    ],
)
def test_fill_times_makes_every_time_increase(
    pts: list[int | None], step: int, expected: list[int], made_up: bool
) -> None:
    filled, flag = _fill_times(pts, step)
    assert (filled, flag) == (expected, made_up)
    assert all(b > a for a, b in zip(filled, filled[1:]))


def rates(average: Fraction | None = None, guessed: Fraction | None = None, base: Fraction | None = None) -> object:
    return SimpleNamespace(average_rate=average, guessed_rate=guessed, base_rate=base)


TB = Fraction(1, 90000)


@pytest.mark.parametrize(
    "stream, pts, expected",
    [
        pytest.param(rates(Fraction(30)), [0, 3000, 6000], Fraction(30), id="measured-equals-declared"),
        pytest.param(
            rates(Fraction(30000, 1001)), [0, 3003, 6006], Fraction(30000, 1001), id="ntsc-declared-within-1pc"
        ),
        pytest.param(rates(Fraction(25)), [0, 3000, 6000], Fraction(30), id="declared-wrong-measured-wins"),
        pytest.param(rates(None, Fraction(24)), [0, 3750, 7500], Fraction(24), id="guessed-rate"),
        pytest.param(rates(None), [0, 3000, 12000], Fraction(15), id="nothing-declared-measured"),
        pytest.param(rates(Fraction(12)), [0], Fraction(12), id="one-frame-declared"),
        pytest.param(rates(None, None, Fraction(50)), [0], Fraction(50), id="one-frame-base-rate"),
        pytest.param(rates(), [0], Fraction(25), id="nothing-known"),
    ],
)
def test_frame_rate_prefers_the_declared_rate_when_it_fits(stream: object, pts: list[int], expected: Fraction) -> None:
    assert _frame_rate(stream, pts, TB) == expected  # type: ignore[arg-type]


# ---- demux pass --------------------------------------------------------------------------


def test_mp4_frames_come_from_the_demux_pass_in_presentation_order(mp4: Path) -> None:
    demux_order = [pts for _, _, pts in packets(mp4)]
    assert demux_order != sorted(demux_order)  # the generator did its job: B-frames come late
    frames = table(mp4)
    decoded = decoded_frames(mp4)
    assert list(frames.pts) == [pts for pts, _ in decoded] == [512 * i for i in range(30)]
    assert frames.keyframes == tuple(i for i, (_, key) in enumerate(decoded) if key)
    assert frames.keyframes[0] == 0 and len(frames.keyframes) >= 2  # -g 15
    assert (frames.time_base, frames.fps, frames.last_duration, frames.origin) == (Fraction(1, 15360), 30, 512, 0)
    assert (frames.timeline, frames.seek_mode, frames.damaged) == ("packets", "time", 0)
    assert frames.times == pytest.approx([i / 30 for i in range(30)])
    assert frames.duration == pytest.approx(1.0)


def test_decode_pass_lists_the_same_frames(mp4: Path) -> None:
    packets_table, decoded_table = table(mp4), table(mp4, decode_pass=True)
    assert decoded_table.pts == packets_table.pts
    assert decoded_table.keyframes == packets_table.keyframes
    assert (decoded_table.timeline, decoded_table.seek_mode) == ("decoded", "time")


@pytest.mark.parametrize(
    "name, args, time_base, first_pts",
    [
        pytest.param(
            "clip.mkv", ["-c:v", "libx264", "-preset", "veryfast"], Fraction(1, 1000), [0, 33, 67, 100], id="mkv"
        ),
        pytest.param("clip.avi", ["-c:v", "mpeg4"], Fraction(1, 30), [0, 1, 2, 3], id="avi"),
    ],
)
def test_times_stay_in_the_containers_own_unit(
    folder: Path, name: str, args: list[str], time_base: Fraction, first_pts: list[int]
) -> None:
    path = folder / name
    ffmpeg(*SOURCE, *args, "-y", path)
    frames = table(path)
    assert frames.time_base == time_base
    assert list(frames.pts[:4]) == first_pts
    assert len(frames.pts) == 30 and frames.fps == 30
    assert frames.times[-1] == pytest.approx(29 / 30, abs=0.001)


def test_variable_rate_and_gap_keep_each_frames_time(folder: Path) -> None:
    """A phone's VFR clip with a pause: 10 frames at 30 fps, a 1 s gap, 10 at 10 fps, 10 at 30 fps."""
    pieces = [(10, Fraction(30)), (10, Fraction(10)), (10, Fraction(30))]
    gaps = [Fraction(1)]
    path = folder / "vfr.mp4"
    ffmpeg(
        *SOURCE,
        "-vf",
        f"settb=1/90000,{setpts_expression(pieces, gaps)}",  # a 1/30 s source unit would round the times down
        "-fps_mode",
        "passthrough",
        *X264,
        "-video_track_timescale",
        90000,
        "-y",
        path,
    )
    frames = table(path)
    assert list(frames.pts) == [pts for pts, _ in decoded_frames(path)]
    assert list(frames.pts) == [int(t * 90000) for t in piece_times(pieces, gaps)]
    assert frames.last_duration == 3000  # the last frame is shown 1/30 s, as its packet says
    assert frames.duration == pytest.approx(float(piece_times(pieces, gaps)[-1]) + 1 / 30)
    assert frames.fps == Fraction(29 * 90000, frames.pts[-1]).limit_denominator(1001)
    assert frames.seek_mode == "time"


def test_mpegts_times_count_from_the_first_packet_of_any_stream(folder: Path) -> None:
    """The mpegts muxer starts its clock at 1.4 s plus the offset, and here the audio starts
    before the video: frame 0 is shown that long after the file's time zero."""
    path = folder / "offset.ts"
    ffmpeg(
        *SOURCE,
        "-f",
        "lavfi",
        "-i",
        "sine=duration=1:sample_rate=8000",
        *X264,
        "-c:a",
        "aac",
        "-output_ts_offset",
        10,
        "-f",
        "mpegts",
        "-y",
        path,
    )
    with av.open(str(path)) as container:
        start = container.start_time / av.time_base
        video = container.streams.video[0]
        video_start = float((video.start_time or 0) * (video.time_base or 1))
    assert start > 11  # the generator did its job: timestamps far from 0
    frames = table(path)
    assert frames.origin == pytest.approx(start)
    assert frames.time_base == Fraction(1, 90000)
    assert frames.pts[0] == round((video_start - start) * 90000)
    assert [b - a for a, b in zip(frames.pts, frames.pts[1:])] == [3000] * 29
    assert (frames.timeline, frames.seek_mode) == ("packets", "time")


# ---- decode pass -------------------------------------------------------------------------


def test_raw_stream_is_decoded_and_its_frames_found_by_count(raw_h264: Path) -> None:
    """An H.264 elementary stream has no times: the demuxer makes them up at its default
    25 fps (the stream declares no rate), in MPEG's 1/90000 s."""
    frames = table(raw_h264)
    assert (frames.timeline, frames.seek_mode) == ("decoded", "count")
    assert frames.time_base == Fraction(1, 90000)
    assert list(frames.pts) == [3600 * i for i in range(30)]
    assert frames.fps == 25 and frames.keyframes[0] == 0


def test_gif_is_decoded_in_centiseconds(folder: Path) -> None:
    path = folder / "clip.gif"
    ffmpeg(*SOURCE, "-f", "gif", "-y", path)
    frames = table(path)
    assert (frames.timeline, frames.seek_mode, frames.time_base) == ("decoded", "count", Fraction(1, 100))
    assert len(frames.pts) == 30
    assert all(b - a in (3, 4) for a, b in zip(frames.pts, frames.pts[1:]))  # 1/30 s in whole centiseconds


def test_clock_reset_decoded_gives_file_order_with_made_up_times(folder: Path) -> None:
    """Two MPEG-TS recordings joined byte for byte, the second's clock 0.2 s after the
    first's start: the decode pass keeps file order, continues the times at the frame rate
    and has segments count frames."""
    parts = []
    offsets: list[tuple[str, list[str | float]]] = [("a", []), ("b", ["-output_ts_offset", 0.2 + 2 / 90000])]
    for name, offset in offsets:
        part = folder / f"reset-{name}.ts"
        ffmpeg(*SOURCE, "-frames:v", 15, *X264, "-g", 15, *offset, "-f", "mpegts", "-y", part)
        parts.append(part.read_bytes())
    path = folder / "reset.ts"
    path.write_bytes(b"".join(parts))
    frames = table(path, decode_pass=True)
    assert list(frames.pts) == [3000 * i for i in range(30)]
    assert frames.keyframes == (0, 15)
    assert (frames.timeline, frames.seek_mode) == ("decoded", "count")


def test_damaged_packet_is_skipped_and_counted(folder: Path, mp4: Path) -> None:
    pos, size, damaged_pts = packets(mp4)[12]
    data = bytearray(mp4.read_bytes())
    data[pos : pos + size] = b"\xff" * size
    path = folder / "damaged.mp4"
    path.write_bytes(bytes(data))
    frames = table(path, decode_pass=True)
    assert frames.damaged == 1
    assert len(frames.pts) == 29 and damaged_pts not in frames.pts
    assert frames.pts == tuple(sorted(frames.pts))


def test_headers_without_frames_are_empty(folder: Path) -> None:
    source = folder / "headers-source.mkv"
    ffmpeg(*SOURCE, *X264, "-y", source)
    first_packet = packets(source)[0][0]
    path = folder / "headers-only.mkv"
    path.write_bytes(source.read_bytes()[:first_packet])
    with pytest.raises(EmptyVideoError, match="'headers-only.mkv' has a video stream but no decodable frames"):
        table(path)


# ---- files that end early ----------------------------------------------------------------


def test_decode_stream_skips_the_cut_off_packet_as_ffmpeg_does(folder: Path, mp4: Path) -> None:
    path, cut_pts = cut_inside_packet(mp4, 10, folder / "cut.mp4")
    damaged: list[int] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        pts = [frame.pts for frame in decode_stream(container, stream, damaged)]
        assert stream.codec_context.flags & av.codec.context.Flags.unaligned
    assert damaged == [cut_pts]
    assert len(pts) == ffmpeg_frame_count(path) and cut_pts not in pts


DRAIN_LOSS = (
    "PyAV limit: with frame threads the cut last packet's error surfaces while the decoder drains, and "
    "CodecContext.decode(None) stops draining at an InvalidDataError once it has a frame (av/codec/context.py "
    "_decode); the frames the other threads still hold (2 here) are lost and cannot be received afterwards"
)


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param(kind, marks=pytest.mark.xfail(strict=True, reason=DRAIN_LOSS))
        for kind in ("raw-h264", "mp4-decode-pass")
    ],
)
def test_decode_pass_of_a_cut_file_keeps_every_frame_ffmpeg_decodes(
    kind: str, folder: Path, mp4: Path, raw_h264: Path
) -> None:
    source = raw_h264 if kind == "raw-h264" else mp4
    path, _ = cut_inside_packet(source, 10, folder / f"cut-{kind}{source.suffix}")
    frames = table(path, decode_pass=kind == "mp4-decode-pass")
    assert frames.timeline == "decoded"
    assert len(frames.pts) == ffmpeg_frame_count(path)
