"""End-to-end renders on generated videos: exact frames, joins, audio, codecs, containers."""

from __future__ import annotations

import ctypes
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from renderrush import (
    JobCancelledError,
    Param,
    ProgressEvent,
    SegmentError,
    compare,
    make_sample_video,
    probe,
    render,
)
from renderrush.media.encode import heap_fill
from renderrush.media.ffmpeg import decoded_md5, run_ffmpeg
from renderrush.segments.progress import SEGMENT_FINISHED, SEGMENT_STARTED, STITCHED, STITCHING

from ..support.filters import FilterRegistry
from ..support.frames import SMALL, decode_frames, frame_indices, stream_codecs

CLIP_FRAMES = 90


@pytest.mark.parametrize("segment_seconds", [0.4, 0.7, 1.0, 1.3, 5.0])
def test_every_frame_once_in_order_across_joins(clip: Path, tmp_path: Path, segment_seconds: float) -> None:
    out = tmp_path / "out.mp4"
    result = render(clip, out, "grayscale", workers=2, segment_seconds=segment_seconds, scheduler="threads")
    assert result.frames == CLIP_FRAMES
    assert probe(out).frame_count == CLIP_FRAMES
    assert frame_indices(out) == list(range(CLIP_FRAMES))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]  # temporaries removed


RENDER_ONE = "import sys, renderrush as rr; rr.render(sys.argv[1], sys.argv[2], 'grayscale', scheduler=sys.argv[3], workers=2, segment_seconds=1.5, history=False)"


def test_output_does_not_depend_on_what_fresh_memory_held(clip: Path, tmp_path: Path) -> None:
    """libx264's MB-tree reads heap memory it allocated while its lookahead filled and never
    wrote; MALLOC_PERTURB_ fills fresh memory with a different byte in each process below.
    The files differ when the heap fill ends at the encoder's first packet instead of 16
    frames later, or is left out; two 45-frame segments encode past the fill's end. With
    threads the two segments' encoders start side by side, each filled."""
    outputs = []
    for scheduler, fill in (("sync", "0"), ("sync", "85"), ("sync", "170"), ("threads", "85"), ("threads", "170")):
        out = tmp_path / f"fill-{scheduler}-{fill}.mp4"
        subprocess.run(
            [sys.executable, "-c", RENDER_ONE, str(clip), str(out), scheduler],
            env={**os.environ, "MALLOC_PERTURB_": fill},
            check=True,
        )
        outputs.append(out.read_bytes())
    assert all(output == outputs[0] for output in outputs)


RENDER_CODEC = "import sys, renderrush as rr; rr.render(sys.argv[1], sys.argv[2], 'grayscale', codec=sys.argv[3], scheduler='sync', segment_seconds=1.5, history=False)"


@pytest.mark.parametrize("codec, suffix", [("hevc", ".mp4"), ("av1", ".mkv"), ("vp9", ".webm")])
def test_other_encoders_need_no_heap_fill(clip: Path, tmp_path: Path, codec: str, suffix: str) -> None:
    """x265, SVT-AV1 and libvpx encode outside the fill (only x264 reads memory it never
    wrote): their frames are the same whatever byte fresh memory holds."""
    decoded = set()
    for fill in ("0", "85", "170"):
        out = tmp_path / f"fill-{fill}{suffix}"
        subprocess.run(
            [sys.executable, "-c", RENDER_CODEC, str(clip), str(out), codec],
            env={**os.environ, "MALLOC_PERTURB_": fill},
            check=True,
        )
        decoded.add(decoded_md5(out))  # Matroska files carry a random segment UID: compare frames
    assert len(decoded) == 1


def heap_is_filled() -> bool:
    """True while glibc fills allocations (`M_PERTURB` 0x55 fills freed memory with 0x55
    and fresh allocations with 0xaa): a block past the thread cache, written with 0x11 and
    freed, comes back from malloc filled instead of as written."""
    libc = ctypes.CDLL(None)
    libc.malloc.restype, libc.malloc.argtypes, libc.free.argtypes = (
        ctypes.c_void_p,
        [ctypes.c_size_t],
        [ctypes.c_void_p],
    )
    block = libc.malloc(4096)
    ctypes.memset(block, 0x11, 4096)
    libc.free(block)
    block = libc.malloc(4096)
    try:
        return ctypes.string_at(block + 64, 1024) == b"\xaa" * 1024
    finally:
        libc.free(block)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the heap fill uses glibc's M_PERTURB")
def test_filters_never_run_while_the_heap_is_filled(clip: Path, tmp_path: Path, registry: FilterRegistry) -> None:
    """The fill costs every allocation and free (NumPy filters ran 75% slower under it), so
    it is held only inside x264's calls and filters wait those out. The filter below looks
    for 5 ms at a time while the writers encode beside it; the two segments' filters still
    run side by side (the threads scheduler runs both in this process)."""
    with heap_fill.filled():
        assert heap_is_filled()
    seen: list[bool] = []
    running, most_running = [0], [0]

    @registry.register("heap_probe")
    def heap_probe(frame: np.ndarray) -> np.ndarray:
        running[0] += 1
        most_running[0] = max(most_running[0], running[0])
        ends = time.perf_counter() + 0.005
        while time.perf_counter() < ends:
            seen.append(heap_is_filled())
            time.sleep(0.0002)
        running[0] -= 1
        return frame

    @registry.register("fail_at_once")
    def fail_at_once(frame: np.ndarray) -> np.ndarray:
        raise ValueError("no")

    render(clip, tmp_path / "ok.mp4", "heap_probe", workers=2, segment_seconds=1.5, scheduler="threads")
    with pytest.raises(SegmentError, match="fail_at_once"):
        render(clip, tmp_path / "bad.mp4", "fail_at_once", workers=2, segment_seconds=1, scheduler="threads")
    assert len(seen) > CLIP_FRAMES and not any(seen)
    assert most_running[0] == 2
    assert not heap_is_filled(), "a failed segment leaves the heap as it found it"


def test_sequential_and_parallel_processes_give_identical_frames(clip: Path, tmp_path: Path) -> None:
    kept = tmp_path / "kept" / "here"  # created on demand
    result = compare(clip, "grayscale,blur:1.5,contrast:1.3", workers=2, segment_seconds=0.7, keep_outputs=kept)
    assert sorted(p.name for p in kept.iterdir()) == ["clip.parallel.mp4", "clip.sequential.mp4"]
    assert result.identical
    assert result.sequential.frames == result.parallel.frames == CLIP_FRAMES
    assert result.sequential.scheduler == "sync" and result.parallel.scheduler == "processes"
    assert [s.frames for s in result.parallel.segments] == [
        22,
        23,
        23,
        22,
    ]  # 90 frames split evenly into round(90 / 21) segments
    assert {s.worker_pid for s in result.parallel.segments} != {result.sequential.segments[0].worker_pid}
    assert decoded_md5(result.sequential.output) == decoded_md5(result.parallel.output)
    assert result.speedup == pytest.approx(result.sequential.wall_seconds / result.parallel.wall_seconds)
    assert result.efficiency == pytest.approx(result.speedup / 2)
    assert 0 < result.sequential.cpu_percent <= 100 and 0 < result.parallel.cpu_percent <= 100


def test_worker_processes_stay_warm_between_jobs(clip: Path, tmp_path: Path) -> None:
    first = render(clip, tmp_path / "1.mp4", "invert", workers=2, segment_seconds=0.5)
    second = render(clip, tmp_path / "2.mp4", "invert", workers=2, segment_seconds=0.5)
    pids = {s.worker_pid for s in first.segments}
    assert os.getpid() not in pids and {s.worker_pid for s in second.segments} <= pids
    comparison = compare(clip, "invert", workers=2, segment_seconds=0.5)
    assert {s.worker_pid for s in comparison.parallel.segments} <= pids, "compare's warm-up reuses the same pool"


def test_output_is_h264_mp4_with_source_audio_and_faststart(clip: Path, tmp_path: Path) -> None:
    out = render(clip, tmp_path / "a.mp4", None, workers=2, segment_seconds=1, scheduler="threads").output
    assert stream_codecs(out) == {"video": "h264", "audio": "aac"}
    info = probe(out)
    assert info.pix_fmt == "yuv420p" and (info.width, info.height) == SMALL
    head = out.read_bytes()[:4096]
    assert head.find(b"moov") != -1, "+faststart puts the index at the front"


def test_source_without_audio_gives_output_without_audio(silent_clip: Path, tmp_path: Path) -> None:
    out = render(silent_clip, tmp_path / "s.mp4", "invert", segment_seconds=0.5, scheduler="threads").output
    assert stream_codecs(out) == {"video": "h264"}
    assert not probe(out).has_audio


@pytest.mark.parametrize(
    ("name", "size", "audio_codec"),
    [
        ("in.mov", (160, 120), "aac"),
        ("in.mkv", (160, 120), "aac"),
        ("in.avi", (161, 121), "mp3"),
        ("odd.mp4", (97, 65), "aac"),
    ],
)
def test_containers_and_odd_sizes(
    videos: Path, tmp_path: Path, name: str, size: tuple[int, int], audio_codec: str
) -> None:
    source = make_sample_video(videos / name, seconds=2, size=size, fps=25)
    assert stream_codecs(source)["audio"].startswith(audio_codec)
    out = tmp_path / "out.mp4"
    render(source, out, "brightness:20", workers=2, segment_seconds=0.6, scheduler="processes")
    info = probe(out)
    assert info.frame_count == 50
    assert (info.width, info.height) == (size[0] - size[0] % 2, size[1] - size[1] % 2)  # odd edge cropped
    # MP4 holds AAC and MP3 as they are: the audio is copied, not encoded again
    assert stream_codecs(out) == {"video": "h264", "audio": stream_codecs(source)["audio"]}
    assert frame_indices(out) == list(range(50))


def test_variable_frame_rate_source_keeps_every_frame(clip: Path, tmp_path: Path) -> None:
    vfr = tmp_path / "vfr.mkv"
    # frame times jump by 0.5 s at frame 40 and tighten after frame 60: not constant-rate
    run_ffmpeg(
        [
            "-i",
            clip,
            "-vf",
            "setpts='(N/30+gte(N,40)*0.5-gte(N,60)*(N-60)/90)/TB'",
            "-fps_mode",
            "passthrough",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-an",
            "-y",
            vfr,
        ],
        what="making a VFR clip",
    )
    times = probe(vfr).frame_times
    gaps = np.diff(times)
    assert gaps.max() > 2 * gaps.min(), "the clip really has a variable frame rate"
    out = render(vfr, tmp_path / "vfr.mp4", None, workers=2, segment_seconds=0.5, scheduler="threads").output
    assert frame_indices(out) == list(range(CLIP_FRAMES))


def test_user_registered_filter_runs_in_worker_processes(clip: Path, tmp_path: Path, registry: FilterRegistry) -> None:
    @registry.register("paint_bottom", level=Param(200, 0, 255, "grey level"))
    def paint_bottom(frame: np.ndarray, level: int) -> np.ndarray:
        frame[-20:] = level
        return frame

    out = render(clip, tmp_path / "u.mp4", "paint_bottom:level=60", workers=2, segment_seconds=1).output
    frames = decode_frames(out, "rgb24")
    assert len(frames) == CLIP_FRAMES
    bottom = np.stack([f[-16:, :, :] for f in frames]).astype(int)
    assert abs(bottom.mean() - 60) < 3 and bottom.std() < 3
    assert frame_indices(out) == list(range(CLIP_FRAMES))


def test_progress_events_cover_segments_and_arrive_every_second(videos: Path, tmp_path: Path) -> None:
    source = make_sample_video(videos / "progress.mp4", seconds=6, size=(320, 240), fps=30)
    events = []
    render(
        source,
        tmp_path / "p.mp4",
        "blur:3",
        workers=2,
        segment_seconds=1,
        scheduler="processes",
        progress=events.append,
    )
    kinds = [e.kind for e in events]
    assert sorted(e.segment for e in events if e.kind == SEGMENT_STARTED) == list(range(6))
    assert sorted(e.segment for e in events if e.kind == SEGMENT_FINISHED) == list(range(6))
    assert kinds[-1] == STITCHED and STITCHING in kinds
    done = [e.frames_done for e in events]
    assert done == sorted(done) and done[-1] == events[-1].frames_total == 180
    stamps = [e.elapsed for e in events]
    assert max(np.diff(stamps)) < 1.0


@pytest.mark.parametrize("scheduler", ["threads", "processes"])
def test_cancel_stops_the_job_and_leaves_nothing(
    videos: Path, tmp_path: Path, scheduler: str, registry: FilterRegistry
) -> None:
    source = make_sample_video(videos / "cancel.mp4", seconds=8, size=(320, 240), fps=30)
    cancel = threading.Event()
    seen: list[int] = []

    def on_progress(event: ProgressEvent) -> None:
        seen.append(event.frames_done)
        if event.frames_done > 0:
            cancel.set()

    slow = registry.slow("slow", delay=0.01)  # the job lasts long enough to be cancelled half-way
    with pytest.raises(JobCancelledError, match="cancelled"):
        render(
            source,
            tmp_path / "c.mp4",
            slow,
            workers=2,
            segment_seconds=2,
            scheduler=scheduler,
            progress=on_progress,
            cancel=cancel,
        )
    assert max(seen) < 120, "stopped well before the end"
    assert list(tmp_path.iterdir()) == []
