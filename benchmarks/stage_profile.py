"""CPU milliseconds per frame, stage by stage, for `renderrush render` and for the one
ffmpeg command that does the same job (issue 26, part 1). CPU time (user + sys of the
whole process tree), not wall time: it stays meaningful on a machine other jobs load.

Stages are measured cumulatively, the same way for both tools, each run over the whole
clip in one pass: demux; + decode; + conversion (into the chain's pixel format, and the
copy into the encoder's frame); + filters; + encode; + quality meter (RenderRush only);
+ mux. A stage's cost is the difference between two runs. Start-up is the imports (a
Python process that imports the rendering code and probes the clip; for ffmpeg, a run that
copies one packet). The
whole commands are measured too; "the job around the stages" is what the whole `renderrush
render` costs beyond one pass (probe, plan, segments starting inside a GOP, encoder
restarts, threads, history, stitch). The one pass encodes as the default job does (one x264
thread, as a job with a segment per core has, and the quality meter that job picks). Every figure is the median of `--repeats` runs, interleaved.

    python benchmarks/stage_profile.py /tmp/perf/clip1280x720.mp4 [--repeats 3] [--json out.json]
    python benchmarks/stage_profile.py --make /tmp/perf 1280x720 1920x1080   # the 20 s test clips
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FFMPEG_CASES = {
    "start-up": ["-map", "0:v", "-c", "copy", "-frames:v", "1", "-f", "null", "-"],
    "demux": ["-map", "0:v", "-c", "copy", "-f", "null", "-"],
    "decode": ["-map", "0:v", "-f", "null", "-"],
    "filters": ["-map", "0:v", "-vf", "hue=s=0", "-pix_fmt", "yuv420p", "-f", "null", "-"],
    "encode": ["-map", "0:v", "-vf", "hue=s=0", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23"]
    + ["-pix_fmt", "yuv420p", "-f", "null", "-"],
    "mux": ["-vf", "hue=s=0", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p"]
    + ["-c:a", "copy", "{out}"],
}
"""Cumulative ffmpeg runs: each adds one stage to the one before ("mux" is the whole command)."""

RR_STAGES = ("demux", "decode", "conversion", "filters", "encode", "quality", "mux")


def _cpu_of(command: list[str]) -> tuple[float, float]:
    """(CPU seconds of the whole process tree, wall seconds) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def _stage_pass(path: str, upto: str, threads: int) -> None:
    """One pass over the whole clip doing RenderRush's stages up to `upto` (in this process)."""
    import av
    import numpy as np

    from renderrush.core.resources import available_cores, encoder_threads
    from renderrush.media.decode import Converter, Picture
    from renderrush.media.encode import EncodeSettings, FramePool, SegmentWriter, VideoTags
    from renderrush.media.filters import FilterChain, Planes
    from renderrush.media.probe import probe
    from renderrush.media.quality import measured_writer

    info = probe(path)
    if upto == "start-up":
        return
    level = RR_STAGES.index(upto)
    picture = Picture.of(info)
    chain = FilterChain.parse("grayscale")
    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        stream.codec_context.thread_count = threads
        if level == 0:
            for _ in container.demux(stream):
                pass
            return
        pool = FramePool(picture, threads)
        writer = meter = None
        out = Path(tempfile.mkdtemp()) / "pass.mp4"
        if level >= RR_STAGES.index("encode"):
            # the encoder as in the default job, which has a segment per core
            settings = EncodeSettings(threads=encoder_threads(segments=available_cores()))
            tags = VideoTags.of(info, picture)
            if level >= RR_STAGES.index("quality"):  # the meter the job picks (x264's own figures there)
                writer, meter = measured_writer(out, info.fps, settings, picture, tags, info.frame_count)
            else:
                writer = SegmentWriter(out, info.fps, settings, picture, tags)
            if level < RR_STAGES.index("mux"):
                # packets still reach the meter, not the file
                writer._mux = lambda packets: writer.on_packets(packets) if writer.on_packets and packets else None  # type: ignore[method-assign]
        convert = None
        for frame in container.decode(stream):
            if level < 2:
                continue
            convert = convert or Converter(picture, chain.pixel_format, threads, frame)
            frame = convert(frame)
            target, views = pool.take()
            for source, view in zip(_views(frame, picture), views):
                np.copyto(view, source)
            if level >= RR_STAGES.index("filters"):
                chain.apply_planes(Planes(*views))
            if writer is not None:
                if meter is not None:
                    meter.keep(target)
                writer.write(target)
            pool.give_back(target)
        if writer is not None:  # the meter's figures come as the encoder closes
            writer.finish() if level >= RR_STAGES.index("quality") else writer.abandon()
            if meter is not None:
                meter.finish()
                meter.close()
        out.unlink(missing_ok=True)


def _views(frame, picture):  # type: ignore[no-untyped-def]
    from renderrush.media.decode import plane_views

    return plane_views(frame, picture.width, picture.height)


def profile(path: str, repeats: int) -> dict[str, object]:
    import av

    from renderrush.core.resources import threads_per_worker
    from renderrush.media.ffmpeg import ffmpeg_command

    with av.open(path) as container:
        frames = container.streams.video[0].frames
    tmp = Path(tempfile.mkdtemp())
    ffmpeg = [*ffmpeg_command()[:1], "-hide_banner", "-loglevel", "error", "-y", "-i", path]
    py = [sys.executable, "-c"]
    cases: dict[str, list[str]] = {
        f"ffmpeg {k}": ffmpeg + [a.format(out=tmp / "ff.mp4") for a in v] for k, v in FFMPEG_CASES.items()
    }
    for stage in ["start-up", *RR_STAGES]:
        cases[f"rr {stage}"] = [
            *py,
            f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
            f"import stage_profile as s; s._stage_pass({path!r}, {stage!r}, {threads_per_worker(1)})",
        ]
    rr = [
        sys.executable,
        "-m",
        "renderrush",
        "render",
        path,
        "-o",
        str(tmp / "rr.mp4"),
        "--filters",
        "grayscale",
        "--preset",
        "veryfast",
        "--crf",
        "23",
        "--force",
        "--no-progress",
    ]
    cases["rr render (default)"] = rr
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    load_before = os.getloadavg()
    for _ in range(repeats):
        for name, command in cases.items():
            runs[name].append(_cpu_of(command))
    load_after = os.getloadavg()
    cpu = {name: statistics.median(c for c, _ in values) for name, values in runs.items()}
    wall = {name: statistics.median(w for _, w in values) for name, values in runs.items()}
    return {
        "path": path,
        "frames": frames,
        "repeats": repeats,
        "load_before": load_before,
        "load_after": load_after,
        "cpu_s": cpu,
        "wall_s": wall,
    }


def table(result: dict[str, object]) -> str:
    """The per-stage table, in CPU ms per frame (differences of the cumulative runs)."""
    cpu: dict[str, float] = result["cpu_s"]  # type: ignore[assignment]
    frames: int = result["frames"]  # type: ignore[assignment]

    def ms(seconds: float) -> str:
        return f"{1000 * seconds / frames:.2f}"

    rows = []
    ff = ["start-up", *list(FFMPEG_CASES)[1:]]
    previous = 0.0
    ff_stage = {}
    for stage in ff:
        ff_stage[stage] = cpu[f"ffmpeg {stage}"] - previous
        previous = cpu[f"ffmpeg {stage}"]
    rr_import = cpu["rr start-up"]
    previous = rr_import
    rr_stage = {"start-up": rr_import}
    for stage in RR_STAGES:
        rr_stage[stage] = cpu[f"rr {stage}"] - previous
        previous = cpu[f"rr {stage}"]
    default = cpu["rr render (default)"]
    rr_stage["the job around the stages"] = default - previous
    rows.append("| stage | ffmpeg | RenderRush |")
    rows.append("|---|---:|---:|")
    for stage in [
        "start-up",
        "demux",
        "decode",
        "conversion",
        "filters",
        "encode",
        "quality",
        "mux",
        "the job around the stages",
    ]:
        f = ff_stage.get(stage)
        r = rr_stage.get(stage)
        rows.append(f"| {stage} | {ms(f) if f is not None else '-'} | {ms(r) if r is not None else '-'} |")
    rows.append(f"| **whole command** | **{ms(cpu['ffmpeg mux'])}** | **{ms(default)}** |")
    return "\n".join(rows)


def make_clips(folder: str, sizes: list[str]) -> None:
    from clips import camera_clip  # benchmarks/clips.py, beside this script

    for size in sizes:
        out = Path(folder) / f"clip{size}.mp4"
        if not out.exists():
            camera_clip(out, seconds=20, size=size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("inputs", nargs="+")
    parser.add_argument("--make", action="store_true", help="make 20 s clips: FOLDER SIZE [SIZE ...]")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.make:
        make_clips(args.inputs[0], args.inputs[1:])
        return
    results = []
    for path in args.inputs:
        result = profile(path, args.repeats)
        results.append(result)
        print(f"\n{path}: {result['frames']} frames, load {result['load_before']} -> {result['load_after']}")
        print(table(result))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
