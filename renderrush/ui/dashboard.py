"""The one-screen dashboard: the control panel beside live progress, gauges and the segment
timeline, then results, history and machine health. `renderrush dashboard` (the web app,
`renderrush.webapp`) serves one per visit; in a notebook, `Dashboard("output")` shows it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import ipywidgets as w

from ..recording.history import History
from ._common import Component
from .gauges import LiveGauges
from .history import HealthView, HistoryView
from .panel import ControlPanel
from .progress import ProgressView
from .results import ResultsView
from .timeline import SegmentTimeline


class Dashboard(Component):
    """Everything on one screen: the control panel beside live progress, gauges and the
    segment timeline, then results, history and machine health.

    Parameters
    ----------
    work_dir:
        Folder for samples, uploads, outputs and reports (give each session its own:
        `renderrush.ui.session_folder()`).
    history:
        A `History`, a database path, or None for the default history.
    **panel_options:
        Passed on to `ControlPanel` (filters, scheduler, sample_seconds, sample_size, on_finished).

    It opens with what is known: the history's table and trends, the health score, and the
    results and segment timeline of the last finished job in the history. The parts are
    attributes: `panel`, `progress`, `gauges`, `timeline`, `results`, `history` (a
    `HistoryView`) and `health` (a `HealthView`).
    """

    def __init__(
        self,
        work_dir: str | os.PathLike = "renderrush-output",
        history: History | str | os.PathLike | None = None,
        **panel_options: Any,
    ) -> None:
        super().__init__()
        Path(work_dir).mkdir(parents=True, exist_ok=True)
        self.progress = ProgressView()
        self.gauges = LiveGauges(columns=2, width=490)
        self.timeline = SegmentTimeline(width=490)
        self.results = ResultsView(work_dir, width=640)
        self.history = HistoryView(history, work_dir=work_dir, width=550)
        self.health = HealthView(work_dir, width=370)
        self.panel = ControlPanel(
            work_dir,
            history=self.history.history,
            progress=self.progress,
            gauges=self.gauges,
            results=self.results,
            history_view=self.history,
            timeline=self.timeline,
            **panel_options,
        )
        self.show_last_job()
        # Fixed-width columns that wrap under each other when the notebook is narrow.
        wrap = w.Layout(flex_flow="row wrap", align_items="flex-start")
        controls = w.VBox([self.panel.widget], layout=w.Layout(width="440px", margin="0 10px 0 0"))
        live = w.VBox([self.progress.widget, self.gauges.widget, self.timeline.widget], layout=w.Layout(width="500px"))
        history = w.VBox([self.history.widget], layout=w.Layout(width="560px", margin="0 10px 0 0"))
        health = w.VBox([self.health.widget], layout=w.Layout(width="380px"))
        self.widget = w.VBox(
            [
                w.HTML("<h3 style='margin:4px 0'>RenderRush</h3>"),
                w.Box([controls, live], layout=wrap),
                self.results.widget,
                w.Box([history, health], layout=wrap),
            ]
        )
        self.widget.add_class("rr-dashboard")

    def __repr__(self) -> str:
        return "<Dashboard>"

    def show_last_job(self) -> Any:
        """Show the newest finished job of the history in the results and the timeline
        (returns its record, or None when the history has none)."""
        for record in self.history.records:
            if record.status != "finished":
                continue
            try:
                self.results.show_record(record)
            except (ValueError, KeyError, TypeError, OSError):
                continue  # a record without figures (imported from elsewhere): try an older one
            self.timeline.show_record(record)
            return record
        return None
