"""Job history: real render and compare results stored and read back, filters, failed
jobs, the database path rules, schema migrations and concurrent writers."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

import renderrush.recording.history as history_module
from renderrush import Comparison, FilterError, JobResult, compare, make_sample_video, render
from renderrush.cli import main
from renderrush.core.errors import RenderRushWarning
from renderrush.recording.history import History, HistoryError, default_history_path
from renderrush.recording.records import COLUMNS, JobRecord

TIMELINE = [
    {
        "t": 0.5 * i,
        "cpu_percent": 40.0 + i,
        "per_core": [35.0 + i, 45.0 + i],
        "mem_used": 10**9,
        "mem_available": 2 * 10**9,
        "swap_percent": 0.0,
        "disk_read_bps": 0.0,
        "disk_write_bps": 1e5,
        "job_rss": 2 * 10**8,
        "job_cpu_percent": 150.0,
        "job_processes": 3,
    }
    for i in range(4)
]
"""What `Monitor.timeline()` returns (plain dicts; the monitor itself is not needed here)."""
SUMMARY = {
    "duration": 2.0,
    "samples": 4,
    "interval": 0.5,
    "cpu_mean": 41.5,
    "cpu_max": 43.0,
    "job_rss_max": 2 * 10**8,
    "job_cpu_mean": 150.0,
    "mem_used_max": 10**9,
    "overhead_seconds": 0.01,
}
REQUEST = {
    "input": "/videos/missing.mp4",
    "output": "/videos/out.mp4",
    "filters": "blur:99",
    "workers": 3,
    "segment_seconds": 2.0,
    "scheduler": "processes",
    "preset": "veryfast",
    "crf": 23,
}


@pytest.fixture(scope="module")
def jobs(tmp_path_factory: pytest.TempPathFactory) -> tuple[JobResult, Comparison]:
    """One real render and one real comparison of a tiny generated clip."""
    folder = tmp_path_factory.mktemp("history-jobs")
    clip = make_sample_video(folder / "tiny.mp4", seconds=1, size=(96, 64))
    # history=False: a module fixture runs before any test's private default history is set up,
    # and must not write into the user's own history
    options = dict(workers=2, segment_seconds=0.5, scheduler="threads", history=False)
    return render(clip, folder / "tiny.gray.mp4", "grayscale", **options), compare(clip, "invert", **options)


def fill(history: History, jobs: tuple[JobResult, Comparison]) -> dict[str, int]:
    """A finished render (monitored), a finished comparison, a failed and an interrupted job."""
    result, comparison = jobs
    return {
        "render": history.record_job("render", "finished", result=result, monitor_summary=SUMMARY, timeline=TIMELINE),
        "compare": history.record_job("compare", "finished", comparison=comparison),
        "failed": history.record_job(
            "render", "failed", request=REQUEST, error=FilterError("blur sigma 99 is above 50")
        ),
        "interrupted": history.record_job("compare", "interrupted", request=REQUEST, error=KeyboardInterrupt()),
    }


def json_round_trip(value: object) -> object:
    return json.loads(json.dumps(value, default=str))


def test_render_job_round_trip_with_json_columns_decoded(history: History, jobs: tuple[JobResult, Comparison]) -> None:
    result, _ = jobs
    record = history.get(fill(history, jobs)["render"])
    assert (record.kind, record.status, record.error) == ("render", "finished", None)
    assert record.input == "tiny.mp4"
    assert (record.width, record.height, record.frame_count, record.fps) == (96, 64, 30, 30.0)
    assert record.duration == pytest.approx(1.0) and record.has_audio is result.info.has_audio
    assert (record.filters, record.workers, record.segment_seconds, record.scheduler) == (
        "grayscale",
        2,
        0.5,
        "threads",
    )
    assert (record.preset, record.crf) == (result.encode.preset, result.encode.crf)
    assert (record.frames, record.wall_seconds, record.cpu_percent) == (30, result.wall_seconds, result.cpu_percent)
    assert record.fps_rendered == pytest.approx(result.fps)
    assert record.speedup is None and record.efficiency is None
    assert record.details == json_round_trip(result.to_dict())
    assert record.monitor_summary == SUMMARY and record.timeline == TIMELINE
    assert record.machine["cores"] >= 1 and record.machine["packages"]["numpy"] == np.__version__
    created = datetime.fromisoformat(record.created_at)
    assert created.utcoffset() == timedelta(0) and abs(datetime.now(timezone.utc) - created) < timedelta(minutes=1)
    assert record.to_dict()["details"]["segments"][0]["index"] == 0


def test_compare_job_stores_parallel_run_and_speedup(history: History, jobs: tuple[JobResult, Comparison]) -> None:
    _, comparison = jobs
    record = history.get(fill(history, jobs)["compare"])
    assert (record.kind, record.filters, record.scheduler, record.workers) == ("compare", "invert", "threads", 2)
    assert (record.speedup, record.efficiency) == (comparison.speedup, comparison.efficiency)
    assert (record.frames, record.wall_seconds) == (comparison.parallel.frames, comparison.parallel.wall_seconds)
    assert record.details["sequential"]["scheduler"] == "sync" and record.details["identical"] is True
    assert record.monitor_summary is None and record.timeline is None


def test_failed_and_interrupted_jobs_keep_request_and_error(
    history: History, jobs: tuple[JobResult, Comparison]
) -> None:
    ids = fill(history, jobs)
    failed, interrupted = history.get(ids["failed"]), history.get(ids["interrupted"])
    assert (failed.status, failed.error) == ("failed", "blur sigma 99 is above 50")
    assert (interrupted.status, interrupted.error) == ("interrupted", "KeyboardInterrupt")
    for record in (failed, interrupted):
        assert record.input == "missing.mp4" and record.details == {"request": REQUEST}
        assert (record.filters, record.workers, record.scheduler, record.crf) == ("blur:99", 3, "processes", 23)
        assert record.width is None and record.frames is None and record.has_audio is None
    other = history.get(history.record_job("render", "failed", request=REQUEST, error=ValueError("odd")))
    assert other.error == "ValueError: odd"


def test_list_filters_newest_first(history: History, jobs: tuple[JobResult, Comparison]) -> None:
    ids = fill(history, jobs)
    newest_first = [ids[name] for name in ("interrupted", "failed", "compare", "render")]
    assert [r.id for r in history.list()] == newest_first
    assert [r.id for r in history.list(kind="compare")] == [ids["interrupted"], ids["compare"]]
    assert [r.id for r in history.list(status="failed")] == [ids["failed"]]
    assert [r.id for r in history.list(input="/elsewhere/tiny.mp4")] == [ids["compare"], ids["render"]]
    assert [r.id for r in history.list(workers=3, kind="render")] == [ids["failed"]]
    assert [r.id for r in history.list(limit=2)] == newest_first[:2]
    assert history.list(since=datetime.now(timezone.utc) + timedelta(seconds=1)) == []
    assert len(history.list(since=history.get(ids["compare"]).created_at)) == 3
    with pytest.raises(HistoryError, match="kind must be one of render, compare"):
        history.list(kind="renders")


def test_delete_clear_and_len(history: History, jobs: tuple[JobResult, Comparison]) -> None:
    ids = fill(history, jobs)
    assert len(history) == 4
    history.delete(ids["compare"])
    assert len(history) == 3 and ids["compare"] not in [r.id for r in history.list()]
    for action in (history.get, history.delete):
        with pytest.raises(HistoryError, match=f"no job {ids['compare']} in the history"):
            action(ids["compare"])
    assert history.clear() == 3 and len(history) == 0 and history.list() == []


@pytest.mark.parametrize(
    ("kind", "status", "arguments", "message"),
    [
        ("encode", "finished", {}, "kind must be one of"),
        ("render", "done", {}, "status must be one of"),
        ("render", "finished", {"comparison": "c"}, "recorded with result=, not comparison="),
        ("compare", "failed", {"result": "r", "request": REQUEST}, "recorded with comparison=, not result="),
        ("render", "finished", {"request": REQUEST}, "finished render job needs its result="),
        ("compare", "failed", {"error": "boom"}, "needs the request"),
    ],
)
def test_record_job_rejects_inconsistent_arguments(
    history: History, kind: str, status: str, arguments: dict, message: str
) -> None:
    with pytest.raises(HistoryError, match=message):
        history.record_job(kind, status, **arguments)
    assert len(history) == 0


def test_a_failing_batch_is_rolled_back(history: History, jobs: tuple[JobResult, Comparison]) -> None:
    record = history.get(fill(history, jobs)["render"])
    broken = JobRecord(**{**record.to_dict(), "details": None})  # details is NOT NULL
    with pytest.raises(HistoryError, match="NOT NULL"):
        history.import_records([record, broken])
    assert len(history) == 4


def _insert_jobs(path: str, barrier: multiprocessing.synchronize.Barrier, worker: int, count: int) -> None:
    barrier.wait()  # both processes open the fresh database and write at the same moment
    history = History(path)
    for i in range(count):
        history.record_job("render", "failed", request={"input": f"w{worker}-{i}.mp4"}, error="stopped")


def _insert_jobs_one_open_each(
    path: str, barrier: multiprocessing.synchronize.Barrier, worker: int, count: int
) -> None:
    """As separate jobs do: every row through a History opened for it."""
    warnings.simplefilter("ignore", RenderRushWarning)
    barrier.wait()
    for i in range(count):
        History(path).record_job("render", "failed", request={"input": f"w{worker}-{i}.mp4"}, error="stopped")


@pytest.mark.slow  # real processes and real time: the full suite runs it, the fast subset does not
def test_concurrent_inserts_from_two_processes_lose_no_row(tmp_path: Path) -> None:
    path, workers, count = str(tmp_path / "shared.sqlite3"), 2, 50
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(workers)
    processes = [context.Process(target=_insert_jobs, args=(path, barrier, w, count)) for w in range(workers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [p.exitcode for p in processes] == [0] * workers
    records = History(path).list()
    assert len(records) == workers * count
    assert len({r.id for r in records}) == workers * count
    assert {r.input for r in records} == {f"w{w}-{i}.mp4" for w in range(workers) for i in range(count)}


@pytest.mark.slow  # real processes and real time: the full suite runs it, the fast subset does not
def test_concurrent_writers_that_find_a_damaged_database_lose_no_row(tmp_path: Path) -> None:
    """Three processes find the same damaged file at once: it is moved aside exactly once
    (a fresh database another writer has just started is never moved), and every row lands."""
    path, workers, count = tmp_path / "shared.sqlite3", 3, 20
    damage = b"this is not an SQLite database\n" * 64
    path.write_bytes(damage)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(workers)
    processes = [
        context.Process(target=_insert_jobs_one_open_each, args=(str(path), barrier, w, count)) for w in range(workers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=180)
    assert [p.exitcode for p in processes] == [0] * workers
    records = History(path).list()
    assert {r.input for r in records} == {f"w{w}-{i}.mp4" for w in range(workers) for i in range(count)}
    assert len(records) == workers * count
    kept = list(tmp_path.glob("shared.sqlite3.damaged-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == damage


def test_a_damaged_database_is_kept_aside_and_a_fresh_one_started(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    History(path).record_job("render", "failed", request=REQUEST, error="stopped")
    damaged = b"\0" * 100 + path.read_bytes()[100:]  # the SQLite header zeroed
    path.write_bytes(damaged)
    with pytest.warns(RenderRushWarning) as caught:
        history = History(path)
    (message,) = [str(w.message) for w in caught]
    (kept,) = tmp_path.glob("history.sqlite3.damaged-2*")
    assert message == (
        f"the job history '{path}' was damaged (file is not a database): it is kept as '{kept.name}' "
        "and a new history was started"
    )
    assert kept.read_bytes() == damaged and len(history) == 0
    history.record_job("render", "failed", request=REQUEST, error="stopped")
    assert len(History(path)) == 1


def test_a_damaged_history_never_blocks_a_render(tmp_path: Path) -> None:
    clip = make_sample_video(tmp_path / "clip.mp4", seconds=1, size=(96, 64), audio=False)
    path = tmp_path / "history.sqlite3"
    path.write_text("notes, not a database\n")
    with pytest.warns(RenderRushWarning, match="was damaged"):
        result = render(clip, tmp_path / "out.mp4", history=path, scheduler="threads", workers=1)
    assert result.frames == 30 and History(path).get(result.job_id).status == "finished"
    assert (tmp_path / "out.mp4").is_file()


def test_an_unusable_history_renders_without_recording_and_warns_once(tmp_path: Path) -> None:
    clip = make_sample_video(tmp_path / "clip.mp4", seconds=1, size=(96, 64), audio=False)
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("a file where the history's folder should be")
    unusable = not_a_folder / "history.sqlite3"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = [
            render(clip, tmp_path / f"out{i}.mp4", history=unusable, scheduler="threads", workers=1) for i in range(2)
        ]
    assert [r.frames for r in results] == [30, 30] and [r.job_id for r in results] == [None, None]
    messages = [str(w.message) for w in caught if issubclass(w.category, RenderRushWarning)]
    assert messages == [
        f"jobs are not recorded: cannot open the job history '{unusable}' (File exists): "
        "set RENDERRUSH_HISTORY to a writable file path"
    ]


def test_the_cli_says_so_in_one_warning_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = make_sample_video(tmp_path / "clip.mp4", seconds=1, size=(96, 64), audio=False)
    path = tmp_path / "history.sqlite3"
    path.write_text("notes, not a database\n")
    monkeypatch.setenv("RENDERRUSH_HISTORY", str(path))
    status = main(
        [
            "render",
            str(clip),
            "-o",
            str(tmp_path / "out.mp4"),
            "--workers",
            "1",
            "--scheduler",
            "threads",
            "--no-progress",
        ]
    )
    out, err = capsys.readouterr()
    (kept,) = tmp_path.glob("history.sqlite3.damaged-*")
    assert status == 0 and "history job 1" in out
    assert err.splitlines() == [
        f"renderrush: warning: the job history '{path}' was damaged (file is not a database): it is kept as "
        f"'{kept.name}' and a new history was started"
    ]


def test_path_comes_from_parameter_then_env_var_then_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.delenv("RENDERRUSH_HISTORY", raising=False)
    assert default_history_path() == tmp_path / "home/.local/share/renderrush/history.sqlite3"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert History().path == tmp_path / "data/renderrush/history.sqlite3"
    assert History().path.is_file()
    monkeypatch.setenv("RENDERRUSH_HISTORY", str(tmp_path / "env/jobs.db"))
    assert History().path == tmp_path / "env/jobs.db" and History().path.is_file()
    assert History(tmp_path / "param.db").path == tmp_path / "param.db"


def test_unusable_path_raises_history_error(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match="cannot open the job history .* set RENDERRUSH_HISTORY"):
        History(tmp_path)  # a folder, not a file


def user_version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("PRAGMA user_version").fetchone()[0]


def test_fresh_database_gets_version_1_with_wal_and_the_record_columns(history: History) -> None:
    assert user_version(history.path) == len(history_module.MIGRATIONS) == 1
    with sqlite3.connect(history.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert tuple(row[1] for row in conn.execute("PRAGMA table_info(jobs)")) == tuple(c.name for c in COLUMNS)


def test_reopening_applies_only_new_migrations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "history.sqlite3"
    job_id = History(path).record_job("render", "failed", request=REQUEST, error="stopped")
    History(path)  # re-running step 1 would fail: CREATE TABLE jobs exists
    step_2 = ("ALTER TABLE jobs ADD COLUMN note TEXT",)
    monkeypatch.setattr(history_module, "MIGRATIONS", (*history_module.MIGRATIONS, step_2))
    History(path)
    History(path)
    assert user_version(path) == 2
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT id, note FROM jobs").fetchall() == [(job_id, None)]


def test_failed_migration_leaves_database_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = History(tmp_path / "history.sqlite3").path
    broken = ("ALTER TABLE jobs ADD COLUMN note TEXT", "ALTER TABLE nowhere ADD COLUMN x TEXT")
    monkeypatch.setattr(history_module, "MIGRATIONS", (*history_module.MIGRATIONS, broken))
    with pytest.raises(HistoryError, match="no such table: nowhere"):
        History(path)
    assert user_version(path) == 1
    with sqlite3.connect(path) as conn:
        assert "note" not in [row[1] for row in conn.execute("PRAGMA table_info(jobs)")]


def test_database_from_a_newer_version_is_refused(history: History) -> None:
    with sqlite3.connect(history.path) as conn:
        conn.execute("PRAGMA user_version = 7")
    with pytest.raises(HistoryError, match=r"newer renderrush \(schema 7, this one knows 1\)"):
        History(history.path)
