"""JSON performance reports: one job with its resource timeline, or many jobs from a
history, in a versioned layout described by the JSON Schema
`renderrush/schemas/report-v<N>.schema.json`. Reports are validated when written and
when read, and can be imported into the history of another machine, so results from
a laptop, Binder and a cluster can be charted side by side.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from ..core.atomic import atomic_path
from ..core.errors import ReportError
from .history import History
from .records import JobRecord, utc_timestamp

SCHEMA_NAME = "renderrush.report"
SCHEMA_VERSION = 2
"""The version written; every version from 1 up to it is read (version 2 added each segment's
encoded quality and CRF, and the worst segment's figures, to a render's details)."""
FIELDS = ("id", "created_at", "kind", "status", "error", "input")
"""Job fields copied as they are, in report order."""
GROUPS: dict[str, tuple[str, ...]] = {
    "video": ("width", "height", "fps", "frame_count", "duration", "has_audio"),
    "settings": ("filters", "workers", "segment_seconds", "scheduler", "preset", "crf"),
    "performance": ("frames", "wall_seconds", "fps_rendered", "speedup", "efficiency", "cpu_percent"),
}
"""`JobRecord` fields gathered under one key of a report's job."""
OBJECTS = ("monitor_summary", "machine", "details")
"""Job fields that are JSON objects themselves."""


def report_schema(version: object = SCHEMA_VERSION) -> dict[str, Any]:
    """The JSON Schema of report `version`, shipped inside the package."""
    resource = resources.files("renderrush") / "schemas" / f"report-v{version}.schema.json"
    if isinstance(version, bool) or not isinstance(version, int) or not resource.is_file():
        raise ReportError(
            f"report schema version {version!r} is not supported: this renderrush reads versions "
            f"1 to {SCHEMA_VERSION}; upgrade renderrush to read newer reports"
        )
    return json.loads(resource.read_text(encoding="utf-8"))


def _job(record: JobRecord, timeline: bool) -> dict[str, Any]:
    data = record.to_dict()
    job = {name: data[name] for name in FIELDS}
    job.update({group: {name: data[name] for name in names} for group, names in GROUPS.items()})
    job.update({name: data[name] for name in OBJECTS})
    if timeline:
        job["timeline"] = data["timeline"]
    return job


def _record(job: Mapping[str, Any]) -> JobRecord:
    """The `JobRecord` a validated report job describes (its timeline, if any)."""
    values = {name: job[name] for name in (*FIELDS, *OBJECTS)}
    for group in GROUPS:
        values.update(job[group])
    return JobRecord(**values, timeline=job.get("timeline"))


def _report(jobs: list[dict[str, Any]]) -> dict[str, Any]:
    from .. import __version__  # at call time: the package imports this module

    return {
        "schema": SCHEMA_NAME,
        "schema_version": SCHEMA_VERSION,
        "generated_at": utc_timestamp(),
        "generator": {"renderrush": __version__},
        "jobs": jobs,
    }


def job_report(record: JobRecord) -> dict[str, Any]:
    """A report of one job, including its resource timeline."""
    return _report([_job(record, timeline=True)])


def history_report(records: Iterable[JobRecord]) -> dict[str, Any]:
    """A report of many jobs (e.g. `History().list()`), each with its settings, figures,
    monitor summary and details but without timelines, which would dominate its size."""
    return _report([_job(record, timeline=False) for record in records])


def validate_report(report: Any, source: str = "report") -> None:
    """Raise `ReportError` unless `report` is a valid RenderRush report of a known version.
    `source` names it in the message (a file path, say)."""
    if not isinstance(report, Mapping) or report.get("schema") != SCHEMA_NAME:
        raise ReportError(f'{source} is not a RenderRush report: it needs "schema": "{SCHEMA_NAME}"')
    schema = report_schema(report.get("schema_version"))
    # Imported here, not at the top: importing jsonschema builds its format checkers' grammars
    # (about 1.5 s on 2 cores), which `import renderrush` and the CLI must not pay.
    import jsonschema

    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(report))
    if error is not None:
        raise ReportError(f"{source} is not a valid RenderRush report: at {error.json_path}: {error.message}")


def write_report(report: Mapping[str, Any], path: str | os.PathLike) -> Path:
    """Validate `report` and write it to `path` as JSON. The file is written under a
    temporary name and renamed into place, so readers never see half a report."""
    validate_report(report)
    path = Path(path)
    # fsync: a report is often the only record of a job kept elsewhere; a power cut must not empty it
    try:
        with atomic_path(path, fsync=True) as partial, open(partial, "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=2)
            handle.write("\n")
    except OSError as exc:  # named by the target: the temporary's name means nothing to the user
        raise ReportError(f"cannot write report '{path}': {exc.strerror or exc}") from None
    return path


def load_report(path: str | os.PathLike) -> dict[str, Any]:
    """Read and validate the report at `path`; raises `ReportError` with the reason."""
    path = Path(path)
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReportError(f"cannot read report '{path}': {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"report '{path}' is not JSON ({exc}): is it a RenderRush report?") from None
    validate_report(report, f"'{path}'")
    return report


def import_report(path: str | os.PathLike, history: History) -> list[int]:
    """Add the jobs of the report at `path` to `history` (all or none), keeping their
    created_at and the machine they ran on; returns their new ids in report order."""
    report = load_report(path)
    return history.import_records([_record(job) for job in report["jobs"]])
