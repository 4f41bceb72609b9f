"""The one column definition of the job history: the schema, a job's row, the JobRecord
read back and the history tables of the CLI and the notebook all follow it."""

from __future__ import annotations

import dataclasses
import json
import re
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from renderrush.core.errors import FilterError, HistoryError
from renderrush.recording import records
from renderrush.recording.history import MIGRATIONS
from renderrush.recording.records import (
    BOTH,
    CLI,
    COLUMNS,
    UI,
    Column,
    JobRecord,
    check_record_fields,
    decode,
    encode,
    error_text,
    job_row,
    read_record,
    schema_steps,
    shown_columns,
    utc_timestamp,
)

RELEASED_V1 = (
    """CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL, kind TEXT NOT NULL,
        status TEXT NOT NULL, error TEXT, input TEXT, width INTEGER, height INTEGER, fps REAL,
        frame_count INTEGER, duration REAL, has_audio INTEGER, filters TEXT, workers INTEGER,
        segment_seconds REAL, scheduler TEXT, preset TEXT, crf REAL, frames INTEGER,
        wall_seconds REAL, fps_rendered REAL, speedup REAL, efficiency REAL, cpu_percent REAL,
        details TEXT NOT NULL, monitor_summary TEXT, timeline TEXT, machine TEXT NOT NULL
    )""",
    "CREATE INDEX jobs_created_at ON jobs (created_at)",
    "CREATE INDEX jobs_input ON jobs (input)",
)
"""Schema version 1 as released: databases in use were built by it, so the derived step must equal it."""

FACTS = {
    "created_at": "2026-01-31T12:00:00.000000+00:00",
    "kind": "render",
    "status": "finished",
    "error": None,
    "details": {"frames": 90},
    "monitor_summary": {"cpu_mean": 50.0},
    "timeline": [{"t": 0.0}],
    "machine": {"cores": 2},
}
VIDEO = {"path": "/videos/clip.mp4", "width": 640, "height": 360, "fps_float": 30.0, "frame_count": 90}
RUN = {
    "video": {**VIDEO, "duration": 3.0, "has_audio": True},
    "filters": "grayscale",
    "workers": 2,
    "segment_seconds": 1.5,
    "scheduler": "threads",
    "preset": "veryfast",
    "crf": 23,
    "frames": 90,
    "wall_seconds": 1.2,
    "fps": 75.0,
    "cpu_percent": 180.0,
}
"""The keys of `JobResult.to_dict()` the columns read (tests/unit/test_history.py stores real results)."""
NOTE = Column("note", "TEXT", run="note", request="note", views=BOTH, heading="memo", since=2)
"""A column a later version adds."""


def squeeze(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).replace("( ", "(").replace(" )", ")")


def table(statements: list[str]) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    for statement in statements:
        conn.execute(statement)
    return conn


def test_the_derived_first_step_is_the_released_schema() -> None:
    (first,) = MIGRATIONS
    assert [squeeze(s) for s in first] == [squeeze(s) for s in RELEASED_V1]
    derived, released = table(list(first)), table(list(RELEASED_V1))
    info = "PRAGMA table_info(jobs)"
    assert derived.execute(info).fetchall() == released.execute(info).fetchall()
    assert [row[1] for row in derived.execute(info)] == [c.name for c in COLUMNS]


def test_a_new_column_is_one_more_step_one_more_row_value_and_shown_in_both_tables() -> None:
    extended = (*COLUMNS, NOTE)
    steps = schema_steps(extended)
    assert steps[0] == schema_steps()[0], "released steps never change"
    assert steps[1] == ("ALTER TABLE jobs ADD COLUMN note TEXT",)
    conn = table([s for step in steps for s in step])
    assert [row[1] for row in conn.execute("PRAGMA table_info(jobs)")] == [c.name for c in extended]
    assert job_row(FACTS, {**RUN, "note": "kept"}, columns=extended)["note"] == "kept"
    assert job_row({**FACTS, "status": "failed"}, None, {"note": "asked"}, columns=extended)["note"] == "asked"
    assert [c.name for c in shown_columns(CLI, extended)][-2:] == ["speedup", "note"]
    assert [c.title for c in shown_columns(UI, extended)][-2:] == ["efficiency", "memo"]
    with pytest.raises(TypeError, match="JobRecord's fields"):
        check_record_fields(extended)  # ... and JobRecord needs the field
    check_record_fields(COLUMNS)


def test_schema_steps_refuse_what_alter_table_cannot_do() -> None:
    with pytest.raises(ValueError, match="append a new column at the end"):
        schema_steps((NOTE, *COLUMNS))
    with pytest.raises(ValueError, match="NOT NULL needs a DEFAULT"):
        schema_steps((*COLUMNS, dataclasses.replace(NOTE, sql="TEXT NOT NULL")))
    assert schema_steps((*COLUMNS, dataclasses.replace(NOTE, sql="TEXT NOT NULL DEFAULT ''")))[1]
    assert schema_steps(versions=3)[1:] == ((), ()), "a version may add only indexes"


def test_history_tables_show_the_columns_the_definition_marks() -> None:
    assert [c.name for c in shown_columns(CLI)] == [
        *("id", "created_at", "kind", "status", "input", "filters", "workers"),
        *("frames", "wall_seconds", "fps_rendered", "speedup"),
    ]
    assert [c.title for c in shown_columns(UI)] == [
        *("id", "when", "kind", "status", "input", "size", "filters", "workers"),
        *("wall", "fps", "speedup", "efficiency"),
    ]


def test_a_render_row_comes_from_its_result_dict() -> None:
    row = job_row(FACTS, RUN, {"filters": "ignored once there is a result", "input": "/elsewhere/x.mp4"})
    assert "id" not in row and set(row) == {c.name for c in COLUMNS} - {"id"}
    assert {name: row[name] for name in FACTS} == FACTS
    assert (row["input"], row["width"], row["height"], row["fps"]) == ("clip.mp4", 640, 360, 30.0)
    assert (row["duration"], row["has_audio"], row["filters"], row["scheduler"]) == (3.0, True, "grayscale", "threads")
    assert (row["frames"], row["wall_seconds"], row["fps_rendered"], row["cpu_percent"]) == (90, 1.2, 75.0, 180.0)
    assert row["speedup"] is None and row["efficiency"] is None


def test_a_compare_row_takes_the_parallel_run_and_the_speedup() -> None:
    sequential = {**RUN, "workers": 1, "scheduler": "sync", "wall_seconds": 2.0}
    comparison = {"speedup": 1.6, "efficiency": 0.8, "sequential": sequential, "parallel": RUN, "workers": 2}
    row = job_row({**FACTS, "kind": "compare"}, comparison)
    assert (row["workers"], row["scheduler"], row["wall_seconds"]) == (2, "threads", 1.2)
    assert (row["speedup"], row["efficiency"]) == (1.6, 0.8)


def test_a_job_without_a_result_is_read_from_its_request() -> None:
    class Chain:
        def __str__(self) -> str:
            return "blur:3"

    request = {"input": Path("/videos/missing.mp4"), "filters": Chain(), "workers": 3, "scheduler": "processes"}
    row = job_row({**FACTS, "status": "failed"}, None, request)
    assert (row["input"], row["filters"], row["workers"], row["scheduler"]) == ("missing.mp4", "blur:3", 3, "processes")
    assert row["width"] is None and row["frames"] is None and row["crf"] is None


def test_a_result_dict_without_a_column_key_is_refused_not_recorded_as_none() -> None:
    with pytest.raises(HistoryError, match="the job's result has no 'wall_seconds'"):
        job_row(FACTS, {k: v for k, v in RUN.items() if k != "wall_seconds"})
    with pytest.raises(HistoryError, match="no 'video.width'"):
        job_row(FACTS, {**RUN, "video": {k: v for k, v in VIDEO.items() if k != "width"}})
    with pytest.raises(KeyError, match="machine"):
        job_row({k: v for k, v in FACTS.items() if k != "machine"}, RUN)


def test_a_result_the_history_cannot_read_is_a_history_error_so_the_job_only_goes_unrecorded(tmp_path: Path) -> None:
    from renderrush.recording.history import History

    class Renamed:
        def to_dict(self) -> dict[str, Any]:
            return {"frames": 90}

    history = History(tmp_path / "history.sqlite3")
    with pytest.raises(HistoryError, match="no 'video.path'"):
        history.record_job("render", "finished", result=Renamed())
    assert len(history) == 0


def test_a_row_stored_and_read_back_is_the_job_record() -> None:
    row = job_row(FACTS, RUN)
    names = [c.name for c in COLUMNS if not c.generated]
    conn = table([s for step in MIGRATIONS for s in step])
    conn.row_factory = sqlite3.Row
    by_name = {c.name: c for c in COLUMNS}
    conn.execute(
        f"INSERT INTO jobs ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
        [encode(by_name[name], row[name]) for name in names],
    )
    stored = conn.execute("SELECT * FROM jobs").fetchone()
    assert stored["has_audio"] == 1 and json.loads(stored["machine"]) == {"cores": 2}
    record = read_record(stored)
    assert record == JobRecord(id=1, **row)
    assert record.has_audio is True and record.details == {"frames": 90} and record.timeline == [{"t": 0.0}]


@pytest.mark.parametrize(
    ("name", "value", "stored"),
    [
        ("has_audio", False, 0),
        ("has_audio", None, None),
        ("machine", {"when": datetime(2026, 1, 1)}, '{"when": "2026-01-01 00:00:00"}'),
        ("timeline", None, None),
        ("workers", 4, 4),
    ],
)
def test_encode_and_decode(name: str, value: Any, stored: Any) -> None:
    column = next(c for c in COLUMNS if c.name == name)
    assert encode(column, value) == stored
    expected = {"when": "2026-01-01 00:00:00"} if name == "machine" else value
    assert decode(column, stored) == expected


def test_utc_timestamp() -> None:
    now = datetime.fromisoformat(utc_timestamp())
    assert now.utcoffset() == timedelta(0) and abs(datetime.now(timezone.utc) - now) < timedelta(seconds=5)
    assert utc_timestamp("2026-01-31T14:00:00+02:00") == "2026-01-31T12:00:00.000000+00:00"
    with pytest.raises(HistoryError, match="'yesterday' is not an ISO 8601 date and time"):
        utc_timestamp("yesterday")


def test_error_text() -> None:
    assert error_text(FilterError("blur sigma 99 is above 50")) == "blur sigma 99 is above 50"
    assert error_text(ValueError("odd")) == "ValueError: odd" and error_text(KeyboardInterrupt()) == "KeyboardInterrupt"
    assert error_text("as given") == "as given" and error_text(None) is None


def test_the_package_exports_the_record_type() -> None:
    import renderrush

    assert renderrush.JobRecord is records.JobRecord


def shown_everywhere(name: str) -> tuple[Column, ...]:
    """The definition with one more column marked for both history tables."""
    return tuple(dataclasses.replace(c, views=BOTH) if c.name == name else c for c in COLUMNS)


def test_the_cli_history_table_follows_the_definition(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from renderrush.cli import main
    from renderrush.recording.history import History

    monkeypatch.setenv("RENDERRUSH_HISTORY", str(tmp_path / "history.sqlite3"))
    History().record_job("render", "failed", request={"input": "a.mp4", "workers": 2}, error="stopped")
    monkeypatch.setattr(records, "COLUMNS", shown_everywhere("height"))
    assert main(["history"]) == 0
    header, row = capsys.readouterr().out.splitlines()
    names = [c.name for c in shown_columns(CLI)]
    assert header.split() == names and "height" in names
    assert dict(zip(names, row.split()))["height"] == "-" and dict(zip(names, row.split()))["workers"] == "2"


def test_the_notebook_history_table_follows_the_definition(monkeypatch: pytest.MonkeyPatch) -> None:
    from renderrush.ui.history import history_table

    record = JobRecord(id=7, **job_row(FACTS, RUN))
    header, [row] = history_table([record])
    assert header == [c.title for c in shown_columns(UI)]
    cells = dict(zip(header, row))
    assert (cells["id"], cells["size"], cells["workers"], cells["fps"], cells["efficiency"]) == (
        7,
        "640×360",
        "2",
        "75",
        "—",
    )
    assert cells["when"] == datetime.fromisoformat(FACTS["created_at"]).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    monkeypatch.setattr(records, "COLUMNS", shown_everywhere("preset"))
    header, [row] = history_table([record])
    assert header == [c.title for c in shown_columns(UI)] and dict(zip(header, row))["preset"] == "veryfast"
