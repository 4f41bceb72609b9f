"""Results of a job: sequential-vs-parallel chart, before/after frames, the output video
inline and a JSON report to download; plus a scaling chart for worker sweeps."""

from __future__ import annotations

import base64
import html
import os
from pathlib import Path
from typing import Any

import ipywidgets as w
import plotly.graph_objects as go

from ..jobs.result import Comparison, JobResult
from ..media.codecs import CODECS
from ._common import (
    Component,
    fmt_bytes,
    fmt_seconds,
    frame_preview,
    message_html,
    sync_figure,
)
from .figure import Figure

MAX_INLINE_VIDEO_BYTES = 50 * 1000 * 1000


def traffic_html(result: JobResult) -> str:
    """The bytes a cluster job sent to each worker and in all ("" for a local job)."""
    if not result.input_bytes_to_workers:
        return ""
    size = result.input.stat().st_size if result.input.exists() else 0
    ratio = f" ({result.input_bytes_to_workers / size:.2f}x the input)" if size else ""
    each = ", ".join(
        f"{html.escape(worker)} {fmt_bytes(sent)}" for worker, sent in sorted(result.input_bytes_by_worker.items())
    )
    return (
        f"<br>Sent to workers: {fmt_bytes(result.input_bytes_to_workers)}{ratio}"
        + (f" ({each})" if each else "")
        + f"; back from workers: {fmt_bytes(result.output_bytes_from_workers)}."
    )


def download_link(path: str | os.PathLike, data: bytes | None = None, mime: str = "application/json") -> str:
    """HTML link that downloads `path`'s content from the browser (a data: URL, so it
    works wherever the notebook runs: locally, on Binder, behind a proxy)."""
    path = Path(path)
    payload = base64.b64encode(data if data is not None else path.read_bytes()).decode("ascii")
    name = html.escape(path.name)
    return f'<a download="{name}" href="data:{mime};base64,{payload}" target="_blank">⬇ Download {name}</a>'


class ResultsView(Component):
    """What a finished job produced.

    Parameters
    ----------
    work_dir:
        Folder for exported reports (`work_dir/reports`).
    max_inline_video_bytes:
        Outputs up to this size play inline; larger ones get a link instead.
    width:
        Chart width in pixels (None: Plotly's default).

    `show_render(result, record)` and `show_comparison(comparison, record)` fill the
    view: a bar chart of wall time (sequential vs parallel, with speedup and
    efficiency), a before/after frame at `frame_at` seconds (the slider picks another),
    the output video, and an "Export JSON report" button that writes the job's report
    (`renderrush.recording.report.job_report`) when the job's history `record` is given.
    """

    def __init__(
        self,
        work_dir: str | os.PathLike = "renderrush-output",
        max_inline_video_bytes: int = MAX_INLINE_VIDEO_BYTES,
        width: int | None = None,
    ) -> None:
        super().__init__()
        self.work_dir = Path(work_dir)
        self.max_inline_video_bytes = max_inline_video_bytes
        self.result: JobResult | None = None
        self.comparison: Comparison | None = None
        self.record: Any = None
        self.report_path: Path | None = None
        self.input_path: Path | None = None
        self.output_path: Path | None = None
        self.summary = w.HTML(message_html("No results yet: render or compare a video."))
        self.chart = Figure(
            data=[go.Bar(x=[], y=[], text=[], textposition="auto", marker={"color": ["#7f7f7f", "#1f77b4"]})],
            layout=go.Layout(
                height=280,
                width=width,
                margin={"l": 50, "r": 10, "t": 50, "b": 40},
                title={"text": "Wall time"},
                yaxis={"title": {"text": "seconds"}},
            ),
        )
        self.frame_at = w.FloatSlider(
            value=0.0,
            min=0.0,
            max=1.0,
            step=0.1,
            description="Frame at (s)",
            continuous_update=False,
            layout=w.Layout(width="420px"),
        )
        self.frame_at.observe(lambda _: self.refresh_frames(), names="value")
        self.before = w.Image(format="jpeg", layout=w.Layout(max_width="420px"))
        self.after = w.Image(format="jpeg", layout=w.Layout(max_width="420px"))
        self.frames_box = w.HBox(
            [
                w.VBox([w.HTML("<b>Before</b> (input)"), self.before]),
                w.VBox([w.HTML("<b>After</b> (output)"), self.after]),
            ]
        )
        self.video_box = w.VBox()
        self.export_button = w.Button(
            description="Export JSON report", icon="download", disabled=True, layout=w.Layout(width="auto")
        )
        self.export_button.on_click(lambda _: self.export_report())
        self.export_link = w.HTML()
        self.widget = w.VBox(
            [
                w.HTML("<b>Results</b>"),
                self.summary,
                self.chart,
                self.frame_at,
                self.frames_box,
                self.video_box,
                w.HBox([self.export_button, self.export_link]),
            ]
        )
        self.widget.add_class("rr-results")
        self.chart.add_class("rr-results-chart")

    def __repr__(self) -> str:
        shown = "comparison" if self.comparison else "render" if self.result else "nothing yet"
        return f"<ResultsView: {shown}>"

    # ---- filling the view ---------------------------------------------------------------
    def show_render(self, result: JobResult, record: Any = None) -> None:
        """Show one render's figures, frames, video and (with `record`) its report export."""
        with self._lock:
            self.result, self.comparison, self.record = result, None, record
            self.summary.value = (
                f"<b>{html.escape(result.output.name)}</b>: {result.frames} frames in {fmt_seconds(result.wall_seconds)} "
                f"({result.fps:.0f} frames/s) with {_count(result.workers, 'worker')}, {result.scheduler} scheduler, "
                f"{_count(len(result.segments), 'segment')}, filters <code>{html.escape(result.filters)}</code>, "
                f"CPU {result.cpu_percent:.0f}% of all cores. {output_html(result)} "
                "Run <i>Compare</i> to measure the speedup." + traffic_html(result)
            )
            with self.chart.batch_update():
                bar = self.chart.data[0]
                bar.x = [f"{result.scheduler} ({result.workers} workers)"]
                bar.y = [round(result.wall_seconds, 3)]
                bar.text = [f"{result.wall_seconds:.2f} s · {result.fps:.0f} fps"]
                bar.marker.color = ["#1f77b4"]
                self.chart.layout.title.text = "Wall time"
            sync_figure(self.chart)
            self._show_media(result.input, result.output, result.info.duration)

    def show_comparison(self, comparison: Comparison, record: Any = None) -> None:
        """Show a comparison: the two wall times with speedup and efficiency, frames, video."""
        with self._lock:
            self.result, self.comparison, self.record = comparison.parallel, comparison, record
            seq, par = comparison.sequential, comparison.parallel
            self.summary.value = "<pre style='margin:0'>" + html.escape(comparison.summary()) + "</pre>"
            with self.chart.batch_update():
                bar = self.chart.data[0]
                bar.x = ["sequential (1 at a time)", f"parallel ({par.workers} workers)"]
                bar.y = [round(seq.wall_seconds, 3), round(par.wall_seconds, 3)]
                bar.text = [f"{r.wall_seconds:.2f} s · {r.fps:.0f} fps" for r in (seq, par)]
                bar.marker.color = ["#7f7f7f", "#1f77b4"]
                self.chart.layout.title.text = (
                    f"Speedup {comparison.speedup:.2f}× · efficiency {comparison.efficiency:.0%} "
                    f"with {par.workers} workers (ideal: {par.workers}×)"
                )
            sync_figure(self.chart)
            self._show_media(par.input, par.output if par.output.exists() else None, par.info.duration)

    def show_record(self, record: Any) -> None:
        """Show a finished job of the history (the page's first load shows the last one): its
        figures from the record, and its frames and video while the files are still there."""
        details = record.details or {}
        runs = [details.get("sequential", {}), details.get("parallel", {})] if record.kind == "compare" else [details]
        if record.status != "finished" or not all(run.get("wall_seconds") for run in runs):
            raise ValueError(f"job {record.id} did not finish, so it has no results to show")
        with self._lock:
            self.result, self.comparison, self.record = None, None, record
            when = record.created_at[:19].replace("T", " ")
            labels = (
                ["sequential (1 at a time)", f"parallel ({record.workers} workers)"]
                if len(runs) == 2
                else [f"{record.scheduler} ({record.workers} workers)"]
            )
            figures = (
                f"speedup {record.speedup:.2f}×, efficiency {record.efficiency:.0%}"
                if record.kind == "compare"
                else (
                    f"{record.frames} frames in {fmt_seconds(record.wall_seconds)} ({record.fps_rendered:.0f} frames/s)"
                )
            )
            self.summary.value = (
                f"Last job in the history (job {record.id}, {record.kind}, {html.escape(when)} UTC): "
                f"<b>{html.escape(record.input or '?')}</b>, {figures}, {record.workers} worker(s), "
                f"filters <code>{html.escape(record.filters or 'none')}</code>."
            )
            with self.chart.batch_update():
                bar = self.chart.data[0]
                bar.x = labels
                bar.y = [round(run["wall_seconds"], 3) for run in runs]
                bar.text = [f"{run['wall_seconds']:.2f} s · {run.get('fps', 0):.0f} fps" for run in runs]
                bar.marker.color = ["#7f7f7f", "#1f77b4"] if len(runs) == 2 else ["#1f77b4"]
                self.chart.layout.title.text = (
                    f"Speedup {record.speedup:.2f}× · efficiency {record.efficiency:.0%} with {record.workers} workers"
                    if record.kind == "compare"
                    else "Wall time"
                )
            sync_figure(self.chart)
            last = runs[-1]
            source, output = Path(str(last.get("input", ""))), Path(str(last.get("output", "")))
            if last.get("input") and source.is_file():
                self._show_media(
                    source, output if last.get("output") and output.is_file() else None, float(record.duration or 1.0)
                )
            else:
                self.input_path = self.output_path = None
                self.video_box.children = [
                    w.HTML(
                        message_html(
                            "The input of this job is no longer on disk, so there are no frames or video to show.",
                            "info",
                        )
                    )
                ]
                self.export_button.disabled = False

    def _show_media(self, input_path: Path, output_path: Path | None, duration: float) -> None:
        self.input_path, self.output_path = Path(input_path), Path(output_path) if output_path else None
        self.frame_at.max = max(0.1, round(duration - 0.1, 1))
        if abs(self.frame_at.value - duration / 2) > 0.05:
            self.frame_at.value = round(duration / 2, 1)  # refreshes the frames through the observer
        else:
            self.refresh_frames()
        self._show_video()
        self.report_path = None
        self.export_link.value = (
            ""
            if self.record is not None
            else message_html("No history record for this job, so there is no report to export.", "warn")
        )
        self.export_button.disabled = self.record is None

    def refresh_frames(self) -> None:
        """Show the input and output frames at the slider's time."""
        if self.input_path is None:
            return
        self.before.value = frame_preview(self.input_path, self.frame_at.value)
        self.after.value = frame_preview(self.output_path, self.frame_at.value) if self.output_path else b""
        self.after.layout.display = None if self.output_path else "none"  # no broken-image icon without an output

    def _show_video(self) -> None:
        path = self.output_path
        if path is None:
            self.video_box.children = [w.HTML(message_html("The output was not kept, so there is no video to play."))]
            return
        size = path.stat().st_size
        if size <= self.max_inline_video_bytes:
            video = w.Video(
                value=path.read_bytes(),
                format="mp4",
                autoplay=False,
                loop=False,
                controls=True,
                layout=w.Layout(max_width="640px"),
            )
            self.video_box.children = [w.HTML(f"<b>Output video</b> ({fmt_bytes(size)})"), video]
        else:
            self.video_box.children = [
                w.HTML(
                    message_html(
                        f"The output {path.name} is {fmt_bytes(size)}, too large to play inline; it is at {path}.",
                        "info",
                    )
                )
            ]

    # ---- export -------------------------------------------------------------------------
    def export_report(self, path: str | os.PathLike | None = None) -> Path:
        """Write the shown job's JSON report (to `work_dir/reports/job-<id>.json` by
        default), offer it as a download and return where it was written."""
        from ..recording.report import job_report, write_report

        if self.record is None:
            raise ValueError("no history record for the shown job: nothing to export")
        if path is None:
            folder = self.work_dir / "reports"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"job-{self.record.id}.json"
        self.report_path = write_report(job_report(self.record), path)
        self.export_link.value = (
            f"{download_link(self.report_path)} <small>(saved as {html.escape(str(self.report_path))})</small>"
        )
        return self.report_path


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def output_html(result: JobResult) -> str:
    """What the output is and how good: codec, bits, HDR kept or tone-mapped, worst segment's quality."""
    encode, hdr = result.encode, result.info.hdr
    text = f"{CODECS[encode.codec].label}, {encode.depth}-bit"
    if hdr is not None:
        text += ", HDR tone-mapped to SDR" if encode.tonemap else f", {hdr.format} kept"
    worst = result.quality
    if worst.get("worst_psnr") is not None:
        text += f"; worst segment PSNR {worst['worst_psnr']:.1f} dB, SSIM {worst['worst_ssim']:.3f}"
        if worst.get("worst_vmaf") is not None:
            text += f", VMAF {worst['worst_vmaf']:.1f}"
    return html.escape(text) + "."
