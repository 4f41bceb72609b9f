"""`renderrush.ui.session`: each notebook kernel or web-app visit gets a new, empty folder of
its own under the output root (`$RENDERRUSH_DASHBOARD_ROOT`, else the system's temporary
folder), so two visitors never write to the same file."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest

from renderrush.ui import default_output_root, session_folder
from renderrush.ui.session import OUTPUT_ROOT_ENV


def test_session_folders_are_separate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RENDERRUSH_DASHBOARD_ROOT", str(tmp_path / "root"))
    assert default_output_root() == tmp_path / "root"
    first, second = session_folder(), session_folder()
    assert first != second and first.parent == second.parent == tmp_path / "root"
    assert first.is_dir() and not any(first.iterdir())
    assert session_folder(tmp_path / "other").parent == tmp_path / "other"


@pytest.mark.parametrize("value", [None, ""])
def test_default_root_is_in_the_temporary_folder(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    """Unset or empty: the system's temporary folder (an empty variable is no folder)."""
    if value is None:
        monkeypatch.delenv(OUTPUT_ROOT_ENV, raising=False)
    else:
        monkeypatch.setenv(OUTPUT_ROOT_ENV, value)
    assert default_output_root() == Path(tempfile.gettempdir()) / "renderrush-dashboard"


def test_roots_given_with_a_tilde_are_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv(OUTPUT_ROOT_ENV, "~/from-env")
    assert default_output_root() == tmp_path / "from-env"
    assert session_folder("~/given").parent == tmp_path / "given"


def test_session_folder_is_named_by_time_process_and_chance(tmp_path: Path) -> None:
    root = tmp_path / "deep" / "root"  # made with its parents
    folders = {session_folder(str(root)) for _ in range(5)}
    assert len(folders) == 5 and all(f.parent == root and f.is_dir() for f in folders)
    for folder in folders:
        match = re.fullmatch(r"session-(\d{8})-(\d{6})-(\d+)-([0-9a-f]{6})", folder.name)
        assert match is not None, folder.name
        assert int(match.group(3)) == os.getpid()
