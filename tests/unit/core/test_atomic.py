"""atomic.py: the target changes only by one rename of a complete file, never shows half of
one, and a failed write leaves the target as it was and no temporary file behind."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from renderrush.core.atomic import TEMP_NAME_EXTRA, atomic_path, atomic_write_bytes, atomic_write_text
from renderrush.core.errors import JobCancelledError
from renderrush.media.outputs import WORK_NAME_EXTRA


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("error", [ValueError("writer broke"), KeyboardInterrupt(), JobCancelledError()])
def test_a_failing_writer_leaves_the_target_untouched_and_no_temporary(tmp_path: Path, error: BaseException) -> None:
    target = tmp_path / "out.mp4"
    target.write_bytes(b"old")
    with pytest.raises(type(error)):
        with atomic_path(target) as partial:
            partial.write_bytes(b"half a")
            raise error
    assert target.read_bytes() == b"old"
    assert names(tmp_path) == ["out.mp4"]


def test_a_failing_writer_creates_no_target(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        with atomic_path(tmp_path / "new.json"):
            raise OSError("disk full")
    assert names(tmp_path) == []


def test_the_temporary_is_hidden_beside_the_target_with_its_suffix(tmp_path: Path) -> None:
    target = tmp_path / "clip.final.mov"
    with atomic_path(target) as partial:
        assert partial.parent == tmp_path and partial.name.startswith(".clip.final.partial-")
        assert partial.suffix == ".mov", "ffmpeg and PyAV pick the container from the suffix"
        assert len(partial.name) <= len(target.name) + TEMP_NAME_EXTRA <= len(target.name) + WORK_NAME_EXTRA
        assert not partial.exists(), "nothing is left if the process dies before its writer starts"
        partial.write_bytes(b"new")
    assert names(tmp_path) == ["clip.final.mov"]


def test_the_target_is_replaced_by_a_rename_of_the_complete_file(tmp_path: Path) -> None:
    target = tmp_path / "status.progress"
    target.write_text("old")
    with atomic_path(target) as partial:
        partial.write_text("new")
        assert target.read_text() == "old", "readers see the old content until the write is complete"
        written = partial.stat().st_ino
    assert target.read_text() == "new"
    assert target.stat().st_ino == written, "the finished file is renamed into place, not copied"
    assert not partial.exists()


def test_the_finished_file_has_ordinary_permissions(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    atomic_write_bytes(tmp_path / "report.json", b"{}")
    mode = stat.S_IMODE((tmp_path / "report.json").stat().st_mode)
    assert mode == 0o666 & ~umask, "not the 0600 of a mkstemp file: outputs are shared"


def test_conveniences_write_and_return_the_target(tmp_path: Path) -> None:
    assert atomic_write_text(tmp_path / "a.txt", "grüß\n") == tmp_path / "a.txt"
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "grüß\n"
    assert atomic_write_bytes(tmp_path / "b.bin", memoryview(b"abc"), fsync=True) == tmp_path / "b.bin"
    assert (tmp_path / "b.bin").read_bytes() == b"abc"
    assert names(tmp_path) == ["a.txt", "b.bin"]


def test_threads_writing_one_target_never_share_a_temporary(tmp_path: Path) -> None:
    target = tmp_path / "segment-00001.progress"
    threads, rounds = 8, 50
    barrier = threading.Barrier(threads)
    temporaries: list[Path] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            barrier.wait(timeout=30)
            for i in range(rounds):
                with atomic_path(target) as partial:
                    with lock:
                        temporaries.append(partial)
                    partial.write_text(f"{n} {i}")
        except BaseException as exc:  # reported by the test thread below
            errors.append(exc)

    workers = [threading.Thread(target=write, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    assert len(set(temporaries)) == threads * rounds, "every write had its own temporary name"
    assert names(tmp_path) == [target.name]
    n, i = target.read_text().split()
    assert 0 <= int(n) < threads and 0 <= int(i) < rounds, "the target holds one whole write"


def test_nested_writes_of_one_target_in_one_thread_get_their_own_temporaries(tmp_path: Path) -> None:
    target = tmp_path / "out.mp4"
    with atomic_path(target) as first, atomic_path(target) as second:
        assert first != second and f"-{os.getpid():x}-" in first.name, "named after the process"
        first.write_bytes(b"1")
        second.write_bytes(b"2")
    assert target.read_bytes() == b"1" and names(tmp_path) == ["out.mp4"]


def test_a_write_that_creates_nothing_fails_and_keeps_the_target(tmp_path: Path) -> None:
    target = tmp_path / "out.mp4"
    target.write_bytes(b"old")
    with pytest.raises(FileNotFoundError):
        with atomic_path(target):
            pass
    assert target.read_bytes() == b"old" and names(tmp_path) == ["out.mp4"]
