"""The segment timeline: one entry per segment with the worker it ran on and when, in the
result, the CLI's --json, the history and the JSON report."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import renderrush as rr
from renderrush import cli
from renderrush.core.errors import ReportError
from renderrush.recording.history import History
from renderrush.recording.report import job_report, validate_report, write_report
from renderrush.segments.timeline import assign_lanes, idle_tail, segment_timeline, worker_name

from ...support.filters import FilterRegistry


@pytest.fixture
def paced_filter(registry: FilterRegistry) -> str:
    """A filter that sleeps per frame, so each segment lasts long enough to time."""
    return registry.slow("timeline_test_paced", delay=0.004)


def check_spans(timeline: list[dict], segments: int, wall_seconds: float) -> None:
    assert [entry["index"] for entry in timeline] == list(range(segments))
    for entry in timeline:
        assert 0.0 <= entry["start"] < entry["end"] <= wall_seconds + 1e-3, entry
        assert entry["reused"] is False and entry["frames"] > 0
    by_worker: dict[str, list[tuple[float, float]]] = {}
    for entry in timeline:
        by_worker.setdefault(entry["worker"], []).append((entry["start"], entry["end"]))
    for worker, spans in by_worker.items():  # one worker renders one segment at a time
        spans.sort()
        assert all(a[1] <= b[0] + 1e-3 for a, b in zip(spans, spans[1:])), (worker, spans)


def test_threads_render_times_every_segment_on_its_worker(
    tmp_path: Path, clip: Path, history: History, paced_filter: str
) -> None:
    result = rr.render(
        clip, tmp_path / "out.mp4", paced_filter, workers=2, segment_seconds=0.5, scheduler="threads", history=history
    )
    timeline = result.to_dict()["timeline"]
    assert timeline == result.segment_timeline
    check_spans(timeline, len(result.segments), result.wall_seconds)
    assert sum(entry["frames"] for entry in timeline) == 90
    workers = {entry["worker"] for entry in timeline}
    assert len(workers) == 2 and all(w.startswith(f"pid {os.getpid()} / ") for w in workers), workers
    # both workers were busy at the same time: the two first segments overlap
    first = sorted(timeline, key=lambda e: e["start"])[:2]
    assert first[0]["worker"] != first[1]["worker"] and first[1]["start"] < first[0]["end"]
    assert sorted(set(assign_lanes(timeline))) == [0, 1]
    # 15 frames at 4 ms or more: every segment took at least 60 ms
    assert all(entry["end"] - entry["start"] >= 0.06 for entry in timeline)
    assert not list((tmp_path).glob(".*renderrush*")), "the job folder and its timing files are gone"

    record = history.get(result.job_id)
    assert record.details["timeline"] == timeline, "kept with the job in the history"
    report = job_report(record)
    assert report["jobs"][0]["details"]["timeline"] == timeline
    write_report(report, tmp_path / "report.json")  # validates
    report["jobs"][0]["details"]["timeline"][0]["start"] = "soon"
    with pytest.raises(ReportError, match=r"timeline\[0\]\.start"):
        validate_report(report)


def test_sequential_render_runs_segments_back_to_back(tmp_path: Path, clip: Path) -> None:
    result = rr.render(clip, tmp_path / "out.mp4", "grayscale", segment_seconds=1.0, scheduler="sync", history=False)
    timeline = result.segment_timeline
    check_spans(timeline, 3, result.wall_seconds)
    assert {entry["worker"] for entry in timeline} == {worker_name()}
    assert assign_lanes(timeline) == [0, 0, 0]


def test_cli_json_has_the_timeline(
    tmp_path: Path, clip: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RENDERRUSH_HISTORY", str(tmp_path / "history.sqlite3"))
    status = cli.main(
        [
            "render",
            str(clip),
            "-o",
            str(tmp_path / "out.mp4"),
            "--workers",
            "2",
            "--segment-seconds",
            "1",
            "--scheduler",
            "threads",
            "--json",
            "--no-progress",
        ]
    )
    assert status == 0
    data = json.loads(capsys.readouterr().out)
    check_spans(data["timeline"], 3, data["wall_seconds"])
    keys = {"index", "worker", "start", "end", "frames", "reused", "pulse", "cut", "psnr", "ssim", "vmaf", "crf"}
    assert set(data["timeline"][0]) == keys
    first = data["timeline"][0]  # its quality, as measured beside the encoder
    assert first["psnr"] == data["segments"][0]["quality"]["psnr"] > 30 and first["crf"] == 23 and not first["cut"]


def test_compare_keeps_both_runs_timelines(tmp_path: Path, clip: Path, history: History) -> None:
    comparison = rr.compare(clip, "grayscale", workers=2, segment_seconds=1.0, scheduler="threads", history=history)
    data = comparison.to_dict()
    for run in ("sequential", "parallel"):
        check_spans(data[run]["timeline"], 3, data[run]["wall_seconds"])
    assert len({e["worker"] for e in data["sequential"]["timeline"]}) == 1
    assert history.get(comparison.job_id).details["parallel"]["timeline"] == data["parallel"]["timeline"]


UNMEASURED = {"psnr": None, "ssim": None, "vmaf": None, "crf": None}


def test_unknown_times_and_lanes() -> None:
    from renderrush.segments.render import SegmentResult

    resumed = SegmentResult(0, 30, 0.0, "/nowhere/segment-0.mp4", 100, 0, reused=True)
    remote = SegmentResult(1, 30, 1.5, "", 100, 77, worker="tcp://10.0.0.5:4000")
    assert segment_timeline([remote, resumed], started_at=0.0) == [
        {"index": 0, "worker": None, "start": None, "end": None, "frames": 30, "reused": True, **UNMEASURED},
        {"index": 1, "worker": "tcp://10.0.0.5:4000", "start": None, "end": None, "frames": 30, "reused": False}
        | UNMEASURED,
    ]
    entries = [
        {"worker": "b", "start": 0.5, "end": 1.0},
        {"worker": "a", "start": 0.1, "end": 2.0},
        {"worker": None, "start": None, "end": None},
        {"worker": "b", "start": 1.0, "end": 1.2},
    ]
    assert assign_lanes(entries) == [1, 0, 2, 1]
    assert idle_tail(entries) == pytest.approx(0.8)
    assert idle_tail([{"worker": None, "start": None, "end": None}]) is None
