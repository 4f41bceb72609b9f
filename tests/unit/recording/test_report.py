"""JSON reports: they validate against the published schema, tampered ones are refused
with a clear error, writes are atomic, and an import reproduces the jobs elsewhere."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import renderrush
import renderrush.recording.report as report_module
from renderrush.recording.history import History
from renderrush.recording.records import JobRecord
from renderrush.recording.report import (
    ReportError,
    history_report,
    import_report,
    job_report,
    load_report,
    report_schema,
    write_report,
)

from .test_history import SUMMARY, TIMELINE, fill, jobs  # noqa: F401  (jobs is a fixture)

SCHEMA_FILE = Path(renderrush.__file__).parent / "schemas" / "report-v2.schema.json"


@pytest.fixture
def history(tmp_path: Path, jobs: tuple) -> History:  # noqa: F811
    """A history with a monitored render, a comparison, a failed and an interrupted job."""
    history = History(tmp_path / "source" / "history.sqlite3")
    fill(history, jobs)
    return history


def check_schema(report: dict[str, Any]) -> None:
    """Validate with jsonschema directly, independent of `load_report`."""
    jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text())).validate(report)


def test_schema_is_valid_draft_2020_12_and_shipped_in_the_package() -> None:
    schema = report_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema == json.loads(SCHEMA_FILE.read_text())


def _properties(node: Any, where: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every (location, schema) under a "properties" keyword of `node`, recursively
    (skipping `if` conditions, which test values and define no fields)."""
    if isinstance(node, dict):
        for name, child in node.get("properties", {}).items():
            yield f"{where}/{name}", child
        for key, child in node.items():
            if key != "if":
                yield from _properties(child, f"{where}/{key}")
    elif isinstance(node, list):
        for i, child in enumerate(node):
            yield from _properties(child, f"{where}/{i}")


def test_schema_documents_every_field() -> None:
    schema = report_schema()

    def documented(prop: dict[str, Any]) -> bool:
        target = schema["$defs"][prop["$ref"].rpartition("/")[2]] if "$ref" in prop else prop
        return "description" in target

    assert [where for where, prop in _properties(schema) if not documented(prop)] == []


def test_job_report_holds_one_job_with_its_timeline(history: History, tmp_path: Path) -> None:
    record = history.list(kind="render", status="finished")[0]
    report = job_report(record)
    check_schema(report)
    assert report["schema"] == "renderrush.report" and report["schema_version"] == 2
    assert report["generator"] == {"renderrush": renderrush.__version__}
    (job,) = report["jobs"]
    assert job["timeline"] == TIMELINE and job["monitor_summary"] == SUMMARY
    assert job["video"] == {
        "width": 96,
        "height": 64,
        "fps": 30.0,
        "frame_count": 30,
        "duration": record.duration,
        "has_audio": record.has_audio,
    }
    assert job["settings"]["scheduler"] == "threads" and job["performance"]["frames"] == 30
    path = write_report(report, tmp_path / "job.json")
    assert load_report(path) == report
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == ["job.json"]  # no temporary left


def test_history_report_holds_every_job_without_timelines(history: History, tmp_path: Path) -> None:
    report = history_report(history.list())
    check_schema(report)
    assert [job["status"] for job in report["jobs"]] == ["interrupted", "failed", "finished", "finished"]
    assert all("timeline" not in job for job in report["jobs"])
    compare_job = report["jobs"][2]
    assert compare_job["performance"]["speedup"] > 0 and compare_job["details"]["parallel"]["workers"] == 2
    assert load_report(write_report(report, tmp_path / "all.json")) == report


REMOVE = object()


def _set(path: tuple, value: Any = REMOVE) -> Callable[[dict], None]:
    """A change to a report: set the item at `path` to `value`, or remove it."""

    def change(report: dict) -> None:
        *parents, last = path
        target = report
        for key in parents:
            target = target[key]
        if value is REMOVE:
            del target[last]
        else:
            target[last] = value

    return change


def _remove(path: tuple) -> Callable[[dict], None]:
    return _set(path)


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (_set(("schema_version",), 3), "schema version 3 is not supported: .* upgrade renderrush"),
        (_set(("schema_version",), "1"), "schema version '1' is not supported"),
        (_remove(("schema_version",)), "schema version None is not supported"),
        (_set(("schema",), "something.else"), 'not a RenderRush report: it needs "schema": "renderrush.report"'),
        (_remove(("generated_at",)), "'generated_at' is a required property"),
        (_remove(("jobs", 0, "status")), r"at \$.jobs\[0\]: 'status' is a required property"),
        (_set(("jobs", 0, "kind"), "encode"), r"at \$.jobs\[0\].kind: 'encode' is not one of"),
        (_set(("jobs", 1, "video", "width"), "wide"), r"at \$.jobs\[1\].video.width: 'wide' is not of type"),
        (
            _set(("jobs", 2, "details", "identical"), "yes"),
            r"jobs\[2\].details.identical: 'yes' is not of type 'boolean'",
        ),
        (_set(("jobs", 3, "extra"), 1), r"Additional properties are not allowed \('extra' was unexpected\)"),
    ],
    ids=[
        "newer-version",
        "version-as-text",
        "no-version",
        "other-schema",
        "no-generated_at",
        "job-without-status",
        "unknown-kind",
        "width-not-a-number",
        "identical-not-boolean",
        "unknown-field",
    ],
)
def test_tampered_report_raises_report_error(
    history: History, tmp_path: Path, tamper: Callable[[dict], None], message: str
) -> None:
    report = history_report(history.list())
    tamper(report)
    path = tmp_path / "tampered.json"
    path.write_text(json.dumps(report))
    with pytest.raises(ReportError, match=message):
        load_report(path)
    with pytest.raises(ReportError, match=message):
        write_report(report, tmp_path / "refused.json")
    assert not (tmp_path / "refused.json").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read report"), ("{not json", "is not JSON"), ("[1, 2]", "is not a RenderRush report")],
)
def test_unreadable_report_raises_report_error(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "report.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ReportError, match=message):
        load_report(path)


def test_interrupted_write_keeps_the_old_report(
    history: History, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_report(history_report(history.list()), tmp_path / "report.json")
    before = path.read_bytes()

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(report_module.json, "dump", fail)
    with pytest.raises(ReportError, match=f"^cannot write report '{path}': disk full$"):
        write_report(history_report([]), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == ["report.json"]


def test_a_report_into_a_missing_folder_names_the_report(tmp_path: Path) -> None:
    target = tmp_path / "reports" / "all.json"
    with pytest.raises(ReportError, match=f"^cannot write report '{target}': No such file or directory$"):
        write_report(history_report([]), target)
    assert list(tmp_path.iterdir()) == []


def key_fields(record: JobRecord, timeline: bool) -> dict[str, Any]:
    """Everything but the id (and the timeline, which history reports leave out)."""
    fields = record.to_dict()
    del fields["id"]
    if not timeline:
        fields["timeline"] = None
    return fields


@pytest.mark.parametrize("single_job", [False, True])
def test_import_into_another_history_reproduces_the_jobs(history: History, tmp_path: Path, single_job: bool) -> None:
    originals = history.list()[1:2] if single_job else history.list()
    report = job_report(originals[0]) if single_job else history_report(originals)
    for job in report["jobs"]:
        job["machine"]["cores"] = 64  # recorded on a bigger machine
    path = write_report(report, tmp_path / "exported.json")
    target = History(tmp_path / "elsewhere" / "history.sqlite3")
    target.record_job("render", "failed", request={"input": "local.mp4"}, error="stopped")
    new_ids = import_report(path, target)
    imported = [target.get(job_id) for job_id in new_ids]
    assert [key_fields(r, single_job) for r in imported] == [
        {**key_fields(r, single_job), "machine": {**r.machine, "cores": 64}} for r in originals
    ]
    assert len(target) == len(originals) + 1 and sorted(new_ids) == list(range(2, len(originals) + 2))
    assert target.list()[0].input == "local.mp4"  # the imported jobs keep their (earlier) created_at


def test_import_of_invalid_report_adds_nothing(history: History, tmp_path: Path) -> None:
    report = history_report(history.list())
    del report["jobs"][-1]["machine"]
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(report))
    target = History(tmp_path / "elsewhere.sqlite3")
    with pytest.raises(ReportError, match="'machine' is a required property"):
        import_report(path, target)
    assert len(target) == 0


def test_report_schema_refuses_unknown_versions() -> None:
    for version in (0, 3, True, "1"):
        with pytest.raises(ReportError, match="is not supported"):
            report_schema(version)  # type: ignore[arg-type]


def test_a_version_1_report_is_still_read_and_imported(history: History, tmp_path: Path) -> None:
    report = history_report(history.list())
    report["schema_version"] = 1  # written before segments carried their quality: same job layout
    path = tmp_path / "old.json"
    path.write_text(json.dumps(report))
    assert load_report(path)["schema_version"] == 1
    target = History(tmp_path / "elsewhere.sqlite3")
    assert len(import_report(path, target)) == len(report["jobs"])


def test_version_2_checks_each_segments_quality(history: History, tmp_path: Path) -> None:
    report = job_report(history.list(kind="render", status="finished")[0])
    segment = {"index": 0, "frames": 30, "seconds": 1.0, "output": "s.mp4", "bytes": 10, "worker_pid": 1, "crf": 23}
    measured = {"psnr": 41.5, "ssim": 0.98, "vmaf": None, "vmaf_model": None, "frames": 4, "sample_every": 10}
    report["jobs"][0]["details"]["segments"] = [{**segment, "quality": measured}]
    check_schema(report)
    report["jobs"][0]["details"]["segments"] = [{**segment, "quality": {**measured, "ssim": 1.5}}]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(report))
    with pytest.raises(ReportError, match="1.5 is greater than the maximum of 1"):
        load_report(path)
