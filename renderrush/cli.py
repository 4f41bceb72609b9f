"""The `renderrush` command line: the same jobs as the Python API, with tqdm progress bars.
Errors print one line on stderr and exit with status 1 (no traceback)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Callable, Sequence

from tqdm import tqdm

from .compare import compare
from .engine import LOCAL_SCHEDULERS, is_cluster, render
from .errors import RenderRushError, SettingsError
from .filters import FilterChain, available_filters
from .health import system_health
from .history import History
from .recording import advise
from .probe import probe
from .progress import FRAMES, STITCHED, STITCHING, ProgressEvent
from .segment import PRESETS
from .report import history_report, job_report, write_report
from .samples import make_sample_video


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
        return width, height
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1280x720, got '{text}'") from None


class ProgressBars:
    """Turns progress events into one tqdm bar per job (total frames, fps, ETA)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bars: dict[str, tqdm] = {}

    def __call__(self, event: ProgressEvent) -> None:
        label = event.job or "render"
        bar = self.bars.get(label)
        if bar is None:
            bar = self.bars[label] = tqdm(
                total=event.frames_total, desc=label, unit="frame", disable=not self.enabled, file=sys.stderr,
                dynamic_ncols=True,
            )  # fmt: skip
        if event.kind in (FRAMES, STITCHING):
            bar.update(event.frames_done - bar.n)
            bar.set_postfix_str(
                "stitching" if event.kind == STITCHING else f"segments {event.segments_done}/{event.segments_total}"
            )
        elif event.kind == STITCHED:
            bar.set_postfix_str("done")
            bar.close()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def _job_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--filters", default=None, help='filter chain such as "grayscale,blur:5,contrast:1.3" (see `renderrush filters`)')
    parser.add_argument("--workers", type=int, default=None, help="parallel workers (render: the advisor's choice; compare: every usable core)")
    parser.add_argument("--segment-seconds", type=float, default=None, help="segment length (default: up to 2 segments per worker, at least 2 s)")
    parser.add_argument(
        "--scheduler", default="processes", metavar="NAME|ADDRESS",
        help=f"{', '.join(LOCAL_SCHEDULERS)} (default processes), 'local' for a dask LocalCluster, "
        "or a dask scheduler address such as tcp://10.0.0.5:8786",
    )  # fmt: skip
    parser.add_argument(
        "--shared-storage", action="store_true",
        help="cluster workers can read the input path and write beside the output (else the input is sent to them)",
    )  # fmt: skip
    parser.add_argument("--preset", default="veryfast", choices=PRESETS, help="x264 preset (default veryfast)")
    parser.add_argument("--crf", type=float, default=23, help="x264 quality, 0-51, lower is better (default 23)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="renderrush", description="Parallel video rendering with dask: split, filter, encode H.264, stitch.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sample = commands.add_parser("sample", help="write a generated test video (pattern + tone)")
    sample.add_argument("output", help="file to write: .mp4, .mov, .mkv or .avi")
    sample.add_argument("--seconds", type=float, default=10, help="length (default 10)")
    sample.add_argument("--size", type=_size, default=(1280, 720), help="WIDTHxHEIGHT (default 1280x720)")
    sample.add_argument("--fps", default="30", help="frame rate, e.g. 30 or 30000/1001 (default 30)")
    sample.add_argument("--no-audio", action="store_true", help="leave out the tone track")

    probe_cmd = commands.add_parser("probe", help="show a video's size, frame rate, exact frame count, codecs")
    probe_cmd.add_argument("input")
    probe_cmd.add_argument("--json", action="store_true", help="print one JSON object on stdout")

    render_cmd = commands.add_parser("render", help="render a video through a filter chain in parallel segments")
    render_cmd.add_argument("input")
    render_cmd.add_argument("-o", "--output", required=True, help="output .mp4 file (written only on success)")
    render_cmd.add_argument("--resume", action="store_true", help="reuse the segments an interrupted run of this job finished")
    _job_options(render_cmd)

    compare_cmd = commands.add_parser("compare", help="render sequentially and in parallel, report speedup")
    compare_cmd.add_argument("input")
    compare_cmd.add_argument("--keep", default=None, metavar="DIR", help="keep both outputs in DIR")
    _job_options(compare_cmd)

    commands.add_parser("filters", help="list the available filters and their parameters")

    history = commands.add_parser("history", help="list recorded jobs (newest first)")
    history.add_argument("--kind", choices=("render", "compare"), default=None)
    history.add_argument("--status", choices=("finished", "failed", "interrupted"), default=None)
    history.add_argument("--limit", type=int, default=20, help="at most this many jobs (default 20)")
    history.add_argument("--json", action="store_true", help="print one JSON object on stdout")

    report = commands.add_parser("report", help="export a job (or the whole history) as a JSON performance report")
    report.add_argument("job_id", nargs="?", type=int, help="job id from `renderrush history` (omit with --all)")
    report.add_argument("--all", action="store_true", help="export the whole history")
    report.add_argument("-o", "--output", required=True, help="JSON file to write")

    health = commands.add_parser("health", help="score this machine's headroom for rendering (0-100)")
    health.add_argument("--work-dir", default=".", help="folder whose free disk counts (default: current)")
    health.add_argument("--json", action="store_true", help="print one JSON object on stdout")

    advise = commands.add_parser("advise", help="recommend workers and segment length for a video")
    advise.add_argument("input")
    advise.add_argument("--filters", default=None, help="filter chain (past runs of the same chain are used)")
    advise.add_argument("--json", action="store_true", help="print one JSON object on stdout")

    dashboard = commands.add_parser("dashboard", help="serve the live dashboard as a web app (Voila) on this machine")
    dashboard.add_argument("--port", type=int, default=8866, help="port to listen on (default 8866)")
    dashboard.add_argument("--ip", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    dashboard.add_argument("--notebook", default=None, help="notebook to serve (default notebooks/03_live_dashboard.ipynb)")
    return parser


def _emit(args: argparse.Namespace, data: dict, text: str) -> None:
    print(json.dumps(data, indent=2) if getattr(args, "json", False) else text)


def _cmd_sample(args: argparse.Namespace) -> None:
    path = make_sample_video(args.output, seconds=args.seconds, size=args.size, fps=args.fps, audio=not args.no_audio)
    print(f"wrote {path}")


def _cmd_probe(args: argparse.Namespace) -> None:
    info = probe(args.input).to_dict()
    _emit(args, info, "\n".join(f"{key:>14}: {value}" for key, value in info.items()))


def _say_cluster(scheduler: str) -> logging.Handler | None:
    """Print the cluster's dashboard link on stderr when the job connects (cluster.py logs it)."""
    if not is_cluster(scheduler):
        return None
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("renderrush: %(message)s"))
    logger = logging.getLogger("renderrush.cluster")
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return handler


def _run_job(args: argparse.Namespace, job: Callable[..., object], **extra: object) -> object:
    bars = ProgressBars(enabled=not args.no_progress)
    handler = _say_cluster(args.scheduler)
    try:
        return job(
            args.input, filters=args.filters, workers=args.workers, segment_seconds=args.segment_seconds,
            scheduler=args.scheduler, preset=args.preset, crf=args.crf, progress=bars,
            shared_storage=args.shared_storage, **extra,
        )  # fmt: skip
    finally:
        bars.close()
        if handler is not None:
            logging.getLogger("renderrush.cluster").removeHandler(handler)


def _say_recommendation(recommendation: dict | None) -> None:
    """When workers were not given, say on stderr what the advisor chose and why."""
    if recommendation:
        print(f"advisor: {recommendation['workers']} workers, {recommendation['segment_seconds']:.1f} s segments "
              f"({recommendation['method']}): {recommendation['reason']}", file=sys.stderr)  # fmt: skip


def _cmd_render(args: argparse.Namespace) -> None:
    result = _run_job(args, render, output=args.output, resume=args.resume)
    _say_recommendation(result.recommendation)
    if result.warnings:  # one line, whatever the number of things the output could not keep
        print(f"renderrush: warning: {'; '.join(result.warnings)}", file=sys.stderr)
    _emit(
        args, result.to_dict(),
        f"wrote {result.output}: {result.frames} frames in {result.wall_seconds:.2f} s ({result.fps:.0f} fps), "
        f"{len(result.segments)} segments on {result.workers} {result.scheduler} workers, CPU {result.cpu_percent:.0f}%"
        f"{'' if result.job_id is None else f'; history job {result.job_id}'}",
    )  # fmt: skip


def _cmd_compare(args: argparse.Namespace) -> None:
    result = _run_job(args, compare, keep_outputs=args.keep)
    _emit(args, result.to_dict(), result.summary())


def _cmd_filters(args: argparse.Namespace) -> None:
    print("\n".join(spec.usage() for spec in available_filters().values()))


def _cell(value: object) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


HISTORY_COLUMNS = ("id", "created_at", "kind", "status", "input", "filters", "workers", "frames", "wall_seconds",
                   "fps_rendered", "speedup")  # fmt: skip


def _cmd_history(args: argparse.Namespace) -> None:
    records = History().list(kind=args.kind, status=args.status, limit=args.limit)
    rows = [[_cell(getattr(r, c)) for c in HISTORY_COLUMNS] for r in records]
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(HISTORY_COLUMNS)]
    table = [" ".join(c.ljust(w) for c, w in zip(HISTORY_COLUMNS, widths))]
    table += [" ".join(v.ljust(w) for v, w in zip(row, widths)) for row in rows] or ["(no jobs recorded yet)"]
    _emit(args, {"jobs": [r.to_dict() for r in records]}, "\n".join(table))


def _cmd_report(args: argparse.Namespace) -> None:
    store = History()
    if args.all:
        report = history_report(store.list())
    elif args.job_id is not None:
        report = job_report(store.get(args.job_id))
    else:
        raise SettingsError("give a job id (see `renderrush history`) or --all")
    path = write_report(report, args.output)
    print(f"wrote {path} ({len(report['jobs'])} job{'s' if len(report['jobs']) != 1 else ''})")


def _cmd_health(args: argparse.Namespace) -> None:
    health = system_health(args.work_dir)
    lines = [f"health {health.score}/100: {health.verdict}"]
    lines += [f"  {c.name:<8} {c.score:5.0f}  (weight {c.weight:.2f})  {c.detail}" for c in health.components]
    _emit(args, health.to_dict(), "\n".join(lines))


def _cmd_advise(args: argparse.Namespace) -> None:
    info = probe(args.input)
    advice = advise(info, str(FilterChain.parse(args.filters)), History())
    _emit(
        args, advice.to_dict(),
        f"workers {advice.workers}, segments of {advice.segment_seconds:.1f} s ({advice.method})\n{advice.reason}",
    )  # fmt: skip


def _cmd_dashboard(args: argparse.Namespace) -> None:
    from .dashboard import serve  # Voila is an optional dependency

    serve(args.notebook, port=args.port, ip=args.ip)


COMMANDS = {
    "sample": _cmd_sample, "probe": _cmd_probe, "render": _cmd_render, "compare": _cmd_compare,
    "filters": _cmd_filters, "history": _cmd_history, "report": _cmd_report, "health": _cmd_health,
    "advise": _cmd_advise, "dashboard": _cmd_dashboard,
}  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `renderrush` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        COMMANDS[args.command](args)
    except RenderRushError as exc:
        print(f"renderrush: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        resume = " (run the same command with --resume to continue)" if args.command == "render" else ""
        print(f"renderrush: interrupted; no output was written{resume}", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
