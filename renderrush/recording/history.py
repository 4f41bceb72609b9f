"""Job history: every render and comparison, finished or not, as one row of an SQLite
database in the user's data folder, so past jobs can be listed, charted and exported.

The database lives at `$RENDERRUSH_HISTORY` if set, else
`$XDG_DATA_HOME/renderrush/history.sqlite3` (default `~/.local/share/renderrush/`);
a `path` argument overrides both. Writes run in `BEGIN IMMEDIATE` transactions on a
WAL-mode database with a 30 s busy timeout, so concurrent jobs (several processes or
notebooks) never lose a row. The schema is versioned with `PRAGMA user_version`:
`MIGRATIONS` is an ordered list of steps, and opening a database applies only the
steps it has not seen yet. The columns, and how a job fills them, are defined once in
`records.py`.

A damaged database (a file that is not SQLite, or a malformed one) never blocks a job: it
is moved aside under a timestamped name (kept, never deleted), with one warning, and a
fresh database is started in its place.
"""

from __future__ import annotations

import os
import sqlite3
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from ..core.errors import HistoryError, RenderRushWarning
from .machine import machine_info
from .records import (
    COLUMNS,
    JobRecord,
    encode,
    error_text,
    file_name,
    job_row,
    read_record,
    schema_steps,
    utc_timestamp,
)

ENV_VAR = "RENDERRUSH_HISTORY"
FILE_NAME = "history.sqlite3"
KINDS = ("render", "compare")
STATUSES = ("finished", "failed", "interrupted")
BUSY_TIMEOUT = 30.0
DAMAGED = ("file is not a database", "database disk image is malformed")
"""SQLite's messages for a file that cannot be used as a database at all."""

INDEXES: dict[int, tuple[str, ...]] = {
    1: ("CREATE INDEX jobs_created_at ON jobs (created_at)", "CREATE INDEX jobs_input ON jobs (input)"),
}
"""The indexes `History.list` filters by, under the schema version that added them."""
MIGRATIONS: tuple[tuple[str, ...], ...] = tuple(
    (*columns, *INDEXES.get(version, ()))
    for version, columns in enumerate(schema_steps(versions=max(INDEXES)), start=1)
)
"""Schema steps, oldest first: step i brings a database from user_version i to i + 1. The
column statements come from `records.COLUMNS`, whose released columns never change; a new
index goes under a new version here."""


def _damaged(exc: sqlite3.DatabaseError) -> bool:
    return any(message in str(exc) for message in DAMAGED)


def default_history_path() -> Path:
    """`$RENDERRUSH_HISTORY`, else `history.sqlite3` in the XDG data folder."""
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data_home).expanduser() / "renderrush" / FILE_NAME


def _check_choice(name: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise HistoryError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")


class History:
    """The job history in one SQLite file (see the module docstring for where)."""

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.path = Path(path).expanduser() if path is not None else default_history_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._set_up()
            except sqlite3.DatabaseError as exc:
                if not _damaged(exc):
                    raise
                self._replace_damaged()
        except (sqlite3.Error, OSError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise HistoryError(
                f"cannot open the job history '{self.path}' ({reason}): set {ENV_VAR} to a writable file path"
            ) from None

    def _set_up(self) -> None:
        with closing(self._open()) as conn:
            self._use_wal(conn)
            self._migrate(conn)

    def _replace_damaged(self) -> None:
        """Move the damaged database aside and start a fresh one. Other processes may find
        the same damage at the same moment: under a lock on the folder, the file is tested
        again, so a fresh database another process has just started is never moved."""
        import fcntl  # POSIX only, like the damage it repairs is rare: imported when needed

        folder = os.open(self.path.parent, os.O_RDONLY)
        try:
            fcntl.flock(folder, fcntl.LOCK_EX)
            try:
                self._set_up()
                return  # replaced by another process meanwhile
            except sqlite3.DatabaseError as exc:
                if not _damaged(exc):
                    raise
                reason = exc
            aside = self.path.with_name(f"{self.path.name}.damaged-{datetime.now().strftime('%Y%m%dT%H%M%S')}")
            while aside.exists():
                aside = aside.with_name(aside.name + "-1")
            for suffix in ("-wal", "-shm", ""):  # its journal files belong to it, not to a fresh database
                companion = self.path.with_name(self.path.name + suffix)
                if companion.exists():
                    os.replace(companion, aside.with_name(aside.name + suffix))
            self._set_up()
        finally:
            os.close(folder)  # drops the lock
        warnings.warn(
            RenderRushWarning(
                f"the job history '{self.path}' was damaged ({reason}): it is kept as '{aside.name}' "
                "and a new history was started"
            ),
            stacklevel=3,
        )

    def __repr__(self) -> str:
        return f"History({str(self.path)!r})"

    def _open(self) -> sqlite3.Connection:
        # Autocommit mode: every transaction below is opened and closed explicitly.
        return sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)

    @staticmethod
    def _use_wal(conn: sqlite3.Connection) -> None:
        """Switch the database to write-ahead logging (readers never block the writer).
        The mode is stored in the file, so this is a no-op after the first time. Processes
        opening a fresh database together retry: SQLite does not wait for the lock the
        switch takes. A file system without WAL support keeps the rollback journal."""
        deadline = time.monotonic() + BUSY_TIMEOUT
        while True:
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        """Apply the migration steps this database has not had, all in one transaction."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise HistoryError(
                    f"the job history was written by a newer renderrush (schema {version}, this one knows "
                    f"{len(MIGRATIONS)}): upgrade renderrush or set {ENV_VAR} to another file"
                )
            for step in MIGRATIONS[version:]:
                for statement in step:
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    @contextmanager
    def _connect(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """A connection for one operation; with `write`, inside a BEGIN IMMEDIATE transaction
        (the write lock is taken up front, so concurrent writers queue instead of failing)."""
        try:
            with closing(self._open()) as conn:
                conn.row_factory = sqlite3.Row
                if not write:
                    yield conn
                    return
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise HistoryError(f"job history '{self.path}' failed: {exc}") from None

    def record_job(
        self,
        kind: str,
        status: str,
        *,
        result: Any = None,
        comparison: Any = None,
        error: BaseException | str | None = None,
        request: Mapping[str, Any] | None = None,
        monitor_summary: Mapping[str, Any] | None = None,
        timeline: Sequence[Mapping[str, Any]] | None = None,
    ) -> int:
        """Store one job and return its id.

        `result` is a `JobResult` (kind "render"), `comparison` a `Comparison` (kind
        "compare"). A job that failed or was interrupted before producing either is
        recorded from `request` (input, output, filters, workers, segment_seconds,
        scheduler, preset, crf) and `error`. `monitor_summary` and `timeline` are a
        Monitor's `summary()` and `timeline()`.
        """
        _check_choice("kind", kind, KINDS)
        _check_choice("status", status, STATUSES)
        given = {"result": result, "comparison": comparison}
        expected = "result" if kind == "render" else "comparison"
        wrong = [name for name, value in given.items() if value is not None and name != expected]
        if wrong:
            raise HistoryError(f"a {kind} job is recorded with {expected}=, not {wrong[0]}=")
        produced = given[expected]
        if status == "finished" and produced is None:
            raise HistoryError(f"a finished {kind} job needs its {expected}=")
        if produced is None and request is None:
            raise HistoryError("a job without a result needs the request that started it")
        outcome = produced.to_dict() if produced is not None else None
        details = {**(outcome or {}), **({} if request is None else {"request": dict(request)})}
        facts = {
            "created_at": utc_timestamp(),
            "kind": kind,
            "status": status,
            "error": error_text(error),
            "details": details,
            "monitor_summary": None if monitor_summary is None else dict(monitor_summary),
            "timeline": None if timeline is None else list(timeline),
            "machine": machine_info(),
        }
        return self._insert([job_row(facts, outcome, request)])[0]

    def import_records(self, records: Iterable[JobRecord]) -> list[int]:
        """Insert copies of `records` (from another history or a report) in one
        transaction under new ids, keeping their created_at and machine; returns the ids."""
        rows = []
        for record in records:
            _check_choice("kind", record.kind, KINDS)
            _check_choice("status", record.status, STATUSES)
            rows.append({**record.to_dict(), "created_at": utc_timestamp(record.created_at)})
        return self._insert(rows)

    def _insert(self, rows: Sequence[Mapping[str, Any]]) -> list[int]:
        columns = [column for column in COLUMNS if not column.generated]
        names = ", ".join(column.name for column in columns)
        sql = f"INSERT INTO jobs ({names}) VALUES ({', '.join('?' * len(columns))})"
        with self._connect(write=True) as conn:
            return [
                int(conn.execute(sql, [encode(c, row.get(c.name)) for c in columns]).lastrowid or 0) for row in rows
            ]

    def list(
        self,
        kind: str | None = None,
        status: str | None = None,
        input: str | os.PathLike | None = None,
        workers: int | None = None,
        since: datetime | str | None = None,
        limit: int | None = None,
        filters: str | None = None,
    ) -> list[JobRecord]:
        """Jobs matching every filter given, newest first. `input` matches the file name
        (a path is reduced to its name); `since` keeps jobs recorded at or after it;
        `filters` is a chain as `str(FilterChain)` writes it."""
        conditions: list[str] = []
        values: list[Any] = []
        if kind is not None:
            _check_choice("kind", kind, KINDS)
        if status is not None:
            _check_choice("status", status, STATUSES)
        for column, value in (
            ("kind", kind),
            ("status", status),
            ("input", None if input is None else file_name(input)),
            ("workers", workers),
            ("filters", filters),
        ):
            if value is not None:
                conditions.append(f"{column} = ?")
                values.append(value)
        if since is not None:
            conditions.append("created_at >= ?")
            values.append(utc_timestamp(since))
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        sql = f"SELECT * FROM jobs{where} ORDER BY created_at DESC, id DESC"
        if limit is not None:
            if limit < 0:
                raise HistoryError(f"limit must be 0 or more, got {limit}").in_cli_terms(
                    f"--limit must be 0 or more, got {limit}"
                )
            sql += " LIMIT ?"
            values.append(limit)
        with self._connect() as conn:
            return [read_record(row) for row in conn.execute(sql, values)]

    def get(self, job_id: int) -> JobRecord:
        """The job with id `job_id`."""
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise self._no_job(job_id)
        return read_record(row)

    def _no_job(self, job_id: int) -> HistoryError:
        missing = f"no job {job_id} in the history '{self.path}'"
        return HistoryError(f"{missing}: History.list() shows the ids").in_cli_terms(
            f"{missing}: `renderrush history` shows the ids"
        )

    def delete(self, job_id: int) -> None:
        """Remove the job with id `job_id`."""
        with self._connect(write=True) as conn:
            deleted = conn.execute("DELETE FROM jobs WHERE id = ?", (job_id,)).rowcount
        if not deleted:
            raise self._no_job(job_id)

    def clear(self) -> int:
        """Remove every job; returns how many there were."""
        with self._connect(write=True) as conn:
            return conn.execute("DELETE FROM jobs").rowcount

    def __len__(self) -> int:
        with self._connect() as conn:
            return conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
