"""The `renderrush` command line: the same jobs as the Python API, with tqdm progress bars.
Errors print one line on stderr and exit with status 1 (no traceback)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Callable, Sequence

from tqdm import tqdm

from .compare import compare
from .engine import LOCAL_SCHEDULERS, render
from .errors import RenderRushError
from .filters import available_filters
from .probe import probe
from .progress import FRAMES, STITCHED, STITCHING, ProgressEvent
from .render import PRESETS
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
    parser.add_argument("--workers", type=int, default=None, help="parallel workers (default: usable cores)")
    parser.add_argument("--segment-seconds", type=float, default=None, help="segment length (default: ~4 segments per worker, at least 2 s)")
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
    return parser


def _emit(args: argparse.Namespace, data: dict, text: str) -> None:
    print(json.dumps(data, indent=2) if getattr(args, "json", False) else text)


def _cmd_sample(args: argparse.Namespace) -> None:
    path = make_sample_video(args.output, seconds=args.seconds, size=args.size, fps=args.fps, audio=not args.no_audio)
    print(f"wrote {path}")


def _cmd_probe(args: argparse.Namespace) -> None:
    info = probe(args.input).to_dict()
    _emit(args, info, "\n".join(f"{key:>14}: {value}" for key, value in info.items()))


def _run_job(args: argparse.Namespace, job: Callable[..., object], **extra: object) -> object:
    bars = ProgressBars(enabled=not args.no_progress)
    try:
        return job(
            args.input, filters=args.filters, workers=args.workers, segment_seconds=args.segment_seconds,
            scheduler=args.scheduler, preset=args.preset, crf=args.crf, progress=bars,
            shared_storage=args.shared_storage, **extra,
        )  # fmt: skip
    finally:
        bars.close()


def _cmd_render(args: argparse.Namespace) -> None:
    result = _run_job(args, render, output=args.output, resume=args.resume)
    _emit(
        args, result.to_dict(),
        f"wrote {result.output}: {result.frames} frames in {result.wall_seconds:.2f} s ({result.fps:.0f} fps), "
        f"{len(result.segments)} segments on {result.workers} {result.scheduler} workers, CPU {result.cpu_percent:.0f}%",
    )  # fmt: skip


def _cmd_compare(args: argparse.Namespace) -> None:
    result = _run_job(args, compare, keep_outputs=args.keep)
    _emit(args, result.to_dict(), result.summary())


def _cmd_filters(args: argparse.Namespace) -> None:
    print("\n".join(spec.usage() for spec in available_filters().values()))


COMMANDS = {"sample": _cmd_sample, "probe": _cmd_probe, "render": _cmd_render, "compare": _cmd_compare, "filters": _cmd_filters}


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
