"""Wall time and speedup against the number of workers, with the ideal N× line: the chart a
sweep of worker counts draws (notebook 02)."""

from __future__ import annotations

import ipywidgets as w
import plotly.graph_objects as go

from ._common import Component, html_table, sync_figure
from .figure import Figure


class ScalingChart(Component):
    """Wall time and speedup against the number of workers, with the ideal N× line.

    Parameters
    ----------
    title:
        Figure title.

    Add measurements with `add(workers, wall_seconds, fps)` (for example from a loop of
    `render(..., workers=n)`); speedups are relative to the 1-worker (or first) point.
    """

    def __init__(self, title: str = "Scaling with workers") -> None:
        super().__init__()
        self.points: list[dict[str, float]] = []
        self.figure = Figure(
            data=[
                go.Bar(
                    x=[],
                    y=[],
                    name="wall time (s)",
                    yaxis="y",
                    marker={"color": "#9ecae1"},
                    text=[],
                    textposition="auto",
                ),
                go.Scatter(x=[], y=[], name="speedup", mode="lines+markers", yaxis="y2", line={"color": "#d62728"}),
                go.Scatter(
                    x=[], y=[], name="ideal speedup", mode="lines", yaxis="y2", line={"color": "#d62728", "dash": "dot"}
                ),
            ],
            layout=go.Layout(
                title={"text": title},
                height=320,
                margin={"l": 50, "r": 50, "t": 50, "b": 40},
                xaxis={"title": {"text": "workers"}, "dtick": 1},
                yaxis={"title": {"text": "wall time (s)"}},
                yaxis2={"title": {"text": "speedup ×"}, "overlaying": "y", "side": "right", "rangemode": "tozero"},
                legend={"orientation": "h", "y": -0.25},
            ),
        )
        self.table = w.HTML()
        self.widget = w.VBox([self.figure, self.table])

    def __repr__(self) -> str:
        return "<ScalingChart>"

    @property
    def speedups(self) -> list[float]:
        return [p["speedup"] for p in self.points]

    def add(self, workers: int, wall_seconds: float, fps: float | None = None) -> None:
        """Add (or replace) the measurement for `workers` and redraw."""
        with self._lock:
            self.points = sorted(
                [p for p in self.points if p["workers"] != workers]
                + [{"workers": workers, "wall_seconds": wall_seconds, "fps": fps or 0.0}],
                key=lambda p: p["workers"],
            )
            base = self.points[0]
            for p in self.points:
                p["speedup"] = base["wall_seconds"] / p["wall_seconds"]
                p["efficiency"] = p["speedup"] / (p["workers"] / base["workers"])
            xs = [p["workers"] for p in self.points]
            with self.figure.batch_update():
                self.figure.data[0].x, self.figure.data[0].y = xs, [round(p["wall_seconds"], 3) for p in self.points]
                self.figure.data[0].text = [f"{p['fps']:.0f} fps" for p in self.points]
                self.figure.data[1].x, self.figure.data[1].y = xs, [round(p["speedup"], 3) for p in self.points]
                self.figure.data[2].x, self.figure.data[2].y = xs, [x / base["workers"] for x in xs]
            sync_figure(self.figure)  # a view drawn later (page reload, slow first load) draws this
            self.table.value = html_table(
                ["workers", "wall time", "frames/s", "speedup", "efficiency"],
                [
                    [
                        p["workers"],
                        f"{p['wall_seconds']:.2f} s",
                        f"{p['fps']:.0f}",
                        f"{p['speedup']:.2f}×",
                        f"{p['efficiency']:.0%}",
                    ]
                    for p in self.points
                ],
            )

    def to_dict(self) -> list[dict[str, float]]:
        return [dict(p) for p in self.points]
