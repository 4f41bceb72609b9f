"""RenderRush against what a Python user would use instead, in one run.

Workloads, on a generated 720p clip (pattern + tone):
  * two user NumPy filters, the same function for every tool: `light` (a vignette multiply)
    and `heavy` (a float32 colour grade: per-channel gamma, S-curve, vignette);
  * two built-in chains, `grayscale` and `grayscale,blur:5,contrast:1.3`.
Cases:
  * rr sequential: `render(scheduler="sync")` in this process, the reference whose CPU per
    frame sets the ceiling;
  * rr warm: `render` in this process with a warm pool (processes for user filters, threads
    for built-in chains, as the CLI picks), `workers` = cores;
  * rr whole process: a fresh interpreter (the `renderrush` CLI for built-in chains; a
    script calling `render` with default options for user filters, as the CLI cannot load them);
  * MoviePy 2.x: `VideoFileClip(...).image_transform(f).write_videofile(..., threads=cores)`
    (it re-encodes the audio: it cannot copy it);
  * OpenCV loop: `cv2.VideoCapture` -> filter -> raw BGR piped into one ffmpeg process;
  * ffmpeg: one command doing the built-in chain and the encode.
Every tool encodes x264 veryfast CRF 23 and keeps the audio. Rounds are interleaved
(every case once per round) and medians reported, so a noisy machine's drifts hit every
case alike. The ceiling: the sequential run spends `cpu_ms` of CPU per frame, so no run on
`cores` cores can beat cores x 1000 / cpu_ms frames per second at that cost; each ratio is
printed next to the ceiling it had.

    python benchmarks/peers.py                       # 6 s clip, 3 rounds (~5 min on 2 cores)
    python benchmarks/peers.py --seconds 20 --rounds 5
    python benchmarks/peers.py --seconds 600 --rounds 1 --skip-peers   # the 10-minute clip
    python benchmarks/peers.py --seconds 12 --workloads heavy          # issue 26's NumPy filter case
MoviePy comes from the `bench` extra (`pip install -e ".[bench]"`); without it those rows are skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import numpy as np

import renderrush as rr

PRESET, CRF = "veryfast", 23
BUILTIN = {"grayscale": "hue=s=0", "grayscale,blur:5,contrast:1.3": "hue=s=0,gblur=sigma=5,eq=contrast=1.3"}
USER = {"light": "peer_light", "heavy": "peer_heavy"}
"""User workload -> the name it is registered under in RenderRush."""
GAMMA_BGR = np.array([1.15, 1.0, 0.85], dtype=np.float32)


@lru_cache(maxsize=4)
def vignette_mask(height: int, width: int, strength: float = 0.6) -> np.ndarray:
    """H x W x 1 float32 gain: 1 in the centre, 1 - strength in the corners."""
    y, x = np.ogrid[-1 : 1 : height * 1j, -1 : 1 : width * 1j]
    return (1 - strength * np.clip((x * x + y * y) / 2, 0, 1))[..., None].astype(np.float32)


def light(frame: np.ndarray) -> np.ndarray:
    """Vignette multiply: one float pass over the frame."""
    return (frame * vignette_mask(*frame.shape[:2])).astype(np.uint8)


def heavy_with(gamma: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    def heavy(frame: np.ndarray) -> np.ndarray:
        """float32 colour grade: per-channel gamma, a soft S-curve, a vignette."""
        x = np.power(frame.astype(np.float32) * (1 / 255), gamma)
        x += 0.08 * np.sin(2 * np.pi * x)
        x *= vignette_mask(*frame.shape[:2])
        return (np.clip(x, 0, 1) * 255).astype(np.uint8)

    return heavy


heavy_bgr = heavy_with(GAMMA_BGR)
heavy_rgb = heavy_with(GAMMA_BGR[::-1].copy())  # MoviePy hands over RGB frames: the same grade


@rr.register_filter("peer_light", replace=True)
def peer_light(frame: np.ndarray) -> np.ndarray:
    """The `light` user filter."""
    return light(frame)


@rr.register_filter("peer_heavy", replace=True)
def peer_heavy(frame: np.ndarray) -> np.ndarray:
    """The `heavy` user filter."""
    return heavy_bgr(frame)


# ---- the peers, each run as its own process (`--child`) ------------------------------


def child_rr(clip: str, out: str, workload: str) -> None:
    """What a user's script does: `render` with default options (advisor, processes)."""
    rr.render(clip, out, USER[workload], preset=PRESET, crf=CRF, history=False)


def child_moviepy(clip: str, out: str, workload: str) -> None:
    from moviepy import VideoFileClip

    fn = light if workload == "light" else heavy_rgb
    with VideoFileClip(clip) as source:
        encode = dict(codec="libx264", preset=PRESET, ffmpeg_params=["-crf", str(CRF)], audio_codec="aac")
        source.image_transform(fn).write_videofile(out, threads=os.cpu_count(), logger=None, **encode)


def child_opencv(clip: str, out: str, workload: str) -> None:
    """The loop a Python user writes: OpenCV reads BGR frames, NumPy filters them, ffmpeg encodes."""
    import cv2
    import imageio_ffmpeg

    fn = light if workload == "light" else heavy_bgr
    capture = cv2.VideoCapture(clip)
    width, height = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    fps = capture.get(cv2.CAP_PROP_FPS)
    raw = ["-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}", "-r", f"{fps}", "-i", "-"]
    encode = ["-c:v", "libx264", "-preset", PRESET, "-crf", str(CRF), "-pix_fmt", "yuv420p", "-c:a", "copy"]
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", *raw, "-i", clip, "-map", "0:v"]
    encoder = subprocess.Popen([*command, "-map", "1:a?", *encode, out], stdin=subprocess.PIPE)
    assert encoder.stdin is not None
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        encoder.stdin.write(fn(frame).tobytes())
    encoder.stdin.close()
    if encoder.wait() != 0:
        raise SystemExit("ffmpeg failed")


CHILDREN = {"rr": child_rr, "moviepy": child_moviepy, "opencv": child_opencv}


# ---- measuring ------------------------------------------------------------------------


@dataclass
class Run:
    seconds: float
    cpu_seconds: float | None
    """CPU of the case's process tree (None where workers outlive it and escape the count)."""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_process(args: list[str], env: dict[str, str] | None = None, cpu_counted: bool = True) -> Run:
    """A whole process, from fork to exit; its CPU is that of every descendant it waited for."""
    cpu, started = _children_cpu(), time.perf_counter()
    subprocess.run(args, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return Run(time.perf_counter() - started, _children_cpu() - cpu if cpu_counted else None)


def run_here(job: Callable[[], object], cpu_counted: bool) -> Run:
    """A call in this process (threads included; worker processes escape the count)."""
    cpu, started = _self_cpu() + _children_cpu(), time.perf_counter()
    job()
    return Run(time.perf_counter() - started, _self_cpu() + _children_cpu() - cpu if cpu_counted else None)


def cases(clip: Path, work: Path, cores: int, peers: set[str]) -> dict[tuple[str, str], Callable[[], Run]]:
    """(workload, case) -> a function that runs it once."""
    out = str(work / "out.mp4")
    script = str(Path(__file__).resolve())
    env = {**os.environ, "RENDERRUSH_HISTORY": str(work / "history.sqlite3")}
    from renderrush.media.ffmpeg import ffmpeg_command

    found: dict[tuple[str, str], Callable[[], Run]] = {}

    def render(chain: str, **options: object) -> Callable[[], object]:
        return lambda: rr.render(clip, out, chain, preset=PRESET, crf=CRF, history=False, **options)

    for workload, chain in USER.items():
        found[workload, "rr sequential"] = lambda c=chain: run_here(render(c, scheduler="sync"), True)
        found[workload, "rr warm"] = lambda c=chain: run_here(render(c, scheduler="processes", workers=cores), False)
        # the pool's forkserver is not waited for by the child: its workers' CPU escapes the count
        found[workload, "rr whole process"] = lambda w=workload: run_process(
            [sys.executable, script, "--child", "rr", str(clip), out, w], env, cpu_counted=False
        )
        for peer in sorted(peers):
            found[workload, peer] = lambda p=peer, w=workload: run_process(
                [sys.executable, script, "--child", p, str(clip), out, w], env
            )
    for chain, ff_filter in BUILTIN.items():
        found[chain, "rr sequential"] = lambda c=chain: run_here(render(c, scheduler="sync"), True)
        found[chain, "rr warm"] = lambda c=chain: run_here(render(c, scheduler="threads", workers=cores), True)
        found[chain, "rr whole process"] = lambda c=chain: run_process(
            [sys.executable, "-m", "renderrush", "render", str(clip), "-o", out, "--filters", c, "--no-progress"], env
        )
        encode = ["-c:v", "libx264", "-preset", PRESET, "-crf", str(CRF), "-c:a", "copy", "-movflags", "+faststart"]
        command = ffmpeg_command("-i", clip, "-vf", ff_filter, *encode, "-y", out)
        found[chain, "ffmpeg"] = lambda cmd=command: run_process([str(a) for a in cmd])
    return found


def measure(found: dict[tuple[str, str], Callable[[], Run]], rounds: int) -> dict[tuple[str, str], list[Run]]:
    runs: dict[tuple[str, str], list[Run]] = {key: [] for key in found}
    for number in range(1, rounds + 1):
        for key, case in found.items():
            runs[key].append(case())
            print(
                f"round {number}/{rounds} {key[0]:>30} | {key[1]:<17} {runs[key][-1].seconds:7.2f} s", file=sys.stderr
            )
    return runs


def summarise(runs: dict[tuple[str, str], list[Run]], frames: int, cores: int) -> dict:
    rows: dict[str, dict[str, dict]] = {}
    for (workload, case), measured in runs.items():
        seconds = statistics.median(r.seconds for r in measured)
        cpus = [r.cpu_seconds for r in measured if r.cpu_seconds is not None]
        rows.setdefault(workload, {})[case] = {
            "seconds": seconds,
            "fps": frames / seconds,
            "cpu_ms_per_frame": statistics.median(cpus) * 1000 / frames if cpus else None,
            "runs": [r.seconds for r in measured],
        }
    for cases_ in rows.values():
        sequential = cases_["rr sequential"]
        cpu_ms = sequential["cpu_ms_per_frame"]
        ceiling_fps = cores * 1000 / cpu_ms
        for row in cases_.values():
            row["x_sequential"] = row["fps"] / sequential["fps"]
            row["of_ceiling"] = row["fps"] / ceiling_fps
        cases_["ceiling"] = {
            "fps": ceiling_fps,
            "x_sequential": cores * (1000 / sequential["fps"]) / cpu_ms,
            "cpu_ms_per_frame": cpu_ms,
        }
    return rows


def ratios(rows: dict) -> list[dict]:
    """RenderRush against each peer, next to the most the ceiling allows against that peer."""
    found = []
    for workload, cases_ in rows.items():
        peers = [c for c in cases_ if c in ("moviepy", "opencv", "ffmpeg")]
        for rr_case in ("rr whole process", "rr warm"):
            for peer in peers:
                ratio = cases_[rr_case]["fps"] / cases_[peer]["fps"]
                ceiling = cases_["ceiling"]["fps"] / cases_[peer]["fps"]
                found.append(
                    {"workload": workload, "renderrush": rr_case, "peer": peer, "ratio": ratio, "ceiling": ceiling}
                )
    return found


def markdown(report: dict) -> str:
    head = report["machine"]
    lines = [
        f"### Peers, {report['date']}: {report['clip']}, {report['rounds']} interleaved rounds, medians",
        "",
        f"Machine: {head['cores']} usable cores, {head['cpu']}, Python {head['python']}, "
        f"renderrush {head['renderrush']}, MoviePy {head['moviepy']}. {report['note']}",
        "",
        "| workload | case | wall s | fps | x sequential | share of ceiling | CPU ms/frame |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for workload, cases_ in report["rows"].items():
        for case, row in cases_.items():
            if case == "ceiling":
                continue
            cpu = "-" if row["cpu_ms_per_frame"] is None else f"{row['cpu_ms_per_frame']:.1f}"
            lines.append(
                f"| {workload} | {case} | {row['seconds']:.2f} | {row['fps']:.1f} | {row['x_sequential']:.2f} | "
                f"{row['of_ceiling']:.0%} | {cpu} |"
            )
        ceiling = cases_["ceiling"]
        lines.append(
            f"| {workload} | *ceiling* (cores x wall / CPU of the sequential run) | | {ceiling['fps']:.1f} | "
            f"{ceiling['x_sequential']:.2f} | 100% | {ceiling['cpu_ms_per_frame']:.1f} |"
        )
    lines += ["", "| workload | RenderRush | against | ratio | ceiling of the ratio |", "|---|---|---|---:|---:|"]
    for r in report["ratios"]:
        lines.append(f"| {r['workload']} | {r['renderrush']} | {r['peer']} | {r['ratio']:.2f}x | {r['ceiling']:.2f}x |")
    return "\n".join(lines)


def moviepy_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("moviepy")
    except Exception:
        return None


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=6, help="clip length (default 6; 600 for the long clip)")
    parser.add_argument("--size", default="1280x720", help="clip size (default 1280x720)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--skip-peers", action="store_true", help="RenderRush and ffmpeg only")
    parser.add_argument(
        "--workloads", nargs="+", default=None, help="only these workloads (light, heavy or a built-in chain)"
    )
    parser.add_argument("--note", default="", help="a sentence for the table's header (what else ran on the machine)")
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the table here")
    parser.add_argument("--child", nargs=4, metavar=("TOOL", "CLIP", "OUT", "WORKLOAD"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        tool, clip, out, workload = args.child
        CHILDREN[tool](clip, out, workload)
        return

    from renderrush.backends.pools import warm_pool
    from renderrush.core.resources import available_cores

    cores = available_cores()
    width, height = (int(v) for v in args.size.split("x"))
    peers = set() if args.skip_peers else {"opencv"} | ({"moviepy"} if moviepy_version() else set())
    with tempfile.TemporaryDirectory(prefix="renderrush-peers-") as tmp:
        work = Path(tmp)
        clip = rr.make_sample_video(work / "clip.mp4", seconds=args.seconds, size=(width, height), fps=30)
        frames = rr.probe(clip).frame_count
        warm_pool(cores)
        found = cases(clip, work, cores, peers)
        if args.workloads:
            found = {key: case for key, case in found.items() if key[0] in args.workloads}
        runs = measure(found, args.rounds)
    report = {
        "date": date.today().isoformat(),
        "clip": f"{args.seconds:g} s {width}x{height} 30 fps H.264 + AAC ({frames} frames)",
        "rounds": args.rounds,
        "note": args.note,
        "machine": {
            "cores": cores,
            "cpu": cpu_name(),
            "python": platform.python_version(),
            "renderrush": rr.__version__,
            "moviepy": moviepy_version() or "not installed",
        },
        "rows": summarise(runs, frames, cores),
    }
    report["ratios"] = ratios(report["rows"])
    table = markdown(report)
    print(table)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    if args.markdown:
        args.markdown.write_text(table + "\n")


if __name__ == "__main__":
    main()
