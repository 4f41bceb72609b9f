"""Every error a user can cause is one `renderrush: error:` line from the CLI (a
`RenderRushError` from the API), with nothing left at the output path and no temporaries:
paths that cannot be written, names too long, a full disk, a device or a pipe as input,
an unknown extension, the input given as the output under another spelling; and the
resource limits (free disk space before a render, free memory while it runs)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from renderrush import make_sample_video, render
from renderrush.cli import main
from renderrush.core.errors import DiskSpaceError, MemoryLimitError, SettingsError

from ..support.filters import FilterRegistry
from ..support.frames import frame_indices

JOB = ["--workers", "2", "--segment-seconds", "1", "--no-progress"]


@pytest.fixture(scope="module")
def source(videos: Path) -> Path:
    return make_sample_video(videos / "misuse.mp4", seconds=2, size=(160, 120), fps=30, audio=False)


@pytest.fixture(scope="module")
def big_source(videos: Path) -> Path:
    """About 440 kB: its estimated output and segments do not fit in a 1.5 MB disk."""
    return make_sample_video(videos / "misuse-640.mp4", seconds=3, size=(640, 360), fps=30)


def files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def one_error(capsys: pytest.CaptureFixture[str], *args: object) -> str:
    """Run the CLI in this process; it must fail with exactly one error line, returned."""
    status = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert status == 1 and "Traceback" not in err, err
    (line,) = err.splitlines()
    assert line.startswith("renderrush: error: ")
    return line.removeprefix("renderrush: error: ")


@contextmanager
def small_disk(folder: Path, size: str = "1500k", read_only: bool = False) -> Iterator[Path]:
    """A tmpfs of `size` mounted at `folder` (root only: skipped otherwise)."""
    folder.mkdir()
    options = f"size={size}" + (",ro" if read_only else "")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"mounting a tmpfs needs root: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


OUTPUTS = [
    ("/proc/x.mp4", "cannot write to folder '/proc' (No such file or directory): choose a folder you can write to"),
    ("{tmp}/missing/out.mp4", "output folder '{tmp}/missing' does not exist: create it first"),
    ("{tmp}/out.avi", "output 'out.avi' must end in one of .mp4, .m4v, .mov, .mkv, .webm (MP4, MOV, Matroska or WebM)"),
    ("{tmp}/out", "output 'out' must end in one of .mp4, .m4v, .mov, .mkv, .webm (MP4, MOV, Matroska or WebM)"),
    (
        "{tmp}/" + "n" * 240 + ".mp4",
        "output name 'nnnnnnnnnnnnnnnnnnnnnnnn...' is too long (244 bytes): RenderRush "
        "names its work files after it, so use at most 231 bytes here",
    ),
    ("{tmp}/in.mp4", "output '{tmp}/in.mp4' is the input file: choose another name"),
    ("{tmp}/./in.mp4", "output '{tmp}/in.mp4' is the input file: choose another name"),
    ("{tmp}/link.mp4", "output '{tmp}/link.mp4' is the input file: choose another name"),
    ("{tmp}/hard.mp4", "output '{tmp}/hard.mp4' is the input file: choose another name"),
]


@pytest.mark.parametrize(
    "output, message",
    OUTPUTS,
    ids=[
        "proc",
        "missing-folder",
        "mkv",
        "no-suffix",
        "name-too-long",
        "input",
        "dot-spelling",
        "symlink",
        "hard-link",
    ],
)
def test_an_output_that_cannot_be_written_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, source: Path, output: str, message: str
) -> None:
    given = tmp_path / "in.mp4"
    given.write_bytes(source.read_bytes())
    (tmp_path / "link.mp4").symlink_to(given)
    os.link(given, tmp_path / "hard.mp4")
    before = {p: p.read_bytes() for p in tmp_path.iterdir()}
    assert one_error(capsys, "render", given, "-o", output.format(tmp=tmp_path), *JOB) == message.format(tmp=tmp_path)
    assert {p: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_a_read_only_folder_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path, source: Path) -> None:
    with small_disk(tmp_path / "ro", read_only=True) as folder:
        line = one_error(capsys, "render", source, "-o", folder / "out.mp4", *JOB)
        assert line == f"cannot write to folder '{folder}': check its permissions" and files(folder) == []


@pytest.mark.parametrize("device", ["/dev/zero", "fifo"])
def test_a_device_or_a_pipe_as_input_fails_at_once(tmp_path: Path, device: str) -> None:
    if device == "fifo":
        device = str(tmp_path / "fifo")
        os.mkfifo(device)
    proc = subprocess.run(
        [sys.executable, "-m", "renderrush", "render", device, "-o", str(tmp_path / "out.mp4"), *JOB],
        capture_output=True,
        text=True,
        timeout=120,  # a pipe nobody writes to must not hang the job
    )
    assert proc.returncode == 1 and proc.stderr.splitlines() == [
        f"renderrush: error: input '{device}' is not a regular file (a device, pipe or socket): save the video to a file first"
    ]
    assert not (tmp_path / "out.mp4").exists()


def test_too_little_disk_space_refuses_to_start_unless_forced(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, big_source: Path
) -> None:
    with small_disk(tmp_path / "disk") as disk:
        line = one_error(capsys, "render", big_source, "-o", disk / "out.mp4", *JOB)
        assert line.startswith(
            f"not enough free disk space in '{disk}': the output and its segments need about 1.8 MiB"
        )
        assert line.endswith("free some space, choose another folder, or use --force if the estimate is wrong")
        assert files(disk) == []
        with pytest.raises(DiskSpaceError):
            render(big_source, disk / "out.mp4", scheduler="threads", workers=2)
        # the estimate is generous: forced, this output fits
        result = render(big_source, disk / "out.mp4", scheduler="threads", workers=2, force=True)
        assert result.frames == 90 and files(disk) == ["out.mp4"]


@pytest.mark.parametrize("free_kb", [250, 30], ids=["segments-do-not-fit", "nothing-fits"])
def test_a_disk_that_fills_up_fails_with_one_line_and_no_temporaries(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, big_source: Path, free_kb: int
) -> None:
    with small_disk(tmp_path / "disk") as disk:
        (disk / "filler").write_bytes(bytes(1500 * 1024 - free_kb * 1024))
        line = one_error(capsys, "render", big_source, "-o", disk / "out.mp4", *JOB, "--force")
        assert "No space left on device" in line or "disk holding" in line, line
        assert files(disk) == ["filler"]


def test_memory_running_short_stops_the_job_with_one_line(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    source: Path,
    monkeypatch: pytest.MonkeyPatch,
    registry: FilterRegistry,
) -> None:
    monkeypatch.setenv("RENDERRUSH_MIN_FREE_MEMORY_MB", str(10**9))  # a petabyte: any machine is short of it
    registry.slow("slow", delay=0.03)
    with pytest.raises(
        MemoryLimitError,
        match=r"stopped: only \d+ MiB of memory was left \(the job stops below "
        r"1000000000 MiB, before the machine swaps\)",
    ):
        render(source, tmp_path / "out.mp4", "slow", scheduler="threads", workers=2, segment_seconds=1)
    assert files(tmp_path) == []
    line = one_error(
        capsys, "render", source, "-o", tmp_path / "out.mp4", "--filters", "slow", "--scheduler", "threads", *JOB
    )
    assert line.startswith("stopped: only ") and line.endswith("no output was written")
    assert files(tmp_path) == []
    monkeypatch.setenv("RENDERRUSH_MIN_FREE_MEMORY_MB", "0")
    result = render(source, tmp_path / "out.mp4", "slow", scheduler="threads", workers=2, segment_seconds=1)
    assert frame_indices(tmp_path / "out.mp4") == list(range(60)) and result.frames == 60


def test_a_bad_memory_threshold_is_a_settings_error(
    tmp_path: Path, source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RENDERRUSH_MIN_FREE_MEMORY_MB", "lots")
    with pytest.raises(SettingsError, match="RENDERRUSH_MIN_FREE_MEMORY_MB must be a number of MiB"):
        render(source, tmp_path / "out.mp4", scheduler="threads", workers=1)
