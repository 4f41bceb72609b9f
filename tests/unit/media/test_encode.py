"""Unit tests of the heap-fill reader-writer lock (`renderrush.media.encode.HeapFill`): filters run
side by side, a filled block runs alone, a waiting fill goes before new filters, and a block
that fails leaves the lock and the heap setting as they were; and only x264's calls run under it."""

from __future__ import annotations

import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import pytest

from renderrush.media import encode
from renderrush.media.decode import Picture
from renderrush.media.encode import M_PERTURB, EncodeSettings, HeapFill, SegmentWriter, VideoTags

WAIT = 5.0
"""Upper bound for a thread to reach a point it is expected to reach (never hit when correct)."""


class Recorder:
    """Stands in for glibc's mallopt and records every setting."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def __call__(self, parameter: Any, value: Any) -> int:
        self.calls.append((parameter.value, value.value))
        return 1


@pytest.fixture
def lock() -> HeapFill:
    fill = HeapFill()
    fill._mallopt = Recorder()  # type: ignore[assignment]
    return fill


def run(target: Any) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def test_filters_run_side_by_side(lock: HeapFill) -> None:
    both_inside = threading.Barrier(2, timeout=WAIT)

    def filter_() -> None:
        with lock.unfilled():
            both_inside.wait()  # breaks (BrokenBarrierError) if the second filter cannot get in

    threads = [run(filter_), run(filter_)]
    for thread in threads:
        thread.join(WAIT)
    assert not both_inside.broken


def test_fill_waits_for_running_filters_and_runs_alone(lock: HeapFill) -> None:
    events: list[str] = []
    filter_inside, release_filter = threading.Event(), threading.Event()

    def filter_() -> None:
        with lock.unfilled():
            filter_inside.set()
            release_filter.wait(WAIT)
            events.append("filter done")

    def fill() -> None:
        with lock.filled():
            events.append("fill")

    first = run(filter_)
    assert filter_inside.wait(WAIT)
    filler = run(fill)
    time.sleep(0.2)
    assert events == [], "the fill ran while a filter was running"
    release_filter.set()
    first.join(WAIT)
    filler.join(WAIT)
    assert events == ["filter done", "fill"]


def test_waiting_fill_goes_before_new_filters(lock: HeapFill) -> None:
    """Writer preference: filters arriving after a fill asked wait for it, so a stream of
    filters never starves the encoder."""
    events: list[str] = []
    filter_inside, release_filter = threading.Event(), threading.Event()

    def long_filter() -> None:
        with lock.unfilled():
            filter_inside.set()
            release_filter.wait(WAIT)

    def fill() -> None:
        with lock.filled():
            events.append("fill")

    def late_filter() -> None:
        with lock.unfilled():
            events.append("late filter")

    running = run(long_filter)
    assert filter_inside.wait(WAIT)
    filler = run(fill)
    deadline = time.monotonic() + WAIT
    while lock._fills == 0 and time.monotonic() < deadline:  # the fill has asked
        time.sleep(0.01)
    late = run(late_filter)
    time.sleep(0.2)
    assert events == [], "a filter that came after the fill asked ran before it"
    release_filter.set()
    for thread in (running, filler, late):
        thread.join(WAIT)
    assert events == ["fill", "late filter"]


def test_fills_exclude_each_other(lock: HeapFill) -> None:
    inside = 0
    most = 0
    guard = threading.Lock()

    def fill() -> None:
        nonlocal inside, most
        with lock.filled():
            with guard:
                inside += 1
                most = max(most, inside)
            time.sleep(0.02)
            with guard:
                inside -= 1

    threads = [run(fill) for _ in range(4)]
    for thread in threads:
        thread.join(WAIT)
    assert most == 1


def test_fill_sets_and_restores_the_heap_byte(lock: HeapFill, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_PERTURB_", "85")
    with lock.filled():
        pass
    assert lock._mallopt.calls == [(M_PERTURB, 0x55), (M_PERTURB, 85)]  # type: ignore[union-attr]


def test_a_failing_block_leaves_the_lock_usable(lock: HeapFill, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_PERTURB_", raising=False)
    with pytest.raises(RuntimeError):
        with lock.filled():
            raise RuntimeError("x264 failed")
    assert lock._mallopt.calls[-1] == (M_PERTURB, 0)  # type: ignore[union-attr]
    with pytest.raises(ValueError):
        with lock.unfilled():
            raise ValueError("user filter failed")
    assert (lock._fills, lock._filters, lock._filling) == (0, 0, False)
    done = threading.Event()

    def fill_then_filter() -> None:
        with lock.filled():
            pass
        with lock.unfilled():
            done.set()

    run(fill_then_filter).join(WAIT)
    assert done.is_set(), "the lock stayed taken after a failure"


@pytest.mark.parametrize("codec, depth", [("h264", 8), ("hevc", 10), ("av1", 10), ("vp9", 8), ("prores", 10)])
def test_only_x264_encodes_with_the_heap_filled(
    lock: HeapFill, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, codec: str, depth: int
) -> None:
    """x264 reads memory it allocated and never wrote; the other encoders give the same frames
    for any heap contents (tests/e2e/test_engine.py), so the process-wide fill is kept away
    from them: it would only expose their threads to it."""
    monkeypatch.setattr(encode, "heap_fill", lock)
    settings = EncodeSettings(codec=codec, depth=depth, threads=1)
    writer = SegmentWriter(tmp_path / "s.mp4", Fraction(30), settings, Picture(64, 64), VideoTags())
    for _ in range(4):
        writer.write(av.VideoFrame(64, 64, "yuv420p"))
    writer.finish()
    filled = [value for _, value in lock._mallopt.calls]  # type: ignore[union-attr]
    assert (0x55 in filled) == (codec == "h264")


def test_frames_are_numbered_in_the_encoders_time_base_whatever_theirs(tmp_path: Path) -> None:
    """Frames straight from a decoder carry its time base (1/61440 here): the writer numbers
    them 0, 1, 2... in its own, or PyAV would rescale those numbers into one timestamp."""
    writer = SegmentWriter(tmp_path / "s.mp4", Fraction(30), EncodeSettings(threads=1), Picture(64, 64), VideoTags())
    for index in range(5):
        frame = av.VideoFrame(64, 64, "yuv420p")
        frame.pts, frame.time_base = index * 2048, Fraction(1, 61440)
        writer.write(frame)
    writer.finish()
    with av.open(str(tmp_path / "s.mp4")) as container:
        times = [frame.time for frame in container.decode(video=0)]
    assert times == pytest.approx([index / 30 for index in range(5)])
