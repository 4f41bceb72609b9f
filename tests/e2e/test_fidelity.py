"""The fidelity contract (issue 18, points 2-8) on generated edge-case sources: what a
viewer sees in the output is the input: every frame shown when the source showed it, in
sync with its sound, the same way up, at the same display aspect, with the same levels and
colour tags, every audio track, subtitle, chapter and title kept (or one warning naming
what was not), alpha composited on black, and one clear error line for what cannot decode.

Black-box: each test renders a clip from `tests/support/media.py` with `renderrush.render` (2
workers, 1 s segments, so segment joins are crossed) and measures the output with PyAV
and the ffmpeg binary, as a player would show it.

The measurements are checked against ffmpeg itself: with RENDERRUSH_FIDELITY_REFERENCE=ffmpeg
in the environment, every render below is done by one faithful ffmpeg command instead
(`reference_command`), and the tests of behaviour ffmpeg has too must pass; the tests of
RenderRush's own promises (10-bit and HDR kept, refusals, warnings, user filters, the CLI) are skipped then.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from renderrush import JobResult, RenderRushError, SettingsError, make_sample_video, probe, render
from renderrush.media.samples import read_frame_index

from ..support import media
from ..support.filters import FilterRegistry
from ..support.media import FFMPEG, ffmpeg_frame_count, ffmpeg_info, ffmpeg_main_video

REFERENCE = os.environ.get("RENDERRUSH_FIDELITY_REFERENCE", "") == "ffmpeg"
"""Render with one ffmpeg command instead of RenderRush, to check the measurements."""
JOB = dict(workers=2, segment_seconds=1, history=False)
"""Every render crosses segment joins: 1 s segments on 2 workers."""
GRAY = "grayscale"
"""The default chain: a real decode, filter, encode path that keeps luma, which most
measurements read (the frame-index stripe, flashes, markers)."""
KEEP = "brightness:0"
"""A built-in (YUV) filter that changes nothing: for measurements of colour."""


# ---- rendering ----------------------------------------------------------------------


def reference_command(source: Path, output: Path) -> list[str]:
    """One ffmpeg command that keeps what the contract asks for: the main video stream
    (not a cover), source timestamps (passthrough), AAC copied, other audio to AAC, text
    subtitles as mov_text, chapters and metadata, 8-bit 4:2:0, alpha composited on black."""
    args = [FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error", "-i", str(source), "-map", "0:V:0"]
    codecs: list[str] = []
    with av.open(str(source)) as container:
        video = next(s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic)
        pix_fmt = video.codec_context.pix_fmt or ""
        for k, stream in enumerate(container.streams.audio):
            args += ["-map", f"0:a:{k}"]
            codecs += [f"-c:a:{k}", "copy" if stream.codec_context.name == "aac" else "aac"]
        texts = [
            s
            for s in container.streams.subtitles
            if s.codec_context.name in ("subrip", "srt", "ass", "mov_text", "webvtt")
        ]
        for k, _ in enumerate(texts):
            args += ["-map", f"0:s:{k}"]
        codecs += ["-c:s", "mov_text"] if texts else []
    full = "yuvj" in pix_fmt or video.codec_context.color_range == 2
    chain = ["crop=trunc(iw/2)*2:trunc(ih/2)*2"]
    if "a" in pix_fmt.replace("yuv", "").replace("pal", "") or pix_fmt == "pal8":
        chain = ["format=rgba", "premultiply=inplace=1", *chain]
    chain.append("format=yuvj420p" if full else "format=yuv420p")
    return [
        *args,
        "-vf",
        ",".join(chain),
        "-fps_mode",
        "passthrough",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "18",
        *codecs,
        "-map_metadata",
        "0",
        "-map_chapters",
        "0",
        "-y",
        str(output),
    ]


def render_clip(source: Path, output: Path, filters: str = GRAY, **options: Any) -> JobResult | None:
    """Render `source` as the tests do (RenderRush, or ffmpeg in reference mode)."""
    if REFERENCE:
        subprocess.run(reference_command(source, output), check=True)
        return None
    return render(source, output, filters, **{**JOB, **options})


def renderrush_only() -> None:
    """Skip in reference mode: the test checks a promise ffmpeg does not make."""
    if REFERENCE:
        pytest.skip("RenderRush's own behaviour; ffmpeg makes no such promise")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated sources (and the renders shared by several tests) for this module."""
    return tmp_path_factory.mktemp("fidelity")


Make = Callable[..., Any]
"""`make(generator, *args)`: the clip `generator(folder, *args)` from `tests/support/media.py`,
made once per module run."""


@pytest.fixture(scope="module")
def make(folder: Path) -> Make:
    made: dict[tuple[str, tuple[Any, ...]], Any] = {}

    def build(generator: Callable[..., Any], *args: Any) -> Any:
        key = (generator.__name__, args)
        if key not in made:
            made[key] = generator(folder, *args)
        return made[key]

    return build


# ---- measuring what a viewer sees ------------------------------------------------------


def _origin(container: av.container.InputContainer) -> float:
    """The file's time zero (its container start time), in seconds."""
    return (container.start_time or 0) / av.time_base


def video_times(path: Path) -> list[float]:
    """When each decoded frame of the main video stream is shown, from the file's start."""
    with av.open(str(path)) as container:
        origin = _origin(container)
        return [float(frame.time) - origin for frame in container.decode(main_video(container))]


def main_video(container: av.container.InputContainer) -> av.video.stream.VideoStream:
    """The first video stream that is not a cover picture."""
    return next(s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic)


def gray_frames(path: Path) -> list[np.ndarray]:
    """Every frame of `path` as decoded (coded orientation), as 8-bit gray."""
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="gray") for frame in container.decode(main_video(container))]


def luma_planes(path: Path) -> list[np.ndarray]:
    """The raw luma plane of every frame (no range or matrix conversion)."""
    with av.open(str(path)) as container:
        return [plane_array(frame, 0) for frame in container.decode(video=0)]


def plane_array(frame: av.VideoFrame, index: int) -> np.ndarray:
    """Plane `index` of a planar frame as an array of its own sample type (8 or 16 bit)."""
    plane = frame.planes[index]
    dtype = np.uint16 if "10" in frame.format.name or "16" in frame.format.name else np.uint8
    rows = np.frombuffer(bytes(plane), dtype).reshape(plane.height, -1)
    return rows[:, : plane.width]


def frame_ids(path: Path) -> list[int]:
    """The frame-index stripe of every frame (sources made from RenderRush samples)."""
    return [read_frame_index(luma) for luma in gray_frames(path)]


def ffmpeg_upright_gray(path: Path, size: tuple[int, int]) -> np.ndarray:
    """Every frame ffmpeg decodes, as it shows it (display rotation applied; none repeated or
    dropped for a constant rate), N x H x W gray; `size` is the upright (width, height)."""
    proc = subprocess.run(
        [*ffmpeg_main_video(path), "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        capture_output=True,
        check=True,
    )
    width, height = size
    return np.frombuffer(proc.stdout, np.uint8).reshape(-1, height, width)


def flash_times(path: Path) -> list[float]:
    """When the white frames are shown (mean luma above mid-grey), from the file's start."""
    with av.open(str(path)) as container:
        origin = _origin(container)
        return [float(f.time) - origin for f in container.decode(video=0) if f.to_ndarray(format="gray").mean() > 128]


def click_times(path: Path, track: int = 0, threshold: float = 0.25, quiet: float = 0.1) -> list[float]:
    """Onsets of the tone bursts in audio track `track`: the first sample louder than
    `threshold` after at least `quiet` seconds below it, in seconds from the file's start."""
    onsets, last_loud = [], -1e9
    with av.open(str(path)) as container:
        origin = _origin(container)
        for frame in container.decode(audio=track):
            samples = frame.to_ndarray()
            first = samples[0] if frame.format.is_planar else samples.reshape(-1, len(frame.layout.channels))[:, 0]
            first = first / 32768.0 if first.dtype.kind == "i" else first
            for i in np.flatnonzero(np.abs(first) > threshold):
                at = float(frame.time) + i / frame.sample_rate - origin
                if at - last_loud > quiet:
                    onsets.append(float(at))
                last_loud = at
    return onsets


def audio_end(path: Path, track: int = 0) -> float:
    """When the last decoded sample of audio track `track` ends, from the file's start."""
    with av.open(str(path)) as container:
        origin, end = _origin(container), 0.0
        for frame in container.decode(audio=track):
            end = float(frame.time) + frame.samples / frame.sample_rate - origin
    return end


def dominant_hz(path: Path, track: int) -> float:
    """The strongest frequency of audio track `track` (its first 2 s, first channel)."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[track]
        chunks, rate = [], stream.codec_context.sample_rate
        for frame in container.decode(stream):
            samples = frame.to_ndarray()
            chunks.append(
                samples[0] if frame.format.is_planar else samples.reshape(-1, len(frame.layout.channels))[:, 0]
            )
    signal = np.concatenate(chunks)[: 2 * rate].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal))))
    return float(np.argmax(spectrum) * rate / len(signal))


def display_aspect(path: Path) -> float:
    """Width / height of the picture as shown: coded size times the sample aspect ratio."""
    with av.open(str(path)) as container:
        stream = main_video(container)
        sar = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio or Fraction(1)
        return float(stream.codec_context.width * Fraction(sar) / stream.codec_context.height)


def colour_tags(path: Path) -> dict[str, int]:
    """The colour description of the main video stream (ffmpeg's enum values)."""
    with av.open(str(path)) as container:
        codec = main_video(container).codec_context
        return {
            "range": int(codec.color_range),
            "matrix": int(codec.colorspace),
            "primaries": int(codec.color_primaries),
            "transfer": int(codec.color_trc),
        }


RANGE_TV, RANGE_PC = 1, 2
"""AVColorRange: 1 = limited (MPEG, "tv"), 2 = full (JPEG, "pc")."""


def assert_same_timing(source: Path, output: Path) -> None:
    """Same frame count as ffmpeg decodes, and output frame i shown when source frame i
    was (from each file's start) within half of the shortest frame duration."""
    expected, got = video_times(source), video_times(output)
    assert ffmpeg_frame_count(source) == len(expected)
    assert len(got) == len(expected), f"{len(got)} frames in the output, {len(expected)} in the source"
    tolerance = min(np.diff(expected)) / 2
    wrong = [(i, round(e, 4), round(g, 4)) for i, (e, g) in enumerate(zip(expected, got)) if abs(e - g) > tolerance]
    assert not wrong, (
        f"{len(wrong)} of {len(got)} frames shown at the wrong time (frame, source s, output s): {wrong[:6]}"
    )


def assert_nothing_written(output: Path) -> None:
    """No output file and no leftover (hidden) temporaries in the output's folder."""
    assert not output.exists(), f"{output.name} was written"
    leftovers = sorted(p.name for p in output.parent.iterdir())
    assert leftovers == [], f"left in the output folder: {leftovers}"


# ---- 2. timing ---------------------------------------------------------------------------


def test_variable_frame_rate_keeps_each_frame_time(make: Make, tmp_path: Path) -> None:
    source, times = make(media.vfr_clip)
    assert video_times(source) == pytest.approx([float(t) for t in times], abs=1e-3)  # the generator did its job
    output = tmp_path / "out.mp4"
    render_clip(source, output)
    assert_same_timing(source, output)
    assert frame_ids(output) == list(range(90))


def test_timestamp_gap_survives(make: Make, tmp_path: Path) -> None:
    source, times = make(media.gap_clip)
    assert video_times(source) == pytest.approx([float(t) for t in times], abs=1e-3)
    output = tmp_path / "out.mp4"
    render_clip(source, output)
    assert_same_timing(source, output)
    assert frame_ids(output) == list(range(90))


@pytest.mark.parametrize("offset", [None, 100.0], ids=["starts-at-1.4s", "output-ts-offset-100s"])
def test_mpegts_clock_far_from_zero_keeps_timing(make: Make, tmp_path: Path, offset: float | None) -> None:
    source = make(media.mpegts_clip, offset)
    with av.open(str(source)) as container:
        assert _origin(container) > 1.3  # timestamps do not start at 0
    output = tmp_path / "out.mp4"
    render_clip(source, output)
    assert_same_timing(source, output)
    assert frame_ids(output) == list(range(90))


def test_clock_reset_keeps_every_frame_in_order(make: Make, tmp_path: Path) -> None:
    """The demux pass lists the frames of a stream whose clock jumps back in the wrong order;
    the render notices (frame times go back inside a segment) and finds the frames by
    decoding instead: every frame once, in file order, with increasing times."""
    source = make(media.clock_reset_ts)
    output = tmp_path / "out.mp4"
    render_clip(source, output)
    assert frame_ids(output) == list(range(90))
    times = video_times(output)
    assert all(b > a for a, b in zip(times, times[1:])), "output times must increase"


def test_packed_b_frames_keep_a_constant_rate(make: Make, tmp_path: Path) -> None:
    """An AVI with packed B-frames (as Xvid and DivX 5 write them): the decoder outputs the
    frames in order but labels them with their neighbours' times (1, 3, 2, 5, 4, ... / 30 s).
    Every frame is shown 1/30 s after the one before: no hole, none shown late."""
    source = make(media.packed_b_avi)
    assert ffmpeg_frame_count(source) == 90
    output = tmp_path / "out.mp4"
    render_clip(source, output)
    assert frame_ids(output) == list(range(90))
    steps = np.diff(video_times(output))
    assert steps == pytest.approx([1 / 30] * 89, abs=1e-3), (
        f"frame steps (s): {sorted({round(float(step), 4) for step in steps})}"
    )


def test_packed_b_frames_are_listed_at_their_sorted_times(make: Make) -> None:
    renderrush_only()
    source = make(media.packed_b_avi)
    with av.open(str(source)) as container:
        decoded = [frame.pts for frame in container.decode(video=0)]
    assert decoded[:5] == [1, 3, 2, 5, 4]  # the generator did its job
    info = probe(source, decode_pass=True)
    assert list(info.frame_pts) == sorted(decoded)
    assert info.seek_mode == "count"  # the decoder's own times go back: a segment counts frames


def assert_in_sync(output: Path, flashes: list[Fraction], frame: float = 1 / 30) -> None:
    """Every flash is on screen when the source showed it (within half a frame), and its
    tone burst starts within one frame of it."""
    seen, heard = flash_times(output), click_times(output)
    expected = [float(t) for t in flashes]
    assert len(seen) == len(expected), f"flashes at {seen}, expected at {expected}"
    assert seen == pytest.approx(expected, abs=frame / 2), "flashes shown at the wrong time"
    assert len(heard) == len(expected), f"bursts at {heard}, expected {len(expected)}"
    drift = [round(float(h - s), 4) for s, h in zip(seen, heard)]
    assert all(abs(d) <= frame for d in drift), f"sound minus picture per flash (s): {drift}"


def test_flash_and_click_stay_in_sync_across_joins_with_vfr(make: Make, tmp_path: Path) -> None:
    source, flashes = make(media.flash_click_clip)
    assert_in_sync(source, flashes, frame=0.002)  # the source itself is in sync to the sample
    output = tmp_path / "out.mp4"
    render_clip(source, output)
    assert_in_sync(output, flashes)
    # picture and sound end together as in the source (within a frame)
    tail = [audio_end(path) - video_times(path)[-1] for path in (source, output)]
    assert tail[1] == pytest.approx(tail[0], abs=1 / 30), (
        f"sound ends {tail[1]:.3f} s after the last frame starts, source {tail[0]:.3f} s"
    )


def test_audio_starting_late_keeps_its_offset(make: Make, tmp_path: Path) -> None:
    source, flashes = make(media.late_audio_clip)
    assert_in_sync(source, flashes, frame=0.002)
    assert click_times(source)[0] == pytest.approx(float(media.AUDIO_DELAY), abs=0.002)
    output = tmp_path / "out.mp4"
    render_clip(source, output)
    assert_in_sync(output, flashes)


# ---- 3. orientation ---------------------------------------------------------------------

UPRIGHT = {90: (360, 640), 180: (640, 360), 270: (360, 640)}
"""Upright (width, height) of the 640x360 coded clip for each display rotation."""


def quadrant_of_brightest(image: np.ndarray) -> str:
    """Which corner quadrant of `image` holds its brightest pixels (the white marker)."""
    ys, xs = np.nonzero(image > 200)
    height, width = image.shape
    return ("top" if ys.mean() < height / 2 else "bottom") + "-" + ("left" if xs.mean() < width / 2 else "right")


def assert_no_rotation(output: Path) -> None:
    with av.open(str(output)) as container:
        stream = container.streams.video[0]
        assert "rotate" not in stream.metadata
        assert next(container.decode(stream)).rotation == 0
    assert "Display Matrix" not in ffmpeg_info(output)


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_rotated_phone_clip_comes_out_upright(make: Make, tmp_path: Path, degrees: int) -> None:
    source = make(media.rotated_clip, degrees)
    upright = ffmpeg_upright_gray(source, UPRIGHT[degrees])
    output = tmp_path / "out.mp4"
    render_clip(source, output)
    assert_no_rotation(output)
    frames = np.stack(gray_frames(output))
    width, height = UPRIGHT[degrees]
    assert frames.shape == (len(upright), height, width), "coded size is not the upright size"
    assert quadrant_of_brightest(frames[0]) == quadrant_of_brightest(upright[0])
    for k in (0, len(frames) // 2, len(frames) - 1):  # first, middle and last segment
        difference = np.abs(frames[k].astype(int) - upright[k]).mean()
        assert difference < 4, f"frame {k} differs from ffmpeg's upright picture by {difference:.1f} levels on average"


@pytest.fixture
def corner_painter(registry: FilterRegistry) -> list[tuple[int, ...]]:
    """A user filter `paint_corner` that records the shape of every frame it gets and
    paints a 40x40 white square in the top-right corner (as a logo or caption would go)."""
    shapes: list[tuple[int, ...]] = []
    lock = threading.Lock()

    @registry.register("paint_corner")
    def paint_corner(frame: np.ndarray) -> np.ndarray:
        with lock:
            shapes.append(frame.shape)
        frame[:40, -40:] = 255
        return frame

    return shapes


def test_user_filter_receives_upright_frames(make: Make, tmp_path: Path, corner_painter: list[tuple[int, ...]]) -> None:
    renderrush_only()
    source = make(media.rotated_clip, 90)
    upright = ffmpeg_upright_gray(source, UPRIGHT[90])
    assert upright[0][:40, -40:].mean() < 100  # the source's top-right corner is dark
    output = tmp_path / "out.mp4"
    render_clip(source, output, "paint_corner", scheduler="threads")  # threads: the filter records here
    assert set(corner_painter) == {(640, 360, 3)}, f"the filter got frames of shape {set(corner_painter)}"
    assert_no_rotation(output)
    frames = gray_frames(output)
    assert frames[0].shape == (640, 360)
    for k in (0, len(frames) - 1):
        assert frames[k][4:36, -36:-4].mean() > 230, "the painted corner is not top-right as the viewer sees it"
        rest = np.abs(frames[k][60:].astype(int) - upright[k][60:]).mean()
        assert rest < 4, f"frame {k}: below the corner the picture differs from the upright source by {rest:.1f}"


# ---- 4. colour ---------------------------------------------------------------------------


def assert_levels(output: Path, left: int, right: int, tolerance: int) -> None:
    """The middle of each half of every output frame keeps its flat luma level."""
    for k, luma in enumerate(luma_planes(output)):
        height, width = luma.shape
        got = (
            int(np.median(luma[height // 4 : -height // 4, width // 8 : width * 3 // 8])),
            int(np.median(luma[height // 4 : -height // 4, width * 5 // 8 : width * 7 // 8])),
        )
        assert abs(got[0] - left) <= tolerance and abs(got[1] - right) <= tolerance, (
            f"frame {k}: luma levels {got}, expected ({left}, {right}) +-{tolerance}"
        )


@pytest.mark.parametrize("kind", ["h264-yuvj420p", "mjpeg-avi"])
def test_full_range_source_keeps_levels_and_range(make: Make, tmp_path: Path, kind: str) -> None:
    source = make(media.full_range_h264) if kind == "h264-yuvj420p" else make(media.full_range_mjpeg)
    assert colour_tags(source)["range"] == RANGE_PC
    assert_levels(source, *media.FULL_RANGE_LEVELS, tolerance=1)
    output = tmp_path / "out.mp4"
    render_clip(source, output, KEEP)
    assert colour_tags(output)["range"] == RANGE_PC, "the output is not tagged full range"
    assert_levels(output, *media.FULL_RANGE_LEVELS, tolerance=2)
    assert len(video_times(output)) == 45


@pytest.fixture
def bgr_identity(registry: FilterRegistry) -> str:
    """A user filter that returns its BGR frame unchanged (run with scheduler="threads")."""
    registry.register("bgr_identity")(lambda frame: frame)
    return "bgr_identity"


def test_user_filter_keeps_full_range_levels(make: Make, tmp_path: Path, bgr_identity: str) -> None:
    """Full-range YUV to BGR and back for a user filter must not squeeze or stretch levels."""
    renderrush_only()
    source = make(media.full_range_h264)
    output = tmp_path / "out.mp4"
    render_clip(source, output, bgr_identity, scheduler="threads")
    assert colour_tags(output)["range"] == RANGE_PC, "the output is not tagged full range"
    assert_levels(output, *media.FULL_RANGE_LEVELS, tolerance=2)


@pytest.mark.parametrize("tags", ["bt709", "bt601"])
def test_colour_tags_reach_the_output(make: Make, tmp_path: Path, tags: str) -> None:
    source = make(media.tagged_clip, tags)
    expected = colour_tags(source)
    code = {"bt709": 1, "bt601": 6}[tags]  # AVCOL_SPC/PRI/TRC_BT709, ..._SMPTE170M
    assert expected == {"range": RANGE_TV, "matrix": code, "primaries": code, "transfer": code}
    output = tmp_path / "out.mp4"
    render_clip(source, output, KEEP)
    assert colour_tags(output) == expected


def bar_centres(frame: av.VideoFrame) -> list[tuple[int, int, int]]:
    """Median raw (Y, U, V) of a 32x32 patch in the middle of each of the 8 bars."""
    y, u, v = (plane_array(frame, k) for k in range(3))
    width, height = frame.width, frame.height
    values = []
    for k in range(8):
        cx, cy = (2 * k + 1) * width // 16, height // 2
        patch = (slice(cy - 16, cy + 16), slice(cx - 16, cx + 16))
        half = (slice(cy // 2 - 8, cy // 2 + 8), slice(cx // 2 - 8, cx // 2 + 8))
        values.append((int(np.median(y[patch])), int(np.median(u[half])), int(np.median(v[half]))))
    return values


@pytest.fixture(scope="module")
def bars_through_user_filter(make: Make, folder: Path) -> Iterator[tuple[Path, Path, list[np.ndarray]]]:
    """The HD BT.709 bars rendered through a user BGR filter that returns its frame
    unchanged (`bgr_identity`, threads so it records here): source, output and the BGR
    frames the filter received."""
    seen: list[np.ndarray] = []
    lock = threading.Lock()

    def bgr_identity(frame: np.ndarray) -> np.ndarray:
        with lock:
            if len(seen) < 3:
                seen.append(frame.copy())
        return frame

    source = make(media.hd_bars_709)
    output = folder / "bars-identity.mp4"
    with FilterRegistry() as registry:  # module-wide: the `registry` fixture is per test
        registry.register("bgr_identity")(bgr_identity)
        if not REFERENCE:
            render_clip(source, output, "bgr_identity", scheduler="threads")
    yield source, output, seen


def test_user_bgr_filter_keeps_hd_colours(bars_through_user_filter: tuple[Path, Path, list[np.ndarray]]) -> None:
    """Converting to BGR for a user filter and back must use the same (source's) matrix."""
    renderrush_only()
    source, output, _ = bars_through_user_filter
    with av.open(str(source)) as a, av.open(str(output)) as b:
        expected, got = bar_centres(next(a.decode(video=0))), bar_centres(next(b.decode(video=0)))
    off = [(k, e, g) for k, (e, g) in enumerate(zip(expected, got)) if max(abs(x - y) for x, y in zip(e, g)) > 3]
    assert not off, f"bars whose YUV changed by more than 3 levels (bar, source, output): {off}"
    assert colour_tags(output) == colour_tags(source)


def test_user_filter_sees_source_colours_in_bgr(bars_through_user_filter: tuple[Path, Path, list[np.ndarray]]) -> None:
    """The BGR frame a user filter gets is the picture decoded with the source's matrix
    (BT.709 here): each bar has the RGB it was made from."""
    renderrush_only()
    _, _, seen = bars_through_user_filter
    assert seen, "the filter received no frames"
    frame = seen[0]
    height, width = frame.shape[:2]
    got = [tuple(int(c) for c in frame[height // 2, (2 * k + 1) * width // 16][::-1]) for k in range(8)]
    off = [
        (k, rgb, g)
        for k, (rgb, g) in enumerate(zip(media.BARS_RGB, got))
        if max(abs(x - y) for x, y in zip(rgb, g)) > 4
    ]
    assert not off, f"bars whose RGB in the filter is off by more than 4 (bar, made as, filter saw): {off}"


def test_ten_bit_source_keeps_10_bits_in_hevc(make: Make, tmp_path: Path) -> None:
    """The default for a 10-bit source is HEVC Main 10: the 10-bit codes come out as they went in."""
    renderrush_only()
    source = make(media.ten_bit_hevc)
    output = tmp_path / "out.mp4"
    render_clip(source, output, KEEP)
    with av.open(str(output)) as container:
        assert container.streams.video[0].codec_context.pix_fmt == "yuv420p10le"
        assert container.streams.video[0].codec_tag == "hvc1"
    assert_levels(output, *media.TEN_BIT_LEVELS, tolerance=2)
    assert len(video_times(output)) == 45


def test_ten_bit_source_to_h264_becomes_8bit_with_levels_quartered(make: Make, tmp_path: Path) -> None:
    source = make(media.ten_bit_hevc)
    assert_levels(source, *media.TEN_BIT_LEVELS, tolerance=2)
    output = tmp_path / "out.mp4"
    render_clip(source, output, KEEP, codec="h264")
    with av.open(str(output)) as container:
        assert container.streams.video[0].codec_context.pix_fmt == "yuv420p"
        frame = next(container.decode(video=0))
        u, v = plane_array(frame, 1), plane_array(frame, 2)
    assert abs(int(np.median(u)) - 128) <= 1 and abs(int(np.median(v)) - 128) <= 1
    assert_levels(output, *(level // 4 for level in media.TEN_BIT_LEVELS), tolerance=1)
    assert len(video_times(output)) == 45


def test_hdr_source_into_h264_is_refused_and_nothing_written(make: Make, tmp_path: Path) -> None:
    renderrush_only()
    source = make(media.ten_bit_hevc, True)
    assert colour_tags(source) == {"range": RANGE_TV, "matrix": 9, "primaries": 9, "transfer": 16}  # BT.2020, PQ
    output = tmp_path / "out.mp4"
    with pytest.raises(SettingsError) as caught:
        render_clip(source, output, codec="h264")
    message = str(caught.value)
    assert "is HDR (PQ) and H.264 here is 8-bit SDR" in message and "\n" not in message, message
    assert_nothing_written(output)


# ---- 5. geometry ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["dvd", "3gp"])
def test_anamorphic_source_keeps_display_aspect(make: Make, tmp_path: Path, kind: str) -> None:
    source, aspect = make(media.anamorphic_clip, kind)
    assert display_aspect(source) == pytest.approx(float(aspect), rel=1e-3)
    output = tmp_path / "out.mp4"
    render_clip(source, output)
    assert display_aspect(output) == pytest.approx(float(aspect), rel=0.01)
    assert len(video_times(output)) == 45


def test_odd_size_renders_every_frame(make: Make, tmp_path: Path) -> None:
    source = make(media.odd_size_clip)
    output = tmp_path / "out.mp4"
    render_clip(source, output)
    with av.open(str(output)) as container:
        codec = container.streams.video[0].codec_context
        assert (codec.width, codec.height) in ((320, 240), (322, 242)), f"{codec.width}x{codec.height}"
    assert frame_ids(output) == list(range(60))
    assert display_aspect(output) == pytest.approx(321 / 241, rel=0.01)


# ---- 6. streams ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def multi_track_render(make: Make, folder: Path) -> tuple[Path, Path]:
    source = make(media.multi_track_clip)
    output = folder / "multi-track-out.mp4"
    render_clip(source, output)
    return source, output


def test_every_audio_track_kept_with_language(multi_track_render: tuple[Path, Path]) -> None:
    source, output = multi_track_render
    with av.open(str(output)) as container:
        tracks = [(s.codec_context.name, s.language) for s in container.streams.audio]
    assert tracks == [("aac", lang) for lang in media.TRACK_TONES]
    for k, hz in enumerate(media.TRACK_TONES.values()):
        assert dominant_hz(output, k) == pytest.approx(hz, abs=5), f"audio track {k} does not carry its own sound"


def test_aac_tracks_are_copied_not_reencoded(multi_track_render: tuple[Path, Path]) -> None:
    source, output = multi_track_render

    def payloads(path: Path, track: int) -> list[bytes]:
        with av.open(str(path)) as container:
            return [bytes(p) for p in container.demux(audio=track) if p.size][:40]

    for track in range(2):
        assert payloads(output, track) == payloads(source, track), f"audio track {track} was re-encoded"


def test_text_subtitles_become_mov_text(multi_track_render: tuple[Path, Path]) -> None:
    _, output = multi_track_render
    with av.open(str(output)) as container:
        subtitles = list(container.streams.subtitles)
        assert [s.codec_context.name for s in subtitles] == ["mov_text"]
        cues = [(float(p.pts * p.time_base), bytes(p)) for p in container.demux(subtitles[0]) if p.size > 2]
    assert [round(start, 2) for start, _ in cues] == [0.5, 2.0]
    assert b"Hello from the first cue" in cues[0][1] and b"Bonjour, second cue" in cues[1][1]


def test_chapters_and_title_kept(multi_track_render: tuple[Path, Path]) -> None:
    _, output = multi_track_render
    with av.open(str(output)) as container:
        assert container.metadata.get("title") == media.TITLE
        chapters = container.chapters()
    assert [c["metadata"].get("title") for c in chapters] == list(media.CHAPTERS)
    assert [float(c["start"] * c["time_base"]) for c in chapters] == pytest.approx([0.0, 1.5], abs=0.01)


def test_pcm_audio_becomes_aac(make: Make, tmp_path: Path) -> None:
    source = make(media.pcm_audio_clip)
    output = tmp_path / "out.mp4"
    render_clip(source, output)
    with av.open(str(output)) as container:
        assert [s.codec_context.name for s in container.streams.audio] == ["aac"]
    assert dominant_hz(output, 0) == pytest.approx(440, abs=5)
    assert frame_ids(output) == list(range(90))


def test_bitmap_subtitle_is_named_in_a_warning(make: Make, tmp_path: Path) -> None:
    renderrush_only()
    source = make(media.bitmap_subtitle_clip)
    output = tmp_path / "out.mp4"
    result = render_clip(source, output)
    assert isinstance(result.warnings, list) and all(isinstance(w, str) for w in result.warnings)
    named = [w for w in result.warnings if "dvd_subtitle" in w.lower() or "dvdsub" in w.lower()]
    assert len(named) == 1, f"warnings: {result.warnings}"
    assert "\n" not in named[0]
    with av.open(str(output)) as container:
        assert [s.type for s in container.streams] == ["video", "audio"]
    assert frame_ids(output) == list(range(90))


def cli_render(source: Path, output: Path) -> subprocess.CompletedProcess[str]:
    """`python -m renderrush render SOURCE -o OUTPUT` as a user runs it (2 workers, 1 s segments)."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "renderrush",
            "render",
            str(source),
            "-o",
            str(output),
            "--filters",
            GRAY,
            "--workers",
            "2",
            "--segment-seconds",
            "1",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_prints_one_warning_line_for_bitmap_subtitle(make: Make, tmp_path: Path) -> None:
    renderrush_only()
    source = make(media.bitmap_subtitle_clip)
    output = tmp_path / "out.mp4"
    proc = cli_render(source, output)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("renderrush: warning:")]
    assert len(warnings) == 1 and ("dvd_subtitle" in warnings[0] or "dvdsub" in warnings[0]), f"stderr: {proc.stderr!r}"
    assert output.is_file()


# ---- 7. alpha, palettes, cover art -------------------------------------------------------

TRANSPARENCY_WARNING = "transparency composited on black (H.264 has no alpha)"


@pytest.mark.parametrize("kind", list(media.ALPHA_KINDS))
def test_alpha_and_palette_sources_composite_on_black(make: Make, tmp_path: Path, kind: str) -> None:
    source = make(media.alpha_clip, kind)
    expected = ffmpeg_frame_count(source)
    assert expected == media.ALPHA_FRAMES
    output = tmp_path / "out.mp4"
    result = render_clip(source, output, KEEP)
    assert result is None or TRANSPARENCY_WARNING in result.warnings, result and result.warnings
    black = 0 if colour_tags(output)["range"] == RANGE_PC else 16
    with av.open(str(output)) as container:
        frames = list(container.decode(video=0))
    assert len(frames) == expected
    for n in (0, len(frames) // 2, len(frames) - 1):
        y, v = plane_array(frames[n], 0), plane_array(frames[n], 2)
        transparent = int(np.median(y[120:, :]))  # below the box: transparent in every frame
        assert transparent <= black + 6, f"frame {n}: transparent area has luma {transparent}, black is {black}"
        box = (slice(20 + 15, 20 + media.BOX - 15), slice(media.box_left(n) + 15, media.box_left(n) + media.BOX - 15))
        red = int(np.median(v[box[0].start // 2 : box[0].stop // 2, box[1].start // 2 : box[1].stop // 2]))
        assert red > 200, f"frame {n}: the opaque red box is not red where it should be (V={red})"


@pytest.mark.parametrize("kind", list(media.OPAQUE_PALETTE_KINDS))
def test_opaque_palette_source_gets_no_transparency_warning(make: Make, tmp_path: Path, kind: str) -> None:
    """A palette has an alpha in every entry, but nothing here is transparent: the output
    is the picture, without a warning about transparency."""
    renderrush_only()
    source = make(media.opaque_palette_clip, kind)
    with av.open(str(source)) as container:
        assert next(container.decode(video=0)).format.name == "pal8"  # the generator did its job
    output = tmp_path / "out.mp4"
    result = render_clip(source, output)
    assert result is not None and TRANSPARENCY_WARNING not in result.warnings, result and result.warnings
    assert frame_ids(output) == list(range(45))


def test_cover_art_first_uses_main_video(make: Make, tmp_path: Path) -> None:
    source = make(media.cover_art_clip)
    with av.open(str(source)) as container:
        first = container.streams.video[0]
        assert first.disposition & av.stream.Disposition.attached_pic and first.codec_context.width == 200
    output = tmp_path / "out.mp4"
    render_clip(source, output)
    with av.open(str(output)) as container:
        assert len(container.streams.video) == 1
        codec = container.streams.video[0].codec_context
        assert (codec.width, codec.height) == (320, 240)
    assert frame_ids(output) == list(range(90))


# ---- 8. bad and partial inputs ------------------------------------------------------------


def test_undecodable_video_fails_with_one_line(make: Make, tmp_path: Path) -> None:
    renderrush_only()
    source = make(media.undecodable_clip)
    assert (
        "no decoder found"
        in subprocess.run(
            [FFMPEG, "-nostdin", "-hide_banner", "-i", str(source), "-f", "null", "-"], capture_output=True, text=True
        ).stderr
    )  # ffmpeg itself cannot decode it
    output = tmp_path / "out.mp4"
    with pytest.raises(RenderRushError) as caught:
        render_clip(source, output)
    message = str(caught.value)
    assert message and "\n" not in message, message
    assert_nothing_written(output)


def test_cli_undecodable_video_exits_1_with_one_line(make: Make, tmp_path: Path) -> None:
    renderrush_only()
    source = make(media.undecodable_clip)
    output = tmp_path / "out.mp4"
    proc = cli_render(source, output)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("renderrush: error: "), proc.stderr
    assert_nothing_written(output)


@pytest.mark.parametrize("suffix", [".mp4", ".avi"])
def test_download_cut_off_mid_packet_keeps_every_frame_ffmpeg_decodes(tmp_path: Path, suffix: str) -> None:
    """A download cut short inside a packet: its index promises frames the file does not
    hold, and frames that referenced the cut one do not decode; the output has exactly the
    frames ffmpeg decodes, none made up and none of the decoder's last ones dropped."""
    sample = make_sample_video(tmp_path / "sample.mp4", seconds=3, size=(320, 240), fps=30, audio=False)
    whole = tmp_path / f"whole{suffix}"
    subprocess.run(
        [FFMPEG, "-v", "error", "-i", str(sample), "-c", "copy", "-movflags", "+faststart", str(whole)], check=True
    )
    data = whole.read_bytes()
    source = tmp_path / f"cut{suffix}"
    source.write_bytes(data[: len(data) * 7 // 10])
    # Frames after the cut that referenced it are not output either: compare the frames
    # themselves with ffmpeg's.
    expected = [read_frame_index(frame) for frame in ffmpeg_upright_gray(source, (320, 240))]
    assert 0 < len(expected) < 90
    output = tmp_path / "out.mp4"
    render_clip(source, output)
    assert frame_ids(output) == expected


def test_truncated_file_renders_what_decodes_or_fails_cleanly(make: Make, tmp_path: Path) -> None:
    source = make(media.truncated_clip)
    decodable = ffmpeg_frame_count(source)
    assert 0 < decodable < 90
    output = tmp_path / "out.mp4"
    try:
        render_clip(source, output)
    except RenderRushError as error:
        assert "\n" not in str(error), str(error)
        assert_nothing_written(output)
        return
    assert len(video_times(output)) == decodable
    assert frame_ids(output) == list(range(decodable))
