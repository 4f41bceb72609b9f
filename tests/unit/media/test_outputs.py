"""outputs.py: where a render may write. `check_output_path` returns the absolute output
path, or raises one `OutputError` naming the problem: a suffix other than .mp4/.m4v/.mov (any
case), a missing folder, a name too long to leave `WORK_NAME_EXTRA` bytes for the work files
named after it (counted in bytes, against the folder's own NAME_MAX, 255 where unknown), a
folder at the path, the input itself under any spelling, or a folder that cannot be written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from renderrush.core.errors import OutputError
from renderrush.media import outputs
from renderrush.media.outputs import WORK_NAME_EXTRA, check_output_path


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "in.mp4"
    path.write_bytes(b"video")
    return path


def refusal(output: Path, source: Path) -> str:
    with pytest.raises(OutputError) as refused:
        check_output_path(output, source)
    return str(refused.value)


@pytest.mark.parametrize("name", ["out.mp4", "out.m4v", "out.mov", "OUT.MP4", "clip.final.Mov"])
def test_an_mp4_family_name_in_a_writable_folder_is_accepted(tmp_path: Path, source: Path, name: str) -> None:
    assert check_output_path(tmp_path / name, source) == tmp_path / name


def test_the_path_returned_is_absolute_with_home_expanded(
    tmp_path: Path, source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert check_output_path(Path("out.mp4"), source) == tmp_path / "out.mp4"
    monkeypatch.setenv("HOME", str(tmp_path))
    assert check_output_path(Path("~/out.mp4"), source) == tmp_path / "out.mp4"


def test_an_existing_other_file_may_be_replaced(tmp_path: Path, source: Path) -> None:
    (tmp_path / "out.mp4").write_bytes(b"an earlier render")
    assert check_output_path(tmp_path / "out.mp4", source) == tmp_path / "out.mp4"


def test_a_source_that_does_not_exist_does_not_matter_here(tmp_path: Path) -> None:
    assert check_output_path(tmp_path / "out.mp4", tmp_path / "gone.mp4") == tmp_path / "out.mp4"


@pytest.mark.parametrize("name", ["out.avi", "out", "out.mp4.part", "out.ts"])
def test_another_suffix_is_refused(tmp_path: Path, source: Path, name: str) -> None:
    assert refusal(tmp_path / name, source) == (
        f"output '{name}' must end in one of .mp4, .m4v, .mov, .mkv, .webm (MP4, MOV, Matroska or WebM)"
    )


def test_a_missing_folder_is_refused(tmp_path: Path, source: Path) -> None:
    assert refusal(tmp_path / "a" / "b" / "out.mp4", source) == (
        f"output folder '{tmp_path}/a/b' does not exist: create it first"
    )


def test_a_folder_at_the_output_path_is_refused(tmp_path: Path, source: Path) -> None:
    (tmp_path / "out.mp4").mkdir()
    assert (
        refusal(tmp_path / "out.mp4", source)
        == f"output '{tmp_path}/out.mp4' is a folder: give a file name ending in .mp4"
    )


def test_the_longest_name_leaves_room_for_the_work_files(tmp_path: Path, source: Path) -> None:
    name_max = os.pathconf(tmp_path, "PC_NAME_MAX")
    longest = "n" * (name_max - WORK_NAME_EXTRA - 4) + ".mp4"
    assert check_output_path(tmp_path / longest, source).name == longest
    # the work files really fit: the job folder and lock file beside it
    (tmp_path / f".{longest}.renderrush.lock").touch()
    too_long = "n" + longest
    assert refusal(tmp_path / too_long, source) == (
        f"output name '{too_long[:24]}...' is too long ({len(too_long)} bytes): RenderRush names its work files "
        f"after it, so use at most {name_max - WORK_NAME_EXTRA} bytes here"
    )


def test_the_name_is_measured_in_bytes(tmp_path: Path, source: Path) -> None:
    name_max = os.pathconf(tmp_path, "PC_NAME_MAX")
    letters = (name_max - WORK_NAME_EXTRA - 4) // 2 + 1  # fits in characters, not in UTF-8 bytes
    name = "é" * letters + ".mp4"
    assert f"({len(name.encode())} bytes)" in refusal(tmp_path / name, source)


def test_an_unknown_name_limit_is_taken_as_255(tmp_path: Path, source: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def pathconf(path: object, name: str) -> int:
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(outputs.os, "pathconf", pathconf)
    assert check_output_path(tmp_path / ("n" * 227 + ".mp4"), source)
    assert "use at most 231 bytes here" in refusal(tmp_path / ("n" * 228 + ".mp4"), source)


@pytest.mark.parametrize("spelling", ["same", "via-parent", "relative", "symlink", "hard-link"])
def test_the_input_under_any_spelling_is_refused(
    tmp_path: Path, source: Path, monkeypatch: pytest.MonkeyPatch, spelling: str
) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.mp4").symlink_to(source)
    os.link(source, tmp_path / "hard.mp4")
    monkeypatch.chdir(tmp_path)
    output = {
        "same": source,
        "via-parent": tmp_path / "sub" / ".." / "in.mp4",
        "relative": Path("in.mp4"),
        "symlink": tmp_path / "link.mp4",
        "hard-link": tmp_path / "hard.mp4",
    }[spelling]
    shown = output.absolute()
    assert refusal(output, source) == f"output '{shown}' is the input file: choose another name"


def test_a_folder_that_cannot_be_written_is_refused(
    tmp_path: Path, source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # os.access itself: the tests may run as root, for whom permission bits do not count
    monkeypatch.setattr(outputs.os, "access", lambda path, mode: not (Path(path) == tmp_path and mode == os.W_OK))
    assert refusal(tmp_path / "out.mp4", source) == f"cannot write to folder '{tmp_path}': check its permissions"
