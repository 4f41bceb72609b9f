"""What runs on cluster workers (`renderrush.backends.remote`): the input travels as `InputData`
(name, short digest, bytes); a worker renders a segment from a piece cut for it, from a
whole input it saves once under its digest, or straight from a shared path; it returns
the segment file's bytes (not a path on its own disk) named after its address, leaves
nothing of the task behind, reports progress as throttled events on the job's topic and
stops when the job's cancel event is set; `forget_input` clears a job's leftovers.

The functions run here, in this process: `distributed` is replaced by a stand-in module
whose `get_worker()` is a fake worker with its own local directory and event log."""

from __future__ import annotations

import hashlib
import sys
import types
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from renderrush import probe
from renderrush.backends.base import segment_job
from renderrush.backends.remote import (
    ClusterReporter,
    InputData,
    forget_input,
    render_piece,
    render_remote_segment,
    render_shared_segment,
    worker_folder,
)
from renderrush.core.errors import JobCancelledError, SegmentError
from renderrush.jobs.plan import plan_segments
from renderrush.media.cutting import Cutter
from renderrush.media.encode import EncodeSettings
from renderrush.media.filters import FilterChain
from renderrush.media.probe import VideoInfo
from renderrush.segments import progress as progress_module
from renderrush.segments.jobfolder import JobFolder
from renderrush.segments.render import SegmentJob, read_timestamps

from ...support.frames import frame_indices

TOPIC, CANCEL, TOKEN = "renderrush-progress-t", "renderrush-cancel-t", "0123456789ab"


@dataclass
class FakeWorker:
    address: str
    local_directory: str
    events: list[tuple[str, list[Any]]] = field(default_factory=list)
    cancelled: set[str] = field(default_factory=set)
    """Names of dask Events that are set."""

    def log_event(self, topic: str, message: list[Any]) -> None:
        self.events.append((topic, message))


@pytest.fixture
def worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeWorker:
    local = tmp_path / "worker-space"
    local.mkdir()
    fake = FakeWorker("tcp://10.0.0.7:40000", str(local))
    distributed = types.ModuleType("distributed")
    distributed.get_worker = lambda: fake  # type: ignore[attr-defined]
    distributed.Event = lambda name, client=None: SimpleNamespace(is_set=lambda: name in fake.cancelled)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "distributed", distributed)
    return fake


@pytest.fixture(scope="module")
def info(clip: Path) -> VideoInfo:
    return probe(clip)


def job(info: VideoInfo, folder: Path, index: int) -> SegmentJob:
    """Segment `index` (frames 30*index to 30*index+30) reporting as on a cluster."""
    segment = plan_segments(info, 1.0)[index]
    made = segment_job(
        info, segment, FilterChain.parse(None), EncodeSettings(threads=1), 1, JobFolder(folder / "o.mp4")
    )
    return replace(made, reporter=ClusterReporter(TOPIC, index, CANCEL))


def task_files() -> list[str]:
    """The pieces, inputs and segment files in the worker's folder (not the small timestamp files)."""
    return sorted(p.name for p in worker_folder().iterdir() if not p.name.endswith(".pts.json"))


def frames_of(data: bytes, folder: Path) -> list[int]:
    path = folder / "returned.mp4"
    path.write_bytes(data)
    return frame_indices(path)


def test_input_data_is_the_file_with_its_name_and_short_digest(clip: Path) -> None:
    data = InputData.read(clip)
    assert (data.name, data.data) == ("clip.mp4", clip.read_bytes())
    assert data.digest == hashlib.sha256(clip.read_bytes()).hexdigest()[:16] and len(data.digest) == 16


def test_worker_folder_is_made_inside_the_workers_local_directory(worker: FakeWorker, tmp_path: Path) -> None:
    folder = worker_folder()
    assert folder == Path(worker.local_directory) / "renderrush" and folder.is_dir()
    other = SimpleNamespace(local_directory=str(tmp_path))
    assert worker_folder(other) == tmp_path / "renderrush" and worker_folder(other).is_dir()


def test_a_cut_piece_is_rendered_and_sent_back_as_bytes(worker: FakeWorker, info: VideoInfo, tmp_path: Path) -> None:
    segment = job(info, tmp_path, 1)
    piece = next(Cutter(info).pieces([(1, segment.source)]))
    assert piece is not None
    result = render_piece(segment, piece.data, piece.suffix, 0, TOKEN)
    assert (result.index, result.frames, result.output, result.worker) == (1, 30, "", worker.address)
    assert result.pts == info.frame_pts[30:60]
    assert result.data is not None and result.bytes == len(result.data)
    assert frames_of(result.data, tmp_path) == list(range(30, 60))
    assert task_files() == [], "the piece and the segment file are deleted"
    forget_input(TOKEN, worker)  # what the job runs on every worker when it ends
    assert list(worker_folder().iterdir()) == []
    assert worker.events[0] == (TOPIC, [1, 0, "running"]) and worker.events[-1] == (TOPIC, [1, 30, "done"])


def test_a_piece_that_could_not_be_cut_is_the_whole_input(
    worker: FakeWorker, info: VideoInfo, clip: Path, tmp_path: Path
) -> None:
    result = render_piece(job(info, tmp_path, 2), clip.read_bytes(), ".mp4", info.stream_index, TOKEN)
    assert result.data is not None and frames_of(result.data, tmp_path) == list(range(60, 90))
    assert task_files() == []


def test_a_failed_piece_leaves_nothing_behind(worker: FakeWorker, info: VideoInfo, tmp_path: Path) -> None:
    with pytest.raises(SegmentError, match="segment 0 failed"):
        render_piece(job(info, tmp_path, 0), b"not a video at all", ".mov", 0, TOKEN)
    assert list(worker_folder().iterdir()) == []


def test_a_cancelled_job_stops_the_worker_before_it_renders(
    worker: FakeWorker, info: VideoInfo, tmp_path: Path
) -> None:
    worker.cancelled.add(CANCEL)
    with pytest.raises(JobCancelledError):
        render_piece(job(info, tmp_path, 0), b"", ".mov", 0, TOKEN)
    assert worker.events == [] and list(worker_folder().iterdir()) == []


def test_the_whole_input_is_saved_once_per_worker_under_its_digest(
    worker: FakeWorker, info: VideoInfo, clip: Path, tmp_path: Path
) -> None:
    source = InputData.read(clip)
    first = render_remote_segment(job(info, tmp_path, 0), source, TOKEN)
    saved = worker_folder() / f"input-{source.digest}.mp4"
    assert task_files() == [saved.name], "the input stays for the job's next segments"
    assert saved.read_bytes() == clip.read_bytes()
    # a later task finds the saved copy and does not write the input again
    second = render_remote_segment(job(info, tmp_path, 2), replace(source, data=b"unused"), TOKEN)
    assert saved.read_bytes() == clip.read_bytes()
    for result, frames in ((first, range(0, 30)), (second, range(60, 90))):
        assert (result.output, result.worker) == ("", worker.address)
        assert result.data is not None and frames_of(result.data, tmp_path) == list(frames)


def test_a_worker_keeps_nothing_of_a_whole_input_job_after_its_clean_up(
    worker: FakeWorker, info: VideoInfo, clip: Path, tmp_path: Path
) -> None:
    source = InputData.read(clip)
    render_remote_segment(job(info, tmp_path, 0), source, TOKEN)
    forget_input(f"input-{source.digest}", worker)  # what SegmentSubmitter.forget_input runs when the job ends
    assert sorted(p.name for p in worker_folder().iterdir()) == []


def test_with_shared_storage_the_segment_is_written_into_the_job_folder(
    worker: FakeWorker, info: VideoInfo, tmp_path: Path
) -> None:
    segment = job(info, tmp_path, 1)
    Path(segment.output).parent.mkdir()
    result = render_shared_segment(segment)
    assert (result.output, result.data, result.worker) == (segment.output, None, worker.address)
    assert frame_indices(Path(segment.output)) == list(range(30, 60))
    assert read_timestamps(segment.output) == info.frame_pts[30:60]
    assert list(worker_folder().iterdir()) == []


def test_progress_events_are_throttled_unless_forced(worker: FakeWorker, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr(progress_module, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    reporter = ClusterReporter(TOPIC, 4, CANCEL)
    reporter.update(0, force=True)
    reporter.update(5)  # too soon after the last event
    clock[0] += 1.0
    reporter.update(9)
    reporter.update(10, "done", force=True)
    assert worker.events == [(TOPIC, [4, 0, "running"]), (TOPIC, [4, 9, "running"]), (TOPIC, [4, 10, "done"])]
    worker.cancelled.add(CANCEL)
    reporter.update(12)  # throttled: not even the cancel event is asked
    with pytest.raises(JobCancelledError):
        reporter.update(12, force=True)
    assert len(worker.events) == 3


def test_forget_input_deletes_only_what_starts_with_the_prefix(worker: FakeWorker) -> None:
    dask_worker = SimpleNamespace(local_directory=worker.local_directory)  # as `client.run` passes it
    folder = worker_folder(dask_worker)
    for name in ("input-abc.mp4", "input-abc.mp4.tmp", "tok-piece-00001.mov", "input-def.mp4"):
        (folder / name).write_bytes(b"x")
    forget_input("input-abc", dask_worker)
    assert sorted(p.name for p in folder.iterdir()) == ["input-def.mp4", "tok-piece-00001.mov"]
    forget_input("tok", dask_worker)
    assert sorted(p.name for p in folder.iterdir()) == ["input-def.mp4"]
