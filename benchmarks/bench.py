"""RenderRush benchmark: renderrush (sequential, processes, threads) against one ffmpeg
command doing the same filters and encode, decode-only ffmpeg, single-threaded pure-NumPy
user filters (with the speedup ceiling their cost allows), and peak memory of the job's
process tree for a clip and one 4x longer.

Repeats are interleaved (every case once per round) and the median is reported, so
slow drifts of a noisy machine hit every case alike. Prints one table, writes one JSON.

    python benchmarks/bench.py                      # 720p and 1080p, 30 s, 3 repeats (~20 min on 2 cores)
    python benchmarks/bench.py --seconds 10 --sizes 1280x720 --repeats 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import av
import numpy as np
import psutil

import renderrush as rr
from renderrush.backends.pools import warm_pool
from renderrush.core.periodic import Periodic
from renderrush.core.resources import available_cores
from renderrush.media.ffmpeg import ffmpeg_command
from renderrush.segments.progress import SEGMENT_FINISHED, ProgressEvent

CHAINS = {
    "grayscale": "hue=s=0",
    "grayscale,blur:5,contrast:1.3": "hue=s=0,gblur=sigma=5,eq=contrast=1.3",
}
PRESET, CRF = "veryfast", 23
USER_CHAINS = ("vignette:0.7", "grade", "lut")
GRADE_GAMMA_BGR = np.array([1.15, 1.0, 0.85], dtype=np.float32)
LUT_SIZE = 17
"""Points per axis of the `lut` filter's 3D LUT (17 and 33 are the common .cube sizes)."""


@lru_cache(maxsize=4)
def _vignette_mask(height: int, width: int, strength: float) -> np.ndarray:
    y, x = np.ogrid[-1 : 1 : height * 1j, -1 : 1 : width * 1j]
    return (1 - strength * np.clip((x * x + y * y) / 2, 0, 1))[..., None].astype(np.float32)


@rr.register_filter("vignette", strength=rr.Param(0.6, 0.0, 1.0, "corner darkening"))
def vignette(frame: np.ndarray, strength: float) -> np.ndarray:
    """Pure-NumPy vignette: single-threaded work no library parallelises for us."""
    return (frame * _vignette_mask(*frame.shape[:2], strength)).astype(np.uint8)


def _role(proc: psutil.Process) -> str:
    """What a process of the job does: the profile groups CPU time by this. A renderrush
    job's decode, filters and encode all run in its Python processes; ffmpeg processes are
    the stitch, or the whole job in the ffmpeg cases."""
    return "ffmpeg" if "ffmpeg" in proc.name() else "python"


@rr.register_filter("grade", strength=rr.Param(1.0, 0.0, 2.0, "S-curve strength"))
def grade(frame: np.ndarray, strength: float) -> np.ndarray:
    """Pure-NumPy colour grade (per-channel gamma, soft S-curve, in float32): heavy,
    single-threaded Python-side work, the case parallel segments exist for."""
    x = np.power(frame.astype(np.float32) * (1 / 255), GRADE_GAMMA_BGR)
    x += strength * 0.08 * np.sin(2 * np.pi * x)
    return (np.clip(x, 0, 1) * 255).astype(np.uint8)


@lru_cache(maxsize=1)
def _film_lut() -> np.ndarray:
    """A film-look 3D LUT (more saturation, warmer, soft S-curve), flattened to
    (LUT_SIZE**3, 3) BGR values indexed by (b * LUT_SIZE + g) * LUT_SIZE + r."""
    axis = np.linspace(0, 1, LUT_SIZE, dtype=np.float32)
    bgr = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1)
    luma = (bgr * np.array([0.114, 0.587, 0.299], np.float32)).sum(axis=-1, keepdims=True)
    out = (luma + 1.25 * (bgr - luma)) * np.array([0.9, 1.0, 1.1], np.float32)
    out += 0.06 * np.sin(2 * np.pi * out)
    return (np.clip(out, 0, 1) * 255).reshape(-1, 3)


@rr.register_filter("lut")
def lut(frame: np.ndarray) -> np.ndarray:
    """Pure-NumPy colour grade through a 3D LUT with trilinear interpolation, as a user
    applying a .cube look would write it: a chain bound by its single-threaded filter."""
    table, last = _film_lut(), LUT_SIZE - 1
    x = frame.reshape(-1, 3).astype(np.float32)
    x *= last / 255
    cell = np.minimum(x.astype(np.int32), last - 1)
    x -= cell  # position inside the cell, 0..1 per channel
    base = (cell[:, 0] * LUT_SIZE + cell[:, 1]) * LUT_SIZE + cell[:, 2]
    out = np.zeros_like(x)
    for db in (0, 1):
        wb = x[:, 0] if db else 1 - x[:, 0]
        for dg in (0, 1):
            wbg = wb * (x[:, 1] if dg else 1 - x[:, 1])
            for dr in (0, 1):
                corner = table[base + (db * LUT_SIZE + dg) * LUT_SIZE + dr]
                out += corner * (wbg * (x[:, 2] if dr else 1 - x[:, 2]))[:, None]
    return out.astype(np.uint8).reshape(frame.shape)


def filter_ms_per_frame(clip: Path, chain: str, frames: int = 10) -> float:
    """P: milliseconds the chain's filters take on one frame of `clip`, alone on one core
    (median over a few decoded frames, after one warm-up call)."""
    parsed = rr.FilterChain.parse(chain)
    with av.open(str(clip)) as container:
        images = [f.to_ndarray(format="bgr24") for f, _ in zip(container.decode(video=0), range(frames))]
    parsed.apply_bgr(images[0].copy())
    times = []
    for image in images:
        started = time.perf_counter()
        parsed.apply_bgr(image)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def user_chain_ceiling(p_ms: float, sequential: dict, workers: int, cores: int) -> dict:
    """The speedup a chain allows on these cores: the sequential run spends `cpu_ms` per
    frame in `wall_ms`; a parallel run that kept every core busy at the same CPU per
    frame would take cpu_ms / cores. So parallel / sequential <= min(workers, cores *
    wall_ms / cpu_ms). For a chain bound by a single-threaded filter, wall ~ P (the
    filters' time) and cpu = P + C (decode, colour conversion and encode run beside
    them): cores * P / (P + C)."""
    cpu_ms = sum(sequential["cpu_ms_per_frame"].values())
    wall_ms = 1000 / sequential["fps"]
    return {
        "filter_ms": p_ms,
        "sequential_wall_ms": wall_ms,
        "sequential_cpu_ms": cpu_ms,
        "ceiling": min(workers, cores * wall_ms / cpu_ms),
    }


class TreeSampler:
    """Samples system CPU times, the summed RSS of this process and all its children,
    and each process's CPU time by role (python, ffmpeg): a profile of
    where a job's CPU goes."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval, self.samples = interval, []
        # first_call: a job shorter than the interval still has a sample at its start
        self._sampler = Periodic(interval, self._sample, name="bench-tree-sampler", first_call=True)
        self._cpu: dict[int, tuple[str, float]] = {}
        self._base = {pid: sum(psutil.Process(pid).cpu_times()[:2]) for pid in [os.getpid()]}

    def _tree_rss(self) -> int:
        root = psutil.Process()
        total = 0
        for proc in [root, *root.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
                if proc.pid not in self._cpu:
                    self._cpu[proc.pid] = (_role(proc), 0.0)
                    self._base.setdefault(
                        proc.pid, sum(proc.cpu_times()[:2]) if proc.pid != root.pid else self._base[root.pid]
                    )
                self._cpu[proc.pid] = (self._cpu[proc.pid][0], sum(proc.cpu_times()[:2]) - self._base[proc.pid])
            except psutil.Error:
                pass
        return total

    def cpu_by_role(self) -> dict[str, float]:
        """CPU seconds used during the sampling, summed by role (last sample of each process)."""
        roles: dict[str, float] = {}
        for role, seconds in self._cpu.values():
            roles[role] = roles.get(role, 0.0) + seconds
        return roles

    def _sample(self) -> None:
        self.samples.append((time.perf_counter(), psutil.cpu_times(), self._tree_rss()))

    def __enter__(self) -> TreeSampler:
        self._sampler.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._sampler.stop()
        if self._sampler.error is not None:  # a profile with a hole would mislead: fail the benchmark
            raise RuntimeError("the tree sampler failed") from self._sampler.error

    def peak_rss(self) -> int:
        return max(rss for _, _, rss in self.samples)

    def cpu_percent(self, start: float, stop: float) -> float | None:
        inside = [times for t, times, _ in self.samples if start <= t <= stop]
        if len(inside) < 2:
            return None
        return rr.resources.cpu_busy_percent(inside[0], inside[-1])


@dataclass
class Run:
    seconds: float
    frames: int
    peak_rss: int
    cpu_percent: float | None = None
    parallel_cpu_percent: float | None = None
    tail_seconds: float | None = None
    cpu_by_role: dict[str, float] = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds


def run_renderrush(clip: Path, out: Path, chain: str, scheduler: str, workers: int) -> Run:
    finishes: list[float] = []

    def on_event(event: ProgressEvent) -> None:
        if event.kind == SEGMENT_FINISHED:
            finishes.append(time.perf_counter())

    with TreeSampler() as sampler:
        start = time.perf_counter()
        result = rr.render(
            clip,
            out,
            chain,
            workers=workers,
            scheduler=scheduler,
            preset=PRESET,
            crf=CRF,
            progress=on_event,
            history=False,
        )
        stop = time.perf_counter()
    run = Run(result.wall_seconds, result.frames, sampler.peak_rss(), cpu_percent=result.cpu_percent)
    run.cpu_by_role = sampler.cpu_by_role()
    if scheduler != "sync" and len(finishes) >= 2:
        tail_start = sorted(finishes)[-2]  # from here on only the last segment runs
        run.tail_seconds = max(finishes) - tail_start
        run.parallel_cpu_percent = sampler.cpu_percent(start, tail_start)
    run.extra = {"segments": len(result.segments), "segment_seconds": result.segment_seconds, "stop": stop}
    return run


def run_ffmpeg(args: list[str], frames: int) -> Run:
    with TreeSampler() as sampler:
        start = time.perf_counter()
        before = psutil.cpu_times()
        subprocess.run(ffmpeg_command(*args), check=True)
        seconds = time.perf_counter() - start
        cpu = rr.resources.cpu_busy_percent(before, psutil.cpu_times())
    run = Run(seconds, frames, sampler.peak_rss(), cpu_percent=cpu)
    run.cpu_by_role = sampler.cpu_by_role()
    return run


def cases_for(clip: Path, work: Path, frames: int, workers: int) -> dict[str, Callable[[], Run]]:
    """Every measurement of one clip, by name."""
    cases: dict[str, Callable[[], Run]] = {
        "decode-only ffmpeg": lambda: run_ffmpeg(["-i", clip, "-map", "0:v:0", "-f", "null", "-"], frames),
    }
    out = work / "out.mp4"
    for chain, ff_filter in CHAINS.items():
        cases[f"{chain} | ffmpeg"] = lambda f=ff_filter: run_ffmpeg(
            [
                "-i",
                clip,
                "-vf",
                f,
                "-c:v",
                "libx264",
                "-preset",
                PRESET,
                "-crf",
                str(CRF),
                "-c:a",
                "copy",
                "-movflags",
                "+faststart",
                "-y",
                out,
            ],
            frames,
        )
        for scheduler, n in (("sync", 1), ("processes", workers), ("threads", workers)):
            cases[f"{chain} | rr {scheduler}"] = lambda c=chain, s=scheduler, n=n: run_renderrush(clip, out, c, s, n)
    return cases


def user_cases(clip: Path, work: Path, workers: int) -> dict[str, Callable[[], Run]]:
    """Chains bound by single-threaded Python user filters, sequential and parallel."""
    return {
        f"{chain} | rr {scheduler}": lambda c=chain, s=scheduler, n=n: run_renderrush(clip, work / "u.mp4", c, s, n)
        for chain in USER_CHAINS
        for scheduler, n in (("sync", 1), ("processes", workers))
    }


def median_run(runs: list[Run]) -> dict:
    def med(values: list[float | None]) -> float | None:
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else None

    return {
        "seconds": med([r.seconds for r in runs]),
        "fps": med([r.fps for r in runs]),
        "cpu_percent": med([r.cpu_percent for r in runs]),
        "parallel_cpu_percent": med([r.parallel_cpu_percent for r in runs]),
        "tail_seconds": med([r.tail_seconds for r in runs]),
        "peak_rss_mb": med([r.peak_rss / 2**20 for r in runs]),
        "cpu_ms_per_frame": {
            role: med([r.cpu_by_role.get(role, 0.0) * 1000 / r.frames for r in runs])
            for role in sorted({role for r in runs for role in r.cpu_by_role})
        },
        "repeats": len(runs),
        "all_seconds": [round(r.seconds, 3) for r in runs],
    }


def ratios(results: dict[str, dict], ceilings: dict[str, dict] | None = None) -> dict[str, float]:
    """The target ratios: parallel/sequential, renderrush/ffmpeg, renderrush/decode-only,
    and for user chains their speedup ceiling and the share of it reached."""
    fps = {name: r["fps"] for name, r in results.items()}
    out: dict[str, float] = {}
    for chain in [c for c in [*CHAINS, *USER_CHAINS] if f"{c} | rr sync" in fps]:
        seq = fps[f"{chain} | rr sync"]
        for scheduler in ("processes", "threads"):
            if f"{chain} | rr {scheduler}" in fps:
                out[f"{chain} | speedup {scheduler}/sync"] = fps[f"{chain} | rr {scheduler}"] / seq
        if ceilings and chain in ceilings:
            out[f"{chain} | speedup ceiling"] = ceilings[chain]["ceiling"]
            out[f"{chain} | speedup processes / ceiling"] = (
                out[f"{chain} | speedup processes/sync"] / ceilings[chain]["ceiling"]
            )
        if chain in CHAINS:
            out[f"{chain} | rr processes / ffmpeg"] = fps[f"{chain} | rr processes"] / fps[f"{chain} | ffmpeg"]
            out[f"{chain} | rr sync / ffmpeg"] = seq / fps[f"{chain} | ffmpeg"]
            out[f"{chain} | rr processes / decode-only"] = fps[f"{chain} | rr processes"] / fps["decode-only ffmpeg"]
    return out


def measure_clip(cases: dict[str, Callable[[], Run]], frames: int, repeats: int) -> dict:
    """Run every case once per round, `repeats` rounds; medians, and the target ratios."""
    runs: dict[str, list[Run]] = {name: [] for name in cases}
    for repeat in range(repeats):
        for name, case in cases.items():
            runs[name].append(case())
            print(f"  round {repeat + 1}/{repeats} {name:<45} {runs[name][-1].fps:7.1f} fps", flush=True)
    results = {name: median_run(r) for name, r in runs.items()}
    return {"frames": frames, "results": results, "ratios": ratios(results)}


def measure_user_chains(clip: Path, work: Path, repeats: int, workers: int) -> dict:
    """`measure_clip` for the user chains, with each chain's filter time and the speedup
    ceiling its sequential run allows."""
    filter_ms = {chain: filter_ms_per_frame(clip, chain) for chain in USER_CHAINS}
    measured = measure_clip(user_cases(clip, work, workers), rr.probe(clip).frame_count, repeats)
    ceilings = {
        chain: user_chain_ceiling(p_ms, measured["results"][f"{chain} | rr sync"], workers, available_cores())
        for chain, p_ms in filter_ms.items()
    }
    return {**measured, "ceilings": ceilings, "ratios": ratios(measured["results"], ceilings)}


def measure_memory(short: Path, long: Path, work: Path, repeats: int, workers: int) -> dict:
    """Peak RSS of the job's process tree: a clip and one 4x longer must cost the same."""
    peaks: dict[str, list[int]] = {"short": [], "long": []}
    for _ in range(repeats):
        for name, clip in (("short", short), ("long", long)):
            peaks[name].append(run_renderrush(clip, work / "m.mp4", "grayscale", "processes", workers).peak_rss)
    short_mb, long_mb = (statistics.median(peaks[k]) / 2**20 for k in ("short", "long"))
    return {"short_peak_mb": short_mb, "long_peak_mb": long_mb, "long_over_short": long_mb / short_mb}


def print_table(report: dict) -> None:
    for size, clip in report["clips"].items():
        print(f"\n== {size}, {clip['frames']} frames, median of {report['repeats']} ==")
        print(f"{'case':<48}{'fps':>8}{'sec':>8}{'cpu%':>7}{'par cpu%':>9}{'tail s':>8}{'peak MB':>9}")
        for name, r in clip["results"].items():
            cells = [
                r["fps"],
                r["seconds"],
                r["cpu_percent"],
                r["parallel_cpu_percent"],
                r["tail_seconds"],
                r["peak_rss_mb"],
            ]
            print(f"{name:<48}" + "".join(f"{c:>8.1f} " if c is not None else f"{'-':>8} " for c in cells))
        print("  CPU milliseconds per frame by process role (profile):")
        for name, r in clip["results"].items():
            split = ", ".join(f"{role} {ms:.1f}" for role, ms in r["cpu_ms_per_frame"].items() if ms >= 0.05)
            print(f"    {name:<46} {split}")
        for chain, c in clip.get("ceilings", {}).items():
            print(
                f"  {chain:<14} filters alone {c['filter_ms']:6.1f} ms/frame; sequential run {c['sequential_wall_ms']:6.1f} ms "
                f"per frame using {c['sequential_cpu_ms']:6.1f} ms of CPU: ceiling {c['ceiling']:.2f}x"
            )
        for name, value in clip["ratios"].items():
            print(f"  {name:<58} {value:6.2f}x")
    mem = report["memory"]
    print(
        f"\nstarting the worker processes (once per session, before the rounds): {report['worker_startup_seconds']:.2f} s"
    )
    print(
        f"peak memory (job process tree): {report['seconds']} s clip {mem['short_peak_mb']:.0f} MB, "
        f"4x longer {mem['long_peak_mb']:.0f} MB, ratio {mem['long_over_short']:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--sizes", default="1280x720,1920x1080")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--user-seconds", type=float, default=6, help="clip length for the slow user-filter cases")
    parser.add_argument("--workers", type=int, default=available_cores())
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/bench.json"))
    args = parser.parse_args()
    # Worker processes stay warm between jobs (as in a notebook session), so the rounds measure
    # rendering; what the first job of a session pays to start them is reported on its own.
    startup = warm_pool(args.workers)
    print(f"starting {args.workers} worker processes took {startup:.2f} s (once per session, not in the timings)")
    report = {
        "seconds": args.seconds,
        "repeats": args.repeats,
        "workers": args.workers,
        "cores": available_cores(),
        "preset": PRESET,
        "crf": CRF,
        "worker_startup_seconds": startup,
        "clips": {},
    }
    with tempfile.TemporaryDirectory(prefix="renderrush-bench-") as tmp:
        work = Path(tmp)
        for size in args.sizes.split(","):
            width, height = (int(v) for v in size.split("x"))
            clip = rr.make_sample_video(work / f"{size}.mp4", seconds=args.seconds, size=(width, height))
            print(f"{size}: generated {clip.name}", flush=True)
            frames = rr.probe(clip).frame_count
            report["clips"][size] = measure_clip(cases_for(clip, work, frames, args.workers), frames, args.repeats)
        first = args.sizes.split(",")[0]
        width, height = (int(v) for v in first.split("x"))
        user_clip = rr.make_sample_video(work / "user.mp4", seconds=args.user_seconds, size=(width, height))
        label = f"{first} user filters, {args.user_seconds:g} s"
        print(f"{label}: generated {user_clip.name}", flush=True)
        report["clips"][label] = measure_user_chains(user_clip, work, args.repeats, args.workers)
        long_clip = rr.make_sample_video(work / "long.mp4", seconds=4 * args.seconds, size=(width, height))
        report["memory"] = measure_memory(
            work / f"{first}.mp4", long_clip, work, max(1, args.repeats // 2), args.workers
        )
    print_table(report)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
