"""What an encoder says as it closes, read from libav's log in the thread that closes it.

PyAV drops every libav log line unless a level is set, and the level is process-wide. x264
prints its figures for the whole encode (`SSIM Mean Y:...`) only when its context is freed,
so `closing_report` turns the log on at INFO for just that moment: this thread's lines are
kept for the caller, every other thread's are dropped as they would have been (a global
capture takes them), and the level goes back to what it was once no report is open. Blocks
in several threads at once share one window."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import av.logging

_lock = threading.Lock()
_open = 0
"""Reports being captured now, in any thread."""
_previous: int | None = None
"""The log level before the first open report."""
_skipped_repeats = True
"""Whether PyAV held back repeated lines before the first open report."""
_elsewhere: av.logging.Capture | None = None
"""Takes other threads' lines while a report is open (they were dropped before it)."""


@contextmanager
def closing_report() -> Iterator[list[str]]:
    """The libav log lines (INFO and more severe) this thread emits inside the block; the
    list fills as the block ends."""
    global _open, _previous, _skipped_repeats, _elsewhere
    with _lock:
        if _open == 0:
            _previous = av.logging.get_level()
            if _previous is None or _previous < av.logging.INFO:
                av.logging.set_level(av.logging.INFO)
            # PyAV holds back a line equal to the one before it: two encoders closing at once
            # may report equal lines, and each must reach its own thread
            _skipped_repeats = av.logging.get_skip_repeated()
            av.logging.set_skip_repeated(False)
            _elsewhere = av.logging.Capture(local=False)
            _elsewhere.__enter__()
        _open += 1
    lines: list[str] = []
    try:
        with av.logging.Capture(local=True) as logs:
            yield lines
    finally:
        lines.extend(message for _, _, message in logs)
        with _lock:
            _open -= 1
            if _open == 0:
                assert _elsewhere is not None
                _elsewhere.__exit__(None, None, None)
                _elsewhere = None
                if _previous != av.logging.get_level():
                    av.logging.set_level(_previous)
                av.logging.set_skip_repeated(_skipped_repeats)
