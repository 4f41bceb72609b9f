"""`renderrush.ui.panel`: the control panel. The panel needs a video before
it runs anything, pre-sets workers and segment seconds from the advisor when a video is chosen,
turns its widgets into the job's request, and, as the runner's listener, feeds progress,
gauges (with the sequential baseline a later render's speedup is measured against), results,
timeline and history.
(Jobs run for real through the panel's buttons: tests/e2e/test_ui_jobs.py.)"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from renderrush.jobs.result import Comparison, JobResult
from renderrush.recording.advisor import Recommendation
from renderrush.recording.history import History
from renderrush.segments.progress import ProgressEvent
from renderrush.ui import (
    ControlPanel,
    HistoryView,
    Job,
    LiveGauges,
    ProgressView,
    ResultsView,
    SegmentTimeline,
)


def test_panel_needs_a_video_first(tmp_path: Path, history: History) -> None:
    panel = ControlPanel(tmp_path, history=history)
    assert panel.render_button.disabled and panel.compare_button.disabled and panel.cancel_button.disabled
    with pytest.raises(ValueError, match="choose a video"):
        panel.render()
    panel._start(panel.render)  # what the button does: shows the error instead of raising
    assert "choose a video" in panel.status.value
    assert panel.advise() is None and "Choose a video" in panel.advice.value


@pytest.mark.usefixtures("quick_cpu")  # the machine's readings are not what this is about
# ---- settings and requests ----------------------------------------------------------------------
def test_unknown_schedulers_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown scheduler 'gpu': use one of processes, threads, sync"):
        ControlPanel(tmp_path, history=False, scheduler="gpu")


def test_which_history_the_panel_records_into(tmp_path: Path, history: History) -> None:
    assert ControlPanel(tmp_path, history=False).runner.history is None
    view = HistoryView(history, work_dir=tmp_path)
    shared = ControlPanel(tmp_path, history_view=view)
    assert shared.history is history and shared.runner.history is history, "the view's history, when none is given"
    by_path = ControlPanel(tmp_path, history=tmp_path / "other.sqlite3")
    assert by_path.history.path == tmp_path / "other.sqlite3" and by_path.runner.history is by_path.history


def test_a_chosen_video_is_advised(tmp_path: Path, clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    advice = Recommendation(
        workers=12, segment_seconds=1.26, method="rules", reason="short <clip>", memory_cap_workers=12
    )
    asked: list[tuple[Any, ...]] = []
    monkeypatch.setattr("renderrush.ui.panel.advise", lambda *args: asked.append(args) or advice)
    panel = ControlPanel(tmp_path, history=False, filters="invert")
    panel.source.use_file(clip)
    ((info, filters, history),) = asked
    assert info.frame_count == 90 and filters == "invert" and history is None
    assert panel.recommendation is advice and panel.workers.value == 12 and panel.workers.max >= 12
    assert panel.segment_seconds.value == 1.5, "rounded to the slider's half seconds"
    assert "Advisor (rules): <b>12</b> workers, <b>1.3 s</b> segments. short &lt;clip&gt;" in panel.advice.value
    assert "Ready: clip.mp4" in panel.status.value
    assert not panel.render_button.disabled and not panel.compare_button.disabled and panel.cancel_button.disabled
    for advised, shown in ((100.0, 30.0), (0.1, 0.5)):  # kept on the slider
        advice = dataclasses.replace(advice, segment_seconds=advised)
        panel.advise_button.click()
        assert panel.segment_seconds.value == shown


def test_the_widgets_make_the_request(tmp_path: Path, clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    panel = ControlPanel(tmp_path / "work", history=False, filters="grayscale,blur:2", scheduler="sync")
    panel.source.use_file(clip)
    panel.workers.value, panel.segment_seconds.value = 3, 2.5
    started: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(panel.runner, "start", lambda kind, **request: started.append((kind, request)) or "job")
    settings = {
        "filters": "grayscale,blur:2",
        "workers": 3,
        "segment_seconds": 2.5,
        "scheduler": "sync",
        "codec": None,
        "tonemap": False,
    }
    assert panel.settings() == settings
    assert panel.render() == panel.compare() == "job"
    work = tmp_path / "work"
    assert started == [
        (
            "render",
            {"input": str(clip), "output": str(work / "renders" / "clip.rendered.mp4"), **settings}
            | {"keep_segments": True},
        ),
        ("compare", {"input": str(clip), "keep_outputs": str(work / "compare"), **settings}),
    ]
    assert (work / "renders").is_dir() and (work / "compare").is_dir()


def test_cancel_and_wait_without_a_job_do_nothing(tmp_path: Path) -> None:
    panel = ControlPanel(tmp_path, history=False)
    before = panel.status.value
    panel.cancel_button.click()
    assert panel.status.value == before and panel.wait(0.01) is None and panel.job is None
    assert repr(panel) == "<ControlPanel: idle>" and not panel.running


# ---- the panel as the runner's listener ---------------------------------------------------------
@pytest.mark.usefixtures("quick_cpu")
def test_the_panel_feeds_its_views(tmp_path: Path, clip: Path, rendered: JobResult, history: History) -> None:
    finished: list[Job] = []
    panel = ControlPanel(
        tmp_path,
        history=history,
        progress=ProgressView(),
        gauges=LiveGauges(),
        results=ResultsView(tmp_path),
        history_view=HistoryView(history, work_dir=tmp_path),
        timeline=SegmentTimeline(),
        on_finished=finished.append,
    )
    panel.source.use_file(clip)
    request = {"input": str(clip), "filters": "grayscale", "workers": 2, "scheduler": "threads"}

    # a comparison: its sequential run is the baseline of later renders of the same clip and filters
    compare = Job("compare", dict(request))
    panel.on_job_started(compare)
    assert panel.render_button.disabled and panel.compare_button.disabled and not panel.cancel_button.disabled
    assert "Comparing (sequential, then parallel)… 2 workers, threads scheduler" in panel.status.value
    assert panel.progress.state == "running" and panel.gauges.workers == 2 and panel.gauges.baseline_fps is None
    panel.on_progress(ProgressEvent("stitched", 90, 90, 3, 3, 2.0, job="sequential"))
    assert panel.gauges.baseline_fps == 45.0 and panel.progress.total.value == 1.0
    assert panel.timeline.runs == {"sequential": []}
    panel.on_tick(compare, 2.5)
    slower = dataclasses.replace(rendered, wall_seconds=rendered.wall_seconds * 2)
    compare.status, compare.ended = "finished", compare.started + 1.0
    compare.comparison = Comparison(sequential=slower, parallel=rendered, identical=True)
    history.record_job("compare", "finished", comparison=compare.comparison)
    panel.on_job_finished(compare)
    assert "compared in 1.0 s: speedup 2.00×" in panel.status.value and "#1b7a2f" in panel.status.value  # green
    assert panel.progress.state == "finished" and panel.gauges.values["speedup"] == pytest.approx(2.0)
    assert panel.results.comparison is compare.comparison and panel.timeline.bars == 6
    assert len(panel.history_view.records) == 1, "the history view was refreshed"
    assert finished == [compare] and not panel.render_button.disabled and panel.cancel_button.disabled

    # a render of the same clip and filters: measured against that baseline
    render = Job("render", dict(request))
    panel.on_job_started(render)
    assert panel.gauges.baseline_fps == pytest.approx(slower.fps)
    render.status, render.result = "finished", rendered
    panel.on_job_finished(render)
    assert panel.gauges.values["speedup"] == pytest.approx(2.0) and panel.results.result is rendered
    assert panel.timeline.bars == 3 and finished == [compare, render]

    # a failed job: red, and no figures replaced
    failed = Job("render", {**request, "filters": "invert"}, status="failed", error=OSError(28, "No space left"))
    panel.on_job_started(failed)
    assert panel.gauges.baseline_fps is None, "no baseline for other filters"
    panel.on_job_finished(failed)
    assert "render failed: no space left" in panel.status.value and "#b00020" in panel.status.value
    assert panel.progress.state == "failed" and panel.results.result is rendered and panel.callback_errors == []


def test_results_that_cannot_be_shown_leave_the_panel_usable(
    tmp_path: Path, clip: Path, history: History, rendered: JobResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    finished: list[Job] = []
    panel = ControlPanel(tmp_path, history=history, results=ResultsView(tmp_path), on_finished=finished.append)
    panel.source.use_file(clip)

    def unreadable(*args: Any) -> None:
        raise OSError(5, "Input/output error", str(clip))

    monkeypatch.setattr(panel.results, "show_render", unreadable)
    job = Job("render", {"input": str(clip), "filters": "grayscale"})
    panel.on_job_started(job)
    job.status, job.result = "finished", rendered
    panel.on_job_finished(job)
    assert "The results could not be shown: input/output error" in panel.status.value, panel.status.value
    assert finished == [job] and not panel.render_button.disabled and panel.cancel_button.disabled


def test_the_output_choice_names_the_file_and_the_codec(
    tmp_path: Path, clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    panel = ControlPanel(tmp_path / "work", history=False, scheduler="sync")
    panel.source.use_file(clip)
    panel.output.codec.value, panel.output.container.value = "vp9", "webm"
    started: list[dict[str, Any]] = []
    monkeypatch.setattr(panel.runner, "start", lambda kind, **request: started.append(request) or "job")
    panel.render()
    assert started[0]["output"].endswith("clip.rendered.webm") and started[0]["codec"] == "vp9"
