"""The real-world corpus: every file that `scripts/fetch_corpus.py` fetched is rendered with the
Python API and compared with what one ffmpeg command makes of the same file.

For each file (one test each, by file id):
- ffmpeg's reference: `ffmpeg -i IN -vf hue=s=0 -c:v libx264 -preset veryfast -crf 23 OUT.mp4`
  (its default constant frame rate for MP4 duplicates or drops frames, so the frame count is
  taken from a second pass with `-fps_mode passthrough`: RenderRush keeps the source's
  timestamps, so that is the count it must match);
- RenderRush: `renderrush.render(src, out, "grayscale", history=False)`;
- compared: video duration (within one frame plus 50 ms), picture size (ffmpeg's, odd sides
  cut to even), display aspect ratio (within 1 %), orientation (displayed width > height
  agrees), audio (kept wherever ffmpeg keeps it) and the number of frames. A file that ffmpeg decodes no frame from must fail in RenderRush with one
  `RenderRushError` line and leave nothing at the output path.

Without a corpus (`python scripts/fetch_corpus.py`, folder `$RENDERRUSH_CORPUS` or
`~/.cache/renderrush/corpus`) the test skips, unless `RENDERRUSH_CORPUS_REQUIRED=1` (CI sets it
when the fetch succeeded): then it fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import imageio_ffmpeg
import pytest

import renderrush
from renderrush.core.errors import RenderRushError

pytestmark = pytest.mark.corpus

# A render that takes longer than this is cancelled (a hang must fail the test, not stall CI).
RENDER_TIMEOUT_S = 180
FFMPEG_TIMEOUT_S = 180


def corpus_dir() -> Path:
    env = os.environ.get("RENDERRUSH_CORPUS")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "renderrush" / "corpus"


def _required() -> bool:
    return os.environ.get("RENDERRUSH_CORPUS_REQUIRED", "") not in ("", "0")


def _load_entries() -> tuple[list[dict], str]:
    manifest = corpus_dir() / "manifest.json"
    try:
        entries = json.loads(manifest.read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [], f"no corpus manifest at {manifest} ({type(exc).__name__}); run scripts/fetch_corpus.py"
    if not entries:
        return [], f"the corpus manifest {manifest} lists no file"
    return entries, ""


ENTRIES, MISSING = _load_entries()


@dataclass
class Measured:
    """What a viewer gets from a file's first video stream, measured with PyAV."""

    frames: int  # video packets (one frame each in what we compare: H.264 in MP4)
    duration: float  # seconds from the first packet's pts to the last one's pts + duration
    frame_duration: float  # 1 / average frame rate, or the median packet duration
    width: int
    height: int
    dar: float  # displayed width / height (sample aspect ratio applied)
    rotation: int  # degrees, from the display matrix
    audio_streams: int

    @property
    def landscape(self) -> bool:
        w, h = self.dar, 1.0
        if self.rotation % 180:
            w, h = h, w
        return w > h


def measure(path: Path) -> Measured:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        tb = v.time_base
        sar = v.sample_aspect_ratio or v.codec_context.sample_aspect_ratio
        sar = Fraction(sar) if sar and sar.numerator else Fraction(1)
        width, height = v.codec_context.width, v.codec_context.height
        audio = len(c.streams.audio)
        pts: list[int] = []
        ends: list[int] = []
        durations: list[int] = []
        for pkt in c.demux(v):
            if pkt.size == 0 or pkt.pts is None:
                continue
            pts.append(pkt.pts)
            ends.append(pkt.pts + (pkt.duration or 0))
            durations.append(pkt.duration or 0)
        rotation = 0
        c.seek(0)
        for frame in c.decode(v):
            rotation = int(round(frame.rotation or 0))
            break
    rate = v.average_rate
    if rate:
        frame_duration = float(1 / rate)
    else:
        frame_duration = float(sorted(durations)[len(durations) // 2] * tb) if durations else 0.0
    duration = float((max(ends) - min(pts)) * tb) if pts else 0.0
    return Measured(len(pts), duration, frame_duration, width, height, float(width * sar / height), rotation, audio)


def _ffmpeg(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-hide_banner", *args],
        capture_output=True,
        text=True,
        timeout=FFMPEG_TIMEOUT_S,
    )


def ffmpeg_reference(src: Path, out: Path) -> tuple[Measured | None, int, str]:
    """ffmpeg's own render (constant rate, its default) and its passthrough frame count."""
    enc = _ffmpeg(
        ["-y", "-i", str(src), "-vf", "hue=s=0", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", str(out)]
    )
    count = _ffmpeg(
        [
            "-i",
            str(src),
            "-map",
            "0:v:0",
            "-vf",
            "hue=s=0",
            "-fps_mode",
            "passthrough",
            "-f",
            "null",
            "-",
            "-progress",
            "pipe:1",
            "-nostats",
        ]
    )
    frames = 0
    for line in count.stdout.splitlines():
        if line.startswith("frame="):
            frames = int(line.split("=", 1)[1])
    err = (enc.stderr.strip().splitlines() or [""])[-1]
    if enc.returncode != 0 or not out.is_file():
        return None, frames, err
    try:
        got = measure(out)
    except (av.FFmpegError, IndexError, OSError, ValueError):
        return None, frames, err
    return (got if got.frames else None), frames, err


def _render(src: Path, out: Path) -> None:
    cancel = threading.Event()
    timer = threading.Timer(RENDER_TIMEOUT_S, cancel.set)
    timer.start()
    try:
        renderrush.render(src, out, "grayscale", history=False, cancel=cancel)
    finally:
        timer.cancel()
    assert not cancel.is_set(), f"renderrush took longer than {RENDER_TIMEOUT_S} s"


@pytest.mark.parametrize("entry", ENTRIES or [None], ids=[e["id"] for e in ENTRIES] or ["corpus"])
def test_corpus_file_renders_like_ffmpeg(entry: dict | None, tmp_path: Path) -> None:
    if entry is None:
        if _required():
            pytest.fail(f"RENDERRUSH_CORPUS_REQUIRED is set but {MISSING}")
        pytest.skip(MISSING)
    src = corpus_dir() / entry["file"]
    assert src.is_file(), f"{src} is listed in the manifest but missing: re-run fetch_corpus.py"

    ref, ff_frames, ff_err = ffmpeg_reference(src, tmp_path / "ffmpeg.mp4")
    out = tmp_path / "renderrush.mp4"

    if ref is None:
        # ffmpeg makes nothing of it: RenderRush must say so in one line and write nothing.
        with pytest.raises(RenderRushError) as info:
            _render(src, out)
        message = str(info.value)
        assert message.strip() and "\n" not in message.strip(), f"not one line: {message!r}"
        assert not out.exists(), "a failed render left a file at the output path"
        return
    assert not entry.get("undecodable"), (
        f"the manifest says ffmpeg cannot decode {entry['id']}, but it made {ref.frames} frames"
    )

    try:
        _render(src, out)
    except RenderRushError as exc:
        pytest.fail(f"renderrush failed where ffmpeg made {ref.frames} frames: {type(exc).__name__}: {exc}")
    got = measure(out)
    problems = []
    tolerance = ref.frame_duration + 0.05
    if abs(got.duration - ref.duration) > tolerance:
        problems.append(f"duration {got.duration:.3f} s, ffmpeg {ref.duration:.3f} s (tolerance {tolerance:.3f} s)")
    # The picture itself, not only its shape: extra columns (a decoder's crop left aligned, as
    # Theora's picture offset was) change the aspect by less than the tolerance below.
    even = (ref.width - ref.width % 2, ref.height - ref.height % 2)  # H.264 4:2:0 needs even sides
    if (got.width, got.height) != even:
        problems.append(
            f"picture {got.width}x{got.height}, ffmpeg {ref.width}x{ref.height} (even: {even[0]}x{even[1]})"
        )
    if abs(got.dar - ref.dar) > 0.01 * ref.dar:
        problems.append(f"display aspect {got.dar:.4f}, ffmpeg {ref.dar:.4f}")
    if got.landscape != ref.landscape:
        problems.append(
            f"orientation: landscape={got.landscape} (rotation {got.rotation}), "
            f"ffmpeg landscape={ref.landscape} (rotation {ref.rotation})"
        )
    if got.audio_streams < ref.audio_streams:
        problems.append(f"{got.audio_streams} audio stream(s), ffmpeg kept {ref.audio_streams}")
    # Where ffmpeg's passthrough pass keeps no frame (packets without usable timestamps) its
    # constant-rate output is the only count it gives.
    want = ff_frames or ref.frames
    if got.frames != want:
        problems.append(
            f"{got.frames} frames, ffmpeg passes through {ff_frames} (its constant-rate output has {ref.frames})"
        )
    assert not problems, f"{entry['id']}: " + "; ".join(problems)
