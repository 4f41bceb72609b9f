"""`renderrush.ui.history`: the history view lists the newest jobs in a table (the columns the
notebook shows, values written to read well), draws frames/s and speedup trends per worker
count from finished jobs, and exports what it shows as a JSON report; the health view shows
the machine's score as a gauge, its components as bars and a verdict in the score's colour."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import renderrush as rr
from renderrush.core.errors import HistoryError
from renderrush.jobs.result import Comparison, JobResult
from renderrush.recording.health import HealthReadings, system_health
from renderrush.recording.history import History
from renderrush.recording.report import load_report
from renderrush.ui import HealthView, HistoryView
from renderrush.ui.history import history_table, history_to_show

GB = 10**9


def test_history_view_table_trends_and_export(tmp_path: Path, small_clip: Path, history: History) -> None:
    view = HistoryView(history, work_dir=tmp_path)
    assert view.records == [] and "No jobs" in view.table.value and view.trend.data == ()
    for workers in (1, 2):
        rr.render(
            small_clip, tmp_path / f"w{workers}.mp4", "grayscale", workers=workers, scheduler="threads", history=history
        )
    rr.compare(small_clip, "grayscale", workers=2, segment_seconds=1.0, scheduler="threads", history=history)
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


# ---- which history ---------------------------------------------------------------------------
def test_a_view_shows_a_given_history_a_path_or_the_default(tmp_path: Path, history: History) -> None:
    assert history_to_show(history) is history
    assert history_to_show(str(tmp_path / "other.sqlite3")).path == tmp_path / "other.sqlite3"
    assert history_to_show(None).path == tmp_path / "default-history.sqlite3"  # $RENDERRUSH_HISTORY
    assert repr(HistoryView(None, work_dir=tmp_path)) == "<HistoryView: default-history.sqlite3>"


def test_a_view_cannot_do_without_a_usable_history(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(HistoryError):
        HistoryView(tmp_path / "a-file" / "history.sqlite3")


# ---- table and trends -----------------------------------------------------------------------
@pytest.fixture
def recorded(rendered: JobResult, history: History) -> dict[str, int]:
    """A failed render, a finished 2-worker render and a finished comparison (speedup 2), oldest first."""
    request = {"input": "/videos/clip.mp4", "output": "o.mp4", "filters": "grayscale", "workers": 2}
    slower = dataclasses.replace(rendered, wall_seconds=rendered.wall_seconds * 2)
    return {
        "failed": history.record_job("render", "failed", request=request, error="disk full"),
        "render": history.record_job("render", "finished", result=rendered),
        "compare": history.record_job(
            "compare", "finished", comparison=Comparison(sequential=slower, parallel=rendered, identical=True)
        ),
    }


def test_history_table_writes_values_to_read_well(history: History, recorded: dict[str, int]) -> None:
    header, rows = history_table([history.get(recorded[kind]) for kind in ("failed", "render", "compare")])
    assert header == ["id", "when", "kind", "status", "input", "size", "filters", "workers", "wall", "fps"] + [
        "speedup",
        "efficiency",
    ]
    failed, render, compare = ({name: value for name, value in zip(header, row)} for row in rows)
    assert failed["input"] == "clip.mp4" and failed["status"] == "failed" and failed["workers"] == "2"
    assert [failed[name] for name in ("size", "wall", "fps", "speedup", "efficiency")] == ["—"] * 5
    assert render["size"] == "64×48" and render["wall"].endswith(" s") and render["fps"].isdigit()
    assert (render["speedup"], render["efficiency"]) == ("—", "—")
    assert (compare["kind"], compare["speedup"], compare["efficiency"]) == ("compare", "2.00", "100%")
    assert len(failed["when"]) == 19 and failed["when"][4] == "-"  # local "YYYY-MM-DD HH:MM:SS"
    assert history_table([]) == (header, [])


def test_trends_come_from_finished_jobs_only(tmp_path: Path, history: History, recorded: dict[str, int]) -> None:
    view = HistoryView(history, work_dir=tmp_path)
    assert [r.id for r in view.records] == [recorded["compare"], recorded["render"], recorded["failed"]]
    trend = view.trend_data()
    assert list(trend) == [2] and trend[2]["id"] == [recorded["render"], recorded["compare"]]
    assert trend[2]["speedup"] == [None, pytest.approx(2.0)]
    fps, speedup = view.trend._widget_data  # what a page loading now draws
    assert fps["x"] == [recorded["render"], recorded["compare"]] and fps["name"] == "2"
    assert speedup["x"] == [recorded["compare"]] and speedup["y"] == [pytest.approx(2.0)]
    assert view.table.value.count("<tr>") == 4  # a header and the three jobs


def test_limit_and_export_to_a_chosen_path(tmp_path: Path, history: History, recorded: dict[str, int]) -> None:
    view = HistoryView(history, limit=2, work_dir=tmp_path)
    assert [r.id for r in view.records] == [recorded["compare"], recorded["render"]]
    path = view.export_report(tmp_path / "two.json")
    assert path == tmp_path / "two.json" and view.report_path == path
    assert [job["id"] for job in load_report(path)["jobs"]] == [recorded["compare"], recorded["render"]]
    assert "(2 jobs, saved as " in view.export_link.value and "Download two.json" in view.export_link.value


# ---- health -----------------------------------------------------------------------------
def readings(cpu: float, free_fraction: float) -> HealthReadings:
    return HealthReadings(
        cpu_percent=cpu,
        mem_available=int(8 * GB * free_fraction),
        mem_total=8 * GB,
        swap_percent=0.0,
        disk_free=int(100 * GB * free_fraction),
        disk_total=100 * GB,
        load_avg_1m=cpu / 50,
        cores=2,
    )


@pytest.mark.parametrize(
    "cpu, free, colour, bar",
    [(0.0, 1.0, "#1b7a2f", "#6aa84f"), (100.0, 0.02, "#b00020", "#cc4125")],  # green from 80, red below 50
)
def test_health_view_colours_the_verdict_by_score(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cpu: float, free: float, colour: str, bar: str
) -> None:
    checked: list[Path] = []

    def measured(folder: Path) -> object:
        checked.append(folder)
        return system_health(folder, readings=readings(cpu, free))

    monkeypatch.setattr("renderrush.ui.history.system_health", measured)
    view = HealthView(tmp_path / "a" / "b")
    assert checked == [tmp_path], "a folder not created yet: the disk of its nearest existing parent"
    report = view.report
    assert f"Score <b>{report.score}</b>/100" in view.verdict.value and colour in view.verdict.value
    bars = view.figure._widget_data[1]
    assert bars["x"] == [round(c.score, 1) for c in report.components]
    assert bars["y"] == [f"{c.name} (×{c.weight:.2f})" for c in report.components]
    assert bars["text"] == [c.detail for c in report.components]
    expected = ["#6aa84f" if c.score >= 80 else "#f1c232" if c.score >= 50 else "#cc4125" for c in report.components]
    assert bars["marker"]["color"] == expected and bar in expected


def test_health_view_can_wait_for_its_first_measurement(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        "renderrush.ui.history.system_health", lambda folder: system_health(folder, readings=readings(60.0, 0.3))
    )
    view = HealthView(tmp_path, auto_refresh=False)
    assert view.report is None and view.verdict.value == "" and view.figure._widget_data[0]["mode"] == "gauge"
    report = view.refresh()
    assert view.report is report and 50 <= report.score < 80 and "#9a6700" in view.verdict.value  # amber
    assert view.figure._widget_data[0]["value"] == report.score and repr(view) == "<HealthView>"
