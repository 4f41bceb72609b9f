"""Input traffic to cluster workers by GOP shape and worker count (issue 28): a 12 s
320x180 clip with short (1 s), x264-default (250-frame) and single-keyframe GOPs rendered
on a real `dask scheduler` with 1, 3 and 8 workers in separate folders on loopback.

    PYTHONPATH=. python benchmarks/gop_traffic.py --json gop.json          # this checkout
    PYTHONPATH=../main python ../wt/benchmarks/gop_traffic.py               # another checkout

Prints one line per run: GOP, workers, segments, input bytes, bytes sent (and the ratio),
the largest share one worker received, wall seconds. Wall times on a shared 2-core machine
with 8 workers say little; the bytes do not depend on the machine."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import renderrush
from renderrush import render
from tests.support.cluster import LoopbackCluster
from tests.support.gops import gop_clip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", default="1,3,8")
    parser.add_argument("--gops", default="short,long,single")
    parser.add_argument("--segment-seconds", type=float, default=2.0)
    parser.add_argument("--filters", default="grayscale")
    parser.add_argument("--json")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        clips = {gop: gop_clip(folder, gop) for gop in args.gops.split(",")}
        for n in map(int, args.workers.split(",")):
            cluster_folder = folder / f"cluster-{n}"
            cluster_folder.mkdir()
            cluster = LoopbackCluster(cluster_folder).start(tuple(f"w{i}" for i in range(n)))
            try:
                for gop, clip in clips.items():
                    started = time.perf_counter()
                    result = render(
                        clip,
                        folder / f"out-{gop}-{n}.mp4",
                        args.filters,
                        workers=n,
                        segment_seconds=args.segment_seconds,
                        scheduler=cluster.address,
                        history=False,
                    )
                    wall = time.perf_counter() - started
                    size = clip.stat().st_size
                    by_worker = getattr(result, "input_bytes_by_worker", {})
                    row = {
                        "gop": gop,
                        "workers": n,
                        "segments": len(result.segments),
                        "input_bytes": size,
                        "sent_bytes": result.input_bytes_to_workers,
                        "ratio": result.input_bytes_to_workers / size,
                        "largest_worker_share": max(by_worker.values(), default=0),
                        "back_bytes": result.output_bytes_from_workers,
                        "wall_seconds": wall,
                        "warnings": result.warnings,
                    }
                    rows.append(row)
                    print(
                        f"{gop:6} {n} workers {row['segments']:2} segments: input {size} B, sent "
                        f"{row['sent_bytes']} B ({row['ratio']:.2f}x), largest share {row['largest_worker_share']} B, "
                        f"{wall:.1f} s",
                        flush=True,
                    )
            finally:
                cluster.stop()
    print(f"renderrush from {renderrush.__file__}", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
