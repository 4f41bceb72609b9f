"""Atomic file writes: whatever writes a file (Python, ffmpeg, PyAV) writes it under a
temporary name beside the target, and the target appears only when the write succeeded,
by one `os.replace`. Readers (a resumed job, the progress poller, a user's player) see
the old file or the new one, never half of one; a failed or cancelled write leaves no
temporary file behind.

The temporary name is `.STEM.partial-PID-NNNNNN.SUFFIX`: hidden, in the target's folder
(a rename within one file system is atomic), ending in the target's suffix (ffmpeg and
PyAV choose the container format from it), and unique per process (PID, in hex) and per
call in it (a counter shared by its threads), so concurrent writers of one target never
share a temporary. Nothing is created before the writer creates it: a process killed
before it wrote anything leaves nothing behind.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TEMP_NAME_EXTRA = len(".") + len(".partial-") + 6 + len("-") + 6
"""The most bytes the temporary name adds to the target's name (PIDs are below 2**22 on
Linux, so at most 6 hex digits; the counter is 6 hex digits)."""

_COUNTER_WRAP = 16**6
"""The counter wraps after this many temporaries: a name comes back only after 16 million
other writes by the process, long after any write that used it has ended."""

_counter = itertools.count()
_counter_lock = threading.Lock()  # itertools.count alone is not atomic without the GIL


def _temporary(target: Path) -> Path:
    """A hidden name beside `target`, with its suffix, used by no other write in progress."""
    with _counter_lock:
        n = next(_counter) % _COUNTER_WRAP
    return target.with_name(f".{target.stem}.partial-{os.getpid():x}-{n:06x}{target.suffix}")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(target: str | os.PathLike[str], *, fsync: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write `target`'s content to; on a normal exit it replaces
    `target`, on any exception (cancel and Ctrl-C included) it is removed and `target`
    is left as it was. The writer creates the temporary file (a write that creates nothing
    fails at the rename). `fsync=True` flushes the content to disk before the rename, for
    files that must survive a power cut (reports)."""
    target = Path(target)
    temp = _temporary(target)
    try:
        yield temp
        if fsync:
            _fsync(temp)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(
    target: str | os.PathLike[str], data: bytes | bytearray | memoryview, *, fsync: bool = False
) -> Path:
    """Write `data` to `target` atomically; returns the target's path."""
    with atomic_path(target, fsync=fsync) as temp:
        temp.write_bytes(data)
    return Path(target)


def atomic_write_text(
    target: str | os.PathLike[str], text: str, *, encoding: str = "utf-8", fsync: bool = False
) -> Path:
    """Write `text` to `target` atomically; returns the target's path."""
    with atomic_path(target, fsync=fsync) as temp:
        temp.write_text(text, encoding=encoding)
    return Path(target)
