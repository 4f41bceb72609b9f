"""Shared fixtures: every test video is generated here with `make_sample_video`."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from renderrush import make_sample_video
from renderrush.samples import read_frame_index

SMALL = (160, 120)


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


def decode_frames(path: Path, fmt: str = "gray") -> list[np.ndarray]:
    """Every video frame of `path` as arrays (small clips only)."""
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format=fmt) for frame in container.decode(video=0)]


def frame_indices(path: Path) -> list[int]:
    """The index stripe read from every frame of a rendered sample."""
    return [read_frame_index(luma) for luma in decode_frames(path)]


def stream_codecs(path: Path) -> dict[str, str]:
    """{"video": codec, "audio": codec} of the first streams present."""
    with av.open(str(path)) as container:
        return {s.type: s.codec_context.name for s in container.streams if s.type in ("video", "audio")}


@pytest.fixture(scope="session")
def history_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("history") / "history.sqlite3"


@pytest.fixture(autouse=True)
def isolated_history(history_file: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Jobs run by the tests record into a throwaway history, never the user's (set per
    test, so the notebooks that nbval runs afterwards do not see it)."""
    monkeypatch.setenv("RENDERRUSH_HISTORY", str(history_file))
    return history_file
