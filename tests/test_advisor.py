"""Advisor: Amdahl fit accuracy, memory cap, rules vs fit, the 5% gain threshold."""

from __future__ import annotations

import json
import math

import pytest

from renderrush.advisor import (
    RunTiming,
    fit_amdahl,
    recommend,
    worker_memory,
)
from renderrush.errors import SettingsError

W, H, FRAMES = 1920, 1080, 1800
PLENTY = 10**12  # bytes: memory never limits


def runs_for(serial: float, parallel: float, counts=(1, 2, 3, 4), noise=(0.0,), width=W, height=H):
    """Timings of FRAMES frames following t(n) = serial + parallel/n seconds per frame,
    each count repeated once per noise factor (a relative error)."""
    return [
        RunTiming(n, (serial + parallel / n) * FRAMES * (1 + e), width, height, FRAMES) for n in counts for e in noise
    ]


def test_fit_recovers_serial_and_parallel_exactly_without_noise() -> None:
    fit = fit_amdahl(runs_for(0.004, 0.030))
    assert fit.serial == pytest.approx(0.004, rel=1e-9)
    assert fit.parallel == pytest.approx(0.030, rel=1e-9)
    assert fit.r2 == pytest.approx(1.0)
    assert fit.predict(3) == pytest.approx(0.014)


def test_fit_recovers_within_five_percent_with_noise() -> None:
    noise = (0.02, -0.02, 0.01, -0.01)
    fit = fit_amdahl(runs_for(0.004, 0.030, counts=(1, 2, 4, 8), noise=noise))
    assert fit.serial == pytest.approx(0.004, rel=0.05)
    assert fit.parallel == pytest.approx(0.030, rel=0.05)
    alternating = [
        RunTiming(n, (0.004 + 0.030 / n) * FRAMES * (1 + 0.02 * (-1) ** n), W, H, FRAMES) for n in range(1, 9)
    ]
    fit = fit_amdahl(alternating)
    assert fit.serial == pytest.approx(0.004, rel=0.05)
    assert fit.parallel == pytest.approx(0.030, rel=0.05)
    assert 0.9 < fit.r2 < 1.0


def test_fit_clamps_to_non_negative_terms() -> None:
    slower_with_more = [RunTiming(n, (0.01 + 0.001 * n) * FRAMES, W, H, FRAMES) for n in (1, 2, 4)]
    fit = fit_amdahl(slower_with_more)
    assert fit.parallel == 0.0
    assert fit.serial == pytest.approx(sum(r.wall_seconds / FRAMES for r in slower_with_more) / 3)
    superlinear = [RunTiming(n, 0.02 / n**1.2 * FRAMES, W, H, FRAMES) for n in (1, 2, 4)]
    fit = fit_amdahl(superlinear)
    assert fit.serial == 0.0 and fit.parallel > 0


def test_fit_needs_two_worker_counts_and_valid_runs() -> None:
    with pytest.raises(SettingsError, match="two or more"):
        fit_amdahl(runs_for(0.01, 0.01, counts=(2, 2)))
    with pytest.raises(SettingsError, match="invalid run"):
        fit_amdahl([RunTiming(1, 1.0, W, H, 0), RunTiming(2, 1.0, W, H, 10)])


def test_rules_without_history() -> None:
    rec = recommend(W, H, 60.0, cores=4, available_memory=PLENTY)
    assert (rec.method, rec.workers, rec.fit) == ("rules", 4, None)
    assert rec.segment_seconds == pytest.approx(60 / 8)
    assert "Rules" in rec.reason and "4 workers" in rec.reason
    json.dumps(rec.to_dict())


@pytest.mark.parametrize("duration", [0.5, 1.9, 3.0, 7.9, 8.0, 9.0, 20.0, 33.3, 600.0])
@pytest.mark.parametrize("cores", [1, 2, 4, 16])
def test_rules_segments_keep_every_worker_busy(duration: float, cores: int) -> None:
    rec = recommend(W, H, duration, cores=cores, available_memory=PLENTY)
    segments = max(1, round(duration / rec.segment_seconds))
    assert rec.segment_seconds >= 2.0
    assert 1 <= rec.workers <= cores
    assert segments >= rec.workers
    if duration >= 2.0 * cores:  # long enough for one segment of at least 2 s per core
        assert rec.workers == cores
        assert round(duration / rec.segment_seconds) % cores == 0, "every round of segments keeps all workers busy"


def test_memory_caps_workers_and_leaves_at_least_one() -> None:
    tiny = recommend(W, H, 60.0, cores=8, available_memory=1)
    assert tiny.workers == 1 and tiny.memory_cap_workers == 1
    room_for_two = int(worker_memory(W, H) * 2.5)
    assert recommend(W, H, 60.0, cores=8, available_memory=room_for_two).workers == 2
    history = runs_for(0.0, 0.03)
    capped = recommend(W, H, 60.0, history, cores=8, available_memory=room_for_two)
    assert (capped.method, capped.workers) == ("amdahl", 2)
    assert "memory has room for only 2 workers" in capped.reason


def test_worker_memory_grows_with_resolution() -> None:
    assert worker_memory(640, 360) < worker_memory(1280, 720) < worker_memory(1920, 1080)
    assert worker_memory(1, 1) > 100 * 1000**2  # the per-worker base dominates tiny frames


def test_method_switches_to_amdahl_only_with_similar_runs_at_two_counts() -> None:
    def method(history) -> str:
        return recommend(W, H, 60.0, history, cores=2, available_memory=PLENTY).method

    assert method(None) == "rules"
    assert method(runs_for(0.01, 0.02, counts=(2,), noise=(0.0, 0.1))) == "rules"
    assert method(runs_for(0.01, 0.02, width=1280, height=720)) == "rules"  # 44% of the pixels
    assert method(runs_for(0.01, 0.02, width=1920, height=1200)) == "amdahl"  # within 25%
    mixed = runs_for(0.01, 0.02, counts=(1,)) + runs_for(0.01, 0.02, counts=(2,), width=640, height=360)
    assert method(mixed) == "rules"


def test_gain_threshold_picks_the_smallest_worthwhile_count() -> None:
    # t(n) = 0.01 + 0.04/n: one more worker saves 5.7% at n=6 but 4.5% at n=7
    rec = recommend(W, H, 600.0, runs_for(0.01, 0.04), cores=8, available_memory=PLENTY)
    assert (rec.method, rec.workers) == ("amdahl", 7)
    fit = rec.fit
    assert fit is not None
    assert 1 - fit.predict(8) / fit.predict(7) < 0.05 <= 1 - fit.predict(7) / fit.predict(6)
    assert "under the 5% threshold" in rec.reason and "10.00 + 40.00/n ms" in rec.reason
    assert "extrapolated beyond the 4 workers measured" in rec.reason


def test_gain_threshold_edges() -> None:
    serial_only = recommend(W, H, 60.0, runs_for(0.02, 0.0), cores=4, available_memory=PLENTY)
    assert serial_only.workers == 1
    perfect = recommend(W, H, 600.0, runs_for(0.0, 0.04), cores=2, available_memory=PLENTY)
    assert perfect.workers == 8  # never below 5% gain: stops at 4 workers per core
    assert "4 workers per core is the upper limit" in perfect.reason


@pytest.mark.parametrize(
    ("args", "match"),
    [((0, 1080, 60.0), "positive"), ((1920, 1080, 0.0), "positive"), ((1920, 1080, 60.0, None, 0), "cores")],
)
def test_rejects_nonsense_arguments(args: tuple, match: str) -> None:
    with pytest.raises(SettingsError, match=match):
        recommend(*args)
