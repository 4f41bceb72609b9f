"""periodic.py: calls on one named daemon thread, a prompt stop, first and final calls, and
a failing function that is reported, not lost. Counts are checked against events the
calls set, never against wall-clock durations, so a loaded machine cannot fail them."""

from __future__ import annotations

import logging
import threading

import pytest

from renderrush.core.periodic import Periodic

LONG = 3600.0
"""An interval no test waits for: a call that comes anyway shows a bug."""
GENEROUS = 60.0
"""Seconds an event may take on a loaded machine before the test gives up."""


class Counter:
    """A function for `Periodic` that counts its calls and can wait for the n-th."""

    def __init__(self) -> None:
        self.calls = 0
        self.threads: set[str] = set()
        self.stopping: list[bool] = []
        self.periodic: Periodic | None = None
        self._changed = threading.Condition()

    def __call__(self) -> None:
        with self._changed:
            self.calls += 1
            self.threads.add(threading.current_thread().name)
            if self.periodic is not None:
                self.stopping.append(self.periodic.stopping)
            self._changed.notify_all()

    def wait_for(self, calls: int) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: self.calls >= calls, GENEROUS), f"only {self.calls} calls"


def test_calls_repeat_on_one_named_daemon_thread() -> None:
    count = Counter()
    with Periodic(0.01, count, name="test-sampler") as periodic:
        count.wait_for(3)
        assert periodic.running and periodic._thread is not None and periodic._thread.daemon
    assert not periodic.running
    assert count.threads == {"test-sampler"}
    assert periodic.error is None


def test_stop_does_not_wait_for_the_interval_and_makes_no_call_unless_asked() -> None:
    count = Counter()
    periodic = Periodic(LONG, count, name="test-sampler").start()
    stopped = threading.Event()
    stopper = threading.Thread(target=lambda: (periodic.stop(), stopped.set()), daemon=True)
    stopper.start()
    assert stopped.wait(GENEROUS), "stop() waited for the interval"
    assert not periodic.running and count.calls == 0


def test_first_and_final_calls() -> None:
    count = Counter()
    periodic = Periodic(LONG, count, name="test-sampler", first_call=True, final_call=True)
    count.periodic = periodic
    periodic.start()
    count.wait_for(1)
    periodic.stop()
    assert count.calls == 2, "one call at the start, one at the stop, none in between"
    assert count.stopping == [False, True], "the final call knows it is the final one"


def test_stop_before_start_and_twice_is_harmless_and_it_can_start_again() -> None:
    count = Counter()
    periodic = Periodic(LONG, count, name="test-sampler", first_call=True)
    periodic.stop()
    periodic.start()
    with pytest.raises(RuntimeError, match="running already"):
        periodic.start()
    count.wait_for(1)
    periodic.stop()
    periodic.stop()
    periodic.start()
    count.wait_for(2)
    periodic.stop()
    assert count.calls == 2


def test_the_function_may_stop_its_own_periodic() -> None:
    calls: list[int] = []

    def once() -> None:
        calls.append(1)
        periodic.stop()

    periodic = Periodic(0.01, once, name="test-sampler", final_call=True)
    periodic.start()
    assert periodic._thread is not None
    periodic._thread.join(GENEROUS)
    assert not periodic.running and periodic.error is None
    assert len(calls) == 2, "the call that stopped it, then the final call"


def test_a_failing_function_ends_the_calls_and_is_logged_and_kept(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []

    def broken() -> None:
        calls.append(1)
        raise ValueError("sensor broke")

    periodic = Periodic(0.01, broken, name="test-sampler", final_call=True)
    with caplog.at_level(logging.ERROR, logger="renderrush.core.periodic"):
        periodic.start()
        assert periodic._thread is not None
        periodic._thread.join(GENEROUS)
        assert not periodic.running, "the thread ended after the error"
        periodic.stop()  # does not raise
    assert isinstance(periodic.error, ValueError)
    assert len(calls) == 1, "no more calls, and no final call, after a failure"
    (record,) = caplog.records
    assert "test-sampler" in record.getMessage() and record.exc_info is not None


def test_a_failing_first_call_is_kept_too() -> None:
    def broken() -> None:
        raise OSError("no counters")

    with Periodic(LONG, broken, name="test-sampler", first_call=True) as periodic:
        assert periodic._thread is not None
        periodic._thread.join(GENEROUS)
    assert isinstance(periodic.error, OSError)


def test_a_restart_clears_an_earlier_error() -> None:
    fail = [True]

    def flaky() -> None:
        if fail[0]:
            raise ValueError("once")

    periodic = Periodic(LONG, flaky, name="test-sampler", first_call=True)
    periodic.start()
    assert periodic._thread is not None
    periodic._thread.join(GENEROUS)
    assert isinstance(periodic.error, ValueError)
    fail[0] = False
    periodic.start()
    periodic.stop()
    assert periodic.error is None


@pytest.mark.parametrize("interval", [0, -1, float("nan")])
def test_rejects_a_bad_interval(interval: float) -> None:
    with pytest.raises(ValueError, match="interval"):
        Periodic(interval, lambda: None, name="test-sampler")
