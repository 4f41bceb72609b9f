"""The notebook components running real jobs: the control panel renders, cancels, compares
and reports a failure in the background, the job runner outlives broken listeners, and the
dashboard composes it all (the components alone: tests/unit/ui/)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from renderrush.core.errors import RenderRushError
from renderrush.recording.history import History
from renderrush.recording.report import load_report
from renderrush.segments.progress import ProgressEvent
from renderrush.ui import ControlPanel, Dashboard, HistoryView, JobRunner, LiveGauges, ProgressView, ResultsView

from ..support.filters import FilterRegistry

pytestmark = pytest.mark.usefixtures("private_default_history")

JPEG = b"\xff\xd8"


@pytest.fixture
def slow_filter(registry: FilterRegistry) -> str:
    """A user filter that sleeps per frame, so jobs last long enough to watch and cancel."""
    return registry.slow("ui_test_slow", delay=0.03)


def panel_with_views(tmp_path: Path, history: History, **options) -> ControlPanel:
    return ControlPanel(
        tmp_path / "work",
        history=history,
        progress=ProgressView(),
        gauges=LiveGauges(),
        results=ResultsView(tmp_path / "work"),
        history_view=HistoryView(history, work_dir=tmp_path / "work"),
        **{"scheduler": "threads", **options},
    )


def test_panel_renders_in_the_background_with_live_updates(
    tmp_path: Path, clip: Path, history: History, slow_filter: str
) -> None:
    panel = panel_with_views(tmp_path, history)
    panel.source.use_file(clip)
    rec = panel.recommendation
    assert rec is not None and panel.workers.value == rec.workers and "Advisor" in panel.advice.value
    assert not panel.render_button.disabled
    panel.filters.set_chain(f"{slow_filter}:0.03,grayscale")
    panel.workers.value, panel.segment_seconds.value = 2, 1.0
    updates: list[float] = []
    panel.progress.status.observe(lambda _: updates.append(time.monotonic()), names="value")

    clicked = time.monotonic()
    panel.render_button.click()
    assert time.monotonic() - clicked < 0.5, "the click returns at once; the job runs in a thread"
    assert panel.running and panel.render_button.disabled and panel.compare_button.disabled
    assert not panel.cancel_button.disabled
    job = panel.wait(60)
    ended = time.monotonic()

    assert job.status == "finished", job.message
    assert job.result.frames == 90 and Path(job.result.output).exists()
    gaps = np.diff([clicked, *updates, ended])
    assert len(updates) >= 4 and gaps.max() < 1.0, f"UI updates at least once a second, longest gap {gaps.max():.2f} s"
    assert panel.progress.state == "finished" and panel.progress.total.value == 1.0
    assert panel.progress.segment_fractions == [1.0, 1.0, 1.0]
    assert panel.gauges.samples >= 1 and panel.gauges.values["fps"] > 0
    assert panel.results.result is job.result and bytes(panel.results.before.value).startswith(JPEG)
    assert job.record is not None and job.record.status == "finished"
    assert panel.history_view.records[0].id == job.record.id
    assert not panel.render_button.disabled and panel.cancel_button.disabled
    assert "rendered 90 frames" in panel.status.value
    assert panel.runner.listener_errors == [] and panel.callback_errors == []

    panel.results.export_button.click()
    report = load_report(panel.results.report_path)
    assert report["jobs"][0]["id"] == job.record.id and report["jobs"][0]["timeline"]
    assert "Download job-" in panel.results.export_link.value


def test_panel_cancel_stops_the_job(tmp_path: Path, clip: Path, history: History, slow_filter: str) -> None:
    panel = panel_with_views(tmp_path, history)
    panel.source.use_file(clip)
    panel.filters.set_chain(f"{slow_filter}:0.05")
    panel.workers.value, panel.segment_seconds.value = 1, 1.0
    panel.render_button.click()
    deadline = time.monotonic() + 20
    while panel.progress.frames_done == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    panel.cancel_button.click()
    job = panel.wait(30)
    assert job.status == "cancelled" and "cancelled" in job.message
    assert not (tmp_path / "work" / "renders" / f"{clip.stem}.rendered.mp4").exists()
    assert job.record is not None and job.record.status == "interrupted"
    assert panel.progress.state == "failed" and "warn" not in panel.status.value
    assert not panel.render_button.disabled and panel.cancel_button.disabled


def test_panel_compare_then_render_against_the_baseline(tmp_path: Path, clip: Path, history: History) -> None:
    finished = []
    panel = panel_with_views(tmp_path, history, filters="grayscale", on_finished=finished.append)
    panel.source.use_file(clip)
    panel.workers.value, panel.segment_seconds.value = 2, 1.0
    panel.compare_button.click()
    job = panel.wait(60)
    assert job.status == "finished", job.message
    comparison = job.comparison
    assert comparison.identical and finished == [job]
    assert len(panel.results.chart.data[0].x) == 2
    assert "Speedup" in panel.results.chart.layout.title.text
    assert panel.gauges.values["speedup"] == pytest.approx(comparison.speedup)
    assert panel.history_view.records[0].kind == "compare" and job.record.speedup == pytest.approx(comparison.speedup)
    assert (tmp_path / "work" / "compare" / f"{clip.stem}.parallel.mp4").exists()

    panel.render_button.click()
    job = panel.wait(60)
    assert job.status == "finished"
    assert panel.gauges.values["speedup"] == pytest.approx(job.result.fps / comparison.sequential.fps)
    assert [r.kind for r in panel.history_view.records] == ["render", "compare"]
    # The panel asks the engine's advisor: past runs of this 3 s clip took 0.2 s in one process,
    # less than starting worker processes would save, so it keeps the job in process and says why.
    advice = panel.advise()
    assert advice.method == "in-process" and advice.workers == 1, advice.reason
    assert "past run" in advice.reason and "start worker processes" in panel.advice.value


def test_panel_reports_a_failed_job(tmp_path: Path, clip: Path, history: History) -> None:
    panel = panel_with_views(tmp_path, history)
    copy = tmp_path / "gone.mp4"
    copy.write_bytes(clip.read_bytes())
    panel.source.use_file(copy)
    copy.unlink()
    panel.render_button.click()
    job = panel.wait(30)
    assert job.status == "failed" and "failed:" in job.message
    assert "b00020" in panel.status.value  # shown in red
    assert job.record is not None and job.record.status == "failed"


def test_runner_survives_broken_listeners(tmp_path: Path, clip: Path) -> None:
    class Broken:
        def on_progress(self, event: ProgressEvent) -> None:
            raise RuntimeError("broken widget")

    runner = JobRunner(history=False)
    runner.add_listener(Broken())
    job = runner.start("render", input=clip, output=tmp_path / "o.mp4", workers=2, scheduler="threads")
    with pytest.raises(RenderRushError, match="running already"):
        runner.start("render", input=clip, output=tmp_path / "p.mp4")
    assert runner.wait(60) is job and job.status == "finished" and job.record is None
    assert job.events >= 1 and runner.listener_errors and isinstance(runner.listener_errors[0], RuntimeError)
    with pytest.raises(RenderRushError, match="unknown job kind"):
        runner.start("paint")


def test_dashboard_composes_everything(tmp_path: Path, clip: Path, history: History) -> None:
    dash = Dashboard(tmp_path / "dash", history=history, scheduler="threads")
    bundle = dash._repr_mimebundle_()
    assert bundle["text/plain"] == "<Dashboard>" and "application/vnd.jupyter.widget-view+json" in bundle
    assert dash.panel.history is dash.history.history is history
    dash.panel.source.use_file(clip)
    dash.panel.render_button.click()
    job = dash.panel.wait(60)
    assert job.status == "finished"
    assert dash.history.records[0].id == job.record.id and dash.health.report is not None
    assert dash.progress.state == "finished" and dash.results.result is job.result


def test_the_panel_re_renders_one_segment_of_its_last_render(tmp_path: Path, clip: Path, history: History) -> None:
    panel = panel_with_views(tmp_path, history)
    panel.source.use_file(clip)
    assert panel.rerender_button.disabled  # nothing rendered yet
    panel.workers.value, panel.segment_seconds.value = 2, 1.0
    panel.render_button.click()
    first = panel.wait(120)
    assert first is not None and first.status == "finished" and first.result is not None
    assert not panel.rerender_button.disabled and panel.segment_choice.max == len(first.result.segments) - 1
    panel.segment_choice.value = 1
    panel.rerender_button.click()
    again = panel.wait(120)
    assert again is not None and again.kind == "rerender" and again.status == "finished", again.message
    assert again.result is not None and again.result.frames == first.result.frames
    by_index = {s.index: s for s in again.result.segments}
    assert by_index[1].crf == first.result.encode.crf - 4 and not by_index[1].reused and by_index[0].reused
    assert not panel.render_button.disabled and not panel.rerender_button.disabled
