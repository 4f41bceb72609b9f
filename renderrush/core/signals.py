"""SIGTERM and SIGHUP stop a command-line job the way Ctrl-C does.

Python's defaults differ: Ctrl-C raises KeyboardInterrupt, which the engine handles (the
workers are told to stop and waited for, finished segments are kept for `--resume`, the
job is recorded as interrupted), but SIGTERM (`kill PID`, a batch scheduler) and SIGHUP
(a closed terminal) end the process at once, leaving its worker processes rendering on
as orphans and the job unrecorded. `stop_on_signals` makes all three raise `Stopped` (a
KeyboardInterrupt) in the main thread, so they share the Ctrl-C path.

Only the first signal interrupts. The engine's clean-up (stopping workers, removing
partial files, recording the job) must not itself be cut short, or it could leave a
half-written file: a second signal is ignored. A third one means the user gives up on
the clean-up, and the process exits at once.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
FORCE_AFTER = 3
"""The signal count at which the process exits without finishing its clean-up."""


class Stopped(KeyboardInterrupt):
    """A job stopped by a signal: Ctrl-C (SIGINT), SIGTERM or SIGHUP."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    def __str__(self) -> str:
        return f"stopped by {self.name}"


def exit_status(interrupt: KeyboardInterrupt) -> int:
    """The shell's convention, 128 + the signal number: 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP."""
    return 128 + getattr(interrupt, "signum", signal.SIGINT)


class _Handler:
    def __init__(self) -> None:
        self.received = 0

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.received += 1
        if self.received == 1:
            raise Stopped(signum)
        if self.received >= FORCE_AFTER:
            try:
                print(f"renderrush: {signal.Signals(signum).name} again: exiting without cleaning up", file=sys.stderr)
            except OSError:  # SIGHUP: the terminal may be gone
                pass
            os._exit(128 + signum)
        # the second one: the clean-up started by the first is still running; let it finish


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block, Ctrl-C, SIGTERM and SIGHUP raise `Stopped` once (see the module
    docstring). The handlers stay after a signal was received, so that a signal during the
    caller's own clean-up is ignored too; otherwise the earlier handlers come back. A signal
    that was ignored on entry stays ignored.
    A no-op outside the main thread, where Python cannot install signal handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handler = _Handler()
    # a signal ignored when we started stays ignored: `nohup` ignores SIGHUP, a shell
    # ignores SIGINT in background jobs
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    previous = {signum: signal.signal(signum, handler) for signum, old in previous.items() if old is not signal.SIG_IGN}
    try:
        yield
    finally:
        if not handler.received:
            for signum, old in previous.items():
                signal.signal(signum, old)
