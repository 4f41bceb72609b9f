"""The control panel (video source, filters, settings, Render / Compare / Cancel) and the
dashboard that composes it with progress, gauges, results, history and health."""

from __future__ import annotations

import html
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as w

from ..core.resources import available_cores
from ..recording.advisor import Recommendation, advise
from ..recording.history import History
from ..recording.monitor import Sample
from ..recording.recorded import open_history
from ..segments.progress import STITCHED, ProgressEvent
from ._common import Component, error_sentence, message_html, section
from .cluster import ClusterChoice
from .filters import FilterEditor
from .gauges import LiveGauges
from .history import HistoryView
from .output import OutputChoice
from .progress import ProgressView
from .results import ResultsView
from .runner import Job, JobRunner
from .scheduler import SchedulerButtons
from .source import VideoSource
from .timeline import SegmentTimeline


class ControlPanel(Component):
    """Video source, filter chain, workers / segment seconds / scheduler, and the Render,
    Compare and Cancel buttons. Jobs run in a background thread (`JobRunner`), so the
    notebook stays responsive; progress, gauges and results components receive the events.

    Parameters
    ----------
    work_dir:
        Folder for samples, uploads, renders, comparison outputs and reports.
    history:
        A `History`, a database path, None for the default history, or False to record nothing.
    progress, gauges, results, history_view, timeline:
        Optional `ProgressView`, `LiveGauges`, `ResultsView`, `HistoryView` and `SegmentTimeline` to feed.
    filters:
        Initial filter chain.
    scheduler:
        Initial scheduler: "processes", "threads" or "sync" (shown as "in process"). The
        buttons show what runs: "in process" for one worker (`SchedulerButtons`).
    sample_seconds, sample_size:
        Initial length and resolution of the generated sample.
    on_finished:
        Called with the `Job` when a job has ended (from the job's thread).

    Workers and segment seconds are pre-set from `renderrush.recording.advisor.recommend` whenever
    a video is chosen (the "Advise" button repeats it). From Python: `source.generate()`,
    `render()`, `compare()`, `cancel()`, `wait()`; `job` is the latest `Job`.
    """

    def __init__(
        self,
        work_dir: str | os.PathLike = "renderrush-output",
        history: History | str | os.PathLike | None | bool = None,
        progress: ProgressView | None = None,
        gauges: LiveGauges | None = None,
        results: ResultsView | None = None,
        history_view: HistoryView | None = None,
        timeline: SegmentTimeline | None = None,
        filters: str | None = "grayscale",
        scheduler: str = "processes",
        sample_seconds: int = 6,
        sample_size: tuple[int, int] = (640, 360),
        on_finished: Callable[[Job], Any] | None = None,
    ) -> None:
        super().__init__()
        self.work_dir = Path(work_dir)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        if history_view is not None and history is None:
            self.history: History | None = history_view.history
        else:  # the engine's meaning: None the default history, False none
            self.history = open_history(history)
        self.progress, self.gauges, self.results, self.history_view = progress, gauges, results, history_view
        self.timeline = timeline
        self.on_finished = on_finished
        self.recommendation: Recommendation | None = None
        self._baselines: dict[tuple[str, str], float] = {}

        self.source = VideoSource(self.work_dir, seconds=sample_seconds, size=sample_size, on_change=self._on_source)
        self.filters = FilterEditor(filters)
        cores = available_cores()
        self.workers = w.IntSlider(
            value=cores, min=1, max=max(4, 2 * cores), description="Workers", continuous_update=False
        )
        self.segment_seconds = w.FloatSlider(
            value=2.0, min=0.5, max=30.0, step=0.5, description="Segment (s)", continuous_update=False
        )
        self.scheduler_buttons = SchedulerButtons(scheduler, self.workers)
        self.scheduler = self.scheduler_buttons.buttons
        self.advise_button = w.Button(
            description="Advise",
            icon="magic",
            tooltip="workers and segments from the advisor",
            layout=w.Layout(width="100px", min_width="100px"),
        )
        self.advise_button.on_click(lambda _: self.advise())
        # full width under the button: beside it the text ran as a narrow column, and the
        # widgets' line height (a control's, 28 px) spread its lines apart
        self.advice = w.HTML(layout=w.Layout(width="100%"))
        self.output = OutputChoice()
        self.runner = JobRunner(self.history if self.history is not None else False)
        self.runner.add_listener(self)
        self.widget = w.VBox(
            [
                section("1. Video", self.source.widget),
                section("2. Filters", self.filters.widget),
                self._settings_section(),
                section("4. Output", self.output.widget),
                self._run_section(),
            ]
        )
        self.widget.add_class("rr-control-panel")
        self.status.add_class("rr-panel-status")

    def __repr__(self) -> str:
        state = "running" if self.running else (self.job.status if self.job else "idle")
        return f"<ControlPanel: {state}>"

    # ---- state --------------------------------------------------------------------------
    @property
    def job(self) -> Job | None:
        """The latest job (running or ended)."""
        return self.runner.job

    @property
    def running(self) -> bool:
        return self.runner.running

    def settings(self) -> dict[str, Any]:
        """The job options the widgets currently hold."""
        return {
            "filters": self.filters.text,
            "workers": self.workers.value,
            "segment_seconds": float(self.segment_seconds.value),
            "scheduler": self.scheduler.value,
            **self.output.settings(),
        }

    def _settings_section(self) -> w.Widget:
        self.cluster = ClusterChoice(lambda: self.workers.value, local_widget=self.scheduler)
        return section(
            "3. Settings",
            self.workers,
            self.segment_seconds,
            self.cluster.widget,
            self.scheduler,
            self.advise_button,
            self.advice,
        )

    def _run_section(self) -> w.Widget:
        self.render_button = w.Button(description="Render", icon="play", button_style="success", disabled=True)
        self.compare_button = w.Button(
            description="Compare",
            icon="balance-scale",
            button_style="info",
            disabled=True,
            tooltip="render sequentially, then in parallel, and compare",
        )
        self.cancel_button = w.Button(description="Cancel", icon="stop", button_style="danger", disabled=True)
        self.render_button.on_click(lambda _: self._start(self.render))
        self.compare_button.on_click(lambda _: self._start(self.compare))
        self.cancel_button.on_click(lambda _: self.cancel())
        self.status = w.HTML(message_html("Choose a video to start: generate a sample or upload one."))
        # a segment of the last render again at a better quality (its others reused): the timeline
        # colours each segment by its quality, so the one to choose is the worst
        self.segment_choice = w.BoundedIntText(value=0, min=0, max=0, description="Segment", disabled=True)
        self.rerender_button = w.Button(
            description="Re-render sharper",
            icon="redo",
            disabled=True,
            tooltip="render this segment of the last render again at CRF 4 lower, reusing the others",
        )
        self.rerender_button.on_click(lambda _: self._start(self.rerender))
        buttons = w.HBox([self.render_button, self.compare_button, self.cancel_button])
        return section("5. Run", buttons, w.HBox([self.segment_choice, self.rerender_button]), self.status)

    def job_settings(self) -> dict[str, Any]:
        """`settings()` with the scheduler "Run on" gives: a cluster is checked first (`ClusterError`)."""
        decoder = self.source.info.codec if self.source.info is not None else None
        return {**self.settings(), "scheduler": self.cluster.scheduler(self.scheduler.value, decoder)}

    def rerender(self, segment: int | None = None) -> Job:
        """Render one segment of the last render again at a better quality (CRF 4 lower) and
        write its output anew, the other segments reused (returns at once)."""
        job = self.job
        if job is None or job.result is None or job.status != "finished":
            raise ValueError("render a video first: a segment of the last render is rendered again")
        result, segment = job.result, int(self.segment_choice.value if segment is None else segment)
        request = {"input": str(result.input), "output": str(result.output), "filters": result.filters}
        return self.runner.start("rerender", **request, workers=1, scheduler="sync", base=result, segment=segment)

    def _set_status(self, text: str, kind: str = "info") -> None:
        self.status.value = message_html(text, kind)

    def _update_buttons(self, busy: bool | None = None) -> None:
        """Buttons for the panel's state; `busy=False` when a job is ending (its runner still runs)."""
        busy = self.running if busy is None else busy
        has_video = self.source.path is not None
        self.render_button.disabled = busy or not has_video
        self.compare_button.disabled = busy or not has_video
        self.cancel_button.disabled = not busy
        job = self.job
        rendered = job is not None and job.result is not None and job.status == "finished"
        self.segment_choice.disabled = self.rerender_button.disabled = busy or not rendered
        if rendered and job is not None and job.result is not None:
            self.segment_choice.max = len(job.result.segments) - 1

    # ---- advisor ------------------------------------------------------------------------
    def _on_source(self, source: VideoSource) -> None:
        self.output.show_source(source.info)
        self.advise()
        self._update_buttons()
        self._set_status(f"Ready: {source.path.name if source.path else ''}", "ok")

    def advise(self) -> Recommendation | None:
        """Set workers and segment seconds from the advisor for the current video."""
        info = self.source.info
        if info is None:
            self.advice.value = message_html("Choose a video first.", "warn")
            return None
        rec = advise(info, self.filters.text, self.history)
        self.recommendation = rec
        self.workers.max = max(self.workers.max, rec.workers)
        self.workers.value = rec.workers
        self.segment_seconds.value = min(
            self.segment_seconds.max, max(self.segment_seconds.min, round(rec.segment_seconds * 2) / 2)
        )
        self.scheduler_buttons.show_what_runs()  # an in-process advice shows "in process"
        self.advice.value = (
            "<div style='line-height:1.35;font-size:0.85em;white-space:normal'>"
            f"Advisor ({rec.method}): <b>{rec.workers}</b> worker{'s' if rec.workers != 1 else ''}, <b>{rec.segment_seconds:.1f} s</b> segments. "
            f"{html.escape(rec.reason)}</div>"
        )
        return rec

    # ---- jobs ---------------------------------------------------------------------------
    def _start(self, action: Callable[[], Job]) -> None:
        try:
            action()
        except Exception as exc:  # noqa: BLE001 — shown, not raised: this runs from a button
            self._set_status(error_sentence(exc), "error")

    def _require_video(self) -> Path:
        if self.source.path is None:
            raise ValueError("choose a video first: generate a sample or upload one")
        return self.source.path

    def render(self) -> Job:
        """Start rendering the current video with the current settings (returns at once)."""
        source = self._require_video()
        folder = self.work_dir / "renders"
        folder.mkdir(parents=True, exist_ok=True)
        output = folder / f"{source.stem}.rendered{self.output.suffix}"
        settings = {**self.job_settings(), "keep_segments": True}  # so that one can be re-rendered
        return self.runner.start("render", input=str(source), output=str(output), **settings)

    def compare(self) -> Job:
        """Start a sequential-versus-parallel comparison (returns at once)."""
        source = self._require_video()
        folder = self.work_dir / "compare"
        folder.mkdir(parents=True, exist_ok=True)
        return self.runner.start("compare", input=str(source), keep_outputs=str(folder), **self.job_settings())

    def cancel(self) -> None:
        """Stop the running job (nothing is written)."""
        if self.running:
            self._set_status("Cancelling…", "warn")
            self.runner.cancel()

    def wait(self, timeout: float | None = None) -> Job | None:
        """Block until the current job has ended (for scripts and tests; not needed in a notebook)."""
        return self.runner.wait(timeout)

    # ---- runner listener ----------------------------------------------------------------
    def on_job_started(self, job: Job) -> None:
        self._update_buttons()
        self.render_button.disabled = self.compare_button.disabled = True
        self.cancel_button.disabled = False
        what = "Rendering" if job.kind == "render" else "Comparing (sequential, then parallel)"
        workers, scheduler = job.request.get("workers"), job.request.get("scheduler")
        where = "in process" if scheduler == "sync" or workers == 1 else f"{scheduler} scheduler"
        self._set_status(f"{what}… {workers} worker{'s' if workers != 1 else ''}, {where}")
        if self.progress is not None:
            self.progress.reset()
        if self.timeline is not None:
            self.timeline.reset()
        if self.gauges is not None:
            self.gauges.reset(job.request.get("workers"))
            key = (job.request["input"], job.request.get("filters", ""))
            self.gauges.set_baseline(None if job.kind == "compare" else self._baselines.get(key))

    def on_progress(self, event: ProgressEvent) -> None:
        if self.progress is not None:
            self.progress.update(event)
        if self.timeline is not None:
            self.timeline.update_progress(event)
        if self.gauges is not None:
            if event.kind == STITCHED and event.job == "sequential":
                self.gauges.set_baseline(event.fps)
            self.gauges.update_progress(event)

    def on_tick(self, job: Job, elapsed: float) -> None:
        if self.progress is not None:
            self.progress.tick(elapsed)

    def on_sample(self, sample: Sample) -> None:
        if self.gauges is not None:
            self.gauges.update_sample(sample)

    def on_job_finished(self, job: Job) -> None:
        kind = {"finished": "ok", "cancelled": "warn"}.get(job.status, "error")
        self._set_status(job.message, kind)
        if self.progress is not None:
            self.progress.finish(job.message, ok=job.status == "finished")
        if job.status == "finished":
            try:
                self._show_outcome(job)
            except Exception as exc:  # a preview that fails must not leave the buttons disabled
                self._set_status(f"{job.message} The results could not be shown: {error_sentence(exc)}", "warn")
        if self.history_view is not None:
            self.history_view.refresh()
        self._call(self.on_finished, job)
        self._update_buttons(busy=False)

    def _show_outcome(self, job: Job) -> None:
        """A finished job's results, timeline and speedup gauge."""
        key = (job.request["input"], job.request.get("filters", ""))
        if job.comparison is not None:
            self._baselines[key] = job.comparison.sequential.fps
            if self.gauges is not None:
                self.gauges.set_speedup(job.comparison.speedup, job.comparison.workers)
            if self.results is not None:
                self.results.show_comparison(job.comparison, job.record)
            if self.timeline is not None:
                self.timeline.show_comparison(job.comparison)
        elif job.result is not None:
            if self.gauges is not None and key in self._baselines:
                self.gauges.set_speedup(job.result.fps / self._baselines[key], job.result.workers)
            if self.results is not None:
                self.results.show_render(job.result, job.record)
            if self.timeline is not None:
                self.timeline.show_result(job.result)
