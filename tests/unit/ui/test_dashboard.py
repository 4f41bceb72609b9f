"""`renderrush.ui.dashboard`: the one-screen dashboard opens with what the history knows (its
table and trends, the health score, the newest finished job that has results)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import renderrush as rr
from renderrush.jobs.result import JobResult
from renderrush.recording.history import History
from renderrush.ui import Dashboard


def test_dashboard_first_load_shows_the_history(tmp_path: Path, small_clip: Path, history: History) -> None:
    comparison = rr.compare(
        small_clip, "grayscale", workers=2, segment_seconds=1.0, scheduler="threads", history=history
    )
    dash = Dashboard(tmp_path / "dash", history=history, scheduler="threads")
    # what a page that loads now draws: the figures' stored state
    trend = dash.history.trend._widget_data
    assert [t["x"] for t in trend] == [[comparison.job_id], [comparison.job_id]]
    assert trend[1]["y"] == [pytest.approx(comparison.speedup)]
    assert f"job {comparison.job_id}, compare" in dash.results.summary.value
    bars = dash.results.chart._widget_data[0]
    assert bars["y"] == [round(comparison.sequential.wall_seconds, 3), round(comparison.parallel.wall_seconds, 3)]
    timeline = dash.timeline.figure._widget_data
    assert [t["name"] for t in timeline] == ["sequential", "parallel"] and [len(t["x"]) for t in timeline] == [3, 3]
    assert min(timeline[1]["base"]) >= max(b + x for b, x in zip(timeline[0]["base"], timeline[0]["x"])) - 0.01, (
        "one time axis: the parallel run starts after the sequential one"
    )
    assert dash.health.figure._widget_data[0]["value"] == dash.health.report.score
    assert dash.gauges.gauges_figure._widget_data[3]["mode"] == "gauge", "no speedup measured in this session"


@pytest.mark.usefixtures("quick_cpu")
def test_the_dashboard_shows_the_newest_job_that_has_results(
    tmp_path: Path, rendered: JobResult, history: History
) -> None:
    dash = Dashboard(tmp_path / "dash", history=history, scheduler="threads", filters="invert")
    assert dash.show_last_job() is None and "No results yet" in dash.results.summary.value
    assert dash.panel.filters.text == "invert" and dash.panel.scheduler.value == "threads"  # passed to the panel
    assert dash.panel.history is dash.history.history is history and repr(dash) == "<Dashboard>"
    shown = history.record_job("render", "finished", result=rendered)
    without_figures = dataclasses.replace(history.get(shown), details={})  # imported from elsewhere
    history.import_records([without_figures])
    request = {"input": "clip.mp4", "output": "o.mp4", "filters": "grayscale", "workers": 2}
    history.record_job("render", "failed", request=request, error="stopped")
    dash.history.refresh()
    assert len(dash.history.records) == 3
    record = dash.show_last_job()
    assert record is not None and record.id == shown
    assert f"job {shown}, render" in dash.results.summary.value and dash.timeline.bars == 3
