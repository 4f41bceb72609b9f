"""Advisor: Amdahl fit accuracy, memory cap, rules vs fit, the 5% gain threshold."""

from __future__ import annotations

import dataclasses
import json
import random
from fractions import Fraction
from pathlib import Path

import pytest

from renderrush.core.errors import AdviceError
from renderrush.core.resources import available_cores
from renderrush.media.probe import VideoInfo
from renderrush.recording.advisor import (
    RunTiming,
    advise,
    fit_amdahl,
    mean_gop_seconds,
    past_runs,
    recommend,
    rule_segment_seconds,
    worker_memory,
)
from renderrush.recording.history import History
from renderrush.recording.machine import machine_info
from renderrush.recording.records import JobRecord, utc_timestamp

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
    with pytest.raises(AdviceError, match="two or more"):
        fit_amdahl(runs_for(0.01, 0.01, counts=(2, 2)))
    with pytest.raises(AdviceError, match="invalid run"):
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
    history = runs_for(0.002, 0.03)
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
    rec = recommend(W, H, 600.0, runs_for(0.01, 0.04), cores=4, available_memory=PLENTY)
    assert (rec.method, rec.workers) == ("amdahl", 7)
    fit = rec.fit
    assert fit is not None
    assert 1 - fit.predict(8) / fit.predict(7) < 0.05 <= 1 - fit.predict(7) / fit.predict(6)
    assert "under the 5% threshold" in rec.reason and "10.00 + 40.00/n ms" in rec.reason
    assert "extrapolated beyond the 4 workers measured" in rec.reason


def test_gain_threshold_edges() -> None:
    serial_only = recommend(W, H, 60.0, runs_for(0.02, 0.0), cores=4, available_memory=PLENTY)
    assert (serial_only.method, serial_only.workers) == ("amdahl", 4), "never fewer than one worker per core"
    assert "never fewer than one worker per usable core" in serial_only.reason
    scaling = recommend(W, H, 600.0, runs_for(0.001, 0.04), cores=2, available_memory=PLENTY)
    assert (scaling.method, scaling.workers) == ("amdahl", 4)  # never below 5% gain: stops at 2 workers per core
    assert "2 workers per core is the upper limit" in scaling.reason


def test_fit_without_a_serial_part_is_rejected() -> None:
    perfect = recommend(W, H, 600.0, runs_for(0.0, 0.04), cores=2, available_memory=PLENTY)
    assert (perfect.method, perfect.workers) == ("rules", 2)
    assert "Amdahl fit rejected: its serial part is 0" in perfect.reason


def test_poor_fit_is_rejected_with_its_r2() -> None:
    # seconds per frame that do not depend on the worker count: noise, not scaling
    noisy = [
        RunTiming(n, 0.02 * (1 + 0.3 * (-1) ** i) * FRAMES, W, H, FRAMES) for i, n in enumerate((1, 2, 3, 4, 5, 6))
    ]
    rec = recommend(W, H, 60.0, noisy, cores=2, available_memory=PLENTY)
    assert rec.fit is not None and rec.fit.r2 < 0.9
    assert (rec.method, rec.workers) == ("rules", 2)
    assert f"Amdahl fit rejected: r2 = {rec.fit.r2:.2f} is below 0.9" in rec.reason


def test_fit_needs_three_worker_counts() -> None:
    two = recommend(W, H, 60.0, runs_for(0.004, 0.03, counts=(1, 2)), cores=2, available_memory=PLENTY)
    assert (two.method, two.workers) == ("rules", 2)
    assert "2 comparable past runs at 2 worker counts; a fit needs 3" in two.reason
    assert (
        recommend(W, H, 60.0, runs_for(0.004, 0.03, counts=(1, 2, 3)), cores=2, available_memory=PLENTY).method
        == "amdahl"
    )


def test_only_runs_of_comparable_length_are_fitted() -> None:
    """A fit made from 3 s jobs says nothing about a 10-minute one, and the other way round."""
    good = runs_for(0.004, 0.03)  # FRAMES = 1800 frames each
    assert recommend(W, H, 60.0, good, cores=2, available_memory=PLENTY, frames=1800).method == "amdahl"
    assert recommend(W, H, 60.0, good, cores=2, available_memory=PLENTY, frames=3600).method == "amdahl"
    far = recommend(W, H, 600.0, good, cores=2, available_memory=PLENTY, frames=18000)
    assert far.method == "rules" and "0 comparable past runs" in far.reason


def test_never_more_than_two_workers_per_core() -> None:
    for cores in (1, 2, 4):
        rec = recommend(W, H, 6000.0, runs_for(0.0001, 0.2, counts=(1, 2, 4, 8)), cores=cores, available_memory=PLENTY)
        assert cores <= rec.workers <= 2 * cores


@pytest.mark.parametrize(
    ("args", "match"),
    [((0, 1080, 60.0), "positive"), ((1920, 1080, 0.0), "positive"), ((1920, 1080, 60.0, None, 0), "cores")],
)
def test_rejects_nonsense_arguments(args: tuple, match: str) -> None:
    with pytest.raises(AdviceError, match=match):
        recommend(*args)


def seeded(
    rng: random.Random,
    *,
    width: int,
    height: int,
    frames: int,
    workers: int,
    ms_per_frame: float,
    filters: str = "grayscale",
    machine: dict | None = None,
) -> JobRecord:
    """A finished render as the history would hold it (ids and timestamps are assigned on import)."""
    wall = frames * ms_per_frame / 1000
    video = dict(width=width, height=height, fps=30.0, frame_count=frames, duration=frames / 30, has_audio=False)
    job = dict(filters=filters, workers=workers, segment_seconds=2.0, scheduler="processes", preset="veryfast", crf=23)
    timing = dict(frames=frames, wall_seconds=wall, fps_rendered=frames / wall, speedup=None, efficiency=None)
    return JobRecord(
        id=1,
        created_at=utc_timestamp(),
        kind="render",
        status="finished",
        error=None,
        input=f"clip{rng.randrange(10**6)}.mp4",
        **video,
        **job,
        **timing,
        cpu_percent=90.0,
        details={},
        monitor_summary=None,
        timeline=None,
        machine=machine or machine_info(),
    )


def unrelated_small_jobs(rng: random.Random, count: int = 200) -> list[JobRecord]:
    """What a history holds after a test suite or a notebook session: small clips at every
    worker count, timed mostly by start-up, some of them the same chain, and 720p jobs of
    another length or from another machine that scale perfectly."""
    other_machine = {**machine_info(), "cores": 64}
    jobs = []
    for i in range(count):
        kind = i % 10
        if kind < 7:  # tiny clips, start-up bound: times that do not follow the worker count
            width, height = rng.choice([(160, 120), (96, 64), (320, 240), (640, 360)])
            chain = rng.choice(["grayscale", "invert", "blur:5", "grayscale"])
            frames, n, ms = rng.randrange(30, 121), rng.randrange(1, 9), rng.uniform(2, 40)
            jobs.append(
                seeded(rng, width=width, height=height, frames=frames, workers=n, ms_per_frame=ms, filters=chain)
            )
        elif kind < 9:  # 720p, but 2-3 s clips
            frames, n = rng.randrange(60, 91), rng.randrange(1, 9)
            jobs.append(seeded(rng, width=1280, height=720, frames=frames, workers=n, ms_per_frame=30 + 72.6 / n))
        else:  # the same job on a 64-core machine, scaling perfectly
            n = rng.randrange(1, 65)
            ms = 0.1 + 80 / n
            jobs.append(
                seeded(rng, width=1280, height=720, frames=600, workers=n, ms_per_frame=ms, machine=other_machine)
            )
    return jobs


def clip_info(tmp_path: Path, frames: int = 600) -> VideoInfo:
    """A 1280x720 clip of `frames` frames at 30 fps, as `probe` describes it."""
    size = dict(width=1280, height=720, fps=Fraction(30), frame_count=frames, duration=frames / 30)
    codecs = dict(codec="h264", pix_fmt="yuv420p", has_audio=False, audio_codec=None, container="mp4")
    return VideoInfo(path=tmp_path / "in.mp4", **size, **codecs)


def test_history_of_unrelated_small_jobs_gives_one_worker_per_core(tmp_path: Path) -> None:
    rng = random.Random(14)
    history = History(tmp_path / "jobs.sqlite3")
    history.import_records(unrelated_small_jobs(rng))
    assert len(history.list()) == 200
    rec = advise(clip_info(tmp_path), "grayscale", history)
    assert rec.method == "rules"
    assert rec.workers == min(available_cores(), rec.memory_cap_workers), "one worker per usable core"
    assert "0 comparable past runs at 0 worker counts; a fit needs 3" in rec.reason
    assert "one per usable core" in rec.reason


def test_noisy_comparable_runs_are_rejected_and_named(tmp_path: Path) -> None:
    """Comparable runs (this machine, 720p, 20 s, the same chain) whose times are noise, not scaling."""
    rng = random.Random(15)
    history = History(tmp_path / "jobs.sqlite3")
    noise = [1.0, 1.35, 0.8, 1.25, 0.85, 1.3, 0.75, 1.2]
    comparable = [
        seeded(rng, width=1280, height=720, frames=600, workers=n, ms_per_frame=12 * noise[i])
        for i, n in enumerate((1, 2, 3, 4, 1, 2, 3, 4))
    ]
    history.import_records([*unrelated_small_jobs(rng, 190), *comparable])
    runs = past_runs(history, "grayscale")
    assert len(runs) < 200, "other machines' runs are left out"
    rec = advise(clip_info(tmp_path), "grayscale", history)
    assert rec.method == "rules" and rec.fit is not None and rec.fit.r2 < 0.9
    assert rec.workers == min(available_cores(), rec.memory_cap_workers)
    assert f"Amdahl fit rejected: r2 = {rec.fit.r2:.2f} is below 0.9" in rec.reason
    assert "8 runs" in rec.reason, "only the comparable runs were fitted"


def test_good_comparable_runs_are_fitted_and_capped_at_two_workers_per_core(tmp_path: Path) -> None:
    rng = random.Random(16)
    history = History(tmp_path / "jobs.sqlite3")
    comparable = [
        seeded(rng, width=1280, height=720, frames=rng.randrange(500, 700), workers=n, ms_per_frame=0.5 + 40 / n)
        for n in (1, 2, 3, 4, 6, 8)
    ]
    history.import_records([*unrelated_small_jobs(rng, 100), *comparable])
    rec = advise(clip_info(tmp_path), "grayscale", history)
    assert rec.method == "amdahl" and "over 6 comparable runs at 6 worker counts" in rec.reason
    cores = available_cores()
    assert min(cores, rec.memory_cap_workers) <= rec.workers <= 2 * cores


def test_past_runs_of_this_chain_and_machine_a_comparison_giving_two(tmp_path: Path) -> None:
    rng = random.Random(17)
    history = History(tmp_path / "jobs.sqlite3")
    render_job = seeded(rng, width=640, height=360, frames=90, workers=2, ms_per_frame=10)
    parallel = seeded(rng, width=640, height=360, frames=90, workers=3, ms_per_frame=8)
    sequential = {"workers": 1, "wall_seconds": 2.5, "frames": 90}
    compare_job = dataclasses.replace(parallel, kind="compare", details={"sequential": sequential})
    elsewhere = seeded(rng, width=640, height=360, frames=90, workers=4, ms_per_frame=5, machine={"cores": 64})
    other_chain = seeded(rng, width=640, height=360, frames=90, workers=4, ms_per_frame=5, filters="invert")
    failed = dataclasses.replace(render_job, status="failed", workers=8)
    history.import_records([render_job, compare_job, elsewhere, other_chain, failed])
    assert sorted(past_runs(history, "grayscale"), key=lambda t: t.workers) == [
        RunTiming(1, 2.5, 640, 360, 90),
        RunTiming(2, 0.9, 640, 360, 90),
        RunTiming(3, 0.72, 640, 360, 90),
    ]
    assert past_runs(None, "grayscale") == [] and past_runs(history, "sepia") == []


def test_the_engine_and_the_panel_ask_the_same_advise() -> None:
    from renderrush.jobs import plan
    from renderrush.ui import panel

    assert plan.advise is advise and panel.advise is advise


def test_sparse_keyframes_make_one_segment_per_worker() -> None:
    # 20 s on 2 workers: two 5 s segments each, unless keyframes lie over 2.5 s apart
    assert rule_segment_seconds(20, 2) == rule_segment_seconds(20, 2, gop_seconds=1.0) == 5.0
    assert rule_segment_seconds(20, 2, gop_seconds=2.5) == 5.0
    assert rule_segment_seconds(20, 2, gop_seconds=250 / 30) == 10.0  # x264's default GOP at 30 fps
    assert rule_segment_seconds(120, 2, gop_seconds=250 / 30) == 30.0  # long enough for two per worker
    assert mean_gop_seconds(20, (0, 250, 500)) == pytest.approx(20 / 3) and mean_gop_seconds(20, ()) is None
    advice = recommend(W, H, 20, cores=2, available_memory=PLENTY, gop_seconds=250 / 30)
    assert (advice.workers, advice.segments, advice.segment_seconds) == (2, 2, 10.0)
    assert "10.0 s segments (one per worker: its keyframes lie 8.3 s apart) make 2 segments" in advice.reason
    assert "apart" not in recommend(W, H, 20, cores=2, available_memory=PLENTY, gop_seconds=1.0).reason
