"""`target_quality`: every segment of a clip with an easy and a hard half reaches the VMAF
target with its own CRF, checked with ffmpeg's own libvmaf; a repeated job encodes no probe."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from renderrush import render
from renderrush.cli import main
from renderrush.segments.target import MAX_PROBES

from ..support.media import ffmpeg
from ..support.quality import ffmpeg_vmaf

TARGET = 92


@pytest.fixture(scope="module")
def easy_then_hard(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 s of a clean test pattern, then 2 s of it under heavy grain (320x180, 30 fps)."""
    path = tmp_path_factory.mktemp("target") / "easy-then-hard.mp4"
    clean = "testsrc2=size=320x180:rate=30:duration=2"
    graph = f"{clean}[a];{clean},noise=alls=60:allf=t[b];[a][b]concat=n=2:v=1:a=0"
    ffmpeg("-f", "lavfi", "-i", graph, "-c:v", "libx264", "-crf", 10, "-pix_fmt", "yuv420p", "-y", path)
    return path


def test_every_segment_reaches_the_target_with_its_own_crf_and_a_repeat_encodes_no_probe(
    easy_then_hard: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RENDERRUSH_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "out.mp4"
    first = render(easy_then_hard, out, target_quality=TARGET, workers=2, segment_seconds=1, scheduler="threads")
    assert [s.frames for s in first.segments] == [30, 30, 30, 30]
    assert [w for w in first.warnings if "target" in w] == []  # (a keyframe may pulse at a join)
    frame_vmaf = ffmpeg_vmaf(out, easy_then_hard, tmp_path)  # ffmpeg's own libvmaf, output against the source
    start = 0
    for segment in first.segments:
        assert segment.quality is not None and segment.target is not None
        assert abs(segment.quality["vmaf"] - TARGET) <= 1.5
        assert abs(np.mean(frame_vmaf[start : start + segment.frames]) - TARGET) <= 1.5
        assert segment.crf == segment.target["crf"] and 1 <= segment.target["probe_encodes"] <= MAX_PROBES
        start += segment.frames
    clean_crfs = {s.crf for s in first.segments[:2]}
    noisy_crfs = {s.crf for s in first.segments[2:]}
    assert min(clean_crfs) > max(noisy_crfs) + 2  # grain needs a much lower CRF for the same VMAF
    assert first.segments[0].bytes * 5 < first.segments[2].bytes

    again = render(easy_then_hard, tmp_path / "again.mp4", target_quality=TARGET, workers=2, segment_seconds=1)
    assert [s.target["probe_encodes"] for s in again.segments if s.target] == [0, 0, 0, 0]  # all from the cache
    assert [s.crf for s in again.segments] == [s.crf for s in first.segments]
    assert (tmp_path / "again.mp4").read_bytes() == out.read_bytes()  # processes, same frames and bytes


def test_render_json_reports_the_search_and_refuses_a_target_out_of_range(
    easy_then_hard: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.mp4"
    args = ["render", str(easy_then_hard), "-o", str(out), "--segment-seconds", "2", "--workers", "2"]
    assert main([*args, "--target-quality", "101"]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        "renderrush: error: target quality is a VMAF score between 0 and 100 (e.g. 92), got 101.0"
    ]
    assert main([*args, "--target-quality", "92", "--scheduler", "threads", "--json", "--no-progress"]) == 0
    report = json.loads(capsys.readouterr().out)
    for segment in report["segments"]:
        assert abs(segment["quality"]["vmaf"] - 92) <= 1.5 and segment["crf"] == segment["target"]["crf"]
        assert segment["target"]["vmaf"] == 92 and len(segment["target"]["probes"]) <= MAX_PROBES
    assert report["quality"]["vmaf_model"] == "vmaf_v0.6.1"
