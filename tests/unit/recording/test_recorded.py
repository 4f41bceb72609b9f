"""Every job lands in the history (finished, failed, interrupted), the advisor steps in
when workers are not given, and the history/report/health/advise commands work."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from renderrush import (
    FilterError,
    History,
    JobCancelledError,
    compare,
    load_report,
    make_sample_video,
    render,
)
from renderrush.cli import main

from ...support.filters import FilterRegistry


def test_finished_render_is_recorded_with_timeline(clip: Path, tmp_path: Path, history: History) -> None:
    result = render(
        clip, tmp_path / "a.mp4", "grayscale", workers=2, segment_seconds=1, scheduler="threads", history=history
    )
    record = history.get(result.job_id)
    assert (record.kind, record.status, record.frames, record.workers) == ("render", "finished", 90, 2)
    assert record.filters == "grayscale" and record.width == 160
    assert record.monitor_summary["duration"] > 0
    assert record.details["output"] == str(tmp_path / "a.mp4")
    # however fast the job, its chart runs from a reading at its start to one at its end
    machine = [s for s in record.timeline if s.get("source") != "worker"]
    assert len(machine) >= 2 and machine[0]["t"] < machine[-1]["t"] <= record.monitor_summary["duration"]
    assert machine[0]["job_cpu_percent"] == 0.0 and machine[0]["job_rss"] > 0  # the start reading


def test_failed_and_cancelled_jobs_are_recorded(
    clip: Path, tmp_path: Path, history: History, registry: FilterRegistry
) -> None:
    with pytest.raises(FilterError):
        render(clip, tmp_path / "f.mp4", "blurr", history=history)
    cancel = threading.Event()
    cancel.set()
    registry.slow("slowish")
    with pytest.raises(JobCancelledError):
        render(
            clip,
            tmp_path / "c.mp4",
            "slowish",
            workers=2,
            segment_seconds=1,
            scheduler="threads",
            cancel=cancel,
            history=history,
        )
    cancelled, failed = history.list()
    assert (failed.status, failed.filters) == ("failed", "blurr") and "unknown filter 'blurr'" in failed.error
    assert cancelled.status == "interrupted" and "cancelled" in cancelled.error


@pytest.mark.slow  # real processes and real time: the full suite runs it, the fast subset does not
def test_monitor_samples_reach_on_sample_while_the_job_runs(
    clip: Path, tmp_path: Path, history: History, registry: FilterRegistry
) -> None:
    samples = []
    registry.slow("slowish")
    result = render(
        clip,
        tmp_path / "s.mp4",
        "slowish",
        workers=2,
        segment_seconds=1,
        scheduler="threads",
        history=history,
        on_sample=samples.append,
    )
    # the job runs in this process (x264 in-process; ffmpeg only for the brief stitch): its memory is seen
    assert len(samples) >= 2 and all(s.job_processes >= 1 and s.job_rss > 0 for s in samples)
    assert [s.t for s in samples] == sorted(s.t for s in samples)
    assert len(history.get(result.job_id).timeline) >= len(samples) - 1


def test_compare_is_one_job_with_speedup(clip: Path, history: History) -> None:
    result = compare(clip, "invert", workers=2, segment_seconds=1, scheduler="threads", history=history)
    [record] = history.list()
    assert record.id == result.job_id and record.kind == "compare"
    assert record.speedup == pytest.approx(result.speedup)


def test_advisor_keeps_a_short_job_in_process_from_rules_then_from_history(
    videos: Path, tmp_path: Path, history: History
) -> None:
    source = make_sample_video(videos / "advice.mp4", seconds=4, size=(160, 120), audio=False)
    first = render(source, tmp_path / "1.mp4", "sharpen", scheduler="threads", history=history)
    assert first.recommendation["method"] == "in-process" and "per-pixel estimate" in first.recommendation["reason"]
    assert (first.workers, first.scheduler) == (1, "sync")
    render(source, tmp_path / "2.mp4", "sharpen", workers=2, scheduler="threads", history=history)
    advised = render(source, tmp_path / "3.mp4", "sharpen", scheduler="threads", history=history)
    assert advised.recommendation["method"] == "in-process"
    assert "median of 1 past run at 1 worker" in advised.recommendation["reason"], "the measured run, not the estimate"
    assert (
        render(source, tmp_path / "5.mp4", "sharpen", workers=2, scheduler="threads", history=False).recommendation
        is None
    )


def test_history_report_health_advise_commands(
    clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RENDERRUSH_HISTORY", str(tmp_path / "cli.sqlite3"))
    assert main(["render", str(clip), "-o", str(tmp_path / "x.mp4"), "--workers", "2", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["history", "--json"]) == 0
    [job] = json.loads(capsys.readouterr().out)["jobs"]
    assert job["status"] == "finished" and job["frames"] == 90
    assert main(["report", str(job["id"]), "-o", str(tmp_path / "r.json")]) == 0
    assert load_report(tmp_path / "r.json")["jobs"][0]["id"] == job["id"]
    assert main(["report", "999", "-o", str(tmp_path / "missing.json")]) == 1
    assert "999" in capsys.readouterr().err and not (tmp_path / "missing.json").exists()
    assert main(["health", "--json"]) == 0
    health = json.loads(capsys.readouterr().out)
    assert 0 <= health["score"] <= 100 and {c["name"] for c in health["components"]} >= {"cpu", "memory", "disk"}
    assert main(["advise", str(clip), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["workers"] >= 1
