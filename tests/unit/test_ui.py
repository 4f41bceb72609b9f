"""The notebook components, driven from Python: set values, click buttons, check state (the
panel and runner running real jobs: tests/e2e/test_ui_jobs.py)."""

from __future__ import annotations

import time
from pathlib import Path

import ipywidgets as w
import pytest

import renderrush as rr
from renderrush.history import History
from renderrush.monitor import Sample
from renderrush.progress import ProgressEvent
from renderrush.report import load_report
from renderrush.ui import (
    ControlPanel,
    Dashboard,
    FilterEditor,
    HealthView,
    HistoryView,
    LiveGauges,
    ProgressView,
    ResultsView,
    ScalingChart,
    UploadError,
    VideoSource,
    sanitize_filename,
)

from ..support import ROOT

JPEG = b"\xff\xd8"


@pytest.fixture(autouse=True)
def private_default_history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Jobs that record into the default history use a temporary one."""
    monkeypatch.setenv("RENDERRUSH_HISTORY", str(tmp_path / "default-history.sqlite3"))


@pytest.fixture
def history(tmp_path: Path) -> History:
    return History(tmp_path / "history.sqlite3")


def upload(source: VideoSource, name: str, content: bytes) -> None:
    """What the browser sends when a file is picked in the FileUpload widget."""
    item = {
        "name": name,
        "type": "video/mp4",
        "size": len(content),
        "content": memoryview(content),
        "last_modified": 1_700_000_000_000,
    }
    source.upload.set_state({"value": [item]})


# ---- video source ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, safe",
    [
        ("clip.mp4", "clip.mp4"),
        ("../../etc/passwd.mp4", "passwd.mp4"),
        ("..\\..\\Windows\\évil name (1).MOV", "evil_name_1.mov"),
        (".hidden.mkv", "hidden.mkv"),
        ("...avi", "upload.avi"),
        ("a;rm -rf $HOME|x.mp4", "a_rm_-rf_HOME_x.mp4"),
        ("x" * 300 + ".mp4", "x" * 80 + ".mp4"),
    ],
)
def test_upload_names_are_sanitised(name: str, safe: str) -> None:
    assert sanitize_filename(name) == safe


@pytest.mark.parametrize("name", ["notes.txt", "clip", "clip.mp4.exe", "../"])
def test_upload_names_must_be_videos(name: str) -> None:
    with pytest.raises(UploadError, match=r"\.mp4, \.avi, \.mov, \.mkv"):
        sanitize_filename(name)


def test_upload_is_saved_under_a_safe_name_and_probed(tmp_path: Path, clip: Path) -> None:
    changes = []
    source = VideoSource(tmp_path, on_change=changes.append)
    source.mode.value = "Upload"
    assert source._body.children == (source._upload_box,)
    assert source._upload_box.children.index(source.upload_note) < source._upload_box.children.index(source.upload)
    assert "200.0 MB" in source.upload_note.value
    upload(source, "../../evil dir/My Clip (1).MP4", clip.read_bytes())
    saved = (tmp_path / "uploads" / "My_Clip_1.mp4").resolve()
    assert source.path == saved and saved.read_bytes() == clip.read_bytes()
    assert source.info.frame_count == 90 and changes == [source]
    assert source.upload.value == ()  # memory freed, the file is on disk
    assert "Uploaded" in source.message.value and "saved as My_Clip_1.mp4" in source.message.value
    assert "90 frames" in source.details.value
    upload(source, "My Clip (1).mp4", clip.read_bytes())  # same name again: not overwritten
    assert source.path.name == "My_Clip_1-1.mp4" and saved.exists()


def test_upload_over_the_limit_is_refused(tmp_path: Path) -> None:
    source = VideoSource(tmp_path, max_upload_bytes=1000)
    assert "1.0 kB" in source.upload_note.value
    upload(source, "big.mp4", b"\0" * 5000)
    assert "over the 1.0 kB upload limit" in source.message.value
    assert source.path is None and not (tmp_path / "uploads").exists()
    assert source.upload.value == ()


def test_upload_of_something_else_is_refused(tmp_path: Path) -> None:
    source = VideoSource(tmp_path)
    upload(source, "fake.mp4", b"this is not a video")
    assert "b00020" in source.message.value  # shown in red
    assert source.path is None and list((tmp_path / "uploads").iterdir()) == []
    upload(source, "script.sh", b"#!/bin/sh")
    assert ".mp4" in source.message.value and source.path is None


def test_generate_sample(tmp_path: Path) -> None:
    source = VideoSource(tmp_path, seconds=3)
    source.seconds.value = 2
    source.resolution.value = "640x360"
    source.generate_button.click()
    assert source.path == tmp_path / "samples" / "sample-2s-640x360.mp4"
    assert (source.info.width, source.info.height, source.info.frame_count) == (640, 360, 60)
    assert "Sample ready" in source.message.value
    stamp = source.path.stat().st_mtime_ns
    source.generate_button.click()  # reused, not regenerated
    assert source.path.stat().st_mtime_ns == stamp
    assert source.busy.value == 1.0 and source.busy.bar_style == "success"  # the progress bar ended full


def test_generate_sample_failure_is_one_sentence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full_disk(path: Path, **options: object) -> Path:
        time.sleep(0.6)  # long enough for the progress bar to move
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr("renderrush.ui.source.make_sample_video", full_disk)
    source = VideoSource(tmp_path, seconds=2)
    progress = []
    source.busy.observe(lambda change: progress.append(change["new"]), names="value")
    source.generate_button.click()
    assert source.path is None and not source.generate_button.disabled
    text = source.message.value
    assert "could not make the sample: no space left on device: " in text and "sample-2s-640x360.mp4" in text
    assert "OSError" not in text and "Errno" not in text and "Traceback" not in text
    assert any(0 < value < 1 for value in progress), progress  # it showed progress while it ran
    assert source.busy.bar_style == "danger"


def test_error_sentence() -> None:
    from renderrush.errors import OutputError
    from renderrush.ui._common import error_sentence

    assert error_sentence(OutputError("output 'x' must end in .mp4")) == "output 'x' must end in .mp4"
    missing = FileNotFoundError(2, "No such file or directory", "/out/.job/cancel.requested")
    assert error_sentence(missing) == "no such file or directory: /out/.job/cancel.requested"
    assert error_sentence(ValueError("first line\n  second")) == "first line"
    assert error_sentence(KeyError()) == "an unexpected KeyError happened"


def test_session_folders_are_separate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from renderrush.ui import default_output_root, session_folder

    monkeypatch.setenv("RENDERRUSH_DASHBOARD_ROOT", str(tmp_path / "root"))
    assert default_output_root() == tmp_path / "root"
    first, second = session_folder(), session_folder()
    assert first != second and first.parent == second.parent == tmp_path / "root"
    assert first.is_dir() and not any(first.iterdir())
    assert session_folder(tmp_path / "other").parent == tmp_path / "other"


# ---- filter editor --------------------------------------------------------------------
def test_filter_editor_add_reorder_remove_and_sliders() -> None:
    changes = []
    editor = FilterEditor("grayscale", on_change=changes.append)
    assert editor.text == "grayscale" and changes == []
    editor.choice.value = "blur"
    editor.add_button.click()
    assert editor.text == "grayscale,blur:2" and editor.chain_text.value == "grayscale,blur:2"
    sigma = editor.rows[1].sliders["sigma"]
    spec = rr.available_filters()["blur"].params["sigma"]
    assert isinstance(sigma, w.FloatSlider) and (sigma.min, sigma.max) == (spec.min, spec.max)
    sigma.value = 5
    assert editor.text == "grayscale,blur:5"
    assert editor.rows[0].up.disabled and editor.rows[-1].down.disabled
    editor.rows[1].up.click()
    assert editor.text == "blur:5,grayscale"
    editor.rows[0].down.click()
    assert editor.text == "grayscale,blur:5"
    editor.rows[0].remove.click()
    assert editor.text == "blur:5" and len(editor._rows_box.children) == 1
    assert len(changes) == 5 and changes[-1] is editor  # add, slider, up, down, remove
    assert editor.chain == rr.FilterChain.parse("blur:5")


def test_filter_editor_typed_chain() -> None:
    editor = FilterEditor(None)
    assert editor.text == "none" and "No filters" in editor.message.value
    editor.chain_text.value = "sepia:0.5, brightness:10"
    assert [row.name for row in editor.rows] == ["sepia", "brightness"]
    assert isinstance(editor.rows[1].sliders["offset"], w.IntSlider)
    assert editor.text == "sepia:0.5,brightness:10"
    editor.chain_text.value = "sparkle:3"
    assert "unknown filter 'sparkle'" in editor.message.value
    assert editor.text == "sepia:0.5,brightness:10"
    editor.chain_text.value = "blur:500"
    assert "between 0.1 and 50" in editor.message.value


# ---- progress and gauges --------------------------------------------------------------
def event(
    kind: str,
    done: int,
    elapsed: float,
    segment: int | None = None,
    seg_done: int = 0,
    job: str = "",
    segments_done: int = 0,
) -> ProgressEvent:
    return ProgressEvent(
        kind=kind,
        frames_done=done,
        frames_total=90,
        segments_done=segments_done,
        segments_total=3,
        elapsed=elapsed,
        segment=segment,
        segment_frames_done=seg_done,
        segment_frames_total=30,
        job=job,
    )


def test_progress_view_follows_events() -> None:
    view = ProgressView()
    view.reset(3)
    assert len(view.segment_bars) == 3 and view.state == "running"
    view.update(event("segment_started", 10, 0.5, segment=0, seg_done=10))
    assert view.total.value == pytest.approx(10 / 90) and view.segment_fractions[0] == pytest.approx(1 / 3)
    assert "20 frames/s" in view.status.value and "ETA 4.0 s" in view.status.value
    view.update(event("segment_finished", 30, 1.0, segment=0, seg_done=30, segments_done=1))
    assert view.segment_bars[0].bar_style == "success" and "segments 1/3" in view.status.value
    view.tick(2.5)
    assert "elapsed 2.5 s" in view.status.value
    view.update(event("stitched", 90, 3.0, segments_done=3))
    assert view.total.value == 1.0 and view.total.bar_style == "success"
    view.update(event("frames", 45, 1.0, job="parallel"))  # a comparison's second run: fresh bars
    assert view.total.description == "Parallel run" and view.segment_fractions == [0.0, 0.0, 0.0]
    view.finish("cancelled", ok=False)
    assert view.state == "failed" and view.total.bar_style == "danger" and view.status.value == "cancelled"


def sample(t: float, cpu: float = 50.0, job_cpu: float = 100.0) -> Sample:
    return Sample(
        t=t,
        cpu_percent=cpu,
        per_core=(cpu, cpu),
        mem_used=3 * 10**9,
        mem_available=1 * 10**9,
        swap_percent=0.0,
        disk_read_bps=0.0,
        disk_write_bps=0.0,
        job_rss=10**8,
        job_cpu_percent=job_cpu,
        job_processes=3,
    )


def test_live_gauges_show_samples_fps_and_speedup() -> None:
    gauges = LiveGauges(window=3.0, columns=2)
    assert gauges.gauges_figure.layout.grid.rows == 2
    gauges.reset(workers=2)
    for t in (0.5, 1.0, 1.5, 2.0, 2.5):
        gauges.update_sample(sample(t, cpu=40 + t))
    cpu, memory, fps, speedup = gauges.gauges_figure.data
    assert cpu.value == 42.5 and memory.value == 75.0 and gauges.values["memory"] == 75.0
    assert list(gauges.timeline_figure.data[2].y) == [75.0] * 5
    gauges.reset()  # the next job continues the timeline after a gap; old points scroll out
    gauges.update_sample(sample(0.5))
    gauges.update_sample(sample(1.0))
    assert list(gauges.timeline_figure.data[0].x) == [1.5, 2.0, 2.5, 3.0, 4.0, 4.5]
    assert gauges.timeline_figure.data[0].y[-3] is None and gauges.samples == 2
    gauges.update_progress(event("frames", 60, 2.0, job="sequential"))
    assert fps.value == 30.0 and gauges.values["speedup"] is None
    gauges.set_baseline(20.0)
    gauges.update_progress(event("frames", 60, 1.0, job="parallel"))
    assert speedup.value == 3.0 and gauges.values["speedup"] == 3.0
    gauges.update_progress(event("frames", 900, 1.0))  # faster than the dial: the dial grows
    assert fps.gauge.axis.range[1] >= 900
    gauges.set_speedup(1.5, workers=2)
    assert speedup.value == 1.5 and tuple(speedup.gauge.axis.range) == (0, 2)


# ---- results --------------------------------------------------------------------------
def test_results_view_shows_a_render(tmp_path: Path, clip: Path) -> None:
    result = rr.render(clip, tmp_path / "out.mp4", "grayscale", workers=2, scheduler="threads", history=False)
    view = ResultsView(tmp_path)
    view.show_render(result)
    assert bytes(view.before.value).startswith(JPEG) and bytes(view.after.value).startswith(JPEG)
    assert view.frame_at.value == pytest.approx(1.5) and view.frame_at.max == pytest.approx(2.9)
    before, after = view.before.value, view.after.value
    view.frame_at.value = 0.0
    assert view.before.value != before and view.after.value != after
    video = view.video_box.children[1]
    assert isinstance(video, w.Video) and bytes(video.value) == (tmp_path / "out.mp4").read_bytes()
    assert list(view.chart.data[0].y) == [round(result.wall_seconds, 3)]
    assert view.export_button.disabled and "No history record" in view.export_link.value
    with pytest.raises(ValueError):
        view.export_report()
    small = ResultsView(tmp_path, max_inline_video_bytes=1)
    small.show_render(result)
    assert "too large to play inline" in small.video_box.children[0].value


def test_scaling_chart() -> None:
    chart = ScalingChart()
    chart.add(2, 6.0, 30)
    chart.add(1, 10.0, 18)
    chart.add(4, 5.0, 36)
    assert [p["workers"] for p in chart.points] == [1, 2, 4]
    assert chart.speedups == pytest.approx([1.0, 10 / 6, 2.0])
    assert chart.points[2]["efficiency"] == pytest.approx(0.5)
    assert list(chart.figure.data[2].y) == [1, 2, 4]
    assert "50%" in chart.table.value


# ---- control panel --------------------------------------------------------------------
def test_panel_needs_a_video_first(tmp_path: Path, history: History) -> None:
    panel = ControlPanel(tmp_path, history=history)
    assert panel.render_button.disabled and panel.compare_button.disabled and panel.cancel_button.disabled
    with pytest.raises(ValueError, match="choose a video"):
        panel.render()
    panel._start(panel.render)  # what the button does: shows the error instead of raising
    assert "choose a video" in panel.status.value
    assert panel.advise() is None and "Choose a video" in panel.advice.value


# ---- history, health, dashboard -------------------------------------------------------
def test_history_view_table_trends_and_export(tmp_path: Path, clip: Path, history: History) -> None:
    view = HistoryView(history, work_dir=tmp_path)
    assert view.records == [] and "No jobs" in view.table.value and view.trend.data == ()
    for workers in (1, 2):
        rr.render(
            clip, tmp_path / f"w{workers}.mp4", "grayscale", workers=workers, scheduler="threads", history=history
        )
    rr.compare(clip, "grayscale", workers=2, scheduler="threads", history=history)
    view.refresh_button.click()
    assert [r.kind for r in view.records] == ["compare", "render", "render"]
    assert all(f"<td style='padding:2px 8px;white-space:nowrap'>{r.id}</td>" in view.table.value for r in view.records)
    trend = view.trend_data()
    assert sorted(trend) == [1, 2] and len(trend[2]["id"]) == 2 and trend[2]["speedup"][0] is None
    assert len(view.trend.data) == 4  # fps and speedup for each worker count
    view.export_button.click()
    report = load_report(view.report_path)
    assert len(report["jobs"]) == 3 and "Download history.json" in view.export_link.value


def test_health_view(tmp_path: Path) -> None:
    view = HealthView(tmp_path / "not-created-yet")
    first = view.report
    assert 0 <= first.score <= 100 and view.figure.data[0].value == first.score
    # the state a page loading later draws holds the same number as the text
    assert view.figure._widget_data[0]["value"] == first.score and view.figure._widget_data[0]["mode"] == "gauge+number"
    assert len(view.figure.data[1].x) == 5 and f"<b>{first.score}</b>" in view.verdict.value
    view.refresh_button.click()
    assert view.report is not first


def test_dashboard_figures_load_plotly_once_per_page(tmp_path: Path, history: History) -> None:
    """Every figure's own module is a small loader (anywidget gives a model 2 s to load it);
    plotly's 5 MB widget bundle travels once, in one carrier widget all figures refer to."""
    import plotly.graph_objects as go

    from renderrush.ui.figure import BUNDLE, Figure, PlotlyBundle, plotly_bundle

    dash = Dashboard(tmp_path / "dash", history=history, scheduler="threads")
    figures = [
        dash.gauges.gauges_figure,
        dash.gauges.timeline_figure,
        dash.timeline.figure,
        dash.results.chart,
        dash.history.trend,
        dash.health.figure,
    ]
    assert all(isinstance(figure, Figure) and isinstance(figure, go.FigureWidget) for figure in figures)
    carrier = plotly_bundle()
    assert carrier.source == BUNDLE.read_text(encoding="utf-8") and len(carrier.source) > 1_000_000
    for figure in figures:
        state = figure.get_state()
        assert len(state["_esm"]) < 5000 and "import(url)" in state["_esm"]
        assert state["_plotly_bundle"] == f"IPY_MODEL_{carrier.model_id}"
    closed = carrier.model_id
    carrier.close()  # a closed carrier (Widget.close_all()) is replaced for the next figure
    renewed = Figure().get_state()["_plotly_bundle"]
    assert isinstance(plotly_bundle(), PlotlyBundle) and renewed == f"IPY_MODEL_{plotly_bundle().model_id}"
    assert renewed != f"IPY_MODEL_{closed}"


def test_figure_loader_imports_plotly_once_and_never_waits_in_initialize(tmp_path: Path) -> None:
    """The page-side loader, run in Node with fake models: initialize never waits for the
    bundle; views of several figures share one fetch and one import; a figure made after the
    import starts at once; a failed load is retried by the next view."""
    import json
    import shutil
    import subprocess

    from renderrush.ui.figure import Figure

    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed (apt-get install nodejs); the browser tests cover the loader too")
    loader = tmp_path / "loader.mjs"
    loader.write_text(Figure._esm)
    harness = ROOT / "tests" / "support" / "js" / "figure_loader.mjs"
    run = subprocess.run([node, str(harness), str(loader)], capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["startedBeforeLoad"] == [0, 0] and result["started"] == [1, 1]
    assert result["drawnWithOwnModel"] == [True, True, True]
    assert result["loads"] == {"getModel": 1, "objectUrls": 1}, "one carrier fetch and one import per page"
    assert result["startedAtInitialize"] == 1
    assert result["firstError"] == "Error: no carrier" and result["retried"] is True


def test_gauges_show_only_measured_values() -> None:
    gauges = LiveGauges()
    cpu, memory, fps, speedup = gauges.gauges_figure._widget_data
    for measured in (cpu, memory):  # read when the gauges were made
        assert measured["mode"] == "gauge+number" and 0 <= measured["value"] <= 100
    for unmeasured in (fps, speedup):
        assert unmeasured["mode"] == "gauge" and unmeasured.get("value") is None and "—" in unmeasured["title"]["text"]
    event = ProgressEvent("frames", 30, 90, 0, 3, 1.0, job="")
    gauges.update_progress(event)  # a plain render: frames/s measured, speedup still not
    fps, speedup = gauges.gauges_figure._widget_data[2:]
    assert fps["value"] == 30.0 and fps["mode"] == "gauge+number"
    assert speedup["mode"] == "gauge" and speedup.get("value") is None
    gauges.set_speedup(1.5, 2)
    assert gauges.gauges_figure._widget_data[3]["value"] == 1.5
    gauges.reset(2)  # a new job: its frames/s and speedup are not measured yet
    assert [g["mode"] for g in gauges.gauges_figure._widget_data[2:]] == ["gauge", "gauge"]


def test_segment_timeline_live_then_recorded(tmp_path: Path, clip: Path) -> None:
    from renderrush.ui import SegmentTimeline

    view = SegmentTimeline()
    view.reset()
    events = [
        ("segment_started", 0, 0.1),
        ("segment_started", 1, 0.2),
        ("frames", None, 0.5),
        ("segment_finished", 0, 0.6),
        ("segment_started", 2, 0.7),
        ("frames", None, 0.9),
    ]
    for kind, segment, elapsed in events:
        view.update_progress(ProgressEvent(kind, 0, 90, 0, 3, elapsed, segment=segment))
    (trace,) = view.figure.data
    assert list(trace.text) == ["#0", "#1", "#2"]
    assert list(trace.y) == ["worker 1", "worker 2", "worker 1"]  # #2 took the lane #0 freed
    assert list(trace.base) == [0.1, 0.2, 0.7] and list(trace.x) == pytest.approx([0.5, 0.7, 0.2])  # running: to now
    result = rr.render(
        clip, tmp_path / "out.mp4", "grayscale", workers=2, segment_seconds=1.0, scheduler="threads", history=False
    )
    view.show_result(result)
    (trace,) = view.figure._widget_data
    assert len(trace["x"]) == len(result.segments) == 3 == view.bars
    assert set(trace["y"]) == {"worker 1", "worker 2"}
    for entry, base, width in zip(result.segment_timeline, trace["base"], trace["x"]):
        assert base == pytest.approx(entry["start"], abs=1e-3) and width == pytest.approx(
            entry["end"] - entry["start"], abs=2e-3
        )
    assert "3 segments on 2 workers" in view.summary.value


def test_dashboard_first_load_shows_the_history(tmp_path: Path, clip: Path, history: History) -> None:
    comparison = rr.compare(clip, "grayscale", workers=2, segment_seconds=1.0, scheduler="threads", history=history)
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


def test_components_display_as_stable_text(tmp_path: Path) -> None:
    components = [
        ProgressView(),
        LiveGauges(),
        ScalingChart(),
        FilterEditor("grayscale"),
        VideoSource(tmp_path),
        ResultsView(tmp_path),
    ]
    texts = [c._repr_mimebundle_()["text/plain"] for c in components]
    assert texts == [
        "<ProgressView: idle>",
        "<LiveGauges>",
        "<ScalingChart>",
        "<FilterEditor: grayscale>",
        "<VideoSource: no video yet>",
        "<ResultsView: nothing yet>",
    ]
