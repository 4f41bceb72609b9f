"""Health score: each component reacts to its own reading; bounds; verdicts; real readings."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from renderrush.core.errors import SettingsError
from renderrush.recording.health import GIB, HealthReadings, system_health

CALM = HealthReadings(
    cpu_percent=5.0,
    mem_available=20 * GIB,
    mem_total=24 * GIB,
    swap_percent=0.0,
    disk_free=100 * GIB,
    disk_total=200 * GIB,
    load_avg_1m=0.2,
    cores=2,
)


def scores(readings: HealthReadings) -> dict[str, float]:
    return {c.name: c.score for c in system_health(readings=readings).components}


def test_calm_machine_scores_high_with_good_verdict() -> None:
    report = system_health(readings=CALM)
    assert report.score >= 90
    assert report.verdict == "Good: 2 cores mostly idle, 20.0 GiB memory free"
    assert {c.name for c in report.components} == {"cpu", "memory", "swap", "disk", "load"}
    assert sum(c.weight for c in report.components) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("name", "change"),
    [
        ("cpu", {"cpu_percent": 97.0}),
        ("memory", {"mem_available": GIB // 10}),
        ("swap", {"swap_percent": 80.0}),
        ("disk", {"disk_free": GIB // 10}),
        ("load", {"load_avg_1m": 6.0}),
    ],
)
def test_each_component_reacts_only_to_its_reading(name: str, change: dict) -> None:
    stressed = dataclasses.replace(CALM, **change)
    before, after = scores(CALM), scores(stressed)
    assert after[name] < before[name]
    assert after[name] < 10
    assert {k: v for k, v in after.items() if k != name} == {k: v for k, v in before.items() if k != name}
    report = system_health(readings=stressed)
    assert report.score < system_health(readings=CALM).score
    assert report.score <= 50  # one exhausted resource caps the score
    assert report.weakest.name == name
    assert report.verdict.startswith("Poor: ") and name in report.verdict


def test_moderate_pressure_gives_fair_verdict_naming_weakest() -> None:
    report = system_health(readings=dataclasses.replace(CALM, cpu_percent=70.0, load_avg_1m=1.5))
    assert 50 <= report.score < 80
    assert report.verdict.startswith("Fair: cpu is the weakest")


def test_score_is_bounded_even_for_absurd_readings() -> None:
    worst = HealthReadings(150.0, 0, 8 * GIB, 100.0, 0, 10 * GIB, 99.0, 1)
    best = HealthReadings(-5.0, 16 * GIB, 8 * GIB, -1.0, 10**15, 10**15, 0.0, 64)
    assert system_health(readings=worst).score == 0
    assert system_health(readings=best).score == 100
    for readings in (worst, best, dataclasses.replace(CALM, mem_total=0, cores=0)):
        report = system_health(readings=readings)
        assert 0 <= report.score <= 100
        assert all(0 <= c.score <= 100 for c in report.components)


def test_real_readings_and_plain_dict(tmp_path: Path) -> None:
    report = system_health(tmp_path)
    assert isinstance(report.score, int) and 0 <= report.score <= 100
    assert report.readings.cores >= 1 and report.readings.mem_total > 0
    data = report.to_dict()
    json.dumps(data)
    assert data["score"] == report.score and len(data["components"]) == 5


def test_missing_work_dir_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="free disk space"):
        system_health(tmp_path / "missing")
