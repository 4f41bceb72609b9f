"""`renderrush.webapp.app`: the page `renderrush dashboard` serves builds, for each visit, a
`Dashboard` writing under a new session folder below the output root (the given one, else
`$RENDERRUSH_DASHBOARD_ROOT`), recording into the default history. (The dashboard itself:
test_panel.py; the page served by Voilà: tests/e2e/test_browser.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from renderrush.ui import Dashboard
from renderrush.ui.session import OUTPUT_ROOT_ENV
from renderrush.webapp import app as webapp


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    """The arguments of every dashboard `app()` builds (a stand-in: the folders are what is tested here)."""
    assert webapp.Dashboard is Dashboard, "the app builds the package's dashboard"
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def dashboard(*args: Any, **options: Any) -> str:
        calls.append((args, options))
        return f"dashboard {len(calls)}"

    monkeypatch.setattr(webapp, "Dashboard", dashboard)
    return calls


def test_each_visit_gets_a_dashboard_in_a_folder_of_its_own(
    tmp_path: Path, made: list[tuple[tuple[Any, ...], dict[str, Any]]]
) -> None:
    assert webapp.app(tmp_path / "root") == "dashboard 1"
    assert webapp.app(str(tmp_path / "root")) == "dashboard 2"
    (first, options), (second, _) = made
    assert options == {}, "no history given: the default history ($RENDERRUSH_HISTORY)"
    assert first[0] != second[0] and sorted((tmp_path / "root").iterdir()) == sorted([first[0], second[0]])
    assert all(folder.name.startswith("session-") and not any(folder.iterdir()) for folder in (first[0], second[0]))


def test_without_a_root_visits_go_under_the_environment_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, made: list[tuple[tuple[Any, ...], dict[str, Any]]]
) -> None:
    monkeypatch.setenv(OUTPUT_ROOT_ENV, str(tmp_path / "env-root"))
    webapp.app()
    ((folder,), _) = made[0]
    assert folder.parent == tmp_path / "env-root" and folder.is_dir()
