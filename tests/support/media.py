"""Edge-case source clips for the fidelity tests, each made by the bundled ffmpeg binary
(argument lists, never a shell) from lavfi sources or from exact raw frames piped in.

Every generator writes one small file (320x240-ish, 2-6 s) and returns its path, plus,
where a test needs it, what went in (frame times, flash times, levels). They are meant to
be called once per test session through the `make` fixture of `test_fidelity.py`.

The clips imitate what phones, cameras, editors and broadcast chains write: variable frame
rate, timestamp gaps, MPEG-TS clocks far from 0, display rotation, full-range and 10-bit
levels, colour tags, anamorphic pixels, several audio and subtitle tracks, chapters, alpha,
palettes, cover art, and files the decoder cannot read.
"""

from __future__ import annotations

import struct
import subprocess
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import imageio_ffmpeg
import numpy as np

from renderrush import make_sample_video

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
X264 = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "16"]
X265_10BIT = [
    "-c:v",
    "libx265",
    "-preset",
    "ultrafast",
    "-pix_fmt",
    "yuv420p10le",
    "-x265-params",
    "log-level=error",
    "-tag:v",
    "hvc1",
]


class MediaError(AssertionError):
    """A generator's ffmpeg command failed (a broken test setup, not a RenderRush bug)."""


def ffmpeg(*args: str | Path | int | float, stdin: bytes | None = None) -> str:
    """Run the bundled ffmpeg quietly; returns its stderr; raises `MediaError` on failure."""
    command = [FFMPEG, "-hide_banner", "-loglevel", "error", *map(str, args)]
    if stdin is None:
        command.insert(1, "-nostdin")
    proc = subprocess.run(command, input=stdin, capture_output=True)
    if proc.returncode != 0:
        raise MediaError(f"ffmpeg {' '.join(map(str, args))} failed:\n{proc.stderr.decode(errors='replace')}")
    return proc.stderr.decode(errors="replace")


def ffmpeg_info(path: Path) -> str:
    """ffmpeg's own description of `path` (`ffmpeg -i PATH`, stderr), for tags ffprobe would show."""
    proc = subprocess.run([FFMPEG, "-hide_banner", "-nostdin", "-i", str(path)], capture_output=True)
    return proc.stderr.decode(errors="replace")


# ---- timing ---------------------------------------------------------------------------

Piece = tuple[int, Fraction]
"""(frames, frames per second) of one constant-rate stretch of a variable-rate clip."""


def piece_times(pieces: Sequence[Piece], gaps: Sequence[Fraction] = ()) -> list[Fraction]:
    """Presentation time of every frame of consecutive constant-rate `pieces`; `gaps[k]`
    seconds of nothing are inserted after piece k (a timestamp gap)."""
    times, now = [], Fraction(0)
    for k, (count, rate) in enumerate(pieces):
        times += [now + Fraction(i) / rate for i in range(count)]
        now += Fraction(count) / rate + (gaps[k] if k < len(gaps) else 0)
    return times


def setpts_expression(pieces: Sequence[Piece], gaps: Sequence[Fraction] = ()) -> str:
    """An ffmpeg `setpts` expression giving frame N the time `piece_times` gives it."""
    starts, first, now = [], 0, Fraction(0)
    for k, (count, rate) in enumerate(pieces):
        starts.append((first, now, rate))
        first += count
        now += Fraction(count) / rate + (gaps[k] if k < len(gaps) else 0)
    expr = ""
    for k, (first, start, rate) in reversed(list(enumerate(starts))):
        piece = f"({start.numerator}/{start.denominator}+(N-{first})*{rate.denominator}/{rate.numerator})"
        expr = piece if not expr else f"if(lt(N,{starts[k + 1][0]}),{piece},{expr})"
    return f"setpts='({expr})/TB'"


VFR_PIECES: list[Piece] = [(30, Fraction(30)), (30, Fraction(15)), (30, Fraction(30))]
"""A phone in low light: 1 s at 30 fps, 2 s at 15 fps, 1 s at 30 fps (90 frames, 4 s)."""


def retimed(path: Path, source: Path, pieces: Sequence[Piece], gaps: Sequence[Fraction] = (), *extra: str) -> Path:
    """`source`'s video re-timed frame by frame (VFR or gaps kept by `-fps_mode passthrough`)."""
    ffmpeg(
        "-i",
        source,
        "-map",
        "0:v:0",
        "-vf",
        setpts_expression(pieces, gaps),
        "-fps_mode",
        "passthrough",
        *X264,
        "-g",
        15,
        *extra,
        "-y",
        path,
    )
    return path


def indexed_clip(folder: Path, frames: int, size: tuple[int, int] = (320, 240)) -> Path:
    """A 30 fps RenderRush sample (frame-index stripe, see `renderrush.media.samples`), no audio;
    made once per folder (several generators start from it)."""
    path = folder / f"indexed-{frames}-{size[0]}x{size[1]}.mp4"
    return path if path.exists() else make_sample_video(path, seconds=frames / 30, size=size, fps=30, audio=False)


def vfr_clip(folder: Path) -> tuple[Path, list[Fraction]]:
    """VFR H.264 MP4: 30 -> 15 -> 30 fps (`VFR_PIECES`), with the frame-index stripe."""
    path = retimed(folder / "vfr.mp4", indexed_clip(folder, 90), VFR_PIECES, (), "-video_track_timescale", 90000)
    return path, piece_times(VFR_PIECES)


GAP_PIECES: list[Piece] = [(45, Fraction(30)), (45, Fraction(30))]
GAP = [Fraction(2)]


def gap_clip(folder: Path) -> tuple[Path, list[Fraction]]:
    """30 fps MP4 with a 2 s timestamp gap after frame 44 (1.5 s, gap, 1.5 s: 90 frames, 5 s)."""
    path = retimed(folder / "gap.mp4", indexed_clip(folder, 90), GAP_PIECES, GAP, "-video_track_timescale", 90000)
    return path, piece_times(GAP_PIECES, GAP)


def mpegts_clip(folder: Path, offset: float | None = None) -> Path:
    """MPEG-TS (H.264 + AAC) as broadcast and cameras write it: the mpegts muxer starts its
    clock at 1.4 s; `offset` shifts every timestamp by that many seconds more."""
    name = "ts.ts" if offset is None else f"ts-offset-{offset:g}.ts"
    extra = [] if offset is None else ["-output_ts_offset", offset]
    ffmpeg(
        "-i",
        indexed_clip(folder, 90),
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000:duration=3",
        "-map",
        "0:v",
        "-map",
        "1:a",
        *X264,
        "-g",
        15,
        "-c:a",
        "aac",
        "-b:a",
        "96k",
        *extra,
        "-f",
        "mpegts",
        "-y",
        folder / name,
    )
    return folder / name


def clock_reset_ts(folder: Path) -> Path:
    """Two MPEG-TS recordings joined byte for byte, as a broadcast recorder writes one across
    a clock reset: frames 0-44 timed from 1.4 s, then frames 45-89 timed from 1.9 s again
    (2 ticks off the first part's grid, so no timestamp repeats: a demux pass sorting them
    interleaves the two halves)."""
    source = indexed_clip(folder, 90)
    parts = []
    for name, first, offset in (("a", 0, None), ("b", 45, 0.5 + 2 / 90000)):
        part = folder / f"reset-{name}.ts"
        extra = [] if offset is None else ["-output_ts_offset", offset]
        ffmpeg(
            "-i",
            source,
            "-vf",
            f"trim=start_frame={first}:end_frame={first + 45},setpts=PTS-STARTPTS",
            "-an",
            *X264,
            "-g",
            15,
            *extra,
            "-f",
            "mpegts",
            "-y",
            part,
        )
        parts.append(part.read_bytes())
    path = folder / "clock-reset.ts"
    path.write_bytes(b"".join(parts))
    return path


VOP = b"\x00\x00\x01\xb6"
"""MPEG-4 Part 2 start code of a picture (VOP); the two bits after it are its type (I, P, B)."""
DIVX_PACKED = b"\x00\x00\x01\xb2DivX503b1393p"
"""User data as DivX 5 writes it: the final 'p' tells decoders that B-frames are packed."""
N_VOP = VOP + bytes([0x50, 0x4F])
"""A "not coded" P-VOP (5-bit time increment, as ffmpeg's encoder writes for 30 fps): the
placeholder that takes a packed B-frame's place in the file."""


def _vop_type(packet: bytes) -> str:
    return "IPBS"[packet[packet.index(VOP) + 4] >> 6]


def packed_b_avi(folder: Path) -> Path:
    """An Xvid/DivX-style AVI with packed B-frames (90 frames, 30 fps, with the frame-index
    stripe): each B-frame travels in the packet of the P-frame before it, and a not-coded
    placeholder takes its slot. ffmpeg's MPEG-4 encoder cannot pack, so its unpacked output
    (`-bf 1`) is packed here packet by packet, as DivX 5 and Xvid write them."""
    unpacked = folder / "unpacked-b.avi"
    ffmpeg("-i", indexed_clip(folder, 90), "-c:v", "mpeg4", "-q:v", 2, "-bf", 1, "-vtag", "XVID", "-y", unpacked)
    with av.open(str(unpacked)) as source:
        stream = source.streams.video[0]
        time_base = stream.time_base
        coded = [(bytes(packet), packet.is_keyframe) for packet in source.demux(stream) if packet.size]
    first, key = coded[0]
    at = first.index(VOP)
    coded[0] = (first[:at] + DIVX_PACKED + first[at:], key)
    packed: list[tuple[bytes, bool]] = []
    i = 0
    while i < len(coded):
        data, key = coded[i]
        if i + 1 < len(coded) and _vop_type(coded[i + 1][0]) == "B":
            packed += [(data + coded[i + 1][0], key), (N_VOP, False)]
            i += 2
        else:
            packed.append((data, key))
            i += 1
    path = folder / "packed-b.avi"
    with av.open(str(unpacked)) as source, av.open(str(path), "w") as out:
        template = source.streams.video[0]
        stream_out = out.add_stream_from_template(template)
        for n, (data, key) in enumerate(packed):  # AVI keeps one frame per index entry
            packet = av.Packet(data)
            packet.stream, packet.time_base, packet.pts, packet.dts = stream_out, time_base, n, n
            packet.is_keyframe = key
            out.mux(packet)
    return path


# ---- A/V sync: a white flash and a tone burst on the same frame ----------------------

FLASH_PIECES: list[Piece] = [(45, Fraction(30)), (30, Fraction(15)), (75, Fraction(30))]
"""1.5 s at 30 fps, 2 s at 15 fps, 2.5 s at 30 fps: 150 frames, 6 s."""
FLASH_FRAMES = list(range(7, 150, 20))
"""A flash every 20 frames (0.67-1.33 s apart), so every 1 s segment join lies between two."""
BURST_SECONDS = 0.02
BURST_HZ = 1000


def _bursts(times: Sequence[Fraction | float], seconds: float) -> list[str]:
    """aevalsrc input of 48 kHz mono silence with a 1 kHz burst starting at each of `times`."""
    on = "+".join(f"between(t,{float(t):.6f},{float(t) + BURST_SECONDS:.6f})" for t in times)
    return ["-f", "lavfi", "-i", f"aevalsrc='0.8*sin(2*PI*{BURST_HZ}*t)*gt({on},0)':s=48000:d={seconds:.6f}"]


def _flash_video(frames: int, flashes: Sequence[int], rate: int = 30) -> list[str]:
    """lavfi input: dark grey 320x240 frames, all white on the `flashes` frame numbers."""
    enable = "+".join(f"eq(n,{n})" for n in flashes)
    flash = f"drawbox=w=iw:h=ih:color=white:t=fill:enable='{enable}'"
    return ["-f", "lavfi", "-i", f"color=c=0x303030:s=320x240:r={rate}:d={frames / rate:.6f},{flash}"]


def flash_click_clip(folder: Path) -> tuple[Path, list[Fraction]]:
    """VFR MP4 (`FLASH_PIECES`) with a white frame and a tone burst together at each of
    `FLASH_FRAMES`; returns the path and the flash times."""
    times = piece_times(FLASH_PIECES)
    flash_times = [times[n] for n in FLASH_FRAMES]
    path = folder / "flash-click.mp4"
    ffmpeg(
        *_flash_video(150, FLASH_FRAMES),
        *_bursts(flash_times, float(times[-1] + Fraction(1, 30))),
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-vf",
        setpts_expression(FLASH_PIECES),
        "-fps_mode",
        "passthrough",
        *X264,
        "-g",
        15,
        "-video_track_timescale",
        90000,
        "-c:a",
        "aac",
        "-b:a",
        "128k",
        "-y",
        path,
    )
    return path, flash_times


AUDIO_DELAY = Fraction(1, 2)
LATE_FLASH_FRAMES = [15, 45, 75]


def late_audio_clip(folder: Path) -> tuple[Path, list[Fraction]]:
    """30 fps MP4 (3 s) whose audio starts 0.5 s after its video, as some cameras record
    (`-itsoffset` on the audio input; MP4 keeps it as an edit list); a flash and a burst
    together at 0.5, 1.5 and 2.5 s (the first burst is the audio's first sample)."""
    flash_times = [Fraction(n, 30) for n in LATE_FLASH_FRAMES]
    path = folder / "late-audio.mp4"
    ffmpeg(
        *_flash_video(90, LATE_FLASH_FRAMES),
        "-itsoffset",
        float(AUDIO_DELAY),
        *_bursts([t - AUDIO_DELAY for t in flash_times], 2.5),
        "-map",
        "0:v",
        "-map",
        "1:a",
        *X264,
        "-g",
        15,
        "-c:a",
        "aac",
        "-b:a",
        "128k",
        "-y",
        path,
    )
    return path, flash_times


# ---- orientation -----------------------------------------------------------------------


def rotated_clip(folder: Path, degrees: int) -> Path:
    """A 640x360 coded H.264 MP4 (3 s, 15 fps) with a display rotation (a phone held
    upright): dark grey, a white 80x80 block in the coded picture's top-left corner and a
    mid-grey 40x40 block in its top-right corner, so any rotation or mirror shows."""
    coded = folder / "coded-640x360.mp4"
    if not coded.exists():
        ffmpeg(
            "-f",
            "lavfi",
            "-i",
            "color=c=0x404040:s=640x360:r=15:d=3",
            "-vf",
            "drawbox=x=0:y=0:w=80:h=80:color=white:t=fill,drawbox=x=600:y=0:w=40:h=40:color=0xA0A0A0:t=fill",
            *X264,
            "-g",
            15,
            "-y",
            coded,
        )
    path = folder / f"rotated-{degrees}.mp4"
    ffmpeg("-display_rotation", degrees, "-i", coded, "-c", "copy", "-y", path)
    return path


# ---- colour ---------------------------------------------------------------------------


def tags_filter(matrix: str, primaries: str, transfer: str) -> str:
    """A filter tagging frames with a colour description. The encoder takes the tags from
    the frames: `-color_primaries`/`-color_trc` output options alone leave them unknown."""
    return f"setparams=range=tv:colorspace={matrix}:color_primaries={primaries}:color_trc={transfer}"


def _raw_input(pix_fmt: str, size: tuple[int, int], rate: int) -> list[str | int]:
    return ["-f", "rawvideo", "-pix_fmt", pix_fmt, "-s", f"{size[0]}x{size[1]}", "-r", rate, "-i", "-"]


def two_level_yuv(size: tuple[int, int], left: int, right: int, frames: int, dtype: type = np.uint8) -> bytes:
    """Raw planar 4:2:0 frames: luma `left` in the left half, `right` in the right half,
    neutral chroma (128, or 512 for 16-bit samples)."""
    width, height = size
    luma = np.full((height, width), left, dtype)
    luma[:, width // 2 :] = right
    chroma = np.full((height // 2, width // 2), 512 if dtype == np.uint16 else 128, dtype)
    frame = b"".join(p.astype(p.dtype.newbyteorder("<")).tobytes() for p in (luma, chroma, chroma))
    return frame * frames


FULL_RANGE_LEVELS = (28, 187)


def full_range_h264(folder: Path) -> Path:
    """Android-phone-like full-range H.264 (`yuvj420p`), 320x240, 15 fps, 3 s: luma 28 on
    the left, 187 on the right (full-range codes; a limited-range reading changes them)."""
    path = folder / "full-range.mp4"
    ffmpeg(
        *_raw_input("yuvj420p", (320, 240), 15),
        *X264,
        "-pix_fmt",
        "yuvj420p",
        "-g",
        15,
        "-y",
        path,
        stdin=two_level_yuv((320, 240), *FULL_RANGE_LEVELS, 45),
    )
    return path


def full_range_mjpeg(folder: Path) -> Path:
    """A webcam/camera MJPEG AVI (full range by definition), same levels as `full_range_h264`."""
    path = folder / "full-range.avi"
    ffmpeg(
        *_raw_input("yuvj420p", (320, 240), 15),
        "-c:v",
        "mjpeg",
        "-q:v",
        2,
        "-pix_fmt",
        "yuvj420p",
        "-y",
        path,
        stdin=two_level_yuv((320, 240), *FULL_RANGE_LEVELS, 45),
    )
    return path


COLOUR_TAGS = {
    "bt709": ("bt709", "bt709", "bt709"),
    "bt601": ("smpte170m", "smpte170m", "smpte170m"),
}
"""(matrix, primaries, transfer) as ffmpeg names them."""


def tagged_clip(folder: Path, tags: str) -> Path:
    """640x360 H.264 (15 fps, 3 s) tagged with `COLOUR_TAGS[tags]`, limited range."""
    matrix, primaries, transfer = COLOUR_TAGS[tags]
    path = folder / f"tagged-{tags}.mp4"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=640x360:r=15:d=3",
        "-vf",
        f"scale=out_color_matrix={matrix}:out_range=tv,{tags_filter(matrix, primaries, transfer)}",
        *X264,
        "-pix_fmt",
        "yuv420p",
        "-g",
        15,
        "-y",
        path,
    )
    return path


BARS_RGB = [
    (191, 191, 191),
    (191, 191, 0),
    (0, 191, 191),
    (0, 191, 0),
    (191, 0, 191),
    (191, 0, 0),
    (0, 0, 191),
    (16, 16, 16),
]
"""75% colour bars (RGB): grey, yellow, cyan, green, magenta, red, blue, near black."""
HD = (1280, 720)


def hd_bars_709(folder: Path) -> Path:
    """1280x720 75% colour bars (`BARS_RGB`, 8 vertical bars), BT.709 matrix, tagged BT.709,
    15 fps, 2 s: saturated colours, where BT.601 and BT.709 disagree by tens of levels."""
    width, height = HD
    image = np.zeros((height, width, 3), np.uint8)
    for k, rgb in enumerate(BARS_RGB):
        image[:, k * width // 8 : (k + 1) * width // 8] = rgb
    path = folder / "bars-709.mp4"
    ffmpeg(
        *_raw_input("rgb24", HD, 15),
        "-vf",
        f"scale=out_color_matrix=bt709:out_range=tv,format=yuv420p,{tags_filter('bt709', 'bt709', 'bt709')}",
        *X264,
        "-g",
        15,
        "-y",
        path,
        stdin=image.tobytes() * 30,
    )
    return path


TEN_BIT_LEVELS = (200, 600)
"""10-bit luma codes of the left and right halves (8-bit: 50 and 150)."""


def ten_bit_hevc(folder: Path, hdr: bool = False) -> Path:
    """10-bit HEVC MP4 as phones write it (`hvc1`), 320x240, 15 fps, 3 s, flat luma
    `TEN_BIT_LEVELS`; with `hdr`, tagged PQ / BT.2020 like an HDR phone video."""
    tags = tags_filter("bt2020nc", "bt2020", "smpte2084") if hdr else tags_filter("bt709", "bt709", "bt709")
    path = folder / ("hdr-pq.mp4" if hdr else "ten-bit.mp4")
    ffmpeg(
        *_raw_input("yuv420p10le", (320, 240), 15),
        "-vf",
        tags,
        *X265_10BIT,
        "-y",
        path,
        stdin=two_level_yuv((320, 240), *TEN_BIT_LEVELS, 45, np.uint16),
    )
    return path


# ---- geometry -------------------------------------------------------------------------


def anamorphic_clip(folder: Path, kind: str) -> tuple[Path, Fraction]:
    """`dvd`: 720x480 MP4 with 8:9 pixels (DVD/DV 4:3); `3gp`: 352x288 3GP with 12:11
    pixels (CIF shown 4:3). 15 fps, 3 s. Returns the path and the display aspect ratio."""
    (width, height), sar, suffix = {
        "dvd": ((720, 480), Fraction(8, 9), "mp4"),
        "3gp": ((352, 288), Fraction(12, 11), "3gp"),
    }[kind]
    path = folder / f"anamorphic-{kind}.{suffix}"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=s={width}x{height}:r=15:d=3",
        "-vf",
        f"setsar={sar.numerator}/{sar.denominator}",
        *X264,
        "-pix_fmt",
        "yuv420p",
        "-g",
        15,
        "-y",
        path,
    )
    return path, Fraction(width) * sar / height


def odd_size_clip(folder: Path) -> Path:
    """A 321x241 sample (H.264 4:4:4, as odd sizes must be), 30 fps, 2 s, with audio."""
    return make_sample_video(folder / "odd-321x241.mp4", seconds=2, size=(321, 241), fps=30)


# ---- streams --------------------------------------------------------------------------

SUBTITLES = """1
00:00:00,500 --> 00:00:01,500
Hello from the first cue

2
00:00:02,000 --> 00:00:02,800
Bonjour, second cue
"""
TITLE = "Fidelity test clip"
CHAPTERS = ("Opening", "Ending")
METADATA = f""";FFMETADATA1
title={TITLE}

[CHAPTER]
TIMEBASE=1/1000
START=0
END=1500
title={CHAPTERS[0]}

[CHAPTER]
TIMEBASE=1/1000
START=1500
END=3000
title={CHAPTERS[1]}
"""
TRACK_TONES = {"eng": 440, "fra": 880}
"""Language of each audio track and the tone it carries (so the tracks can be told apart)."""


def multi_track_clip(folder: Path) -> Path:
    """A Matroska file as an editor exports it: H.264 video (3 s, 30 fps), two AAC tracks
    (eng 440 Hz, fra 880 Hz), a SubRip subtitle track (two cues), two chapters and a title."""
    srt, meta = folder / "cues.srt", folder / "meta.txt"
    srt.write_text(SUBTITLES)
    meta.write_text(METADATA)
    path = folder / "multi-track.mkv"
    tones = [
        arg
        for hz in TRACK_TONES.values()
        for arg in ("-f", "lavfi", "-i", f"sine=frequency={hz}:sample_rate=48000:duration=3")
    ]
    ffmpeg(
        "-i",
        indexed_clip(folder, 90),
        *tones,
        "-i",
        srt,
        "-f",
        "ffmetadata",
        "-i",
        meta,
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-map",
        "2:a",
        "-map",
        "3:s",
        "-map_metadata",
        "4",
        "-map_chapters",
        "4",
        "-c:v",
        "copy",
        "-c:a",
        "aac",
        "-b:a",
        "96k",
        "-c:s",
        "srt",
        *[arg for k, lang in enumerate(TRACK_TONES) for arg in (f"-metadata:s:a:{k}", f"language={lang}")],
        "-y",
        path,
    )
    return path


def pcm_audio_clip(folder: Path) -> Path:
    """Matroska with H.264 video and pcm_s16le audio (which MP4 cannot hold), 3 s."""
    path = folder / "pcm-audio.mkv"
    ffmpeg(
        "-i",
        indexed_clip(folder, 90),
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000:duration=3",
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-c:v",
        "copy",
        "-c:a",
        "pcm_s16le",
        "-y",
        path,
    )
    return path


def _spu_packet(width: int = 16, height: int = 4) -> bytes:
    """One DVD sub-picture unit: a `width`x`height` box of colour 1 at (100, 100).
    Every line is the 16-bit run code "fill to end of line with colour 1" (0x0001); top
    field lines first, then bottom field lines, then one display control sequence."""
    lines = height // 2
    top = b"\x00\x01" * lines
    bottom = b"\x00\x01" * lines
    pixels_at = 4
    control_at = pixels_at + len(top) + len(bottom)
    x1, x2, y1, y2 = 100, 100 + width - 1, 100, 100 + height - 1
    coords = bytes([x1 >> 4, ((x1 & 15) << 4) | (x2 >> 8), x2 & 255, y1 >> 4, ((y1 & 15) << 4) | (y2 >> 8), y2 & 255])
    control = (
        struct.pack(">HH", 0, control_at)  # delay 0; the next sequence is this one (the last)
        + b"\x01"  # start display
        + b"\x03"
        + bytes([0x01, 0x23])  # palette entries for the 4 colours
        + b"\x04"
        + bytes([0xFF, 0xF0])  # contrast (alpha): colour 0 transparent
        + b"\x05"
        + coords
        + b"\x06"
        + struct.pack(">HH", pixels_at, pixels_at + len(top))
        + b"\xff"
    )
    body = top + bottom + control
    return struct.pack(">HH", 4 + len(body), control_at) + body


def bitmap_subtitle_clip(folder: Path) -> Path:
    """Matroska with H.264 video, AAC audio and a DVD bitmap subtitle (dvd_subtitle) track,
    as a DVD rip has: two hand-built sub-picture units (ffmpeg cannot make bitmap subtitles
    from text), muxed next to the streams of a normal clip by PyAV."""
    import av

    base = folder / "bitmap-base.mp4"  # MP4 gives every packet a dts to mux by
    ffmpeg(
        "-i",
        indexed_clip(folder, 90),
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000:duration=3",
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-c:v",
        "copy",
        "-c:a",
        "aac",
        "-b:a",
        "96k",
        "-y",
        base,
    )
    path = folder / "bitmap-subtitle.mkv"
    with av.open(str(base)) as source, av.open(str(path), "w") as out:
        copies = {s.index: out.add_stream_from_template(s) for s in (source.streams.video[0], source.streams.audio[0])}
        subtitle = out.add_stream("dvdsub")
        subtitle.time_base = Fraction(1, 1000)
        subtitle.metadata["language"] = "eng"
        for start in (500, 2000):
            packet = av.Packet(_spu_packet())
            packet.stream = subtitle
            packet.pts = packet.dts = start
            packet.duration = 800
            packet.time_base = subtitle.time_base
            out.mux(packet)
        for packet in source.demux(*source.streams.video, *source.streams.audio):
            if packet.size == 0:  # the demuxer's end-of-stream packets
                continue
            packet.stream = copies[packet.stream.index]
            out.mux(packet)
    return path


# ---- alpha and palettes ------------------------------------------------------------

ALPHA_SIZE = (320, 240)
BOX = 60
"""An opaque red BOX x BOX square moves along the top; the rest is transparent white."""


def box_left(n: int) -> int:
    return 20 + 4 * n


def rgba_frames(frames: int) -> bytes:
    """Transparent white (alpha 0, RGB 255) with an opaque red box moving right 4 px a frame."""
    width, height = ALPHA_SIZE
    data = []
    for n in range(frames):
        image = np.zeros((height, width, 4), np.uint8)
        image[..., :3] = 255  # what a viewer must not see: transparent pixels are not shown white
        image[20 : 20 + BOX, box_left(n) : box_left(n) + BOX] = (255, 0, 0, 255)
        data.append(image.tobytes())
    return b"".join(data)


ALPHA_FRAMES = 45
ALPHA_KINDS = {
    "qtrle": ("alpha-qtrle.mov", ["-c:v", "qtrle", "-pix_fmt", "argb"]),
    "png-mov": ("alpha-png.mov", ["-c:v", "png", "-pix_fmt", "rgba"]),
    "gif": (
        "alpha.gif",
        [
            "-filter_complex",
            "[0:v]split[a][b];[a]palettegen=reserve_transparent=1[p];[b][p]paletteuse=alpha_threshold=128",
            "-f",
            "gif",
        ],
    ),
    "apng": ("alpha.apng", ["-c:v", "apng", "-pix_fmt", "rgba", "-plays", "0", "-f", "apng"]),
    "png-palette": (
        "alpha-palette.mov",
        [
            "-filter_complex",
            "[0:v]split[a][b];[a]palettegen=reserve_transparent=1[p];[b][p]paletteuse=alpha_threshold=128",
            "-c:v",
            "png",
        ],
    ),
}


def alpha_clip(folder: Path, kind: str) -> Path:
    """45 frames at 15 fps (3 s) of `rgba_frames` as QuickTime Animation (argb), PNG in
    MOV (rgba, or a palette with a transparent entry), GIF (palette with a transparent
    entry) or APNG."""
    name, codec = ALPHA_KINDS[kind]
    path = folder / name
    ffmpeg(*_raw_input("rgba", ALPHA_SIZE, 15), *codec, "-y", path, stdin=rgba_frames(ALPHA_FRAMES))
    return path


OPAQUE_PALETTE_KINDS = {
    "msrle": ("opaque-msrle.avi", ["-c:v", "msrle"]),
    "png-palette": ("opaque-palette.mov", ["-vf", "format=pal8", "-c:v", "png"]),
}
"""Palette video without transparency, decoded as pal8 (each palette entry has an alpha, all
255): MS RLE in AVI, as old Windows captures are, and palette PNG in MOV."""


def opaque_palette_clip(folder: Path, kind: str) -> Path:
    """45 frames at 30 fps of the indexed sample (frame-index stripe) in a palette format."""
    name, codec = OPAQUE_PALETTE_KINDS[kind]
    path = folder / name
    ffmpeg("-i", indexed_clip(folder, 45), *codec, "-y", path)
    return path


# ---- cover art, undecodable and truncated files ----------------------------------------


def _boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, start, end) of the ISO-BMFF boxes laid end to end in `data[start:end]`."""
    found, pos = [], start
    while pos < end:
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if size < 8:
            raise MediaError(f"unexpected MP4 box size {size} at {pos}")
        found.append((kind, pos, pos + size))
        pos += size
    return found


def _user_data_first(data: bytes) -> bytes:
    """The MP4 `data` with its `moov/udta` box moved before the tracks. ffmpeg's MP4 demuxer
    makes the cover (`udta/meta/ilst/covr`) a stream when it reads it, so the cover becomes
    stream 0, the first video stream, as in files other muxers write. Only boxes inside
    `moov` move and `moov` keeps its size, so no chunk offset changes."""
    _, start, end = next(box for box in _boxes(data, 0, len(data)) if box[0] == b"moov")
    children = _boxes(data, start + 8, end)
    user = [data[s:e] for kind, s, e in children if kind == b"udta"]
    rest = [data[s:e] for kind, s, e in children if kind != b"udta"]
    if not user or rest[0][4:8] != b"mvhd":
        raise MediaError("the MP4 has no moov/udta box to move")
    return data[:start] + data[start : start + 8] + rest[0] + b"".join(user) + b"".join(rest[1:]) + data[end:]


def cover_art_clip(folder: Path) -> Path:
    """An MP4 whose FIRST video stream is a 200x200 PNG cover (attached picture), followed
    by the main 320x240 30 fps video (90 frames) and AAC audio, as music videos and
    podcasts carry them."""
    cover = folder / "cover.png"
    ffmpeg("-f", "lavfi", "-i", "color=c=orange:s=200x200", "-frames:v", 1, "-y", cover)
    main = make_sample_video(folder / "cover-main.mp4", seconds=3, size=(320, 240), fps=30)
    muxed = folder / "cover-last.mp4"
    ffmpeg(
        "-i",
        cover,
        "-i",
        main,
        "-map",
        "0:v",
        "-map",
        "1:v",
        "-map",
        "1:a",
        "-c",
        "copy",
        "-disposition:v:0",
        "attached_pic",
        "-disposition:v:1",
        "default",
        "-y",
        muxed,
    )
    path = folder / "cover-first.mp4"
    path.write_bytes(_user_data_first(muxed.read_bytes()))
    return path


def undecodable_clip(folder: Path) -> Path:
    """An AVI whose video stream carries a FourCC no decoder knows ('QQQQ' in place of
    MPEG-4's 'FMP4'): ffmpeg opens it and sees a video stream, and cannot decode it."""
    source = make_sample_video(folder / "mpeg4.avi", seconds=2, size=(320, 240), fps=30)
    data = bytearray(source.read_bytes())
    header = data[:8192]
    assert b"FMP4" in header, "the AVI header should name MPEG-4 as FMP4"
    data[:8192] = header.replace(b"FMP4", b"QQQQ")
    path = folder / "undecodable.avi"
    path.write_bytes(bytes(data))
    return path


def truncated_clip(folder: Path) -> Path:
    """The first 60% of an MPEG-TS file (a recording cut off mid-packet)."""
    whole = mpegts_clip(folder)
    data = whole.read_bytes()
    path = folder / "truncated.ts"
    path.write_bytes(data[: len(data) * 6 // 10 + 77])
    return path


def ffmpeg_main_video(path: Path) -> list[str]:
    """ffmpeg reading the main video stream of `path` with every frame at its own time
    (passthrough: none repeated or dropped for a constant rate); output options follow."""
    return [FFMPEG, "-nostdin", "-hide_banner", "-i", str(path), "-map", "0:V:0", "-fps_mode", "passthrough"]


def ffmpeg_frame_count(path: Path) -> int:
    """Frames the ffmpeg binary decodes from the main video stream of `path`."""
    proc = subprocess.run(
        [*ffmpeg_main_video(path), "-f", "null", "-progress", "pipe:1", "-"],
        capture_output=True,
        text=True,
        errors="replace",
    )
    counts = [
        int(line[6:]) for line in proc.stdout.splitlines() if line.startswith("frame=") and line[6:].strip().isdigit()
    ]
    assert counts, f"ffmpeg decoded nothing from {path.name}: {proc.stderr[-500:]}"
    return counts[-1]
