"""The `renderrush` command line: the same jobs as the Python API, with tqdm progress bars.
Errors print one line on stderr and exit with status 1 (no traceback)."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import warnings
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .segments.progress import ProgressEvent

from .core.blas import keep_blas_to_one_thread
from .core.errors import RenderRushError, RenderRushWarning, SettingsError
from .core.signals import Stopped, exit_status, stop_on_signals
from .jobs.options import cli_options, is_cluster

# Only the standard library and core/options modules are imported at the top: `--help` and a mistyped
# command answer at once. Each command imports what it uses (PyAV, NumPy, OpenCV, dask, jsonschema).


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
        self.bars: dict[str, Any] = {}

    def __call__(self, event: ProgressEvent) -> None:
        from tqdm import tqdm

        from .segments.progress import FRAMES, STITCHED, STITCHING

        label = event.job or "render"
        bar = self.bars.get(label)
        if bar is None:
            bar = self.bars[label] = tqdm(
                total=event.frames_total,
                desc=label,
                unit="frame",
                disable=not self.enabled,
                file=sys.stderr,
                dynamic_ncols=True,
            )
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


FLAG_TYPES: dict[str, Callable[[str], Any]] = dict(workers=int, segment_seconds=float, crf=float, target_quality=float)
"""How the CLI reads the non-text, non-switch options (the rest are strings or switches)."""


def _job_options(parser: argparse.ArgumentParser, command: str) -> None:
    """One flag per `RenderOptions` field the command takes (`options.cli_options`)."""
    for name, default, help_text in cli_options(command):
        flag = "--" + name.replace("_", "-")
        if isinstance(default, bool):
            parser.add_argument(flag, action="store_true", help=help_text)
        elif name == "scheduler":  # None: chosen from the filters (`default_scheduler`)
            parser.add_argument(flag, default=None, metavar="NAME|ADDRESS", help=help_text)
        else:
            parser.add_argument(flag, type=FLAG_TYPES.get(name, str), default=default, help=help_text)
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="renderrush", description="Parallel video rendering with dask: split, filter, encode H.264, stitch."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sample = commands.add_parser("sample", help="write a generated test video (pattern + tone)")
    sample.add_argument("output", help="file to write: .mp4, .m4v, .mov, .mkv or .avi")
    sample.add_argument("--seconds", type=float, default=10, help="length (default 10)")
    sample.add_argument("--size", type=_size, default=(1280, 720), help="WIDTHxHEIGHT (default 1280x720)")
    sample.add_argument("--fps", default="30", help="frame rate, e.g. 30 or 30000/1001 (default 30)")
    sample.add_argument("--no-audio", action="store_true", help="leave out the tone track")

    probe_cmd = commands.add_parser("probe", help="show a video's size, frame rate, exact frame count, codecs")
    probe_cmd.add_argument("input")
    probe_cmd.add_argument("--json", action="store_true", help="print one JSON object on stdout")

    render_cmd = commands.add_parser("render", help="render a video through a filter chain in parallel segments")
    render_cmd.add_argument("input")
    render_cmd.add_argument(
        "-o",
        "--output",
        required=True,
        help="output file: .mp4, .m4v, .mov, .mkv or .webm (the container; written on success)",
    )
    _job_options(render_cmd, "render")

    compare_cmd = commands.add_parser("compare", help="render sequentially and in parallel, report speedup")
    compare_cmd.add_argument("input")
    compare_cmd.add_argument("--keep", default=None, metavar="DIR", help="keep both outputs in DIR")
    _job_options(compare_cmd, "compare")

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
    dashboard.add_argument(
        "--ip", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)"
    )
    dashboard.add_argument(
        "--notebook", default=None, help="notebook to serve (default: the dashboard page installed with renderrush)"
    )
    dashboard.add_argument(
        "--output-root",
        default=None,
        metavar="DIR",
        help="each visit writes under its own folder in DIR (default $RENDERRUSH_DASHBOARD_ROOT, "
        "else renderrush-dashboard in the temporary folder)",
    )
    return parser


def _emit(args: argparse.Namespace, data: dict, text: str) -> None:
    print(json.dumps(data, indent=2) if getattr(args, "json", False) else text)


def _cmd_sample(args: argparse.Namespace) -> None:
    from .media.samples import make_sample_video

    path = make_sample_video(args.output, seconds=args.seconds, size=args.size, fps=args.fps, audio=not args.no_audio)
    print(f"wrote {path}")


def rotation_text(degrees: int) -> str:
    """A rotation as `ffmpeg -i` prints it (counter-clockwise degrees), with the direction in words."""
    way = "counter-clockwise" if degrees > 0 else "clockwise"
    turn = "upside down" if abs(degrees) == 180 else f"turned {abs(degrees)}° {way}"
    return f"{degrees} (as ffmpeg reports it: the picture is shown {turn})" if degrees else "0"


def _cmd_probe(args: argparse.Namespace) -> None:
    from .media.probe import probe

    info = probe(args.input).to_dict()
    shown = {**info, "rotation": rotation_text(info["rotation"])}
    _emit(args, info, "\n".join(f"{key:>14}: {value}" for key, value in shown.items()))


def default_scheduler(filters: str | None) -> str:
    """The CLI's scheduler when none is given: threads for built-in filters, whose work (PyAV
    decode, OpenCV/NumPy, x264) runs outside the GIL, so threads start at once and rendered a
    20 s 720p clip at least as fast as processes (docs/benchmarks.md); processes for a chain
    with any filter registered outside RenderRush, which may hold the GIL."""
    from .media.filters import FilterChain

    builtin = all(step.spec.bgr.__module__ == FilterChain.__module__ for step in FilterChain.parse(filters).steps)
    return "threads" if builtin else "processes"


def _say_cluster(scheduler: object) -> logging.Handler | None:
    """Print the cluster's dashboard link on stderr when the job connects (cluster.py logs it)."""
    if not is_cluster(scheduler):
        return None
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("renderrush: %(message)s"))
    logger = logging.getLogger("renderrush.backends.cluster")
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return handler


def _run_job(args: argparse.Namespace, job: Callable[..., Any], **extra: object) -> Any:
    from .jobs.options import RenderOptions

    options = RenderOptions.from_mapping({**vars(args), "scheduler": args.scheduler or default_scheduler(args.filters)})
    bars = ProgressBars(enabled=not args.no_progress)
    handler = _say_cluster(options.scheduler)
    try:
        return job(args.input, options=options, progress=bars, **extra)
    finally:
        bars.close()
        if handler is not None:
            logging.getLogger("renderrush.backends.cluster").removeHandler(handler)


def _say_recommendation(recommendation: dict | None) -> None:
    """When workers were not given, say on stderr what the advisor chose and why."""
    if recommendation:
        workers = recommendation["workers"]
        print(
            f"advisor: {workers} worker{'s' if workers != 1 else ''}, {recommendation['segment_seconds']:.1f} s "
            f"segments ({recommendation['method']}): {recommendation['reason']}",
            file=sys.stderr,
        )


def _where(result: Any) -> str:
    """Where a job's segments ran, for the summary line."""
    count = len(result.segments)
    if result.scheduler == "sync":
        return f"{count} segment{'s' if count != 1 else ''} in this process (no worker pool)"
    return f"{count} segments on {result.workers} {result.scheduler} workers"


def _cmd_render(args: argparse.Namespace) -> None:
    from .jobs.engine import render

    result = _run_job(args, render, output=args.output)
    _say_recommendation(result.recommendation)
    if result.warnings:  # one line, whatever the number of things the output could not keep
        print(f"renderrush: warning: {'; '.join(result.warnings)}", file=sys.stderr)
    _emit(
        args,
        result.to_dict(),
        f"wrote {result.output}: {result.frames} frames in {result.wall_seconds:.2f} s ({result.fps:.0f} fps), "
        f"{_where(result)}, CPU {result.cpu_percent:.0f}%"
        f"{'' if result.job_id is None else f'; history job {result.job_id}'}",
    )


def _cmd_compare(args: argparse.Namespace) -> None:
    from .jobs.compare import compare

    result = _run_job(args, compare, keep_outputs=args.keep)
    _emit(args, result.to_dict(), result.summary())


def _cmd_filters(args: argparse.Namespace) -> None:
    from .media.filters import available_filters

    print("\n".join(spec.usage() for spec in available_filters().values()))


def _cell(value: object) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def _cmd_history(args: argparse.Namespace) -> None:
    from .recording.history import History
    from .recording.records import CLI, shown_columns

    names = [column.name for column in shown_columns(CLI)]
    records = History().list(kind=args.kind, status=args.status, limit=args.limit)
    rows = [[_cell(getattr(r, name)) for name in names] for r in records]
    widths = [max(len(name), *(len(row[i]) for row in rows)) for i, name in enumerate(names)]
    table = [" ".join(name.ljust(w) for name, w in zip(names, widths))]
    table += [" ".join(v.ljust(w) for v, w in zip(row, widths)) for row in rows] or ["(no jobs recorded yet)"]
    _emit(args, {"jobs": [r.to_dict() for r in records]}, "\n".join(table))


def _cmd_report(args: argparse.Namespace) -> None:
    from .recording.history import History
    from .recording.report import history_report, job_report, write_report

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
    from .recording.health import system_health

    health = system_health(args.work_dir)
    lines = [f"health {health.score}/100: {health.verdict}"]
    lines += [f"  {c.name:<8} {c.score:5.0f}  (weight {c.weight:.2f})  {c.detail}" for c in health.components]
    _emit(args, health.to_dict(), "\n".join(lines))


def _cmd_advise(args: argparse.Namespace) -> None:
    from .media.filters import FilterChain
    from .media.probe import probe
    from .recording.advisor import advise
    from .recording.history import History

    info = probe(args.input)
    advice = advise(info, str(FilterChain.parse(args.filters)), History())
    _emit(
        args,
        advice.to_dict(),
        f"workers {advice.workers}, segments of {advice.segment_seconds:.1f} s ({advice.method})\n{advice.reason}",
    )


def _cmd_dashboard(args: argparse.Namespace) -> None:
    from .webapp.server import serve  # Voila is an optional dependency

    serve(args.notebook, port=args.port, ip=args.ip, output_root=args.output_root)


COMMANDS = {
    "sample": _cmd_sample,
    "probe": _cmd_probe,
    "render": _cmd_render,
    "compare": _cmd_compare,
    "filters": _cmd_filters,
    "history": _cmd_history,
    "report": _cmd_report,
    "health": _cmd_health,
    "advise": _cmd_advise,
    "dashboard": _cmd_dashboard,
}


JOBS = ("render", "compare")
"""Commands that start worker processes: they stop cleanly on SIGTERM and SIGHUP."""


def _say(line: str) -> None:
    try:
        print(line, file=sys.stderr)
    except OSError:  # SIGHUP: the terminal is gone, and with it stderr
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `renderrush` command; returns the exit status."""
    keep_blas_to_one_thread()  # before NumPy loads
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        return _main(args)


def _show_warning(message: Warning | str, category: type[Warning], *rest: object, **options: object) -> None:
    """RenderRush's own warnings as one line on stderr, like its errors."""
    if issubclass(category, RenderRushWarning):
        _say(f"renderrush: warning: {message}")
    else:
        _python_show_warning(message, category, *rest, **options)  # type: ignore[arg-type]


_python_show_warning = warnings.showwarning


def _main(args: argparse.Namespace) -> int:
    try:
        # jobs stop on SIGTERM and SIGHUP as on Ctrl-C, workers and all (see signals.py)
        with stop_on_signals() if args.command in JOBS else nullcontext():
            COMMANDS[args.command](args)
    except RenderRushError as exc:  # in command-line terms where the message names Python calls
        print(f"renderrush: error: {exc.cli_message or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        resume = " (run the same command with --resume to continue)" if args.command == "render" else ""
        how = f"stopped by {exc.name}" if isinstance(exc, Stopped) and exc.signum != signal.SIGINT else "interrupted"
        _say(f"renderrush: {how}; no output was written{resume}")
        return exit_status(exc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
