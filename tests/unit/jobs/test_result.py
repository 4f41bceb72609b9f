"""What finished jobs report (`renderrush.jobs.result`): a `JobResult` carries a render's
settings, segments and timings, derives its frame rate and reused frames, and turns into
plain JSON-ready values without segment bytes; `source_warnings` names, in a fixed order,
everything of the source the output does not keep as it was; a `Comparison` puts two runs
side by side with speedup, efficiency per worker and a summary that says whether the
outputs matched. Built from hand-made values: no video is read or written."""

from __future__ import annotations

import json
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from renderrush.jobs.result import Comparison, JobResult, source_warnings
from renderrush.media.encode import EncodeSettings
from renderrush.media.probe import VideoInfo
from renderrush.segments.render import SegmentResult

FRAMES = 90


def video_info(**changes: Any) -> VideoInfo:
    info = VideoInfo(
        path=Path("/videos/in.mp4"),
        width=160,
        height=120,
        fps=Fraction(30),
        frame_count=FRAMES,
        duration=3.0,
        codec="h264",
        pix_fmt="yuv420p",
        has_audio=True,
        audio_codec="aac",
        container="mov,mp4,m4a,3gp,3g2,mj2",
    )
    return replace(info, **changes)


def segment(index: int, frames: int, **changes: Any) -> SegmentResult:
    return replace(SegmentResult(index, frames, 0.5, f"/tmp/segment-{index}.mp4", 1000 + index, 4242), **changes)


def job_result(wall_seconds: float = 2.0, **changes: Any) -> JobResult:
    result = JobResult(
        input=Path("/videos/in.mp4"),
        output=Path("/videos/out.mp4"),
        filters="grayscale,blur:3",
        scheduler="threads",
        workers=2,
        threads_per_worker=1,
        segment_seconds=1.5,
        encode=EncodeSettings(preset="fast", crf=20, threads=3),
        info=video_info(),
        segments=[segment(0, 45), segment(1, 45)],
        frames=FRAMES,
        wall_seconds=wall_seconds,
        stitch_seconds=0.1,
        cpu_percent=75.0,
        started_at=1000.0,
    )
    return replace(result, **changes)


def test_fps_is_frames_over_wall_time_and_zero_without_time() -> None:
    assert job_result(wall_seconds=2.0).fps == pytest.approx(45.0)
    assert job_result(wall_seconds=0.0).fps == 0.0


def test_frames_reused_counts_only_segments_taken_over_from_an_earlier_run() -> None:
    result = job_result(segments=[segment(0, 30, reused=True), segment(1, 30), segment(2, 30, reused=True)])
    assert result.frames_reused == 60
    assert job_result().frames_reused == 0


def test_to_dict_is_json_ready_and_drops_segment_bytes() -> None:
    timeline = [{"index": 0, "worker": "pid 1", "start": 0.0, "end": 1.0, "frames": 45, "reused": False}]
    result = job_result(
        segments=[segment(0, 45, data=b"\x00" * 100, pts=(0, 3000)), segment(1, 45, reused=True)],
        segment_timeline=timeline,
        timeline=[{"t": 0.0, "cpu": 50.0}],  # monitor samples: the history keeps them apart
        job_id=7,
        warnings=["not kept: subtitle stream 2"],
        recommendation={"workers": 2},
        input_bytes_to_workers=11,
        output_bytes_from_workers=22,
        input_bytes_by_worker={"tcp://10.0.0.5:4001": 7, "tcp://10.0.0.6:4001": 4},
    )
    data = json.loads(json.dumps(result.to_dict()))
    assert set(data) == {
        "input", "output", "filters", "scheduler", "workers", "threads_per_worker", "segment_seconds",
        "preset", "crf", "encoder_threads", "video", "segments", "frames", "frames_reused", "wall_seconds",
        "stitch_seconds", "fps", "cpu_percent", "started_at", "worker_metrics", "recommendation", "job_id",
        "warnings", "timeline", "input_bytes_to_workers", "output_bytes_from_workers",
        "input_bytes_by_worker", "quality", "codec", "bit_depth", "tonemap", "joins",
    }  # fmt: skip
    assert (data["input"], data["output"], data["filters"]) == ("/videos/in.mp4", "/videos/out.mp4", "grayscale,blur:3")
    assert (data["preset"], data["crf"], data["encoder_threads"]) == ("fast", 20, 3)
    assert data["video"] == json.loads(json.dumps(video_info().to_dict()))
    assert [s["index"] for s in data["segments"]] == [0, 1]
    assert all("data" not in s for s in data["segments"])
    assert data["segments"][0]["pts"] == [0, 3000] and data["segments"][1]["reused"] is True
    assert (data["frames"], data["frames_reused"], data["fps"]) == (90, 45, 45.0)
    assert data["timeline"] == timeline, "'timeline' is the segment timeline, not the monitor's samples"
    assert (data["job_id"], data["warnings"], data["recommendation"]) == (
        7,
        ["not kept: subtitle stream 2"],
        {"workers": 2},
    )
    assert (data["input_bytes_to_workers"], data["output_bytes_from_workers"]) == (11, 22)
    assert data["input_bytes_by_worker"] == {"tcp://10.0.0.5:4001": 7, "tcp://10.0.0.6:4001": 4}


def test_a_clean_source_rendered_whole_has_no_warnings() -> None:
    assert source_warnings(video_info(), [segment(0, 45), segment(1, 45)], []) == []


def test_warnings_name_each_loss_in_order() -> None:
    info = video_info(has_alpha=True, bit_depth=10)
    results = [segment(0, 45, concealed=2), segment(1, 44, damaged=1)]
    assert source_warnings(info, results, ["subtitle stream 2 (dvd_subtitle)", "chapters"]) == [
        "not kept: subtitle stream 2 (dvd_subtitle)",
        "not kept: chapters",
        "transparency composited on black (H.264 has no alpha)",
        "10-bit video written as 8-bit H.264",
        "2 damaged frames were shown as the decoder concealed them",
        "1 damaged packets could not be decoded; their frames are missing",
    ]


def test_damage_found_by_the_probe_counts_when_the_segments_report_none() -> None:
    notes = source_warnings(video_info(damaged_frames=3, frame_count=87), [segment(0, 87)], [])
    assert notes == ["3 damaged packets could not be decoded; their frames are missing"]


def test_a_frame_count_other_than_listed_is_named_only_without_damage() -> None:
    assert source_warnings(video_info(), [segment(0, 45), segment(1, 43)], []) == [
        "the decoder gave 88 frames where the file lists 90"
    ]
    # damaged packets already explain the missing frames: no second note for the count
    assert source_warnings(video_info(), [segment(0, 45), segment(1, 43, damaged=2)], []) == [
        "2 damaged packets could not be decoded; their frames are missing"
    ]


def comparison(identical: bool = True, startup_seconds: float = 0.0) -> Comparison:
    sequential = job_result(wall_seconds=6.0, scheduler="sync", workers=1, cpu_percent=50.0)
    parallel = job_result(wall_seconds=2.0, scheduler="processes", workers=4, cpu_percent=96.0)
    return Comparison(sequential, parallel, identical, job_id=3, startup_seconds=startup_seconds)


def test_speedup_and_efficiency_per_parallel_worker() -> None:
    result = comparison()
    assert result.workers == 4
    assert result.speedup == pytest.approx(3.0)
    assert result.efficiency == pytest.approx(0.75)


def test_summary_explains_both_runs() -> None:
    lines = comparison().summary().splitlines()
    assert lines == [
        "sequential: 6.00 s, 15 fps, CPU 50% of all cores",
        "parallel (4 workers, processes): 2.00 s, 45 fps, CPU 96%",
        "speedup 3.00x, efficiency 75% per worker, frames 90/90, outputs identical",
    ]


def test_ceiling_is_cores_times_wall_over_cpu_and_at_most_the_workers() -> None:
    result = comparison()
    assert result.ceiling is None and "ceiling" not in result.summary(), "not measured: not shown"
    result.cores, result.sequential_cpu_seconds = 2, 11.4  # 6 s of wall: 1.9 of 2 cores busy
    assert result.ceiling == pytest.approx(2 * 6.0 / 11.4)
    assert result.summary().splitlines()[3] == (
        "ceiling 1.05x on 2 cores (cores x wall / CPU): the sequential run already kept 1.9 of 2 cores busy"
    )
    result.sequential_cpu_seconds = 1.0  # one core barely busy: 12x, but 4 workers can give at most 4x
    assert result.ceiling == 4.0


def test_summary_says_when_outputs_differ_and_when_start_up_was_paid() -> None:
    text = comparison(identical=False, startup_seconds=1.234).summary()
    assert "outputs DIFFER" in text
    assert text.splitlines()[-1] == "(starting the worker processes took 1.23 s before the timed run)"
    assert "starting the worker processes" not in comparison(startup_seconds=0.049).summary()
    assert "starting the worker processes took 0.05 s" in comparison(startup_seconds=0.05).summary()


def test_comparison_to_dict_holds_both_runs() -> None:
    data = json.loads(json.dumps(comparison(identical=False, startup_seconds=0.5).to_dict()))
    assert data["input"] == "/videos/in.mp4" and data["filters"] == "grayscale,blur:3"
    assert (data["workers"], data["segments"], data["segment_seconds"]) == (4, 2, 1.5)
    assert (data["sequential_seconds"], data["parallel_seconds"]) == (6.0, 2.0)
    assert data["speedup"] == pytest.approx(3.0) and data["efficiency"] == pytest.approx(0.75)
    assert (data["sequential_frames"], data["parallel_frames"]) == (90, 90)
    assert (data["sequential_cpu_percent"], data["parallel_cpu_percent"]) == (50.0, 96.0)
    assert (data["identical"], data["startup_seconds"], data["job_id"]) == (False, 0.5, 3)
    assert data["sequential"]["scheduler"] == "sync" and data["parallel"]["scheduler"] == "processes"
    assert data["parallel"]["wall_seconds"] == 2.0


def test_quality_is_the_worst_segments_and_names_one_vmaf_model() -> None:
    def measured(psnr: float, ssim: float, vmaf: float | None) -> dict[str, Any]:
        return {"psnr": psnr, "ssim": ssim, "vmaf": vmaf, "vmaf_model": "vmaf_v0.6.1" if vmaf else None}

    result = job_result(
        segments=[
            segment(0, 30, quality=measured(41.0, 0.97, 93.0), crf=24),
            segment(1, 30, quality=measured(38.5, 0.99, 91.2), crf=21),
            segment(2, 30, reused=True),  # taken over from an earlier run: nothing measured
        ]
    )
    assert result.quality == {"worst_psnr": 38.5, "worst_ssim": 0.97, "worst_vmaf": 91.2, "vmaf_model": "vmaf_v0.6.1"}
    data = result.to_dict()
    assert [s["crf"] for s in data["segments"]] == [24, 21, None]
    assert job_result().quality == {"worst_psnr": None, "worst_ssim": None, "worst_vmaf": None, "vmaf_model": None}
