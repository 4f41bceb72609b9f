"""Job history (table, trends, JSON export) and the machine's health score."""

from __future__ import annotations

import html
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import ipywidgets as w
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..recording.health import HealthReport, system_health
from ..recording.history import History
from ..recording.records import UI, JobRecord, shown_columns
from ._common import Component, fmt_seconds, html_table, message_html, sync_figure
from .figure import Figure
from .results import download_link

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def history_to_show(history: History | str | os.PathLike | None) -> History:
    """The `History` a view shows: an instance, a database path, or None for the default.
    Unlike a job's history (`recording.open_history`, which warns and records nothing), a
    view cannot do without one, so an unusable history is a `HistoryError` here."""
    return history if isinstance(history, History) else History(history)


def _when(created_at: str) -> str:
    try:
        return datetime.fromisoformat(created_at).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return created_at


def _num(value: float | None, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


CELLS: dict[str, Callable[[JobRecord], Any]] = {
    "created_at": lambda r: _when(r.created_at),
    "width": lambda r: f"{r.width}×{r.height}" if r.width else "—",
    "workers": lambda r: _num(r.workers, "d"),
    "wall_seconds": lambda r: fmt_seconds(r.wall_seconds),
    "fps_rendered": lambda r: _num(r.fps_rendered, ".0f"),
    "speedup": lambda r: _num(r.speedup, ".2f"),
    "efficiency": lambda r: "—" if r.efficiency is None else f"{r.efficiency:.0%}",
}
"""How the table writes a column's value, where its own way reads better than the value."""


def _plain(record: JobRecord, name: str) -> Any:
    value = getattr(record, name)
    return "—" if value is None or value == "" else value


def history_table(records: list[JobRecord]) -> tuple[list[str], list[list[Any]]]:
    """The header and rows of the history table: the columns `records.COLUMNS` shows in the notebook."""
    columns = shown_columns(UI)
    rows = [[CELLS[c.name](r) if c.name in CELLS else _plain(r, c.name) for c in columns] for r in records]
    return [c.title for c in columns], rows


class HistoryView(Component):
    """Past jobs: a table, a trend chart of frames/s and speedup over jobs (one colour
    per worker count) and an export of the history as a JSON report.

    Parameters
    ----------
    history:
        A `renderrush.recording.history.History`, a path to its database, or None for the
        default one (`$RENDERRUSH_HISTORY` or the per-user data folder).
    limit:
        How many of the newest jobs to show.
    work_dir:
        Folder for exported reports (`work_dir/reports`).
    width:
        Trend chart width in pixels (None: Plotly's default).

    `refresh()` reloads (the "Refresh" button does the same); `records` holds the jobs
    shown, newest first; `export_report()` writes `history_report(records)`.
    """

    def __init__(
        self,
        history: History | str | os.PathLike | None = None,
        limit: int = 50,
        work_dir: str | os.PathLike = "renderrush-output",
        width: int | None = None,
    ) -> None:
        super().__init__()
        self.history = history_to_show(history)
        self.limit = limit
        self.work_dir = Path(work_dir)
        self.records: list[JobRecord] = []
        self.report_path: Path | None = None
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.export_button = w.Button(
            description="Export history (JSON)", icon="download", layout=w.Layout(width="auto")
        )
        self.export_button.on_click(lambda _: self.export_report())
        self.export_link = w.HTML()
        self.table = w.HTML()
        figure = make_subplots(
            rows=2,
            cols=1,
            shared_xaxes=True,
            vertical_spacing=0.12,
            subplot_titles=("Frames/s rendered", "Speedup over sequential (comparisons)"),
        )
        figure.update_layout(
            height=420, width=width, margin={"l": 50, "r": 10, "t": 40, "b": 40}, legend={"title": {"text": "workers"}}
        )
        figure.update_xaxes(title_text="job id", row=2, col=1)
        self.trend = Figure(figure)
        self.widget = w.VBox(
            [
                w.HTML("<b>History</b>"),
                w.HBox([self.refresh_button, self.export_button]),
                self.export_link,
                self.trend,
                w.Box([self.table], layout=w.Layout(max_height="320px", overflow="auto")),
            ]
        )
        self.refresh()

    def __repr__(self) -> str:
        return f"<HistoryView: {self.history.path.name}>"

    def refresh(self) -> list[JobRecord]:
        """Reload the newest jobs and redraw the table and the trends."""
        with self._lock:
            self.records = self.history.list(limit=self.limit)
            self.table.value = self._table() if self.records else message_html("No jobs in the history yet.")
            self._draw_trend()
            return self.records

    def _table(self) -> str:
        return html_table(*history_table(self.records))

    def trend_data(self) -> dict[int, dict[str, list[Any]]]:
        """Finished jobs, oldest first, by worker count: {workers: {"id", "fps", "speedup"}}."""
        series: dict[int, dict[str, list[Any]]] = {}
        for r in sorted(self.records, key=lambda r: r.id):
            if r.status != "finished" or r.workers is None:
                continue
            s = series.setdefault(r.workers, {"id": [], "fps": [], "speedup": []})
            s["id"].append(r.id)
            s["fps"].append(r.fps_rendered)
            s["speedup"].append(r.speedup)
        return dict(sorted(series.items()))

    def _draw_trend(self) -> None:
        series = self.trend_data()
        with self.trend.batch_update():
            self.trend.data = ()
            for n, (workers, s) in enumerate(series.items()):
                colour = PALETTE[n % len(PALETTE)]
                common = {"legendgroup": str(workers), "marker": {"color": colour}, "line": {"color": colour}}
                self.trend.add_trace(
                    go.Scatter(x=s["id"], y=s["fps"], mode="lines+markers", name=f"{workers}", **common), row=1, col=1
                )
                pairs = [(i, v) for i, v in zip(s["id"], s["speedup"]) if v is not None]
                self.trend.add_trace(
                    go.Scatter(
                        x=[i for i, _ in pairs],
                        y=[v for _, v in pairs],
                        mode="markers",
                        name=f"{workers}",
                        showlegend=False,
                        **common,
                    ),
                    row=2,
                    col=1,
                )
        sync_figure(self.trend)

    def export_report(self, path: str | os.PathLike | None = None) -> Path:
        """Write the shown jobs as one JSON report (default `work_dir/reports/history.json`)."""
        from ..recording.report import history_report, write_report

        if path is None:
            folder = self.work_dir / "reports"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / "history.json"
        self.report_path = write_report(history_report(self.records), path)
        self.export_link.value = (
            f"{download_link(self.report_path)} <small>({len(self.records)} jobs, saved as "
            f"{html.escape(str(self.report_path))})</small>"
        )
        return self.report_path


class HealthView(Component):
    """The machine's health score (0-100) as a gauge, its components as bars, and the verdict.

    Parameters
    ----------
    work_dir:
        Folder whose disk the score checks (where segments and outputs go).
    auto_refresh:
        Measure once at construction (blocks 0.2 s).
    width:
        Figure width in pixels (None: Plotly's default).

    `refresh()` measures again (the "Check again" button does the same) and returns the
    `HealthReport`, also kept in `report`.
    """

    def __init__(self, work_dir: str | os.PathLike = ".", auto_refresh: bool = True, width: int | None = None) -> None:
        super().__init__()
        self.work_dir = Path(work_dir)
        self.report: HealthReport | None = None
        self.refresh_button = w.Button(description="Check again", icon="heartbeat", layout=w.Layout(width="auto"))
        self.refresh_button.on_click(lambda _: self.refresh())
        self.verdict = w.HTML()
        self.figure = Figure(
            data=[
                go.Indicator(
                    mode="gauge",
                    title={"text": "Health score"},
                    number={"valueformat": "d"},
                    gauge={
                        "axis": {"range": [0, 100]},
                        "steps": [
                            {"range": [0, 50], "color": "#f4cccc"},
                            {"range": [50, 80], "color": "#fff2cc"},
                            {"range": [80, 100], "color": "#d9ead3"},
                        ],
                    },
                    domain={"x": [0.15, 0.85], "y": [0.58, 1]},
                ),
                go.Bar(
                    x=[],
                    y=[],
                    orientation="h",
                    text=[],
                    textposition="inside",
                    insidetextanchor="start",
                    marker={"color": []},
                    xaxis="x",
                    yaxis="y",
                ),
            ],
            layout=go.Layout(
                height=430,
                width=width,
                margin={"l": 10, "r": 10, "t": 30, "b": 35},
                xaxis={
                    "domain": [0, 1],
                    "range": [0, 100],
                    "title": {"text": "component score (100 = plenty of room)"},
                },
                yaxis={"domain": [0, 0.45], "anchor": "x", "automargin": True},
            ),
        )
        self.widget = w.VBox([w.HTML("<b>Machine health</b>"), self.refresh_button, self.verdict, self.figure])
        if auto_refresh:
            self.refresh()

    def __repr__(self) -> str:
        return "<HealthView>"

    def refresh(self) -> HealthReport:
        """Measure the machine now and redraw."""
        folder = self.work_dir
        while not folder.exists() and folder != folder.parent:  # a work folder not created yet: its disk
            folder = folder.parent
        report = system_health(folder)
        with self._lock:
            self.report = report
            kind = "ok" if report.score >= 80 else "warn" if report.score >= 50 else "error"
            self.verdict.value = f"Score <b>{report.score}</b>/100 · " + message_html(report.verdict, kind)
            names = [f"{c.name} (×{c.weight:.2f})" for c in report.components]
            with self.figure.batch_update():
                self.figure.data[0].value = report.score
                self.figure.data[0].mode = "gauge+number"
                self.figure.data[1].x = [round(c.score, 1) for c in report.components]
                self.figure.data[1].y = names
                self.figure.data[1].text = [c.detail for c in report.components]
                self.figure.data[1].marker.color = [
                    "#6aa84f" if c.score >= 80 else "#f1c232" if c.score >= 50 else "#cc4125" for c in report.components
                ]
            sync_figure(self.figure)
        return report
