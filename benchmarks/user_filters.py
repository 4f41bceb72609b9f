"""Which local scheduler renders a chain of user NumPy filters best on this machine's cores
(issue 26, part 5): CPU ms per frame of the whole process tree (the caller, its pool's
worker processes and the stitch's ffmpeg) and the cores kept busy on average (CPU time /
wall time), for "sync" (one segment after another), "threads" and "processes", median of
interleaved rounds. CPU time stays meaningful on a loaded machine; wall time does not.

    python benchmarks/user_filters.py CLIP [--repeats 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

FILTERS = '''
import numpy as np
import renderrush as rr

GAMMA = np.array([1.15, 1.0, 0.85], dtype=np.float32)

@rr.register_filter("grade", strength=rr.Param(1.0, 0.0, 2.0, "S-curve strength"))
def grade(frame, strength):
    """NumPy colour grade in float32 (ufuncs: NumPy releases the GIL inside each)."""
    x = np.power(frame.astype(np.float32) * (1 / 255), GAMMA)
    x += strength * 0.08 * np.sin(2 * np.pi * x)
    return (np.clip(x, 0, 1) * 255).astype(np.uint8)

@rr.register_filter("rowloop")
def rowloop(frame):
    """A filter that holds the GIL: a Python loop over rows (small NumPy calls)."""
    out = np.empty_like(frame)
    for y in range(frame.shape[0]):
        out[y] = frame[y] // 2 + 64
    return out
'''

DRIVER = """
import json, os, resource, sys, time
import psutil
sys.path.insert(0, {folder!r})
import user_filter_defs
import renderrush as rr
from renderrush.backends import pools

def own_cpu():
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime

start_cpu = own_cpu()
started = time.perf_counter()
result = rr.render({clip!r}, {out!r}, {chain!r}, workers={workers}, scheduler={scheduler!r}, history=False, force=True)
wall = time.perf_counter() - started
pool = sum(sum(p.cpu_times()[:2]) for p in psutil.Process().children(recursive=True))  # idle now: final
cpu = own_cpu() + pool
print(json.dumps({{"cpu": cpu, "render_cpu": cpu - start_cpu, "wall": wall, "render_wall": result.wall_seconds, "frames": result.frames,
                  "scheduler": result.scheduler, "segments": len(result.segments)}}))
pools.shutdown_pools()
"""


def run_case(clip: str, chain: str, scheduler: str, workers: int, folder: Path) -> dict[str, float]:
    code = DRIVER.format(
        folder=str(folder),
        clip=clip,
        out=str(folder / f"{scheduler}.mp4"),
        chain=chain,
        workers=workers,
        scheduler=scheduler,
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    measured = json.loads(done.stdout.splitlines()[-1])
    # the driver's own figure counts its pool's workers; its process, as the harness sees it
    measured["driver_cpu"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("clip")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chains", default="grade,rowloop")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    (folder / "user_filter_defs.py").write_text(FILTERS)
    schedulers = ("sync", "threads", "processes")
    for chain in args.chains.split(","):
        runs: dict[str, list[dict[str, float]]] = {s: [] for s in schedulers}
        for _ in range(args.repeats):
            for scheduler in schedulers:
                runs[scheduler].append(run_case(args.clip, chain, scheduler, args.workers, folder))
        print(f"\n{chain} ({args.repeats} rounds, {args.workers} workers)")
        print("| scheduler | CPU ms/frame | busy cores (render CPU / render wall) | segments |")
        print("|---|---:|---:|---:|")
        for scheduler, values in runs.items():
            frames = values[0]["frames"]
            cpu = statistics.median(v["cpu"] for v in values)
            busy = statistics.median(v["render_cpu"] / v["wall"] for v in values)
            print(f"| {scheduler} | {1000 * cpu / frames:.1f} | {busy:.2f} | {values[0]['segments']} |")


if __name__ == "__main__":
    main()
