"""Rendering on a real dask cluster started on loopback: no shared storage, live
progress from workers, a worker killed mid-job, a corrupt input range, the same frames
as a sequential render, and the bytes that crossed the network."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from renderrush import ClusterError, make_sample_video, probe, render
from renderrush.backends.reach import check_scheduler
from renderrush.cli import main
from renderrush.segments.progress import SEGMENT_STARTED, ProgressEvent
from renderrush.ui.cluster import LOCAL_CLUSTER
from renderrush.ui.panel import ControlPanel
from renderrush.ui.results import ResultsView

from ..support.cluster import LoopbackCluster
from ..support.filters import FilterRegistry
from ..support.frames import decode_frames, frame_indices, stream_codecs
from ..support.gops import gop_clip
from ..support.media import ffmpeg_frame_count

pytestmark = pytest.mark.cluster

TRAFFIC_TARGET = 1.3
"""Input bytes sent to workers, at most this many times the input's size (issue 16)."""


def start_cluster(folder: Path, workers: tuple[str, ...] = ("a", "b")) -> Iterator[LoopbackCluster]:
    running = LoopbackCluster(folder).start(workers)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackCluster]:
    """A scheduler and two workers shared by the module's tests (none of them harms it)."""
    yield from start_cluster(tmp_path_factory.mktemp("cluster"))


@pytest.fixture
def own_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackCluster]:
    """A scheduler and two workers for one test that kills a worker."""
    yield from start_cluster(tmp_path_factory.mktemp("cluster"))


@pytest.fixture(scope="module")
def long_clip(videos: Path) -> Path:
    return make_sample_video(videos / "cluster.mp4", seconds=6, size=(160, 120), fps=30)


@pytest.fixture
def slow_filter(registry: FilterRegistry) -> str:
    return registry.slow()


def test_render_without_shared_storage(cluster: LoopbackCluster, long_clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    result = render(long_clip, out, "grayscale", workers=2, segment_seconds=1, scheduler=cluster.address)
    assert result.frames == 180 and frame_indices(out) == list(range(180))
    assert stream_codecs(out) == {"video": "h264", "audio": "aac"}
    # each worker that rendered received pieces, never the whole input (counted, not caught in
    # the act: a piece lives only while its segment renders)
    received = result.input_bytes_by_worker
    assert set(received) == {s.worker for s in result.segments}, received
    assert all(0 < size < long_clip.stat().st_size for size in received.values()), received
    assert not list(cluster.folder.glob("worker-*/**/renderrush/*-piece-*")), "pieces are removed afterwards"
    assert not list(cluster.folder.glob("worker-*/**/renderrush/input-*")), "no worker received the whole input"
    # 1 s segments asked on 2 s GOPs: segments of whole GOPs, each GOP sent once
    assert any("allow 3 segments where 6" in w for w in result.warnings), result.warnings
    assert 0 < result.input_bytes_to_workers <= 1.3 * long_clip.stat().st_size
    assert result.output_bytes_from_workers == sum(s.bytes for s in result.segments)
    assert result.to_dict()["input_bytes_to_workers"] == result.input_bytes_to_workers

    # AVI frame tables come from a decode pass: not cut, the whole file goes out once and
    # every worker that renders holds a copy
    avi = make_sample_video(tmp_path / "clip.avi", seconds=2, size=(160, 120), fps=30)
    result = render(avi, tmp_path / "avi.mp4", None, workers=2, segment_seconds=0.5, scheduler=cluster.address)
    assert result.frames == 60 and frame_indices(tmp_path / "avi.mp4") == list(range(60))
    copies = len({s.worker for s in result.segments})
    assert result.input_bytes_to_workers == copies * avi.stat().st_size
    assert all(s.worker.startswith("tcp://127.0.0.1:") for s in result.segments)
    assert {s.worker for s in result.segments} <= {m["worker"] for m in result.worker_metrics}
    assert all(s.bytes > 0 for s in result.segments)


def test_killed_worker_is_survived(
    own_cluster: LoopbackCluster, long_clip: Path, tmp_path: Path, slow_filter: str
) -> None:
    cluster = own_cluster
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
    result = render(
        long_clip, out, slow_filter, workers=2, segment_seconds=1, scheduler=cluster.address, progress=on_progress
    )
    assert killed, "worker a was killed mid-job"
    assert result.frames == 180 and probe(out).frame_count == 180
    assert frame_indices(out) == list(range(180))
    print(f"segment re-run started {restarts[0] if restarts else float('nan'):.2f} s after the kill")


def test_a_corrupt_range_renders_what_ffmpeg_decodes_and_says_what_is_missing(
    cluster: LoopbackCluster, videos: Path, tmp_path: Path
) -> None:
    source = make_sample_video(videos / "to_corrupt.mp4", seconds=4, size=(320, 240), audio=False)
    data = bytearray(source.read_bytes())
    middle = len(data) // 5
    data[middle : middle + len(data) // 2] = bytes(range(256)) * (len(data) // 512) + bytes(len(data) // 2 % 256)
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(bytes(data))
    out = tmp_path / "out.mp4"
    # Shipped as pieces of whole GOPs, each worker's decoder skips the packets it rejects, as
    # ffmpeg does: the output has the frames ffmpeg decodes, and a warning counts the rest.
    result = render(corrupt, out, None, workers=2, segment_seconds=1, scheduler=cluster.address, history=False)
    assert result.frames == ffmpeg_frame_count(corrupt) < probe(corrupt).frame_count
    assert any("damaged packets could not be decoded" in line for line in result.warnings)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corrupt.mp4", "out.mp4"]


def test_local_cluster_by_name(clip: Path, tmp_path: Path) -> None:
    result = render(clip, tmp_path / "l.mp4", "brightness:10", workers=2, segment_seconds=1, scheduler="local")
    assert result.frames == 90 and result.scheduler.startswith("distributed")
    assert frame_indices(tmp_path / "l.mp4") == list(range(90))


def test_cli_on_cluster_matches_a_sequential_render(
    cluster: LoopbackCluster, long_clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, sequential = tmp_path / "cluster.mp4", tmp_path / "sync.mp4"
    argv = [
        "render",
        str(long_clip),
        "-o",
        str(out),
        "--filters",
        "contrast:1.4,blur:3",
        "--workers",
        "2",
        "--segment-seconds",
        "2",
        "--scheduler",
        cluster.address,
        "--json",
        "--no-progress",
    ]
    assert main(argv) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    # one line about the cluster; a join whose keyframe is sharper than its segment's middle may add its own warning
    said = [line for line in captured.err.splitlines() if line.startswith("renderrush: ") and " pulses: " not in line]
    assert len(said) == 1 and cluster.address in said[0], captured.err
    assert "serves no dashboard" in said[0], "the loopback scheduler runs with --no-dashboard"
    assert 0 < report["input_bytes_to_workers"] <= TRAFFIC_TARGET * long_clip.stat().st_size
    assert report["output_bytes_from_workers"] == sum(s["bytes"] for s in report["segments"]) > 0
    assert sum(report["input_bytes_by_worker"].values()) == report["input_bytes_to_workers"]
    assert set(report["input_bytes_by_worker"]) == {s["worker"] for s in report["segments"]}

    render(long_clip, sequential, "contrast:1.4,blur:3", segment_seconds=2, scheduler="sync")
    cluster_frames, sync_frames = decode_frames(out, "yuv420p"), decode_frames(sequential, "yuv420p")
    assert len(cluster_frames) == len(sync_frames) == 180
    assert all((a == b).all() for a, b in zip(cluster_frames, sync_frames)), "same frames as the sequential render"


@pytest.fixture
def three_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackCluster]:
    """Its own cluster: the test kills a worker."""
    yield from start_cluster(tmp_path_factory.mktemp("cluster"), ("a", "b", "c"))


def test_three_workers_one_killed_exact_output_and_traffic(
    three_workers: LoopbackCluster, videos: Path, tmp_path: Path, slow_filter: str
) -> None:
    """`dask scheduler` plus three `dask worker` processes on 127.0.0.1, each with its own
    local directory and nothing shared; worker b is killed while it renders."""
    clip = make_sample_video(videos / "three.mp4", seconds=20, size=(160, 120), fps=30)
    killed: list[int] = []

    def on_progress(event: ProgressEvent) -> None:
        if not killed and event.frames_done >= 90:
            three_workers.workers["b"].kill()
            killed.append(event.frames_done)

    out = tmp_path / "out.mp4"
    result = render(
        clip, out, slow_filter, workers=3, segment_seconds=2, scheduler=three_workers.address, progress=on_progress
    )
    assert killed and killed[0] < 600, "worker b was killed mid-job"
    assert result.frames == 600 and frame_indices(out) == list(range(600))
    assert stream_codecs(out) == {"video": "h264", "audio": "aac"}
    workers = {s.worker for s in result.segments}
    assert len(workers) >= 2 and all(w.startswith("tcp://127.0.0.1:") for w in workers)
    size = clip.stat().st_size
    sent, back = result.input_bytes_to_workers, result.output_bytes_from_workers
    print(f"input {size} B, sent to workers {sent} B ({sent / size:.2f}x), back {back} B")
    # the killed worker held at most two pieces; they were cut again and sent once more
    assert 0 < result.input_bytes_to_workers <= TRAFFIC_TARGET * size
    for live in ("a", "c"):
        assert not list(three_workers.folder.glob(f"worker-{live}/**/renderrush/*-piece-*")), "pieces are removed"


@pytest.mark.parametrize("gop", ["long", "single"])
def test_long_and_single_keyframe_gops_cross_the_network_once(
    cluster: LoopbackCluster, videos: Path, tmp_path: Path, gop: str
) -> None:
    """x264's default GOP (keyframes at frames 0 and 250 of 360) and a single keyframe, 5 s
    segments asked: segments of whole GOPs, each GOP sent to one worker once (before, 3.6 and
    3.2 times the input went out)."""
    clip = gop_clip(videos, gop)
    out = tmp_path / "out.mp4"
    result = render(clip, out, "grayscale", workers=2, segment_seconds=5, scheduler=cluster.address)
    assert result.frames == 360 and frame_indices(out) == list(range(360))
    size = clip.stat().st_size
    print(
        f"{gop} GOP: input {size} B, sent {result.input_bytes_to_workers} B, by worker {result.input_bytes_by_worker}"
    )
    assert 0 < result.input_bytes_to_workers <= TRAFFIC_TARGET * size
    assert sum(result.input_bytes_by_worker.values()) == result.input_bytes_to_workers
    assert set(result.input_bytes_by_worker) == {s.worker for s in result.segments}
    assert [s.frames for s in sorted(result.segments, key=lambda s: s.index)] == (
        [250, 110] if gop == "long" else [360]
    )
    if gop == "single":
        assert any("allow 1 segment where 2" in w for w in result.warnings), result.warnings


def test_worker_killed_holding_the_only_copy_of_its_piece(
    own_cluster: LoopbackCluster, videos: Path, tmp_path: Path, slow_filter: str
) -> None:
    """Two segments of whole GOPs, one piece on each worker; the worker holding a piece that
    exists nowhere else is killed while it renders it: the piece is cut again and sent to the
    survivor, and the output is complete."""
    cluster = own_cluster
    clip = gop_clip(videos, "long")
    killed: list[str] = []

    def on_progress(event: ProgressEvent) -> None:
        if killed or event.frames_done < 20:
            return
        held = {
            name: {p.name for p in cluster.folder.glob(f"worker-{name}/**/renderrush/*-piece-*")}
            for name in cluster.workers
        }
        for name, pieces in held.items():
            others = set().union(*(held[other] for other in held if other != name))
            if pieces and not pieces & others:
                cluster.workers[name].kill()
                killed.append(name)
                return

    out = tmp_path / "out.mp4"
    result = render(
        clip, out, slow_filter, workers=2, segment_seconds=5, scheduler=cluster.address, progress=on_progress
    )
    assert killed, "a worker holding the only copy of its piece was killed mid-job"
    assert result.frames == 360 and frame_indices(out) == list(range(360))
    survivors = {s.worker for s in result.segments}
    assert len(survivors) == 1, "both segments were rendered by the worker left"
    [survivor] = survivors
    by_worker = result.input_bytes_by_worker
    assert set(by_worker) == {survivor, *by_worker} and len(by_worker) == 2
    assert sum(by_worker.values()) == result.input_bytes_to_workers
    # the survivor received both pieces (about the whole video), the killed worker one of them
    assert by_worker[survivor] > max(v for w, v in by_worker.items() if w != survivor)
    assert result.input_bytes_to_workers <= 2 * clip.stat().st_size


def test_a_scheduler_is_checked_before_a_job(cluster: LoopbackCluster) -> None:
    report = check_scheduler(cluster.address, "h264")
    assert (report.address, report.workers, report.cores, report.dashboard) == (cluster.address, 2, 2, None)
    with pytest.raises(ClusterError) as excinfo:
        check_scheduler(cluster.address, "no-such-codec")
    assert str(excinfo.value).startswith("2 of 2 workers lack the no-such-codec decoder this job needs")


def test_the_panel_runs_a_job_on_its_local_cluster(clip: Path, tmp_path: Path) -> None:
    """ "Run on: local Dask cluster" starts a LocalCluster of the panel's workers, shows its
    workers and cores, and the job runs there with its traffic shown in the results."""
    results = ResultsView(tmp_path)
    panel = ControlPanel(tmp_path, history=False, results=results)
    panel.source.use_file(clip)
    panel.workers.value = 2
    panel.cluster.where.value = LOCAL_CLUSTER
    try:
        report = panel.cluster.check()
        assert (report.workers, report.cores) == (2, 2) and report.address.startswith("tcp://127.0.0.1:")
        assert "2 workers, 2 cores at tcp://127.0.0.1:" in panel.cluster.info.value
        job = panel.render()
        panel.wait(180)
        assert job.result is not None, job.error
        assert job.request["scheduler"] == report.address and job.result.scheduler.startswith("distributed")
        assert job.result.frames == 90 and frame_indices(job.result.output) == list(range(90))
        assert set(job.result.input_bytes_by_worker) == {s.worker for s in job.result.segments}
        assert "Sent to workers" in results.summary.value
    finally:
        panel.cluster.close()
