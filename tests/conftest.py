"""Shared fixtures (every test video is generated here with `make_sample_video`) and the
markers set by location: every test under tests/e2e is `slow`, every test that drives
Chromium (through the `browser` fixture) is `browser`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from renderrush import History, make_sample_video

from .support.filters import FilterRegistry
from .support.frames import SMALL

E2E = Path(__file__).parent / "e2e"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if E2E in item.path.parents:
            item.add_marker(pytest.mark.slow)
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder for session-wide sample videos."""
    return tmp_path_factory.mktemp("videos")


@pytest.fixture(scope="session")
def clip(videos: Path) -> Path:
    """3 s, 30 fps, 160x120 H.264 + AAC clip with a frame-index stripe (90 frames)."""
    return make_sample_video(videos / "clip.mp4", seconds=3, size=SMALL, fps=30)


@pytest.fixture(scope="session")
def silent_clip(videos: Path) -> Path:
    """Same as `clip` without an audio track."""
    return make_sample_video(videos / "silent.mp4", seconds=2, size=SMALL, fps=30, audio=False)


@pytest.fixture(scope="session")
def history_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("history") / "history.sqlite3"


@pytest.fixture(autouse=True)
def isolated_history(history_file: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Jobs run by the tests record into a throwaway history, never the user's (set per
    test, so the notebooks that nbval runs afterwards do not see it)."""
    monkeypatch.setenv("RENDERRUSH_HISTORY", str(history_file))
    return history_file


@pytest.fixture(autouse=True)
def isolated_probe_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Quality-target probes are cached in a throwaway folder, never the user's cache."""
    folder = tmp_path_factory.getbasetemp() / "probe-cache"
    monkeypatch.setenv("RENDERRUSH_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def history(tmp_path: Path) -> History:
    """A history of this test's own."""
    return History(tmp_path / "history.sqlite3")


@pytest.fixture
def private_default_history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Jobs that record into the default history use one of this test's own (the UI tests
    read the default history back, so they must not see other tests' jobs)."""
    path = tmp_path / "default-history.sqlite3"
    monkeypatch.setenv("RENDERRUSH_HISTORY", str(path))
    return path


@pytest.fixture
def registry() -> Iterator[FilterRegistry]:
    """Register filters for one test (`registry.register(name, **params)(fn)`, or
    `registry.slow(name, delay)` for the slow filter); whatever the test registered is
    removed afterwards, and a filter it replaced put back, even if the test fails."""
    with FilterRegistry() as registry:
        yield registry
