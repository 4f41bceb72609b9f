"""Peak memory of a whole `renderrush render` process tree against the input's length.

    python benchmarks/memory.py                      # 1 and 10 minutes of 720p (~10 min on 2 cores)
    python benchmarks/memory.py --minutes 1 3 --size 1920x1080

For each length it makes a camera-like clip (x264 defaults, AAC: `clips.camera_clip`), runs
the CLI as a fresh process with the advisor's defaults and one ffmpeg command with the same
filter and encoder, and samples the summed RSS of each process and all its children every
0.1 s. Memory does not depend on the machine being quiet (the wall times printed do)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from clips import camera_clip  # benchmarks/clips.py, beside this script

from renderrush.media.ffmpeg import ffmpeg_exe


def peak_tree_rss(command: list[str], env: dict[str, str]) -> tuple[int, float]:
    """Run `command`; its process tree's peak resident memory (bytes) and its wall seconds."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak, done = 0, threading.Event()

    def sample() -> None:
        nonlocal peak
        root = psutil.Process(proc.pid)
        while not done.is_set():
            total = 0
            try:
                for member in [root, *root.children(recursive=True)]:
                    total += member.memory_info().rss
            except psutil.Error:
                pass  # a child that ended between listing and reading
            peak = max(peak, total)
            done.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = proc.communicate()
    done.set()
    sampler.join()
    if proc.returncode:
        raise RuntimeError(f"{command[0]} failed: {stderr.decode(errors='replace')[-500:]}")
    return peak, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 10])
    parser.add_argument("--size", default="1280x720")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rr-memory-"))
    env = dict(os.environ, RENDERRUSH_HISTORY=str(work / "history.db"))
    print("| input | RenderRush peak RSS | ffmpeg peak RSS | RenderRush wall | ffmpeg wall |")
    print("|---|---:|---:|---:|---:|")
    for minutes in args.minutes:
        clip = camera_clip(work / f"clip-{minutes:g}min.mp4", seconds=minutes * 60, size=args.size)
        rr = [sys.executable, "-m", "renderrush", "render", str(clip), "-o", str(work / "rr.mp4")]
        rr += ["--filters", "grayscale", "--no-progress", "--force"]
        ff = [ffmpeg_exe(), "-v", "error", "-y", "-i", str(clip), "-vf", "hue=s=0", "-c:v", "libx264"]
        ff += ["-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p", "-c:a", "copy", str(work / "ff.mp4")]
        rr_peak, rr_wall = peak_tree_rss(rr, env)
        ff_peak, ff_wall = peak_tree_rss(ff, env)
        print(
            f"| {minutes:g} min {args.size} | {rr_peak / 2**20:.0f} MiB | {ff_peak / 2**20:.0f} MiB "
            f"| {rr_wall:.1f} s | {ff_wall:.1f} s |",
            flush=True,
        )
        clip.unlink()


if __name__ == "__main__":
    main()
