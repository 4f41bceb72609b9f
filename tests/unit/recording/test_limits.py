"""limits.py: the disk check before a render and the memory guard during it.

A render needs twice its estimated output (the source's size, or 0.1 bit per pixel if
larger) plus a MiB beside the output, or it is refused with `DiskSpaceError` (unless
forced; a file system reporting no size is not judged). The memory threshold is
$RENDERRUSH_MIN_FREE_MEMORY_MB or 5% of usable memory, at least 256 MiB; a bad value is a
`SettingsError`. `MemoryGuard` trips on the first sample below the threshold, cancels the
job without setting the caller's own event, and keeps forwarding samples even when the
caller's gauge breaks.
"""

from __future__ import annotations

import threading
import types
from fractions import Fraction
from pathlib import Path

import pytest

from renderrush.core.errors import DiskSpaceError, MemoryLimitError, SettingsError
from renderrush.media.probe import VideoInfo
from renderrush.recording import limits
from renderrush.recording.limits import (
    DISK_MARGIN,
    MEMORY_ENV,
    MIB,
    MemoryGuard,
    check_disk_space,
    estimated_output_bytes,
    min_free_memory,
)
from renderrush.recording.monitor import Sample

GIB = 1024 * MIB


def video_info(path: Path, width: int = 160, height: int = 120, frames: int = 90) -> VideoInfo:
    return VideoInfo(
        path=path,
        width=width,
        height=height,
        fps=Fraction(30),
        frame_count=frames,
        duration=frames / 30,
        codec="h264",
        pix_fmt="yuv420p",
        has_audio=False,
        audio_codec=None,
        container="mov,mp4,m4a,3gp,3g2,mj2",
    )


def sample(mem_available: int) -> Sample:
    return Sample(0.5, 10.0, (10.0, 10.0), GIB, mem_available, 0.0, 0.0, 0.0, MIB, 50.0, 2)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "in.mp4"
    path.write_bytes(bytes(10_000))
    return path


@pytest.fixture(autouse=True)
def no_threshold_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MEMORY_ENV, raising=False)


def test_the_output_estimate_is_the_larger_of_the_source_and_a_tenth_of_a_bit_per_pixel(source: Path) -> None:
    # 160x120x90 pixels at 0.1 bit: 21600 bytes, more than the 10000-byte source
    assert estimated_output_bytes(video_info(source)) == 21_600
    # 64x48x10 pixels: 384 bytes, so the source's size wins
    assert estimated_output_bytes(video_info(source, 64, 48, 10)) == 10_000


def fake_disk(monkeypatch: pytest.MonkeyPatch, total: int, free: int) -> list[Path]:
    asked: list[Path] = []

    def disk_usage(path: Path) -> types.SimpleNamespace:
        asked.append(path)
        return types.SimpleNamespace(total=total, used=total - free, free=free)

    monkeypatch.setattr(limits, "shutil", types.SimpleNamespace(disk_usage=disk_usage))
    return asked


def test_a_disk_with_exactly_enough_room_is_accepted(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    needed = 2 * 21_600 + DISK_MARGIN
    asked = fake_disk(monkeypatch, total=10 * GIB, free=needed)
    check_disk_space(video_info(source), tmp_path / "out.mp4")
    assert asked == [tmp_path], "the folder the output goes to is the one judged"


def test_one_byte_short_is_refused_naming_both_sizes(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    needed = 2 * 21_600 + DISK_MARGIN
    fake_disk(monkeypatch, total=10 * GIB, free=needed - 1)
    with pytest.raises(DiskSpaceError) as refused:
        check_disk_space(video_info(source), tmp_path / "out.mp4")
    assert str(refused.value) == (
        f"not enough free disk space in '{tmp_path}': the output and its segments need about 1.0 MiB, "
        "1.0 MiB is free; free some space, choose another folder, or pass force=True if the estimate is wrong"
    )
    assert refused.value.cli_message == str(refused.value).replace("pass force=True", "use --force")
    assert isinstance(refused.value, OSError)


def test_forced_or_on_a_file_system_without_a_size_the_disk_is_not_judged(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = fake_disk(monkeypatch, total=10 * GIB, free=0)
    check_disk_space(video_info(source), tmp_path / "out.mp4", force=True)
    assert asked == [], "forced: not even asked"
    fake_disk(monkeypatch, total=0, free=0)  # proc, some FUSE mounts
    check_disk_space(video_info(source), tmp_path / "out.mp4")


def test_the_real_disk_is_judged(source: Path, tmp_path: Path) -> None:
    check_disk_space(video_info(source), tmp_path / "out.mp4")
    # a hundred million 8K frames: about 80 TB needed, more than any test machine has
    with pytest.raises(DiskSpaceError, match=rf"^not enough free disk space in '{tmp_path}'"):
        check_disk_space(video_info(source, 7680, 4320, 10**8), tmp_path / "out.mp4")


@pytest.mark.parametrize(
    "total, threshold",
    [(2 * GIB, 256 * MIB), (5 * GIB, 256 * MIB), (100 * GIB, 5 * GIB)],
    ids=["small-machine", "at-the-floor", "big-machine"],
)
def test_the_default_threshold_is_5_percent_but_at_least_256_mib(
    monkeypatch: pytest.MonkeyPatch, total: int, threshold: int
) -> None:
    monkeypatch.setattr(limits, "total_memory", lambda: total)
    assert min_free_memory() == threshold


@pytest.mark.parametrize("text, threshold", [("0", 0), ("512", 512 * MIB), ("1.5", int(1.5 * MIB)), ("", None)])
def test_the_threshold_setting_is_in_mib(monkeypatch: pytest.MonkeyPatch, text: str, threshold: int | None) -> None:
    monkeypatch.setattr(limits, "total_memory", lambda: 100 * GIB)
    monkeypatch.setenv(MEMORY_ENV, text)
    assert min_free_memory() == (5 * GIB if threshold is None else threshold), "an empty setting is no setting"


@pytest.mark.parametrize("text", ["lots", "-1", "256MB"])
def test_a_bad_threshold_setting_is_a_settings_error(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setenv(MEMORY_ENV, text)
    with pytest.raises(SettingsError) as refused:
        min_free_memory()
    assert str(refused.value) == f"{MEMORY_ENV} must be a number of MiB, 0 or more, got {text!r}"


@pytest.mark.parametrize("text", ["nan", "inf"])
def test_a_non_finite_threshold_setting_is_a_settings_error(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setenv(MEMORY_ENV, text)
    with pytest.raises(SettingsError, match=f"{MEMORY_ENV} must be a number of MiB"):
        min_free_memory()


def test_the_guard_trips_on_the_first_short_sample_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MEMORY_ENV, "1000")
    mine = threading.Event()
    seen: list[Sample] = []
    guard = MemoryGuard(mine, seen.append)
    assert guard.threshold == 1000 * MIB
    guard(sample(1000 * MIB))  # at the threshold is not below it
    guard.raise_if_tripped()
    assert not guard.cancel.is_set() and guard.tripped is None
    short, shorter = sample(300 * MIB), sample(100 * MIB)
    guard(short)
    guard(shorter)
    assert guard.tripped is short and guard.cancel.is_set()
    assert not mine.is_set(), "the caller's event is left alone: the caller may reuse it"
    assert [s.mem_available for s in seen] == [1000 * MIB, 300 * MIB, 100 * MIB], "every sample is passed on"
    with pytest.raises(MemoryLimitError) as stopped:
        guard.raise_if_tripped()
    assert str(stopped.value) == (
        "stopped: only 300 MiB of memory was left (the job stops below 1000 MiB, before the machine swaps); "
        f"use fewer workers or set {MEMORY_ENV}; no output was written"
    )


def test_the_guards_cancel_follows_the_callers_event(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MEMORY_ENV, "0")
    mine = threading.Event()
    guard = MemoryGuard(mine, None)
    guard(sample(0))  # 0 MiB threshold: nothing is below it
    assert not guard.cancel.is_set()
    mine.set()
    assert guard.cancel.is_set() and guard.tripped is None
    guard.raise_if_tripped()  # cancelled by the caller, not by the guard
    assert not MemoryGuard(None, None).cancel.is_set()


def test_a_broken_gauge_is_dropped_and_the_guard_keeps_watching(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MEMORY_ENV, "100")
    calls: list[int] = []

    def gauge(s: Sample) -> None:
        calls.append(s.mem_available)
        raise RuntimeError("widget closed")

    guard = MemoryGuard(None, gauge)
    guard(sample(GIB))
    guard(sample(50 * MIB))
    assert calls == [GIB], "not called again after it failed"
    assert guard.tripped is not None and guard.tripped.mem_available == 50 * MIB and guard.cancel.is_set()
