"""One way to do something every few seconds beside the real work: resource samples,
progress polls, worker metrics, widget heartbeats.

`Periodic(interval, function, name=...)` calls `function()` on a named daemon thread
every `interval` seconds, at a fixed rate (the n-th call is due `n * interval` after the
start, so a slow call does not shift the ones after it; after a long stall, such as a
suspended machine, calls resume from now instead of bursting to catch up). Every call
happens on that one thread, never two at once, so `function` may keep thread-affine
state (psutil's CPU counters). Waits are on an `Event`, so `stop()` returns within one
call's work, not a whole interval.

Errors: an exception from `function` ends the calls. It is logged with its traceback
(logger `renderrush.core.periodic`), kept in `error`, and not raised by `stop()`: a broken
sampler must not turn a finished render into a failed one, and owners that care read
`error`. Functions whose failures are routine (a busy scheduler, a broken widget)
catch them themselves and keep going.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType

log = logging.getLogger(__name__)


class Periodic:
    """Calls `function()` every `interval` seconds on a daemon thread called `name`.

    `first_call=True` calls it once at once when started (before the first interval);
    `final_call=True` calls it once more when stopped (unless it failed). Use as a
    context manager, or call `start()` and `stop()`; it can be started again after
    `stop()`. The `stopping` property tells `function` whether it is the final call.
    """

    def __init__(
        self,
        interval: float,
        function: Callable[[], object],
        *,
        name: str,
        first_call: bool = False,
        final_call: bool = False,
    ) -> None:
        if not interval > 0:  # also refuses NaN
            raise ValueError(f"interval must be a positive number of seconds, got {interval!r}")
        self.interval, self.function, self.name = float(interval), function, name
        self.first_call, self.final_call = first_call, final_call
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def stopping(self) -> bool:
        """True once `stop()` was called: during the final call, or before the thread ends."""
        return self._stop.is_set()

    def start(self) -> Periodic:
        """Start calling; raises `RuntimeError` if it is running already."""
        if self.running:
            raise RuntimeError(f"{self.name} is running already")
        self.error = None
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop calling and wait for the thread to end (after the final call, if asked).
        Does nothing if it was never started; safe to call from `function` itself."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def __enter__(self) -> Periodic:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def _call(self) -> bool:
        try:
            self.function()
        except BaseException as exc:  # see the module's docstring: kept, logged, not re-raised here
            self.error = exc
            log.error("%s stopped: its function raised", self.name, exc_info=exc)
            return False
        return True

    def _run(self) -> None:
        if self.first_call and not self._call():
            return
        deadline = time.monotonic()
        while True:
            deadline += self.interval
            stopped = self._stop.wait(max(0.0, deadline - time.monotonic()))
            if stopped:
                if self.final_call:
                    self._call()
                return
            now = time.monotonic()
            if now > deadline + self.interval:  # fell behind (a stalled machine): do not burst
                deadline = now
            if not self._call():
                return
