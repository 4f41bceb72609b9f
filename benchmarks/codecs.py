"""Per-codec benchmark: RenderRush's parallel segments against one ffmpeg command with the same
encoder, preset, CRF and pixel format (HEVC, AV1, VP9; H.264 as the reference point).

Whole process for both (the terminal command a user waits for), interleaved rounds, the median
of each; CPU is user + system of the whole process tree (getrusage of the children), reported
as ms per frame. Prints the load average before and after: figures taken above 0.5 are not
results. Run it alone on a quiet machine:

    ../shared/tools/quiet python benchmarks/codecs.py --seconds 10 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from clips import camera_clip  # benchmarks/clips.py, beside this script

from renderrush.media.codecs import CODECS, encoder_options
from renderrush.media.ffmpeg import ffmpeg_exe
from renderrush.media.probe import probe

SUFFIX = {"h264": ".mp4", "hevc": ".mp4", "av1": ".mkv", "vp9": ".webm"}
AUDIO = {".mp4": ["-c:a", "copy"], ".mkv": ["-c:a", "copy"], ".webm": ["-c:a", "libopus", "-b:a", "128k"]}


def ffmpeg_args(codec: str, source: Path, output: Path, preset: str, crf: float) -> list[str]:
    spec = CODECS[codec]
    options = encoder_options(spec, preset, crf, threads=os.cpu_count() or 1)
    # the preset and CRF RenderRush gives the encoder, but the encoder's own threading, as a user's
    # command would run it (RenderRush pins x264's and x265's threading so output never depends on
    # the worker count; that costs it speed ffmpeg does not give up here)
    flags = [item for key, value in options.items() if not key.endswith("-params") for item in (f"-{key}", value)]
    return [
        ffmpeg_exe(),
        "-v",
        "error",
        "-y",
        "-i",
        str(source),
        "-c:v",
        spec.encoder,
        *flags,
        "-pix_fmt",
        spec.formats[min(spec.formats)],
        *AUDIO[output.suffix],
        str(output),
    ]


def renderrush_args(codec: str, source: Path, output: Path, preset: str, crf: float) -> list[str]:
    return [
        sys.executable,
        "-m",
        "renderrush",
        "render",
        str(source),
        "-o",
        str(output),
        "--codec",
        codec,
        "--preset",
        preset,
        "--crf",
        f"{crf:g}",
        "--no-progress",
        "--force",
    ]


def timed(args: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process tree) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        args,
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "RENDERRUSH_HISTORY": str(Path(tempfile.gettempdir()) / "renderrush-bench-history.sqlite3")},
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--preset", default="veryfast")
    parser.add_argument("--crf", type=float, default=23)
    parser.add_argument("--codecs", default="h264,hevc,av1,vp9")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = folder / "source.mp4"
        camera_clip(source, seconds=args.seconds, size=args.size, grain=8)
        frames = probe(source).frame_count
        codecs = args.codecs.split(",")
        times: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for _ in range(args.rounds):
            for codec in codecs:
                for tool, build in (("ffmpeg", ffmpeg_args), ("renderrush", renderrush_args)):
                    output = folder / f"{tool}-{codec}{SUFFIX[codec]}"
                    times.setdefault((codec, tool), []).append(
                        timed(build(codec, source, output, args.preset, args.crf))
                    )
    print(
        f"{args.size}, {args.seconds} s, {frames} frames, preset {args.preset}, CRF {args.crf:g}, "
        f"median of {args.rounds} interleaved rounds, whole process"
    )
    print(f"{'codec':6} {'ffmpeg s':>9} {'rr s':>7} {'ratio':>6} {'ffmpeg CPU ms/f':>16} {'rr CPU ms/f':>12}")
    for codec in codecs:
        ff, rr = times[(codec, "ffmpeg")], times[(codec, "renderrush")]
        ff_wall, rr_wall = statistics.median(w for w, _ in ff), statistics.median(w for w, _ in rr)
        ff_cpu, rr_cpu = statistics.median(c for _, c in ff), statistics.median(c for _, c in rr)
        print(
            f"{codec:6} {ff_wall:9.2f} {rr_wall:7.2f} {ff_wall / rr_wall:6.2f} "
            f"{1000 * ff_cpu / frames:16.1f} {1000 * rr_cpu / frames:12.1f}"
        )
    print("ratio = ffmpeg's wall time / RenderRush's (above 1: RenderRush is faster)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
