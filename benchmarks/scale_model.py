"""A measured model of RenderRush on many cluster workers (issue 16).

Measures on this machine, for a short 1080p clip:
- input and segment-output bytes per second of video;
- the client's cut time per second of video (stream copy into per-segment pieces, checked);
- render throughput of one worker (a sequential render: one segment at a time) and the
  stitch time per second of video;
- dask's overhead per task: a stress test of empty tasks on a LocalCluster, and of small
  scatters (one per piece) to a worker;
then computes what a 1-hour 1080p job costs on 10, 100 and 1000 workers, and where the
client (cutting, sending pieces, receiving segments, stitching) becomes the bottleneck.
Network figures assume the client's link speed given by --link-gbit (10 by default).

    python benchmarks/scale_model.py                      # ~2 minutes on 2 cores
    python benchmarks/scale_model.py --seconds 10 --json scale.json
    python benchmarks/scale_model.py memory --input long.mp4 --segment-seconds 10   # peak client memory

`memory` renders an existing file on a 2-worker LocalCluster and samples the client
process's resident memory with psutil (the workers are other processes).
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import psutil

from renderrush import make_sample_video, probe, render
from renderrush.backends.base import segment_job
from renderrush.core.periodic import Periodic
from renderrush.jobs.plan import plan_segments
from renderrush.media.cutting import Cutter
from renderrush.media.encode import EncodeSettings
from renderrush.media.filters import FilterChain
from renderrush.recording.advisor import rule_segment_seconds
from renderrush.segments.jobfolder import JobFolder

HOUR = 3600.0
WORKERS = (10, 100, 1000)


def measure_cut(clip: Path, segment_seconds: float) -> dict[str, float]:
    """Client cut seconds and piece bytes per second of video."""
    info = probe(clip)
    folder = JobFolder(clip.with_name("cut-out.mp4"))
    jobs = [
        segment_job(info, s, FilterChain.parse(None), EncodeSettings(), 1, folder)
        for s in plan_segments(info, segment_seconds)
    ]
    started = time.perf_counter()
    sizes = [len(p.data) for p in Cutter(info).pieces((j.segment.index, j.source) for j in jobs)]
    seconds = time.perf_counter() - started
    return {
        "cut_seconds_per_video_second": seconds / info.duration,
        "piece_bytes_per_video_second": sum(sizes) / info.duration,
        "input_bytes_per_video_second": clip.stat().st_size / info.duration,
        "pieces": len(sizes),
        "piece_to_input": sum(sizes) / clip.stat().st_size,
    }


def measure_render(clip: Path, out: Path, filters: str, segment_seconds: float) -> dict[str, float]:
    """One worker's render throughput (a sequential render) and the stitch."""
    result = render(clip, out, filters, segment_seconds=segment_seconds, scheduler="sync", history=False)
    rendered = sum(s.seconds for s in result.segments)
    duration = result.info.duration
    return {
        "render_seconds_per_video_second": rendered / duration,
        "segment_bytes_per_video_second": sum(s.bytes for s in result.segments) / duration,
        "stitch_seconds_per_video_second": result.stitch_seconds / duration,
        "fps_one_worker": result.frames / rendered,
        "frame_rate": float(result.info.fps),
    }


def _nothing(x: int) -> int:
    return x


def measure_dask(tasks: int, scatters: int, piece_bytes: int) -> dict[str, float]:
    """Scheduler seconds per empty task and client seconds per scattered piece."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
        ) as cluster,
        Client(cluster) as client,
    ):
        client.gather(client.map(_nothing, range(50), pure=False))  # warm up
        started = time.perf_counter()
        client.gather(client.map(_nothing, range(tasks), pure=False))
        per_task = (time.perf_counter() - started) / tasks
        worker = next(iter(client.scheduler_info()["workers"]))
        payload = bytes(piece_bytes)
        started = time.perf_counter()
        futures = [client.scatter([payload], workers=[worker], hash=False, direct=True)[0] for _ in range(scatters)]
        per_scatter = (time.perf_counter() - started) / scatters
        client.cancel(futures)
    return {"seconds_per_task": per_task, "seconds_per_scatter": per_scatter, "scatter_bytes": piece_bytes}


def model(m: dict[str, float], workers: int, link_bytes: float, duration: float = HOUR) -> dict[str, float]:
    """Cost of one `duration` job on `workers` one-thread workers like this machine's."""
    segment_seconds = rule_segment_seconds(duration, workers)
    segments = max(1, round(duration / segment_seconds))
    sent = m["piece_bytes_per_video_second"] * duration
    back = m["segment_bytes_per_video_second"] * duration
    client = {
        "cut": m["cut_seconds_per_video_second"] * duration,
        "send": sent / link_bytes + segments * m["seconds_per_scatter"],
        "receive": back / link_bytes,
        "schedule": segments * m["seconds_per_task"],
    }
    # the client cuts, sends and schedules while workers render (pipelined); receiving
    # overlaps too; the stitch starts after the last segment
    client_busy = client["cut"] + client["send"] + client["schedule"]
    # workers render in rounds of one segment each; the first waits for one piece to be cut and sent
    rounds = math.ceil(segments / workers)
    first_piece = segment_seconds * (m["cut_seconds_per_video_second"] + m["piece_bytes_per_video_second"] / link_bytes)
    render_wall = (
        rounds * segment_seconds * m["render_seconds_per_video_second"] + first_piece + m["seconds_per_scatter"]
    )
    stitch = m["stitch_seconds_per_video_second"] * duration
    wall = max(render_wall, client_busy, client["receive"]) + stitch
    return {
        "workers": workers,
        "segments": segments,
        "segment_seconds": segment_seconds,
        "input_gb_sent": sent / 1e9,
        "output_gb_back": back / 1e9,
        "render_wall_s": render_wall,
        "client_cut_s": client["cut"],
        "client_send_s": client["send"],
        "client_receive_s": client["receive"],
        "scheduler_s": client["schedule"],
        "stitch_s": stitch,
        "wall_s": wall,
        "bottleneck": "workers" if render_wall >= max(client_busy, client["receive"]) else "client",
    }


def crossover(m: dict[str, float], link_bytes: float, duration: float = HOUR) -> int:
    """Workers beyond which the client, not rendering, sets the job's pace."""
    for workers in range(1, 100_001):
        if model(m, workers, link_bytes, duration)["bottleneck"] == "client":
            return workers
    return math.inf  # type: ignore[return-value]


def table(rows: list[dict[str, float]]) -> str:
    head = "| workers | segments | input sent | output back | render (wall) | client cut | client send | scheduler | stitch | job wall | bound by |"
    lines = [head, "|" + "---|" * 11]
    for r in rows:
        lines.append(
            f"| {r['workers']} | {r['segments']} | {r['input_gb_sent']:.2f} GB | {r['output_gb_back']:.2f} GB | "
            f"{r['render_wall_s']:.0f} s | {r['client_cut_s']:.0f} s | {r['client_send_s']:.0f} s | "
            f"{r['scheduler_s']:.1f} s | {r['stitch_s']:.0f} s | {r['wall_s']:.0f} s | {r['bottleneck']} |"
        )
    return "\n".join(lines)


def memory(path: Path, workers: int, filters: str, segment_seconds: float) -> dict[str, float]:
    """Peak resident memory of this (client) process while a cluster job renders `path`."""
    me = psutil.Process()
    baseline = me.memory_info().rss
    peak = [baseline]

    def sample() -> None:
        peak[0] = max(peak[0], me.memory_info().rss)

    with tempfile.TemporaryDirectory() as tmp, Periodic(0.05, sample, name="scale-model-rss") as sampler:
        result = render(
            path,
            Path(tmp) / "out.mp4",
            filters,
            workers=workers,
            segment_seconds=segment_seconds,
            scheduler="local",
            preset="ultrafast",
            history=False,
        )
    if sampler.error is not None:  # a missed peak would understate the client's memory
        raise RuntimeError("the memory sampler failed") from sampler.error
    pieces = result.input_bytes_to_workers / max(1, len(result.segments))
    return {
        "input_bytes": path.stat().st_size,
        "segments": len(result.segments),
        "mean_piece_bytes": pieces,
        "input_bytes_to_workers": result.input_bytes_to_workers,
        "output_bytes_from_workers": result.output_bytes_from_workers,
        "client_rss_before_mb": baseline / 2**20,
        "client_rss_peak_mb": peak[0] / 2**20,
        "peak_over_baseline_in_pieces": (peak[0] - baseline) / pieces,
        "wall_seconds": result.wall_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", nargs="?", default="model", choices=("model", "memory"))
    parser.add_argument("--input", type=Path, help="memory: the file to render")
    parser.add_argument("--seconds", type=float, default=20, help="model: length of the 1080p clip measured")
    parser.add_argument("--filters", default="grayscale")
    parser.add_argument(
        "--segment-seconds", type=float, default=2.0, help="model: pieces cut; memory: segments rendered"
    )
    parser.add_argument("--link-gbit", type=float, default=10.0, help="the client's network link, Gbit/s")
    parser.add_argument("--tasks", type=int, default=2000, help="empty tasks in the dask stress test")
    parser.add_argument("--json", type=Path, help="also write the measurements and table here")
    args = parser.parse_args()
    if args.mode == "memory":
        if args.input is None:
            parser.error("memory needs --input")
        print(json.dumps(memory(args.input, 2, args.filters, args.segment_seconds), indent=2))
        return
    link = args.link_gbit * 1e9 / 8
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_sample_video(Path(tmp) / "clip1080.mp4", seconds=args.seconds, size=(1920, 1080), fps=30)
        m = measure_cut(clip, args.segment_seconds)
        m |= measure_render(clip, Path(tmp) / "out.mp4", args.filters, args.segment_seconds)
    m |= measure_dask(args.tasks, 200, round(m["piece_bytes_per_video_second"] * args.segment_seconds))
    rows = [model(m, w, link) for w in WORKERS]
    knee = crossover(m, link)
    print(json.dumps(m, indent=2))
    print(table(rows))
    print(f"the client sets the pace from {knee} workers on (1-hour 1080p, {args.link_gbit:g} Gbit/s link)")
    if args.json:
        args.json.write_text(json.dumps({"measured": m, "model": rows, "client_bound_from_workers": knee}, indent=2))


if __name__ == "__main__":
    main()
