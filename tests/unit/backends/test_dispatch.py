"""Feeding a cluster from the client (`renderrush.backends.dispatch`), without a cluster.

`keep` writes a returned segment's bytes and timestamps into the job folder and drops the
bytes; `Traffic` counts what crossed the network. `PieceDispatcher` cuts one piece per
segment in order, scatters each to the worker with the most free slots (two per thread)
and pins its task there, falls back to the scheduler's route when a worker cannot be
reached directly, passes over a worker that refused or lost a piece, cuts a lost piece
again (at most `MAX_INPUT_LOSSES` times), raises a segment's error, and cancels what is
still in flight when it stops. `SegmentSubmitter` scatters a whole input once per attempt
(or nothing, with shared storage) and gives up after `MAX_INPUT_LOSSES` losses; `gather`
keeps segments as they finish and resubmits only the ones whose input was lost.

The client is a fake that records what it is asked and decides each task's fate; time
passes only where the dispatcher waits for its futures (the fake then finishes the oldest
task), so every run is deterministic. `distributed` itself is replaced by a stand-in
module (`as_completed`, `FutureCancelledError`, `get_worker`)."""

from __future__ import annotations

import logging
import sys
import threading
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from renderrush import probe
from renderrush.backends import dispatch
from renderrush.backends.base import segment_job
from renderrush.backends.dispatch import PieceDispatcher, SegmentSubmitter, Traffic, gather, keep
from renderrush.backends.remote import (
    InputData,
    forget_input,
    render_piece,
    render_remote_segment,
    render_shared_segment,
)
from renderrush.core.errors import ClusterError, JobCancelledError, SegmentError
from renderrush.jobs.plan import plan_segments
from renderrush.media.cutting import Cutter, Piece
from renderrush.media.encode import EncodeSettings
from renderrush.media.filters import FilterChain
from renderrush.media.probe import VideoInfo
from renderrush.segments.jobfolder import JobFolder
from renderrush.segments.render import SegmentJob, SegmentResult, read_timestamps

from ...support.frames import frame_indices

TOKEN = "0123456789ab"


class FutureCancelledError(Exception):
    """Stands in for `distributed.client.FutureCancelledError`."""


class FakeFuture:
    def __init__(self, key: str, value: Any = None, status: str = "pending") -> None:
        self.key, self.value, self.status = key, value, status
        self.released = False
        self._callbacks: list[Callable[[FakeFuture], None]] = []

    def result(self) -> Any:
        if self.status == "error":
            raise self.value
        return self.value

    def release(self) -> None:
        self.released = True

    def add_done_callback(self, callback: Callable[[FakeFuture], None]) -> None:
        self._callbacks.append(callback)

    def finish(self, status: str, value: Any = None) -> None:
        self.status, self.value = status, value
        for callback in self._callbacks:
            callback(self)


@dataclass
class Task:
    """One `client.submit(render_piece, ...)` as the fake cluster saw it."""

    key: str
    job: SegmentJob
    worker: str
    piece: FakeFuture
    suffix: str
    stream_index: int
    future: FakeFuture
    queued: int
    """Tasks already pending on the worker when this one was submitted."""


Outcome = Callable[[Task], tuple[str, Any]]


def described(task: Task) -> tuple[str, Any]:
    """A finished task: a segment described by bytes that name it."""
    index, frames = task.job.segment.index, task.job.segment.frames
    data = f"segment {index} from {task.worker}".encode()
    return "finished", SegmentResult(index, frames, 0.1, "", len(data), 1, task.worker, data, pts=tuple(range(frames)))


@dataclass
class FakeClient:
    """The few `distributed.Client` methods the dispatcher calls."""

    workers: dict[str, int]
    """Address: threads."""
    outcome: Outcome = described
    unreachable: bool = False
    """Direct connections to workers fail (the client is behind NAT, say)."""
    refusing: set[str] = field(default_factory=set)
    """Workers to which scattering fails by every route."""
    scatters: list[tuple[str, int, bool]] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    cancelled: list[Any] = field(default_factory=list)
    computed: list[list[Any]] = field(default_factory=list)
    ran: list[tuple[Any, ...]] = field(default_factory=list)

    def scheduler_info(self, n_workers: int = 5) -> dict[str, Any]:
        assert n_workers == -1, "every worker, not the first five"
        return {"workers": {address: {"nthreads": n} for address, n in self.workers.items()}}

    def scatter(
        self, data: list[Any], workers: list[str] | None = None, hash: bool = True, direct: bool = False
    ) -> list[Any]:
        assert hash is False  # two jobs' equal pieces must not share a key
        (value,) = data
        self.scatters.append((workers[0] if workers else "", len(getattr(value, "data", value)), direct))
        if workers and (workers[0] in self.refusing or (direct and self.unreachable)):
            raise TimeoutError("connect timed out")
        return [FakeFuture(f"data-{len(self.scatters)}", value, "finished")]

    def submit(
        self,
        fn: Any,
        job: SegmentJob,
        piece: FakeFuture,
        suffix: str,
        stream_index: int,
        token: str,
        *,
        key: str,
        workers: list[str],
        pure: bool,
    ) -> FakeFuture:
        assert fn is render_piece and token == TOKEN and pure is False
        (worker,) = workers
        future = FakeFuture(key)
        queued = sum(1 for t in self.tasks if t.worker == worker and t.future.status == "pending")
        self.tasks.append(Task(key, job, worker, piece, suffix, stream_index, future, queued))
        return future

    def tick(self) -> None:
        """Some time passes: the oldest task that `outcome` ends (not "pending") ends."""
        for task in self.tasks:
            if task.future.status == "pending":
                status, value = self.outcome(task)
                if status != "pending":
                    task.future.finish(status, value)
                    return

    def cancel(self, futures: list[Any]) -> None:
        self.cancelled.extend(futures)

    def compute(self, tasks: list[Any]) -> list[FakeFuture]:
        self.computed.append(tasks)
        return [FakeFuture(task.key) for task in tasks]

    def run(self, *args: Any) -> None:
        self.ran.append(args)


class Waiting:
    """The dispatcher's wake-up event: waiting on it is where time passes."""

    def __init__(self, client: FakeClient) -> None:
        self.client = client

    def wait(self, timeout: float | None = None) -> bool:
        self.client.tick()
        return True

    def set(self) -> None: ...

    def clear(self) -> None: ...


@pytest.fixture
def fake_distributed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    local = tmp_path / "worker-space"
    local.mkdir()
    worker = SimpleNamespace(address="tcp://10.0.0.7:40000", local_directory=str(local))
    module = types.ModuleType("distributed")
    client = types.ModuleType("distributed.client")
    client.FutureCancelledError = FutureCancelledError  # type: ignore[attr-defined]
    module.client = client  # type: ignore[attr-defined]
    module.get_worker = lambda: worker  # type: ignore[attr-defined]
    module.as_completed = lambda futures, with_results=False: [(f, f.value) for f in futures]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "distributed", module)
    monkeypatch.setitem(sys.modules, "distributed.client", client)
    return worker


@pytest.fixture(scope="module")
def info(clip: Path) -> VideoInfo:
    return probe(clip)


@pytest.fixture
def folder(tmp_path: Path) -> JobFolder:
    folder = JobFolder(tmp_path / "o.mp4")
    folder.path.mkdir()
    return folder


def segment_jobs(info: VideoInfo, folder: JobFolder, seconds: float = 1.0) -> list[SegmentJob]:
    encode = EncodeSettings(threads=1)
    return [segment_job(info, s, FilterChain.parse(None), encode, 1, folder) for s in plan_segments(info, seconds)]


def dispatcher(
    client: FakeClient, info: VideoInfo, folder: JobFolder, cancel: threading.Event | None = None
) -> PieceDispatcher:
    made = PieceDispatcher(client, TOKEN, info, folder, Traffic(), cancel)
    made._wake = Waiting(client)  # type: ignore[assignment]
    return made


def test_traffic_starts_at_nothing() -> None:
    assert (Traffic().input_bytes_to_workers, Traffic().output_bytes_from_workers) == (0, 0)


def test_keep_writes_a_returned_segment_and_drops_its_bytes(folder: JobFolder) -> None:
    returned = SegmentResult(3, 2, 0.5, "", 5, 1, "tcp://w:1", b"bytes", pts=(0, 3000))
    kept = keep(returned, folder)
    target = folder.segment_file(3)
    assert target.read_bytes() == b"bytes" and read_timestamps(target) == (0, 3000)
    assert kept == replace(returned, output=str(target), data=None)
    on_disk = SegmentResult(4, 2, 0.5, "/shared/segment.mp4", 5, 1)
    assert keep(on_disk, folder) is on_disk  # written by the worker itself (shared storage)
    assert not folder.segment_file(4).exists()


def test_every_segment_is_cut_sent_to_one_worker_and_kept(info: VideoInfo, folder: JobFolder) -> None:
    client = FakeClient({"tcp://a:1": 1})
    jobs = segment_jobs(info, folder)
    sender = dispatcher(client, info, folder)
    results = sender.run(jobs)
    pieces = list(Cutter(info).pieces((j.segment.index, j.source) for j in jobs))
    assert [t.key for t in client.tasks] == [f"renderrush-{TOKEN}-segment-{i}-0" for i in range(3)]
    assert [t.job for t in client.tasks] == jobs
    for task, piece in zip(client.tasks, pieces):
        assert piece is not None
        assert (task.worker, task.suffix, task.stream_index, task.piece.value) == ("tcp://a:1", ".mov", 0, piece.data)
    assert client.scatters == [("tcp://a:1", len(p.data), True) for p in pieces if p is not None]
    assert sorted(r.index for r in results) == [0, 1, 2]
    for result in results:
        target = folder.segment_file(result.index)
        assert (result.output, result.data) == (str(target), None)
        assert target.read_bytes() == f"segment {result.index} from tcp://a:1".encode()
        assert read_timestamps(target) == tuple(range(30))
    assert sender.traffic.input_bytes_to_workers == sum(len(p.data) for p in pieces if p is not None)
    assert sender.traffic.input_bytes_by_worker == {"tcp://a:1": sender.traffic.input_bytes_to_workers}
    assert sender.traffic.output_bytes_from_workers == sum(len(f"segment {i} from tcp://a:1") for i in range(3))
    assert all(t.future.released and t.piece.released for t in client.tasks), "nothing stays on the cluster"
    assert client.cancelled == []


def test_a_worker_holds_two_pieces_per_thread_and_the_freest_gets_the_next(info: VideoInfo, folder: JobFolder) -> None:
    client = FakeClient({"tcp://a:1": 1, "tcp://b:1": 2})
    results = dispatcher(client, info, folder).run(segment_jobs(info, folder, seconds=1 / 3))
    assert sorted(r.index for r in results) == list(range(9))
    most = {w: 1 + max(t.queued for t in client.tasks if t.worker == w) for w in client.workers}
    assert most == {"tcp://a:1": 2, "tcp://b:1": 4}
    # b has 4 free slots to a's 2: it is filled first, then they alternate while both have room
    assert [t.worker for t in client.tasks[:6]] == [
        "tcp://b:1",
        "tcp://b:1",
        "tcp://a:1",
        "tcp://b:1",
        "tcp://a:1",
        "tcp://b:1",
    ]
    assert [t.job.segment.index for t in client.tasks] == list(range(9)), "pieces go out in the order they are cut"


def test_pieces_rendered_by_the_worker_function_come_back_as_the_segments(
    info: VideoInfo, folder: JobFolder, fake_distributed: SimpleNamespace
) -> None:
    def render_here(task: Task) -> tuple[str, Any]:
        return "finished", render_piece(task.job, task.piece.value, task.suffix, task.stream_index, TOKEN)

    client = FakeClient({"tcp://a:1": 1, "tcp://b:1": 1}, outcome=render_here)
    sender = dispatcher(client, info, folder)
    results = sender.run(segment_jobs(info, folder))
    for result in sorted(results, key=lambda r: r.index):
        start = 30 * result.index
        assert frame_indices(Path(result.output)) == list(range(start, start + 30))
        assert read_timestamps(result.output) == info.frame_pts[start : start + 30]
        assert result.worker == fake_distributed.address
    assert sender.traffic.output_bytes_from_workers == sum(Path(r.output).stat().st_size for r in results)


def test_a_lost_piece_is_cut_again_and_sent_to_another_worker(info: VideoInfo, folder: JobFolder) -> None:
    def first_on_a_is_lost(task: Task) -> tuple[str, Any]:
        return ("cancelled", None) if task is client.tasks[0] else described(task)

    client = FakeClient({"tcp://a:1": 1, "tcp://b:1": 1}, outcome=first_on_a_is_lost)
    sender = dispatcher(client, info, folder)
    results = sender.run(segment_jobs(info, folder))
    lost = client.tasks[0]
    assert lost.worker == "tcp://a:1" and lost.job.segment.index == 0
    again = [t for t in client.tasks if t.job.segment.index == 0][1:]
    assert [(t.key, t.worker) for t in again] == [(f"renderrush-{TOKEN}-segment-0-1", "tcp://b:1")]
    assert again[0].piece.value == lost.piece.value, "the same piece, cut again"
    assert all(t.worker == "tcp://b:1" for t in client.tasks[client.tasks.index(again[0]) :])
    assert sender.losses == {0: 1}
    assert sorted(r.index for r in results) == [0, 1, 2]


def test_a_segment_lost_too_often_stops_the_job(info: VideoInfo, folder: JobFolder) -> None:
    def segment_0_always_lost(task: Task) -> tuple[str, Any]:
        return ("cancelled", None) if task.job.segment.index == 0 else ("pending", None)

    workers = {f"tcp://{name}:1": 1 for name in "abcde"}
    client = FakeClient(workers, outcome=segment_0_always_lost)
    with pytest.raises(ClusterError, match="segment 0 was lost with its worker 4 times; the job was stopped"):
        dispatcher(client, info, folder).run(segment_jobs(info, folder))
    assert len({t.worker for t in client.tasks if t.job.segment.index == 0}) == 4, (
        "never twice to a worker that lost it"
    )
    in_flight = [t for t in client.tasks if t.future.status == "pending"]
    assert in_flight and set(client.cancelled) == {x for t in in_flight for x in (t.future, t.piece)}


def test_a_failed_segment_raises_its_error_and_cancels_the_rest(info: VideoInfo, folder: JobFolder) -> None:
    def segment_0_fails(task: Task) -> tuple[str, Any]:
        return ("error", SegmentError(0, "decoder exploded")) if task.job.segment.index == 0 else described(task)

    client = FakeClient({"tcp://a:1": 2}, outcome=segment_0_fails)
    with pytest.raises(SegmentError, match="segment 0 failed: decoder exploded"):
        dispatcher(client, info, folder).run(segment_jobs(info, folder))
    in_flight = [t for t in client.tasks if t.future.status == "pending"]
    assert [t.job.segment.index for t in in_flight] == [1, 2]
    assert set(client.cancelled) == {x for t in in_flight for x in (t.future, t.piece)}


def test_cancel_stops_dispatching_and_cancels_what_is_in_flight(info: VideoInfo, folder: JobFolder) -> None:
    cancel = threading.Event()

    def cancel_after_first(task: Task) -> tuple[str, Any]:
        cancel.set()
        return described(task)

    client = FakeClient({"tcp://a:1": 1}, outcome=cancel_after_first)
    with pytest.raises(JobCancelledError):
        dispatcher(client, info, folder, cancel).run(segment_jobs(info, folder))
    assert [t.job.segment.index for t in client.tasks] == [0, 1], "no piece is sent once the job is cancelled"
    assert set(client.cancelled) == {client.tasks[1].future, client.tasks[1].piece}


def test_an_unreachable_worker_address_sends_every_later_piece_through_the_scheduler(
    info: VideoInfo, folder: JobFolder
) -> None:
    client = FakeClient({"tcp://a:1": 1}, unreachable=True)
    sender = dispatcher(client, info, folder)
    assert len(sender.run(segment_jobs(info, folder))) == 3
    assert [direct for _, _, direct in client.scatters] == [True, False, False, False]
    assert sender.traffic.input_bytes_to_workers == sum(size for _, size, _ in client.scatters[1:])


def test_a_worker_that_cannot_take_a_piece_is_passed_over(info: VideoInfo, folder: JobFolder) -> None:
    # a has the most free slots, so it is tried first, and fails by both routes
    client = FakeClient({"tcp://a:1": 4, "tcp://b:1": 1}, refusing={"tcp://a:1"})
    sender = dispatcher(client, info, folder)
    results = sender.run(segment_jobs(info, folder))
    assert [(w, direct) for w, _, direct in client.scatters[:3]] == [
        ("tcp://a:1", True),
        ("tcp://a:1", False),
        ("tcp://b:1", False),
    ]
    assert {t.worker for t in client.tasks} == {"tcp://b:1"}
    assert [t.job.segment.index for t in client.tasks] == [0, 1, 2] and len(results) == 3
    assert sender.traffic.input_bytes_to_workers == sum(size for w, size, _ in client.scatters if w == "tcp://b:1")
    assert sender.traffic.input_bytes_by_worker == {"tcp://b:1": sender.traffic.input_bytes_to_workers}


def test_no_workers_for_too_long_stops_the_job(
    info: VideoInfo, folder: JobFolder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dispatch, "NO_WORKERS_TIMEOUT", 0.0)
    monkeypatch.setattr(dispatch, "WORKERS_REFRESH", 0.0)
    client = FakeClient({})
    with pytest.raises(ClusterError, match="the cluster has had no workers for 0 s; the job was stopped"):
        dispatcher(client, info, folder).run(segment_jobs(info, folder))
    assert client.scatters == [] and client.tasks == []


def test_a_piece_that_cannot_be_cut_is_sent_as_the_whole_input(
    info: VideoInfo, folder: JobFolder, clip: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    class SecondUncut(Cutter):
        def pieces(self, sources: Any) -> Iterator[Piece | None]:
            for piece in super().pieces(sources):
                yield None if piece is not None and piece.index == 1 else piece

    monkeypatch.setattr(dispatch, "Cutter", SecondUncut)
    client = FakeClient({"tcp://a:1": 1})
    with caplog.at_level(logging.WARNING, logger="renderrush.backends.cluster"):
        results = dispatcher(client, info, folder).run(segment_jobs(info, folder))
    whole = client.tasks[1]
    assert (whole.suffix, whole.stream_index, whole.piece.value) == (".mp4", info.stream_index, clip.read_bytes())
    assert {(t.suffix, t.stream_index) for t in (client.tasks[0], client.tasks[2])} == {(".mov", 0)}
    assert "segment 1 could not be cut exactly; its worker receives the whole input" in caplog.text
    assert len(results) == 3


def test_with_shared_storage_nothing_is_sent_and_tasks_read_the_path(info: VideoInfo, folder: JobFolder) -> None:
    client, traffic = FakeClient({}), Traffic()
    submitter = SegmentSubmitter(client, TOKEN, info, True, traffic)
    jobs = segment_jobs(info, folder)
    futures = submitter.submit(jobs)
    assert submitter.source is None and client.scatters == []
    assert [f.key for f in futures] == [f"renderrush-{TOKEN}-1-{i}" for i in range(3)]
    (tasks,) = client.computed
    assert [task.key for task in tasks] == [f.key for f in futures]
    submitter.count_copies([SegmentResult(0, 30, 0.1, "", 1, 1, "w1"), SegmentResult(1, 30, 0.1, "", 1, 1, "w2")])
    submitter.forget_input()
    assert (traffic.input_bytes_to_workers, client.ran) == (0, [])


def test_a_whole_input_is_scattered_once_per_attempt_and_at_most_four_times(
    info: VideoInfo, folder: JobFolder, clip: Path
) -> None:
    client, traffic = FakeClient({}), Traffic()
    submitter = SegmentSubmitter(client, TOKEN, info, False, traffic)
    assert submitter.source == InputData.read(clip)
    jobs = segment_jobs(info, folder)
    size = clip.stat().st_size
    for attempt in range(1, 5):
        futures = submitter.submit(jobs[attempt % 3 :])
        assert [f.key for f in futures] == [
            f"renderrush-{TOKEN}-{attempt}-{j.segment.index}" for j in jobs[attempt % 3 :]
        ]
        assert traffic.input_bytes_to_workers == attempt * size
    assert [(worker, nbytes) for worker, nbytes, _ in client.scatters] == [("", size)] * 4
    with pytest.raises(ClusterError, match="the input was lost with its workers 3 times; the job was stopped"):
        submitter.submit(jobs)
    assert len(client.scatters) == 4


def test_every_further_worker_fetches_a_copy_and_the_input_is_forgotten(
    info: VideoInfo, folder: JobFolder, clip: Path
) -> None:
    client, traffic = FakeClient({}), Traffic()
    submitter = SegmentSubmitter(client, TOKEN, info, False, traffic)
    results = [
        SegmentResult(0, 30, 0.1, "", 1, 1, "tcp://a:1"),
        SegmentResult(1, 30, 0.1, "", 1, 1, "tcp://b:1"),
        SegmentResult(2, 30, 0.1, "", 1, 1, "tcp://b:1"),
        SegmentResult(3, 30, 0.1, "", 1, 1, "tcp://c:1"),
        SegmentResult(4, 30, 0.0, "", 1, 0, "", reused=True),  # from an earlier run: no worker fetched anything
    ]
    submitter.count_copies(results)
    assert traffic.input_bytes_to_workers == 2 * clip.stat().st_size
    size = clip.stat().st_size
    assert traffic.input_bytes_by_worker == {"tcp://a:1": size, "tcp://b:1": size, "tcp://c:1": size}
    submitter.forget_input()
    assert submitter.source is not None
    assert client.ran == [(forget_input, f"input-{submitter.source.digest}")]


def test_gather_keeps_segments_and_resubmits_only_those_whose_input_was_lost(
    info: VideoInfo, folder: JobFolder, clip: Path, fake_distributed: SimpleNamespace
) -> None:
    class LosingClient(FakeClient):
        def compute(self, tasks: list[Any]) -> list[FakeFuture]:
            futures = super().compute(tasks)
            for future, task in zip(futures, tasks):
                attempt, index = (int(part) for part in task.key.split("-")[-2:])
                if attempt == 1 and index == 1:
                    future.finish("cancelled", FutureCancelledError(task.key))
                else:
                    data = f"segment {index}".encode()
                    future.finish("finished", SegmentResult(index, 30, 0.1, "", len(data), 1, f"tcp://{index}:1", data))
            return futures

    client, traffic = LosingClient({}), Traffic()
    submitter = SegmentSubmitter(client, TOKEN, info, False, traffic)
    jobs = segment_jobs(info, folder)
    first = submitter.submit(jobs)
    results = gather(first, jobs, submitter, folder)
    assert [[task.key for task in tasks] for tasks in client.computed] == [
        [f"renderrush-{TOKEN}-1-{i}" for i in range(3)],
        [f"renderrush-{TOKEN}-2-1"],
    ]
    assert sorted(r.index for r in results) == [0, 1, 2]
    for result in results:
        assert Path(result.output).read_bytes() == f"segment {result.index}".encode() and result.data is None
    assert all(f.released for f in first)
    size = clip.stat().st_size
    # two scatters (the first and the resubmission), then a copy for each of the two further workers
    assert traffic.input_bytes_to_workers == 2 * size + 2 * size
    assert traffic.output_bytes_from_workers == 3 * len(b"segment 0")


def test_the_submitted_tasks_are_the_worker_functions(info: VideoInfo, folder: JobFolder) -> None:
    shared, remote = FakeClient({}), FakeClient({})
    SegmentSubmitter(shared, TOKEN, info, True, Traffic()).submit(segment_jobs(info, folder)[:1])
    SegmentSubmitter(remote, TOKEN, info, False, Traffic()).submit(segment_jobs(info, folder)[:1])
    ((shared_task,),), ((remote_task,),) = shared.computed, remote.computed
    assert task_function(shared_task) is render_shared_segment
    assert task_function(remote_task) is render_remote_segment


def task_function(delayed: Any) -> Any:
    """The function a one-call `dask.delayed` task runs."""
    graph = dict(delayed.__dask_graph__())
    task = graph[delayed.key]
    return getattr(task, "func", None) or task[0]
