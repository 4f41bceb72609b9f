"""The probe cache: keyed by what the probes measured, merged, and never an error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from renderrush.core.segment import Segment
from renderrush.media.encode import EncodeSettings
from renderrush.segments.probecache import CACHE_ENV, CACHE_FILE, ProbeCache, cache_dir, probe_key


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "in.mp4"
    path.write_bytes(b"x" * 100)
    return path


def test_the_key_changes_with_the_frames_filters_and_encoder_but_not_the_crf(source: Path) -> None:
    segment, encode = Segment(0, 0, 30), EncodeSettings(crf=23)
    key = probe_key(source, segment, "grayscale", encode, (320, 180))
    assert key == probe_key(source, segment, "grayscale", EncodeSettings(crf=30), (320, 180))
    others = [
        probe_key(source, Segment(0, 0, 31), "grayscale", encode, (320, 180)),
        probe_key(source, segment, "invert", encode, (320, 180)),
        probe_key(source, segment, "grayscale", EncodeSettings(preset="medium"), (320, 180)),
        probe_key(source, segment, "grayscale", encode, (160, 90)),
    ]
    assert key not in others and len(set(others)) == len(others)
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # the file changed
    assert probe_key(source, segment, "grayscale", encode, (320, 180)) != key
    assert probe_key(source.with_name("gone.mp4"), segment, "grayscale", encode, (320, 180)) is None


def test_probes_are_kept_merged_and_read_back(tmp_path: Path) -> None:
    cache = ProbeCache(tmp_path / "c" / "probes.sqlite3")
    assert cache.get(["a"]) == {}
    cache.put({"a": ((23, 94.5), (27, 91.0)), "b": ((20, 96.0),)})
    cache.put({"a": ((25, 93.0),)})
    assert ProbeCache(cache.path).get(["a", "b", "c"]) == {
        "a": ((23, 94.5), (25, 93.0), (27, 91.0)),
        "b": ((20, 96.0),),
    }


def test_a_damaged_cache_costs_probes_not_the_job(tmp_path: Path) -> None:
    path = tmp_path / "probes.sqlite3"
    path.write_bytes(b"not a database" * 100)
    cache = ProbeCache(path)
    cache.put({"a": ((23, 94.5),)})
    assert cache.get(["a"]) == {}


def test_the_cache_folder_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "mine"))
    assert ProbeCache().path == tmp_path / "mine" / CACHE_FILE
    monkeypatch.delenv(CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "renderrush"
