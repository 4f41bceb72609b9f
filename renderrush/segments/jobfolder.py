"""A job's working folder beside its output: segment files, status files and a manifest.

The folder is named after the output, so an interrupted job (Ctrl-C, a killed process)
can be resumed: with `resume=True` a folder whose manifest matches the same input,
filters and encoder settings is reused, and every segment file that is complete (it was
renamed into place only after encoding finished, its timestamps are beside it, and its
frame count is checked again)
is kept instead of rendered again.

One job per output: a job holds an OS lock (`flock`) on `.NAME.renderrush.lock` beside the
output while it runs. The kernel drops the lock when the process dies however it dies, so
a folder left by a dead job is taken over (`resume=True`) or cleared, while a folder of a
live job is never touched: a second job on the same output is refused, naming the PID
that holds the lock.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import av

from ..core.errors import OutputBusyError, OutputError
from ..core.layout import MANIFEST, SEGMENT_SUFFIX, lock_path, progress_path, segment_file, timestamps_path, work_folder
from ..core.segment import Segment
from ..media.codecs import OPTIONS_SCHEME
from ..media.stitch import count_video_packets
from .progress import DONE, write_status
from .render import read_timestamps

try:
    import fcntl
except ImportError:  # Windows: no flock; jobs on one output are not kept apart there
    fcntl = None  # type: ignore[assignment]


def cannot_write(folder: Path, exc: OSError) -> OutputError:
    """The one-line error for a folder where RenderRush cannot create its files."""
    if exc.errno == errno.ENOSPC:
        return OutputError(f"the disk holding '{folder}' is full: free some space or choose another output folder")
    if exc.errno == errno.ENAMETOOLONG:
        return OutputError(f"the output path in '{folder}' is too long for the file system: use a shorter name")
    if exc.errno in (errno.EEXIST, errno.ENOTDIR) and exc.filename and Path(exc.filename).is_file():
        return OutputError(f"a file is in the way of RenderRush's work folder: move or delete '{exc.filename}'")
    return OutputError(f"cannot write to folder '{folder}' ({exc.strerror or exc}): choose a folder you can write to")


class OutputLock:
    """An exclusive, non-blocking `flock` on `.NAME.renderrush.lock` beside the output `NAME`.

    The file holds the PID of the job that owns it, for the refusal message. It is removed
    on release, before the lock is dropped; a process that opened the old file in between
    sees on locking that the path now names another file (or none), and tries again.
    """

    def __init__(self, output: Path) -> None:
        self.output = output
        self.path = lock_path(output)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock, or raise `OutputBusyError` (held by a live job) or `OutputError`
        (the folder cannot be written)."""
        if self._fd is not None or fcntl is None:
            return
        while True:
            try:
                # O_CLOEXEC: ffmpeg and other programs started during the job must not inherit it
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                raise cannot_write(self.output.parent, exc) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 32).decode(errors="replace").strip()
                os.close(fd)
                raise OutputBusyError(
                    f"output '{self.output}' is being rendered by another job (PID {holder or 'unknown'}): "
                    "wait for it to finish, stop it, or choose another output"
                ) from None
            if self._still_ours(fd):
                break
            os.close(fd)  # the owner removed the file as we opened it: lock the new one
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError as exc:
            self.path.unlink(missing_ok=True)
            os.close(fd)
            raise cannot_write(self.output.parent, exc) from None
        self._fd = fd

    def _still_ours(self, fd: int) -> bool:
        try:
            on_disk, opened = os.stat(self.path), os.fstat(fd)
        except FileNotFoundError:
            return False
        return (on_disk.st_dev, on_disk.st_ino) == (opened.st_dev, opened.st_ino)

    def release(self) -> None:
        """Remove the lock file and drop the lock (no-op when not held)."""
        if self._fd is None:
            return
        self.path.unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None


def job_signature(source: Path, chain: str, encode: Any, size: tuple[int, int]) -> dict[str, Any]:
    """What must be unchanged for finished segments to be reusable."""
    stat = source.stat()
    return {
        "source": str(source),
        "source_bytes": stat.st_size,
        "source_mtime_ns": stat.st_mtime_ns,
        "filters": chain,
        # not the encoder threads: they follow the segments, which a resumed job takes over
        "encode": {k: v for k, v in asdict(encode).items() if k != "threads"},
        "encoder_options": OPTIONS_SCHEME,  # what the settings become for the encoder
        "size": list(size),
    }


class JobFolder:
    """The folder `.NAME.renderrush` beside the output `NAME`."""

    def __init__(self, output: Path, segment_suffix: str = SEGMENT_SUFFIX) -> None:
        self.path = work_folder(output)
        self.lock = OutputLock(output)
        self.segment_suffix = segment_suffix
        """Segment files' suffix: their container (`.mov` for ProRes)."""

    def segment_file(self, index: int) -> Path:
        return segment_file(self.path, index, self.segment_suffix)

    def _manifest(self) -> dict[str, Any] | None:
        try:
            return json.loads((self.path / MANIFEST).read_text())
        except (OSError, ValueError):
            return None

    def prepare(
        self, signature: dict[str, Any], segments: list[Segment], resume: bool
    ) -> tuple[list[Segment], set[int]]:
        """Create the folder (or take over a matching one when resuming).

        Takes the output's lock first (`OutputBusyError` while another job holds it) and
        keeps it until `release()` or `remove()`. Returns the segments to use (a resumed
        job keeps the plan it started with) and the indices of segments already complete.
        """
        self.lock.acquire()
        try:
            return self._prepare(signature, segments, resume)
        except OSError as exc:  # a full disk, a folder made read-only under us
            self.remove()
            raise cannot_write(self.path.parent, exc) from None
        except KeyboardInterrupt:
            self.release()  # segments already finished stay for the next resume
            raise
        except BaseException:
            self.remove()
            raise

    def _prepare(
        self, signature: dict[str, Any], segments: list[Segment], resume: bool
    ) -> tuple[list[Segment], set[int]]:
        manifest = self._manifest() if resume else None
        if manifest is not None and manifest.get("signature") == signature:
            segments = [Segment(**s) for s in manifest["segments"]]
            done = [s for s in segments if self._complete(s)]
            keep = {MANIFEST}
            for segment in done:
                keep |= {self.segment_file(segment.index).name, timestamps_path(self.segment_file(segment.index)).name}
            for leftover in self.path.iterdir():  # partial segments, stale statuses and markers
                if leftover.name not in keep:
                    leftover.unlink()
            for segment in done:
                write_status(progress_path(self.path, segment.index), segment.frames, DONE)
            return segments, {s.index for s in done}
        shutil.rmtree(self.path, ignore_errors=True)  # a stale folder of a dead job: we hold the lock
        self.path.mkdir()
        (self.path / MANIFEST).write_text(
            json.dumps({"signature": signature, "segments": [asdict(s) for s in segments]})
        )
        return segments, set()

    def _complete(self, segment: Segment) -> bool:
        file = self.segment_file(segment.index)
        try:
            return file.is_file() and count_video_packets(file) == len(read_timestamps(file))
        except (av.FFmpegError, OSError, ValueError):
            return False

    def release(self) -> None:
        """Let other jobs use this output again, keeping the folder (for `resume=True`)."""
        self.lock.release()

    def remove(self) -> None:
        """Delete the folder, then release the lock."""
        shutil.rmtree(self.path, ignore_errors=True)
        self.lock.release()
