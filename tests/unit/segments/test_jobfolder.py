"""jobfolder.py: one job per output and a resumable work folder beside it.

`OutputLock` holds an exclusive `flock` on `.NAME.renderrush.lock` (holding the owner's
PID) and refuses a second holder naming that PID; a lock file left by a dead job is taken
over. `JobFolder.prepare` takes the lock, then either starts a fresh `.NAME.renderrush`
folder with a manifest, or (resuming, same signature) keeps the manifest's plan and exactly
the complete segment files, clearing everything else. A live job's folder is never touched; a failed prepare releases the lock
and removes the folder, except on Ctrl-C, which keeps it for the next resume.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import types
from dataclasses import asdict
from pathlib import Path

import pytest

from renderrush import make_sample_video
from renderrush.core.errors import OutputBusyError, OutputError
from renderrush.core.layout import MANIFEST, cancel_marker, progress_path, stitch_marker
from renderrush.jobs.plan import Segment
from renderrush.media.codecs import OPTIONS_SCHEME
from renderrush.media.encode import EncodeSettings
from renderrush.segments import jobfolder
from renderrush.segments.jobfolder import JobFolder, OutputLock, cannot_write, job_signature
from renderrush.segments.progress import read_status, write_status
from renderrush.segments.render import write_timestamps

FRAMES = 10
PLAN = [Segment(0, 0, 10), Segment(1, 10, 20), Segment(2, 20, 30)]


@pytest.fixture(scope="module")
def encoded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real H.264 file of FRAMES frames, copied in as a finished segment."""
    folder = tmp_path_factory.mktemp("jobfolder")
    return make_sample_video(folder / "segment.mp4", seconds=1, size=(64, 48), fps=FRAMES, audio=False)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "in.mp4"
    path.write_bytes(b"source bytes")
    return path


@pytest.fixture
def output(tmp_path: Path) -> Path:
    return tmp_path / "out.mp4"


def signature(source: Path, chain: str = "grayscale", size: tuple[int, int] = (64, 48), crf: float = 23) -> dict:
    return job_signature(source, chain, EncodeSettings(crf=crf), size)


def finish_segment(folder: JobFolder, index: int, encoded: Path, timestamps: int = FRAMES) -> None:
    """A segment file as the segment task leaves it: timestamps first, then the file."""
    write_timestamps(folder.segment_file(index), list(range(timestamps)))
    shutil.copyfile(encoded, folder.segment_file(index))


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def is_locked(output: Path) -> bool:
    """Whether some job holds `output` (probed with a lock of our own)."""
    probe = OutputLock(output)
    try:
        probe.acquire()
    except OutputBusyError:
        return True
    probe.release()
    return False


@pytest.mark.parametrize(
    "code, message",
    [
        (errno.ENOSPC, "the disk holding '/data' is full: free some space or choose another output folder"),
        (errno.ENAMETOOLONG, "the output path in '/data' is too long for the file system: use a shorter name"),
        (errno.EACCES, "cannot write to folder '/data' (Permission denied): choose a folder you can write to"),
    ],
    ids=["disk-full", "name-too-long", "other"],
)
def test_cannot_write_names_the_cause(code: int, message: str) -> None:
    error = cannot_write(Path("/data"), OSError(code, os.strerror(code)))
    assert isinstance(error, OutputError) and str(error) == message


# ---- OutputLock -------------------------------------------------------------------------


def test_the_lock_file_beside_the_output_holds_the_pid_until_released(output: Path) -> None:
    lock = OutputLock(output)
    assert lock.path == output.with_name(".out.mp4.renderrush.lock") and not lock.held
    lock.acquire()
    assert lock.held and lock.path.read_text() == f"{os.getpid()}\n"
    lock.acquire()  # taking it again is a no-op, not a refusal by itself
    assert lock.held
    lock.release()
    assert not lock.held and not lock.path.exists()
    lock.release()  # releasing a lock not held is a no-op
    assert names(output.parent) == []


def test_a_second_lock_on_the_output_is_refused_naming_the_holder(output: Path) -> None:
    first, second = OutputLock(output), OutputLock(output)
    first.acquire()
    try:
        with pytest.raises(OutputBusyError) as refused:
            second.acquire()
        assert str(refused.value) == (
            f"output '{output}' is being rendered by another job (PID {os.getpid()}): "
            "wait for it to finish, stop it, or choose another output"
        )
        assert not second.held and first.path.read_text() == f"{os.getpid()}\n", "the holder's file is untouched"
    finally:
        first.release()
    second.acquire()
    assert second.held
    second.release()


def test_a_holder_that_wrote_no_pid_is_named_unknown(output: Path) -> None:
    path = OutputLock(output).path
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(OutputBusyError, match=r"by another job \(PID unknown\)"):
            OutputLock(output).acquire()
    finally:
        os.close(fd)


def test_the_lock_file_of_a_dead_job_is_taken_over(output: Path) -> None:
    lock = OutputLock(output)
    lock.path.write_text("4194304999\n")  # left by a killed job: nobody holds its flock
    lock.acquire()
    assert lock.path.read_text() == f"{os.getpid()}\n", "the old PID is replaced, not appended to"
    lock.release()


def test_a_lock_file_removed_while_it_is_being_locked_is_locked_anew(
    output: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The owner releases (removing the file) between our open and our flock: the lock
    taken must be on the file now at the path, not on the removed one."""
    lock = OutputLock(output)
    calls = []

    def flock(fd: int, operation: int) -> None:
        calls.append(fd)
        if len(calls) == 1:
            lock.path.unlink()  # what `release()` of the previous owner does
        fcntl.flock(fd, operation)

    monkeypatch.setattr(
        jobfolder, "fcntl", types.SimpleNamespace(LOCK_EX=fcntl.LOCK_EX, LOCK_NB=fcntl.LOCK_NB, flock=flock)
    )
    lock.acquire()
    monkeypatch.undo()
    try:
        assert len(calls) == 2 and lock.path.read_text() == f"{os.getpid()}\n"
        assert is_locked(output), "the file at the path is the locked one"
    finally:
        lock.release()


def test_a_folder_that_does_not_exist_is_an_output_error(tmp_path: Path) -> None:
    with pytest.raises(
        OutputError, match=rf"^cannot write to folder '{tmp_path}/missing' \(No such file or directory\)"
    ):
        OutputLock(tmp_path / "missing" / "out.mp4").acquire()


# ---- JobFolder ----------------------------------------------------------------------------


def test_a_fresh_job_gets_a_folder_with_its_manifest_and_holds_the_output(source: Path, output: Path) -> None:
    folder = JobFolder(output)
    assert folder.path == output.with_name(".out.mp4.renderrush")
    assert folder.segment_file(7) == folder.path / "segment-00007.mp4"
    sig = signature(source)
    segments, done = folder.prepare(sig, PLAN, resume=False)
    assert segments == PLAN and done == set()
    assert names(folder.path) == [MANIFEST]
    assert json.loads((folder.path / MANIFEST).read_text()) == {
        "signature": sig,
        "segments": [asdict(s) for s in PLAN],
    }
    assert is_locked(output)
    folder.remove()
    assert names(output.parent) == ["in.mp4"] and not is_locked(output)


def test_resume_keeps_the_started_plan_and_exactly_the_complete_segments(
    source: Path, output: Path, encoded: Path
) -> None:
    first = JobFolder(output)
    first.prepare(signature(source), PLAN, resume=False)
    finish_segment(first, 0, encoded)
    finish_segment(first, 1, encoded, timestamps=FRAMES - 1)  # timestamps of another file
    write_timestamps(first.segment_file(2), list(range(FRAMES)))
    first.segment_file(2).write_bytes(b"not an mp4")
    (first.path / ".segment-00002.partial-x1y2.mp4").write_bytes(b"half")
    for index in range(3):
        write_status(progress_path(first.path, index), 4, "running")
    cancel_marker(first.path).touch()
    stitch_marker(first.path).touch()
    first.release()  # as an interrupted job leaves it

    again = JobFolder(output)
    segments, done = again.prepare(signature(source), PLAN[:2], resume=True)
    try:
        assert segments == PLAN, "a resumed job keeps the plan it started with"
        assert done == {0}
        assert names(again.path) == sorted(
            [MANIFEST, "segment-00000.mp4", "segment-00000.pts.json", "segment-00000.progress"]
        )
        assert again.segment_file(0).read_bytes() == encoded.read_bytes()
        assert read_status(progress_path(again.path, 0)) == (FRAMES, "done")
        assert is_locked(output)
    finally:
        again.remove()


@pytest.mark.parametrize(
    "change", ["filters", "size", "encode", "encoder-options", "source-rewritten", "source-touched"]
)
def test_resume_after_a_change_starts_afresh(
    source: Path, output: Path, encoded: Path, change: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = signature(source)
    first = JobFolder(output)
    first.prepare(old, PLAN, resume=False)
    finish_segment(first, 0, encoded)
    first.release()
    if change == "source-rewritten":
        source.write_bytes(b"longer source bytes")
    elif change == "source-touched":
        os.utime(source, ns=(0, old["source_mtime_ns"] + 1))
    elif change == "encoder-options":  # a version that passes the encoder other options for the same settings
        monkeypatch.setattr(jobfolder, "OPTIONS_SCHEME", OPTIONS_SCHEME + 1)
    new = signature(
        source,
        chain="invert" if change == "filters" else "grayscale",
        size=(32, 24) if change == "size" else (64, 48),
        crf=18 if change == "encode" else 23,
    )
    assert new != old
    again = JobFolder(output)
    segments, done = again.prepare(new, PLAN[:2], resume=True)
    try:
        assert segments == PLAN[:2] and done == set()
        assert names(again.path) == [MANIFEST]
        assert json.loads((again.path / MANIFEST).read_text())["signature"] == new
    finally:
        again.remove()


@pytest.mark.parametrize("manifest", [None, "{not json"], ids=["same-job-no-resume", "unreadable-manifest"])
def test_a_folder_that_is_not_resumed_is_cleared(
    source: Path, output: Path, encoded: Path, manifest: str | None
) -> None:
    first = JobFolder(output)
    first.prepare(signature(source), PLAN, resume=False)
    finish_segment(first, 0, encoded)
    if manifest is not None:
        (first.path / MANIFEST).write_text(manifest)
    first.release()
    again = JobFolder(output)
    _, done = again.prepare(signature(source), PLAN, resume=manifest is not None)
    try:
        assert done == set() and names(again.path) == [MANIFEST]
    finally:
        again.remove()


@pytest.mark.parametrize("resume", [False, True])
def test_the_folder_of_a_live_job_is_never_touched(source: Path, output: Path, encoded: Path, resume: bool) -> None:
    live = JobFolder(output)
    live.prepare(signature(source), PLAN, resume=False)
    try:
        finish_segment(live, 0, encoded)
        before = snapshot(live.path)
        with pytest.raises(OutputBusyError, match=rf"\(PID {os.getpid()}\)"):
            JobFolder(output).prepare(signature(source, chain="invert"), PLAN, resume=resume)
        assert snapshot(live.path) == before and live.lock.held
    finally:
        live.remove()


def test_release_keeps_the_folder_and_frees_the_output(source: Path, output: Path) -> None:
    folder = JobFolder(output)
    folder.prepare(signature(source), PLAN, resume=False)
    folder.release()
    assert names(folder.path) == [MANIFEST] and not folder.lock.path.exists() and not is_locked(output)
    folder.remove()  # also fine after a release
    assert not folder.path.exists()


def test_ctrl_c_while_resuming_keeps_the_folder_and_frees_the_output(
    source: Path, output: Path, encoded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = JobFolder(output)
    first.prepare(signature(source), PLAN, resume=False)
    finish_segment(first, 0, encoded)
    first.release()

    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(jobfolder, "write_status", interrupted)
    again = JobFolder(output)
    with pytest.raises(KeyboardInterrupt):
        again.prepare(signature(source), PLAN, resume=True)
    assert again.segment_file(0).is_file(), "finished segments stay for the next resume"
    assert not again.lock.held and not is_locked(output)
    again.remove()


def test_a_failed_prepare_removes_the_folder_and_frees_the_output(source: Path, output: Path) -> None:
    folder = JobFolder(output)
    broken = {**signature(source), "filters": object()}  # cannot be written to the manifest
    with pytest.raises(TypeError):
        folder.prepare(broken, PLAN, resume=False)
    assert names(output.parent) == ["in.mp4"] and not is_locked(output)


def test_a_file_in_the_folders_place_is_an_output_error(source: Path, output: Path) -> None:
    folder = JobFolder(output)
    folder.path.write_bytes(b"a file, not a folder")
    with pytest.raises(
        OutputError, match=rf"^a file is in the way of RenderRush's work folder: move or delete '{folder.path}'$"
    ):
        folder.prepare(signature(source), PLAN, resume=False)
    assert not folder.lock.held and not is_locked(output)


def test_the_signature_is_json_and_follows_the_source(source: Path) -> None:
    sig = signature(source)
    stat = source.stat()
    assert sig == {
        "source": str(source),
        "source_bytes": stat.st_size,
        "source_mtime_ns": stat.st_mtime_ns,
        "filters": "grayscale",
        # no encoder threads: they follow the segments, which a resumed job takes from its manifest
        "encode": {"preset": "veryfast", "crf": 23, "codec": "h264", "depth": 8, "tonemap": False},
        "encoder_options": OPTIONS_SCHEME,
        "size": [64, 48],
    }
    assert json.loads(json.dumps(sig)) == sig, "it is compared with the manifest's copy"
