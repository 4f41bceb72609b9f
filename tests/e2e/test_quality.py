"""Every render reports each segment's encoded quality: checked against ffmpeg's own `psnr`,
`ssim` and `libvmaf` filters run on the output against the unfiltered source."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from renderrush import render
from renderrush.cli import main
from renderrush.media.quality import VMAF_MODEL

from ..support.media import ffmpeg
from ..support.quality import ffmpeg_luma_stats, ffmpeg_vmaf, noisy_clip, psnr_of_mean


@pytest.fixture(scope="module")
def grainy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return noisy_clip(tmp_path_factory.mktemp("quality") / "grainy.mp4", seconds=3, noise=10)


@pytest.mark.parametrize("scheduler", ["threads", "processes"])
def test_each_segments_psnr_and_ssim_agree_with_ffmpegs_filters(grainy: Path, tmp_path: Path, scheduler: str) -> None:
    out = tmp_path / "out.mp4"
    result = render(grainy, out, workers=2, segment_seconds=1, crf=30, scheduler=scheduler)
    mse, ssim = ffmpeg_luma_stats(out, grainy, tmp_path)
    assert len(result.segments) == 3 and len(mse) == 90
    start = 0
    for segment in result.segments:
        stop = start + segment.frames
        quality = segment.quality
        assert quality is not None and segment.crf == 30
        # x264 measures every frame itself (`EncoderMeter`): PSNR as ffmpeg's within hundredths
        # of a dB, SSIM with its windows two pixels over from ffmpeg's
        assert quality["psnr"] == pytest.approx(psnr_of_mean(mse[start:stop]), abs=0.1)
        assert quality["ssim"] == pytest.approx(np.mean(ssim[start:stop]), abs=0.01)
        assert quality["vmaf"] is None and quality["frames"] == segment.frames == 30 and quality["sample_every"] == 1
        start = stop
    assert result.quality["worst_psnr"] == min(s.quality["psnr"] for s in result.segments if s.quality)
    assert 30 < result.quality["worst_psnr"] < 45  # grain at CRF 30: a real loss, measured


def test_filters_are_measured_after_the_filter_not_against_the_source(grainy: Path, tmp_path: Path) -> None:
    # the encoder's input is the inverted picture (luma 251 - Y): the figures must be those of
    # the output against that, not against the source (which would give PSNR near 5 dB)
    out = tmp_path / "out.mp4"
    result = render(grainy, out, "invert", workers=1, crf=24)
    inverted = tmp_path / "inverted.nut"  # NUT keeps 1/30 s times (MKV rounds to ms and pairs frames wrongly)
    ffmpeg("-i", grainy, "-vf", "lutyuv=y=clip(251-val\\,0\\,255)", "-c:v", "ffv1", "-y", inverted)
    mse, ssim = ffmpeg_luma_stats(out, inverted, tmp_path)
    (segment,) = result.segments
    assert segment.quality is not None
    assert segment.quality["psnr"] == pytest.approx(psnr_of_mean(mse), abs=1.0)
    assert segment.quality["ssim"] == pytest.approx(np.mean(ssim), abs=0.01)


def test_render_json_reports_quality_crf_and_vmaf_per_segment(
    grainy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.mp4"
    args = [str(grainy), "-o", str(out), "--workers", "2", "--segment-seconds", "1.5", "--crf", "28"]
    assert main(["render", *args, "--scheduler", "threads", "--vmaf", "--json", "--no-progress"]) in (0, None)
    data = json.loads(capsys.readouterr().out)
    vmaf = ffmpeg_vmaf(out, grainy, tmp_path)
    start = 0
    for segment in data["segments"]:
        stop = start + segment["frames"]
        assert segment["crf"] == 28 and set(segment["quality"]) >= {"psnr", "ssim", "vmaf"}
        assert segment["quality"]["vmaf_model"] == VMAF_MODEL
        assert segment["quality"]["vmaf"] == pytest.approx(np.mean(vmaf[start:stop]), abs=1.0)
        start = stop
    assert start == 90 and data["quality"]["worst_vmaf"] == min(s["quality"]["vmaf"] for s in data["segments"])


def test_each_join_compares_the_frames_either_side_with_their_segments_middles(grainy: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    result = render(grainy, out, workers=2, segment_seconds=1, crf=23, scheduler="threads")
    mse, _ = ffmpeg_luma_stats(out, grainy, tmp_path)  # ffmpeg's own per-frame figures

    def edges(start: int, frames: int) -> tuple[float, float, float]:
        middle = [mse[start + i] for i in range(frames) if frames / 3 <= i <= 2 * frames / 3]  # every frame
        return psnr_of_mean([mse[start]]), psnr_of_mean(middle), psnr_of_mean([mse[start + frames - 1]])

    starts = [sum(s.frames for s in result.segments[:k]) for k in range(len(result.segments))]
    for segment, start in zip(result.segments, starts):
        assert segment.quality is not None
        measured = segment.quality["edges"]
        expected = edges(start, segment.frames)
        assert [measured["first"], measured["middle"], measured["last"]] == pytest.approx(expected, abs=0.05)
    assert [j["frame"] for j in result.joins] == starts[1:] == [30, 60]
    for join in result.joins:
        before = result.segments[join["index"] - 1].quality["edges"]  # type: ignore[index]
        after = result.segments[join["index"]].quality["edges"]  # type: ignore[index]
        assert join["before_db"] == pytest.approx(before["last"] - before["middle"], abs=0.01)
        assert join["after_db"] == pytest.approx(after["first"] - after["middle"], abs=0.01)
        assert join["pulse"] == (max(abs(join["before_db"]), abs(join["after_db"])) > 2)
        pulsing = [w for w in result.warnings if f"join at frame {join['frame']} " in w]
        assert len(pulsing) == join["pulse"]
    assert [entry["pulse"] for entry in result.segment_timeline] == [False, *(j["pulse"] for j in result.joins)]
