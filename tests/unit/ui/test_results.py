"""`renderrush.ui.results`: what a finished job produced. A render or a comparison fills the
wall-time chart, the before/after frames at the slider's time, the output video (inline up
to a size) and, with its history record, a JSON report to download; a job of the history is
shown from its record, with or without its files. The scaling chart relates wall time and
speedup to the number of workers."""

from __future__ import annotations

import base64
import dataclasses
import re
from pathlib import Path

import ipywidgets as w
import pytest

from renderrush.jobs.result import Comparison, JobResult
from renderrush.recording.history import History
from renderrush.recording.report import load_report
from renderrush.ui import ResultsView
from renderrush.ui.results import download_link

JPEG = b"\xff\xd8"


def test_results_view_shows_a_render(tmp_path: Path, rendered: JobResult) -> None:
    result = rendered
    view = ResultsView(tmp_path)
    view.show_render(result)
    assert bytes(view.before.value).startswith(JPEG) and bytes(view.after.value).startswith(JPEG)
    assert view.frame_at.value == pytest.approx(1.5) and view.frame_at.max == pytest.approx(2.9)
    before, after = view.before.value, view.after.value
    view.frame_at.value = 0.0
    assert view.before.value != before and view.after.value != after
    video = view.video_box.children[1]
    assert isinstance(video, w.Video) and bytes(video.value) == result.output.read_bytes()
    assert list(view.chart.data[0].y) == [round(result.wall_seconds, 3)]
    assert view.export_button.disabled and "No history record" in view.export_link.value
    with pytest.raises(ValueError):
        view.export_report()
    small = ResultsView(tmp_path, max_inline_video_bytes=1)
    small.show_render(result)
    assert "too large to play inline" in small.video_box.children[0].value


def test_download_link_carries_the_file_in_a_data_url(tmp_path: Path) -> None:
    path = tmp_path / "r&d report.json"
    path.write_bytes(b'{"jobs": []}')
    link = download_link(path)
    match = re.fullmatch(r'<a download="(.*)" href="data:application/json;base64,(.*)" target="_blank">(.*)</a>', link)
    assert match is not None, link
    assert match.group(1) == "r&amp;d report.json" and match.group(3) == "⬇ Download r&amp;d report.json"
    assert base64.b64decode(match.group(2)) == b'{"jobs": []}'
    given = download_link(tmp_path / "not-written.txt", data=b"\x00\xff", mime="text/plain")
    assert 'href="data:text/plain;base64,AP8="' in given


# ---- renders, comparisons and records ---------------------------------------------------------
def test_a_new_view_has_nothing_to_show(tmp_path: Path) -> None:
    view = ResultsView(tmp_path)
    view.refresh_frames()  # no job yet: nothing to read
    assert view.before.value == b"" and view.export_button.disabled and view.video_box.children == ()
    assert "No results yet" in view.summary.value and list(view.chart.data[0].y) == []


def test_a_render_with_its_record_exports_its_report(tmp_path: Path, rendered: JobResult, history: History) -> None:
    record = history.get(history.record_job("render", "finished", result=rendered))
    view = ResultsView(tmp_path / "work")
    view.show_render(rendered, record)
    assert not view.export_button.disabled and view.export_link.value == ""
    assert "<b>out.mp4</b>: 30 frames" in view.summary.value and "2 workers, threads scheduler, 3 segments" in (
        view.summary.value
    )
    assert view.chart.layout.title.text == "Wall time" and view.chart._widget_data[0]["x"] == ["threads (2 workers)"]
    view.export_button.click()
    assert view.report_path == tmp_path / "work" / "reports" / f"job-{record.id}.json"
    assert [job["id"] for job in load_report(view.report_path)["jobs"]] == [record.id]
    assert f"Download job-{record.id}.json" in view.export_link.value
    elsewhere = view.export_report(tmp_path / "mine.json")
    assert elsewhere == tmp_path / "mine.json" and load_report(elsewhere)["jobs"][0]["id"] == record.id


def test_a_comparison_shows_both_runs(tmp_path: Path, rendered: JobResult) -> None:
    slower = dataclasses.replace(rendered, wall_seconds=rendered.wall_seconds * 2)
    comparison = Comparison(sequential=slower, parallel=rendered, identical=True)
    view = ResultsView(tmp_path)
    view.show_comparison(comparison)
    assert view.comparison is comparison and view.result is rendered and repr(view) == "<ResultsView: comparison>"
    bars = view.chart._widget_data[0]  # stored for pages drawn later
    assert bars["x"] == ["sequential (1 at a time)", "parallel (2 workers)"]
    assert bars["y"] == [round(slower.wall_seconds, 3), round(rendered.wall_seconds, 3)]
    assert view.chart.layout.title.text == "Speedup 2.00× · efficiency 100% with 2 workers (ideal: 2×)"
    assert view.summary.value.startswith("<pre") and "outputs identical" in view.summary.value
    assert bytes(view.after.value).startswith(JPEG) and isinstance(view.video_box.children[1], w.Video)


def test_a_comparison_without_kept_outputs_shows_the_input_only(tmp_path: Path, rendered: JobResult) -> None:
    gone = dataclasses.replace(rendered, output=tmp_path / "removed.mp4")
    view = ResultsView(tmp_path)
    view.show_comparison(Comparison(sequential=gone, parallel=gone, identical=True))
    assert bytes(view.before.value).startswith(JPEG) and view.after.value == b""
    assert view.after.layout.display == "none", "no broken image without an output"
    assert "output was not kept" in view.video_box.children[0].value


def test_a_finished_job_of_the_history_is_shown_from_its_record(
    tmp_path: Path, rendered: JobResult, history: History
) -> None:
    record = history.get(history.record_job("render", "finished", result=rendered))
    view = ResultsView(tmp_path)
    view.show_record(record)
    assert view.record is record and view.result is None and not view.export_button.disabled
    assert f"Last job in the history (job {record.id}, render, " in view.summary.value
    assert "<b>ui-small.mp4</b>, 30 frames in " in view.summary.value and "filters <code>grayscale</code>" in (
        view.summary.value
    )
    assert view.chart._widget_data[0]["y"] == [round(rendered.wall_seconds, 3)]
    assert bytes(view.before.value).startswith(JPEG) and bytes(view.after.value).startswith(JPEG)
    assert isinstance(view.video_box.children[1], w.Video)


def test_a_record_whose_files_are_gone_shows_its_figures_only(
    tmp_path: Path, rendered: JobResult, history: History
) -> None:
    moved = dataclasses.replace(rendered, input=tmp_path / "gone.mp4", output=tmp_path / "gone-out.mp4")
    record = history.get(history.record_job("render", "finished", result=moved))
    view = ResultsView(tmp_path)
    view.show_record(record)
    assert view.input_path is None and view.output_path is None and view.before.value == b""
    assert "no longer on disk" in view.video_box.children[0].value
    assert not view.export_button.disabled  # the report is in the history, not in the files


def test_a_job_that_did_not_finish_has_no_results(tmp_path: Path, history: History) -> None:
    request = {"input": "clip.mp4", "output": "out.mp4", "filters": "grayscale", "workers": 2}
    record = history.get(history.record_job("render", "failed", request=request, error="disk full"))
    view = ResultsView(tmp_path)
    with pytest.raises(ValueError, match=rf"job {record.id} did not finish, so it has no results to show"):
        view.show_record(record)
    assert view.record is None and "No results yet" in view.summary.value
