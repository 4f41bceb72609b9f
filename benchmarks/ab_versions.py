"""Whole-process A/B of two RenderRush checkouts against one ffmpeg command, interleaved.

    python benchmarks/ab_versions.py OLD_CHECKOUT NEW_CHECKOUT CLIP [--rounds 3] [--filters grayscale]

Each round runs `ffmpeg`, the old checkout's CLI and the new checkout's CLI once (same
clip, filters, x264 preset and CRF, 2 workers, no history); prints each run's wall time and
the medians, with the ratios against ffmpeg, the CPU milliseconds per frame of each (user +
system time of the whole process tree) and the load average before and after. Used to check
that a change does not slow renders down (see docs/benchmarks.md).
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

import av
import imageio_ffmpeg

FFMPEG_FILTERS = {"grayscale": "hue=s=0", "grayscale,blur:5,contrast:1.3": "hue=s=0,gblur=sigma=5,eq=contrast=1.3"}


def timed(command: list[str], env: dict[str, str], cwd: Path | None = None) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, the whole process tree) of `command`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, check=True, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def load() -> str:
    return open("/proc/loadavg").read().split()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("clip", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--filters", default="grayscale", choices=sorted(FFMPEG_FILTERS))
    args = parser.parse_args()
    args.clip = args.clip.resolve()
    work = Path(tempfile.mkdtemp(prefix="rr-ab-"))
    times: dict[str, list[float]] = {"ffmpeg": [], "old": [], "new": []}
    cpu: dict[str, list[float]] = {"ffmpeg": [], "old": [], "new": []}
    print(f"load average before: {load()} ({os.cpu_count()} cores)", flush=True)
    for _ in range(args.rounds):
        ff = [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-v",
            "error",
            "-y",
            "-i",
            str(args.clip),
            "-vf",
            FFMPEG_FILTERS[args.filters],
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-crf",
            "23",
            "-c:a",
            "copy",
            str(work / "ff.mp4"),
        ]
        wall, used = timed(ff, dict(os.environ))
        times["ffmpeg"].append(wall)
        cpu["ffmpeg"].append(used)
        for name, checkout in (("old", args.old), ("new", args.new)):
            env = dict(os.environ, PYTHONPATH=str(checkout.resolve()), RENDERRUSH_HISTORY=str(work / f"{name}.db"))
            command = [
                sys.executable,
                "-m",
                "renderrush",
                "render",
                str(args.clip),
                "-o",
                str(work / f"{name}.mp4"),
                "--filters",
                args.filters,
                "--workers",
                "2",
                "--no-progress",
            ]
            # run inside the checkout: `python -m` puts the working directory before PYTHONPATH,
            # so run from another checkout it would import that one's package
            wall, used = timed(command, env, cwd=checkout.resolve())
            times[name].append(wall)
            cpu[name].append(used)
        print("round:", {k: round(v[-1], 2) for k, v in times.items()}, flush=True)
    print(f"load average after: {load()}")
    medians = {k: statistics.median(v) for k, v in times.items()}
    with av.open(str(args.clip)) as container:
        frames = container.streams.video[0].frames
    print("median wall s:", {k: round(v, 2) for k, v in medians.items()})
    print(
        "median CPU ms per frame (whole process tree):",
        {k: round(1000 * statistics.median(v) / frames, 2) for k, v in cpu.items()},
    )
    print(
        f"ffmpeg/old {medians['ffmpeg'] / medians['old']:.2f}  ffmpeg/new {medians['ffmpeg'] / medians['new']:.2f}  "
        f"old/new {medians['old'] / medians['new']:.2f}  (above 1: the second is faster)"
    )


if __name__ == "__main__":
    main()
