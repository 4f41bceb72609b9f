"""signals.py: inside `stop_on_signals()`, SIGINT, SIGTERM and SIGHUP raise `Stopped` (a
KeyboardInterrupt naming the signal) once; a second signal is ignored so the clean-up can
finish, a third exits at once with 128 + the signal. Leaving the block without a signal
puts the earlier handlers back; after a signal they stay, so the caller's clean-up is
protected too. A signal ignored on entry stays ignored, and outside the main thread the
block does nothing. `exit_status` is the shell's 128 + signal number.

The handlers are process-wide: every test restores them, and the third signal, which ends
the process, is sent to a child interpreter.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from renderrush.core.signals import FORCE_AFTER, STOP_SIGNALS, Stopped, exit_status, stop_on_signals

from ...support import ROOT

INT, TERM, HUP = signal.SIGINT, signal.SIGTERM, signal.SIGHUP


@pytest.fixture(autouse=True)
def handlers() -> Iterator[dict[int, Any]]:
    """The handlers before the test (a SIGTERM handler of the caller's own among them),
    put back afterwards whatever the test left installed."""
    before = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    signal.signal(TERM, callers_handler)
    yield {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    for signum, handler in before.items():
        signal.signal(signum, handler)


def callers_handler(signum: int, frame: object) -> None:
    raise AssertionError("the caller's handler must not run inside the block")


def current() -> dict[int, Any]:
    return {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}


def test_the_three_stop_signals() -> None:
    assert set(STOP_SIGNALS) == {INT, TERM, HUP}


@pytest.mark.parametrize("signum, name, status", [(INT, "SIGINT", 130), (TERM, "SIGTERM", 143), (HUP, "SIGHUP", 129)])
def test_stopped_names_its_signal_and_its_exit_status(signum: int, name: str, status: int) -> None:
    stopped = Stopped(signum)
    assert isinstance(stopped, KeyboardInterrupt) and stopped.signum == signum
    assert stopped.name == name and str(stopped) == f"stopped by {name}"
    assert exit_status(stopped) == status


def test_a_plain_ctrl_c_exits_with_130() -> None:
    assert exit_status(KeyboardInterrupt()) == 130


def test_without_a_signal_the_earlier_handlers_come_back(handlers: dict[int, Any]) -> None:
    with stop_on_signals():
        inside = current()
        assert all(inside[signum] is not handlers[signum] for signum in STOP_SIGNALS)
        assert len({id(h) for h in inside.values()}) == 1, "one handler counts all three signals together"
    assert current() == handlers


def test_an_error_in_the_block_also_puts_the_handlers_back(handlers: dict[int, Any]) -> None:
    with pytest.raises(ValueError):
        with stop_on_signals():
            raise ValueError("the job failed")
    assert current() == handlers


@pytest.mark.parametrize("signum", [INT, TERM, HUP], ids=["int", "term", "hup"])
def test_the_first_signal_stops_the_block_and_the_handlers_stay(handlers: dict[int, Any], signum: int) -> None:
    with pytest.raises(Stopped) as stopped:
        with stop_on_signals():
            inside = current()
            signal.raise_signal(signum)
            raise AssertionError("not reached")
    assert stopped.value.signum == signum
    assert current() == inside, "still installed: a signal during the caller's clean-up is ignored"
    signal.raise_signal(TERM)  # the second signal, of any kind: ignored, the caller's handler does not run


def test_a_second_signal_during_the_clean_up_is_ignored() -> None:
    cleaned = []
    with stop_on_signals():
        try:
            signal.raise_signal(INT)
        except Stopped:
            signal.raise_signal(TERM)
            cleaned.append("finished")
    assert cleaned == ["finished"]


def test_a_signal_ignored_on_entry_stays_ignored(handlers: dict[int, Any]) -> None:
    signal.signal(HUP, signal.SIG_IGN)  # as under nohup
    with stop_on_signals():
        assert signal.getsignal(HUP) is signal.SIG_IGN
        signal.raise_signal(HUP)
        assert signal.getsignal(INT) is not handlers[INT]
    assert signal.getsignal(HUP) is signal.SIG_IGN and signal.getsignal(INT) is handlers[INT]


def test_outside_the_main_thread_nothing_is_installed(handlers: dict[int, Any]) -> None:
    seen: list[object] = []

    def job() -> None:
        try:
            with stop_on_signals():
                seen.append(current())
        except BaseException as exc:  # reported to the main thread
            seen.append(exc)

    thread = threading.Thread(target=job)
    thread.start()
    thread.join(timeout=30)
    assert seen == [handlers]


def child(body: str) -> subprocess.CompletedProcess[str]:
    script = textwrap.dedent(
        """
        import signal
        from renderrush.core.signals import Stopped, stop_on_signals

        def say(text):
            print(text, flush=True)  # os._exit does not flush stdout

        with stop_on_signals():
        """
    ) + textwrap.indent(textwrap.dedent(body), "    ")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.parametrize("signum", [TERM, HUP], ids=["term", "hup"])
def test_the_third_signal_exits_at_once_without_the_clean_up(signum: int) -> None:
    assert FORCE_AFTER == 3
    proc = child(
        f"""
        try:
            signal.raise_signal({int(signum)})
        except Stopped as stopped:
            say(str(stopped))
            signal.raise_signal({int(signum)})
            say("second ignored")
            signal.raise_signal({int(signum)})
            say("clean-up finished")
        """
    )
    name = signal.Signals(signum).name
    assert proc.stdout.splitlines() == [f"stopped by {name}", "second ignored"]
    assert proc.stderr == f"renderrush: {name} again: exiting without cleaning up\n"
    assert proc.returncode == 128 + signum


def test_a_process_stopped_by_a_real_kill_exits_through_its_clean_up() -> None:
    """os.kill, as `kill PID` sends it, reaches the same path as raise_signal."""
    proc = child(
        """
        import os, time
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)
        except Stopped as stopped:
            say(f"clean-up after {stopped.name}")
        """
    )
    assert proc.returncode == 0 and proc.stdout == "clean-up after SIGTERM\n" and proc.stderr == ""
