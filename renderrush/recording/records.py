"""What one row of the job history holds. `COLUMNS` is the one definition of its columns:
the table schema (`schema_steps`), a job's row (`job_row`), the reading of a row into a
`JobRecord` (`read_record`) and the columns of the history tables in the CLI and the
notebook (`shown_columns`) are derived from it. A new column is one `Column` appended
with the next `since`, plus its `JobRecord` field (their agreement is checked on import).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, Protocol

from ..core.errors import HistoryError, RenderRushError

TABLE = "jobs"
CLI = "cli"
"""`renderrush history`: each column under its name, the key `--json` prints."""
UI = "ui"
"""The notebook's `HistoryView`: each column under its `heading`."""
BOTH = frozenset({CLI, UI})


def file_name(path: Any) -> str:
    """The file name of a path: the history keeps the input's name, which `History.list`
    filters by, so the same clip matches wherever it was read from (the full path is in details)."""
    return Path(str(path)).name


@dataclass(frozen=True)
class Column:
    """One column of the jobs table: its SQL, where a job's value comes from, how it is
    stored and which history tables show it.

    A column read from none of `run`, `comparison` and `request` is a fact the store gives
    itself (created_at, kind, status, error, details, monitor data, machine; the id is SQLite's)."""

    name: str
    sql: str
    """SQL type and constraints."""
    run: str | None = None
    """Key of the value in the dict of the run the job produced: `JobResult.to_dict()` for a
    render, the "parallel" run of `Comparison.to_dict()` for a comparison; dots for nested keys."""
    comparison: str | None = None
    """Key in `Comparison.to_dict()`, for figures only a comparison has."""
    request: str | None = None
    """Key in the request: the value of a job that failed or was interrupted before producing a run."""
    convert: Callable[[Any], Any] | None = None
    """Applied to a value read from a run, comparison or request that is not None."""
    storage: Literal["value", "json", "bool"] = "value"
    """Stored as it is, as JSON text, or as 0/1 read back as a bool (SQLite has no booleans)."""
    views: frozenset[str] = frozenset()
    """The history tables that show the column (`CLI`, `UI`)."""
    heading: str = ""
    """Heading in the notebook's table, where space is short; the name when empty."""
    since: int = 1
    """Schema version that added the column: a released column never changes, so the
    migration steps derived from the definition never change either."""

    @property
    def generated(self) -> bool:
        """Whether SQLite assigns the value (the row id)."""
        return "PRIMARY KEY" in self.sql.upper()

    @property
    def fact(self) -> bool:
        """Whether the store gives the value rather than reading it from the job's outcome."""
        return self.run is None and self.comparison is None and self.request is None

    @property
    def title(self) -> str:
        return self.heading or self.name


COLUMNS: tuple[Column, ...] = (
    Column("id", "INTEGER PRIMARY KEY AUTOINCREMENT", views=BOTH),
    Column("created_at", "TEXT NOT NULL", views=BOTH, heading="when"),
    Column("kind", "TEXT NOT NULL", views=BOTH),
    Column("status", "TEXT NOT NULL", views=BOTH),
    Column("error", "TEXT"),
    Column("input", "TEXT", run="video.path", request="input", convert=file_name, views=BOTH),
    # the notebook shows width and height together, as WIDTHxHEIGHT under "size"
    Column("width", "INTEGER", run="video.width", views=frozenset({UI}), heading="size"),
    Column("height", "INTEGER", run="video.height"),
    Column("fps", "REAL", run="video.fps_float"),
    Column("frame_count", "INTEGER", run="video.frame_count"),
    Column("duration", "REAL", run="video.duration"),
    Column("has_audio", "INTEGER", run="video.has_audio", storage="bool"),
    # text whatever a request holds (History.list compares chains as text)
    Column("filters", "TEXT", run="filters", request="filters", convert=str, views=BOTH),
    Column("workers", "INTEGER", run="workers", request="workers", views=BOTH),
    Column("segment_seconds", "REAL", run="segment_seconds", request="segment_seconds"),
    Column("scheduler", "TEXT", run="scheduler", request="scheduler", convert=str),
    Column("preset", "TEXT", run="preset", request="preset"),
    Column("crf", "REAL", run="crf", request="crf"),
    Column("frames", "INTEGER", run="frames", views=frozenset({CLI})),
    Column("wall_seconds", "REAL", run="wall_seconds", views=BOTH, heading="wall"),
    Column("fps_rendered", "REAL", run="fps", views=BOTH, heading="fps"),
    Column("speedup", "REAL", comparison="speedup", views=BOTH),
    Column("efficiency", "REAL", comparison="efficiency", views=frozenset({UI})),
    Column("cpu_percent", "REAL", run="cpu_percent"),
    Column("details", "TEXT NOT NULL", storage="json"),
    Column("monitor_summary", "TEXT", storage="json"),
    Column("timeline", "TEXT", storage="json"),
    Column("machine", "TEXT NOT NULL", storage="json"),
)
"""The history's columns, in table order."""


@dataclass(frozen=True)
class JobRecord:
    """One row of the history, JSON columns decoded. Fields a job did not reach
    (a render that failed before probing has no width) are None."""

    id: int
    created_at: str
    """UTC time the job was recorded, ISO 8601 with offset."""
    kind: str
    status: str
    error: str | None
    input: str | None
    """File name of the input video (the full path is in `details`)."""
    width: int | None
    height: int | None
    fps: float | None
    """Frame rate of the input video."""
    frame_count: int | None
    duration: float | None
    has_audio: bool | None
    filters: str | None
    workers: int | None
    segment_seconds: float | None
    scheduler: str | None
    preset: str | None
    crf: float | None
    frames: int | None
    """Frames rendered (the parallel run's, for comparisons)."""
    wall_seconds: float | None
    fps_rendered: float | None
    speedup: float | None
    efficiency: float | None
    cpu_percent: float | None
    details: dict[str, Any]
    """`JobResult.to_dict()` or `Comparison.to_dict()`, plus "request" when recorded with one."""
    monitor_summary: dict[str, Any] | None
    timeline: list[dict[str, Any]] | None
    machine: dict[str, Any]
    """`machine_info()` of the machine that ran the job."""

    def to_dict(self) -> dict[str, Any]:
        """All fields as a JSON-ready dict."""
        return asdict(self)


def check_record_fields(columns: Sequence[Column]) -> None:
    """Refuse a definition whose columns are not `JobRecord`'s fields, in the same order."""
    names = tuple(column.name for column in columns)
    record = tuple(field.name for field in fields(JobRecord))
    if names != record:
        raise TypeError(f"JobRecord's fields {record} are not the history's columns {names}")


check_record_fields(COLUMNS)


def schema_steps(columns: Sequence[Column] | None = None, versions: int = 1) -> tuple[tuple[str, ...], ...]:
    """The statements that build the jobs table, one step per schema version (at least
    `versions`: a version may only add indexes): step 1 creates the table with the columns
    of version 1, step n adds those with `since` n."""
    columns = COLUMNS if columns is None else columns
    order = [column.since for column in columns]
    if order[0] != 1 or order != sorted(order):
        # ALTER TABLE appends: the table's column order is the definition's only this way
        raise ValueError("columns are listed by `since`, from 1: append a new column at the end")
    for column in columns:
        if column.since > 1 and "NOT NULL" in column.sql.upper() and "DEFAULT" not in column.sql.upper():
            raise ValueError(f"column {column.name} is added to existing rows: NOT NULL needs a DEFAULT")
    create = ", ".join(f"{column.name} {column.sql}" for column in columns if column.since == 1)
    steps: list[tuple[str, ...]] = [(f"CREATE TABLE {TABLE} ({create})",)]
    for version in range(2, max(versions, order[-1]) + 1):
        added = [column for column in columns if column.since == version]
        steps.append(tuple(f"ALTER TABLE {TABLE} ADD COLUMN {column.name} {column.sql}" for column in added))
    return tuple(steps)


def utc_timestamp(moment: datetime | str | None = None) -> str:
    """`moment` (default now) as the UTC ISO string history rows store and sort by.
    Naive datetimes are taken as local time."""
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment)
        except ValueError:
            raise HistoryError(f"'{moment}' is not an ISO 8601 date and time, e.g. 2026-01-31T12:00:00+00:00") from None
    moment = moment or datetime.now(timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def error_text(error: BaseException | str | None) -> str | None:
    """A failure as one line: RenderRush messages as they are, other exceptions with their type."""
    if error is None or isinstance(error, str):
        return error
    if isinstance(error, RenderRushError):
        return str(error)
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _nested(data: Mapping[str, Any], key: str) -> Any:
    # HistoryError, not KeyError: `recording.recorded` then warns that the job went unrecorded
    # instead of failing a job that has finished
    try:
        for part in key.split("."):
            data = data[part]
    except (KeyError, TypeError):
        raise HistoryError(f"the job's result has no {key!r} for the history") from None
    return data


def _read(
    column: Column,
    facts: Mapping[str, Any],
    run: Mapping[str, Any] | None,
    comparison: Mapping[str, Any] | None,
    request: Mapping[str, Any],
) -> Any:
    if column.fact:
        return facts[column.name]
    if run is None:
        value = request.get(column.request) if column.request else None
    elif column.comparison:
        value = _nested(comparison, column.comparison) if comparison is not None else None
    else:
        value = _nested(run, column.run) if column.run else None
    return value if value is None or column.convert is None else column.convert(value)


def job_row(
    facts: Mapping[str, Any],
    produced: Mapping[str, Any] | None = None,
    request: Mapping[str, Any] | None = None,
    columns: Sequence[Column] | None = None,
) -> dict[str, Any]:
    """The row of one job, before encoding: `facts` gives the store's own columns (kind,
    created_at, status, ...); the others are read from what the job `produced`,
    `JobResult.to_dict()` for a render or `Comparison.to_dict()` for a compare (the
    parallel run's figures), or from the `request` of a job that produced neither."""
    columns = COLUMNS if columns is None else columns
    comparison = produced if produced is not None and facts["kind"] == "compare" else None
    run = comparison["parallel"] if comparison is not None else produced
    return {
        column.name: _read(column, facts, run, comparison, request or {}) for column in columns if not column.generated
    }


def encode(column: Column, value: Any) -> Any:
    """A value as SQLite stores it."""
    if column.storage == "json":
        return None if value is None else json.dumps(value, default=str)
    return int(value) if isinstance(value, bool) else value


def decode(column: Column, value: Any) -> Any:
    """A stored value as `JobRecord` holds it."""
    if value is None:
        return None
    if column.storage == "json":
        return json.loads(value)
    return bool(value) if column.storage == "bool" else value


class Row(Protocol):
    """A row by column name, as `sqlite3.Row` gives it."""

    def __getitem__(self, name: str) -> Any: ...


def read_record(row: Row) -> JobRecord:
    """The `JobRecord` of a stored row."""
    return JobRecord(**{column.name: decode(column, row[column.name]) for column in COLUMNS})


def shown_columns(view: str, columns: Sequence[Column] | None = None) -> tuple[Column, ...]:
    """The columns the history table of `view` (`CLI` or `UI`) shows, in table order."""
    columns = COLUMNS if columns is None else columns
    return tuple(column for column in columns if view in column.views)
