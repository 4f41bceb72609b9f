"""Monitor: real sampling of a real process tree, prompt stop, callbacks and summaries."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import namedtuple

import pytest

from renderrush.core.errors import MonitorError, SettingsError
from renderrush.recording.monitor import Monitor, Sample, _disk_rates

BUSY_CHILD = "import time\nend = time.monotonic() + 1.5\nwhile time.monotonic() < end:\n    pass\n"


def wait_for(condition, timeout: float = 10.0) -> None:
    """Poll until `condition()` holds; fail after a generous timeout instead of sleeping blindly."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


@pytest.mark.slow  # real processes and real time: the full suite runs it, the fast subset does not
def test_samples_busy_child_process_tree() -> None:
    interval = 0.1
    with Monitor(interval=interval) as mon:
        child = subprocess.Popen([sys.executable, "-c", BUSY_CHILD])
        child.wait(timeout=60)
    samples = mon.samples
    expected = mon.elapsed / interval
    assert expected * 0.3 <= len(samples) <= expected + 3  # + the start and end readings
    assert all(b.t > a.t for a, b in zip(samples, samples[1:], strict=False))
    assert any(s.job_processes >= 2 for s in samples)
    assert all(s.job_rss > 0 for s in samples)
    # CPU deltas need the cached Process objects: a fresh one always reports 0.0
    assert max(s.job_cpu_percent for s in samples) > 0
    assert all(0 <= s.cpu_percent <= 100 and s.per_core for s in samples)
    assert all(s.mem_used > 0 and s.mem_available > 0 for s in samples)
    assert all(s.disk_read_bps >= 0 and s.disk_write_bps >= 0 for s in samples)
    assert mon.overhead_seconds > 0


def test_stop_is_prompt_and_a_job_shorter_than_one_interval_has_its_start_and_end() -> None:
    mon = Monitor(interval=60)
    mon.start()
    began = time.monotonic()
    job = subprocess.run([sys.executable, "-c", "pass"], check=True)  # a job far shorter than 60 s
    assert job.returncode == 0
    mon.stop()
    assert time.monotonic() - began < 5  # far below the 60 s interval
    assert not mon.running
    start, end = mon.samples  # a line from the job's start to its end, not a single dot
    assert start.t == pytest.approx(0.0, abs=0.5) and start.job_cpu_percent == 0.0 and start.job_rss > 0
    assert 0 < end.t <= mon.elapsed and end.per_core
    assert mon.summary()["samples"] == 2


def test_window_is_bounded_and_answers_range_queries_while_the_summary_covers_everything() -> None:
    with Monitor(interval=0.01, max_samples=4) as mon:
        wait_for(lambda: mon.summary()["samples"] >= 10)
    samples = mon.samples
    assert len(samples) == 4  # the oldest scrolled out
    assert mon.summary()["samples"] >= 10
    assert samples[0].t > 0  # the start reading is among those gone
    assert mon.between(samples[1].t, samples[2].t) == samples[1:3]
    assert mon.between(samples[-1].t + 1, samples[-1].t + 2) == []


@pytest.mark.parametrize("bad", [0, 1, 2.5, True, "10"])
def test_rejects_a_window_that_cannot_hold_a_start_and_an_end(bad: object) -> None:
    with pytest.raises(SettingsError, match="max_samples"):
        Monitor(max_samples=bad)  # type: ignore[arg-type]


def test_callback_receives_samples_and_a_failing_one_does_not_stop_recording() -> None:
    seen: list[Sample] = []
    threads: set[str] = set()

    def gauge(sample: Sample) -> None:
        seen.append(sample)
        threads.add(threading.current_thread().name)

    with Monitor(interval=0.02, on_sample=gauge) as mon:
        wait_for(lambda: len(seen) >= 2)
    assert seen[:2] == mon.samples[:2]
    assert threads == {"renderrush-monitor"}

    def broken(sample: Sample) -> None:
        raise ValueError("gauge broke")

    with Monitor(interval=0.02, on_sample=broken) as mon:
        wait_for(lambda: len(mon.samples) >= 3)
    assert isinstance(mon.callback_error, ValueError)


def test_timeline_and_summary_are_plain_data() -> None:
    with Monitor(interval=0.02) as mon:
        wait_for(lambda: len(mon.samples) >= 3)
    timeline = mon.timeline()
    summary = mon.summary()
    json.dumps(timeline)
    json.dumps(summary)
    assert summary["samples"] == len(timeline)
    assert set(timeline[0]) == set(Sample.__dataclass_fields__)
    assert summary["cpu_max"] == max(row["cpu_percent"] for row in timeline)
    assert summary["job_rss_max"] == max(row["job_rss"] for row in timeline)
    assert summary["mem_used_max"] == max(row["mem_used"] for row in timeline)
    assert summary["duration"] >= timeline[-1]["t"]


def test_restart_begins_a_fresh_recording_and_double_start_fails() -> None:
    mon = Monitor(interval=0.02)
    mon.start()
    with pytest.raises(MonitorError, match="already running"):
        mon.start()
    wait_for(lambda: len(mon.samples) >= 3)
    mon.stop()
    mon.start()
    first = mon.samples
    mon.stop()
    assert len(first) < 3


def test_vanished_root_process_gives_empty_job_figures() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=60)
    with Monitor(interval=0.02, pid=child.pid) as mon:
        wait_for(lambda: len(mon.samples) >= 2)
    assert all(s.job_processes == 0 and s.job_rss == 0 for s in mon.samples)


@pytest.mark.parametrize("interval", [0, -1, float("nan")])
def test_rejects_bad_interval(interval: float) -> None:
    with pytest.raises(SettingsError, match="interval"):
        Monitor(interval=interval)


def test_disk_rates_tolerate_missing_counters() -> None:
    io = namedtuple("io", "read_bytes write_bytes")
    assert _disk_rates(None, io(1, 1), 1.0) == (0.0, 0.0)
    assert _disk_rates(io(0, 0), None, 1.0) == (0.0, 0.0)
    assert _disk_rates(io(100, 50), io(300, 150), 2.0) == (100.0, 50.0)
