"""Rendering on a real dask cluster started on loopback: no shared storage, live
progress from workers, a worker killed mid-job, a corrupt input range."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import pytest

from renderrush import SegmentError, make_sample_video, probe, register_filter, render, unregister_filter
from renderrush.progress import SEGMENT_STARTED, ProgressEvent

from .cluster_support import LoopbackCluster, slow_copy
from .conftest import frame_indices, stream_codecs


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LoopbackCluster]:
    (tmp_path / "cluster").mkdir()
    running = LoopbackCluster(tmp_path / "cluster").start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def long_clip(videos: Path) -> Path:
    return make_sample_video(videos / "cluster.mp4", seconds=6, size=(160, 120), fps=30)


@pytest.fixture
def slow_filter() -> Iterator[str]:
    register_filter("slow_copy", replace=True)(slow_copy)
    yield "slow_copy"
    unregister_filter("slow_copy")


def test_render_without_shared_storage(cluster: LoopbackCluster, long_clip: Path, tmp_path: Path) -> None:
    pieces: list[int] = []

    def on_progress(event: ProgressEvent) -> None:
        pieces.append(len(list(cluster.folder.glob("worker-*/**/renderrush/*-piece-*"))))

    out = tmp_path / "out.mp4"
    result = render(long_clip, out, "grayscale", workers=2, segment_seconds=1, scheduler=cluster.address,
                    progress=on_progress)  # fmt: skip
    assert result.frames == 180 and frame_indices(out) == list(range(180))
    assert stream_codecs(out) == {"video": "h264", "audio": "aac"}
    assert max(pieces) >= 1, "workers read their segment's piece from their own local directory"
    assert not list(cluster.folder.glob("worker-*/**/renderrush/*-piece-*")), "pieces are removed afterwards"
    assert not list(cluster.folder.glob("worker-*/**/renderrush/input-*")), "no worker received the whole input"
    # 1 s segments on 2 s GOPs: half the pieces start a second before their first frame
    assert 0 < result.input_bytes_to_workers <= 1.3 * long_clip.stat().st_size
    assert result.output_bytes_from_workers == sum(s.bytes for s in result.segments)
    assert result.to_dict()["input_bytes_to_workers"] == result.input_bytes_to_workers
    assert all(s.worker.startswith("tcp://127.0.0.1:") for s in result.segments)
    assert {s.worker for s in result.segments} <= {m["worker"] for m in result.worker_metrics}
    assert all(s.bytes > 0 for s in result.segments)


def test_killed_worker_is_survived(cluster: LoopbackCluster, long_clip: Path, tmp_path: Path, slow_filter: str) -> None:
    killed: list[float] = []
    restarts: list[float] = []
    started: set[int] = set()

    def on_progress(event: ProgressEvent) -> None:
        if event.kind == SEGMENT_STARTED:
            if event.segment in started and killed:
                restarts.append(time.monotonic() - killed[0])
            started.add(event.segment)
        if not killed and event.frames_done >= 20:
            cluster.workers["a"].kill()
            killed.append(time.monotonic())

    out = tmp_path / "out.mp4"
    result = render(long_clip, out, slow_filter, workers=2, segment_seconds=1, scheduler=cluster.address,
                    progress=on_progress)  # fmt: skip
    assert killed, "worker a was killed mid-job"
    assert result.frames == 180 and probe(out).frame_count == 180
    assert frame_indices(out) == list(range(180))
    print(f"segment re-run started {restarts[0] if restarts else float('nan'):.2f} s after the kill")


def test_corrupt_range_fails_with_segment_and_reason(cluster: LoopbackCluster, videos: Path, tmp_path: Path) -> None:
    source = make_sample_video(videos / "to_corrupt.mp4", seconds=4, size=(320, 240), audio=False)
    data = bytearray(source.read_bytes())
    middle = len(data) // 5
    data[middle : middle + len(data) // 2] = bytes(range(256)) * (len(data) // 512) + bytes(len(data) // 2 % 256)
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(bytes(data))
    out = tmp_path / "out.mp4"
    with pytest.raises(SegmentError) as excinfo:
        render(corrupt, out, None, workers=2, segment_seconds=1, scheduler=cluster.address)
    assert "segment" in str(excinfo.value) and "corrupt or truncated" in str(excinfo.value)
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["cluster", "corrupt.mp4"]


def test_local_cluster_by_name(clip: Path, tmp_path: Path) -> None:
    result = render(clip, tmp_path / "l.mp4", "brightness:10", workers=2, segment_seconds=1, scheduler="local")
    assert result.frames == 90 and result.scheduler.startswith("distributed")
    assert frame_indices(tmp_path / "l.mp4") == list(range(90))
