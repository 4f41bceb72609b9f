"""Running a job on a dask cluster (`renderrush.backends.cluster`), without a cluster.

`connect` uses a given `distributed.Client` as it is and leaves it open, starts a
LocalCluster of one-thread processes for "local", and opens (then closes) a connection to
an address; a scheduler it cannot reach is a `ClusterError` that names the address and
says how to start one. Connecting logs the scheduler and its dashboard link, or that it
serves none. `ClusterStatus` is the progress source fed by the job's event topic (a
finished segment stays finished) and sends cancel requests as the job's dask `Event`;
`WorkerMetrics` samples every worker's CPU and memory, at least once per job.
`DaskBackend.run` hands `run_on_cluster` the jobs at the machine's threads per worker and
reports what it returns. `run_on_cluster` gives every job its own progress topic and
cancel event, feeds a cuttable source piece by piece (`PieceDispatcher`) and anything
else through a `SegmentSubmitter`, stitches what came back with the reused segments,
turns dying workers into a `ClusterError`, stops before stitching once cancelled, and
always unsubscribes, cancels what is in flight and clears the workers' leftovers.

`distributed` is replaced by a stand-in module (`Client`, `LocalCluster`, `Event`,
`get_worker`, `scheduler.KilledWorker`); the dispatcher, submitter and `gather` of
`dispatch.py` (tested in test_dispatch.py) are replaced by fakes that render each segment
here with the real worker function, so segments report through the job's topic and the
output is real video."""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from renderrush import make_sample_video, probe
from renderrush.backends import cluster
from renderrush.backends.base import BackendRun, Work, reused_result, segment_job
from renderrush.backends.cluster import (
    CONNECT_TIMEOUT,
    METRICS_INTERVAL,
    ClusterStatus,
    DaskBackend,
    WorkerMetrics,
    announce,
    connect,
    dashboard_link,
    run_on_cluster,
)
from renderrush.backends.dispatch import Traffic
from renderrush.backends.remote import ClusterReporter, forget_input, render_shared_segment
from renderrush.core import resources as resources_module
from renderrush.core.errors import ClusterError, JobCancelledError, JobError, SegmentError
from renderrush.core.layout import stitch_marker
from renderrush.jobs.plan import plan_segments
from renderrush.media.cutting import cuttable
from renderrush.media.encode import EncodeSettings
from renderrush.media.filters import FilterChain
from renderrush.media.probe import VideoInfo
from renderrush.segments.jobfolder import JobFolder
from renderrush.segments.progress import DONE, SEGMENT_FINISHED, STITCHED, STITCHING, ProgressEvent
from renderrush.segments.render import SegmentJob, SegmentResult, render_segment

from ...support.frames import frame_indices

ADDRESS = "tcp://10.0.0.5:8786"
WORKER = "tcp://10.0.0.7:40000"
DASHBOARD = "http://10.0.0.5:8787/status"
PIECE_BYTES = 1000
"""Input bytes the fake dispatcher counts as sent for each segment."""


class KilledWorker(Exception):
    """Stands in for `distributed.scheduler.KilledWorker`."""


class FakeLocalCluster:
    def __init__(self, **options: Any) -> None:
        self.options, self.closed = options, False

    def __enter__(self) -> FakeLocalCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.closed = True


class FakeClient:
    """The `distributed.Client` methods `cluster.py` calls. Made through `FakeDask.Client`,
    the stand-in module's class, so `isinstance(client, distributed.Client)` holds."""

    dask: FakeDask

    def __init__(self, address: Any, timeout: str | None = None) -> None:
        refusal = self.dask.refused.get(address) if isinstance(address, str) else None
        if refusal is not None:
            raise refusal
        self.address, self.timeout = address, timeout
        self.scheduler = SimpleNamespace(address=address if isinstance(address, str) else "tcp://127.0.0.1:40000")
        self.dashboard_link = DASHBOARD
        self.serves_dashboard: bool | Exception = False
        self.workers: dict[str, Any] = {WORKER: {"metrics": {"cpu": 87.5, "memory": 250_000_000}}}
        self.subscribed: list[tuple[str, Callable[[Any], None]]] = []
        self.unsubscribed: list[str] = []
        self.cancelled: list[list[Any]] = []
        self.ran: list[tuple[Any, ...]] = []
        self.closed = False
        self.dask.clients.append(self)

    def __enter__(self) -> FakeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.closed = True

    def run_on_scheduler(self, function: Callable[..., Any]) -> Any:
        assert function is cluster._serves_dashboard
        if isinstance(self.serves_dashboard, Exception):
            raise self.serves_dashboard
        return self.serves_dashboard

    def scheduler_info(self, n_workers: int = 5) -> dict[str, Any]:
        assert n_workers == -1, "every worker, not the first five"
        return {"workers": self.workers}

    def subscribe_topic(self, topic: str, handler: Callable[[Any], None]) -> None:
        self.subscribed.append((topic, handler))
        self.dask.topics[topic] = handler

    def unsubscribe_topic(self, topic: str) -> None:
        self.unsubscribed.append(topic)
        self.dask.topics.pop(topic, None)

    def cancel(self, futures: list[Any]) -> None:
        self.cancelled.append(list(futures))

    def run(self, *args: Any) -> None:
        self.ran.append(args)

    @property
    def token(self) -> str:
        """The job token in the name of the (first) topic this client was subscribed to."""
        topic = self.subscribed[0][0]
        assert re.fullmatch(r"renderrush-progress-[0-9a-f]{12}", topic), topic
        return topic.removeprefix("renderrush-progress-")


class FakeWorker:
    """What `get_worker()` returns: its events go to the handler subscribed to their topic,
    the way the scheduler forwards a worker's `log_event` to subscribed clients."""

    def __init__(self, dask: FakeDask) -> None:
        self.dask, self.address = dask, WORKER
        self.events: list[tuple[str, list[Any]]] = []

    def log_event(self, topic: str, message: list[Any]) -> None:
        self.events.append((topic, message))
        handler = self.dask.topics.get(topic)
        if handler is not None:
            handler((time.time(), message))


class FakeDask:
    """The state behind the stand-in `distributed` module."""

    def __init__(self) -> None:
        self.refused: dict[str, BaseException] = {}
        """Address: what connecting to it raises."""
        self.clients: list[FakeClient] = []
        self.clusters: list[FakeLocalCluster] = []
        self.topics: dict[str, Callable[[Any], None]] = {}
        self.events_set: set[str] = set()
        self.set_by: list[tuple[str, Any]] = []
        """(name, client) of every `Event(name, client=client).set()`."""
        self.worker = FakeWorker(self)
        self.Client = type("Client", (FakeClient,), {"dask": self})

    def local_cluster(self, **options: Any) -> FakeLocalCluster:
        made = FakeLocalCluster(**options)
        self.clusters.append(made)
        return made

    def event(self, name: str, client: Any = None) -> SimpleNamespace:
        def set_event() -> None:
            self.set_by.append((name, client))
            self.events_set.add(name)

        return SimpleNamespace(set=set_event, is_set=lambda: name in self.events_set)

    def client(self, address: str = ADDRESS) -> FakeClient:
        """A client the caller made and passes in."""
        return self.Client(address)


@pytest.fixture
def dask(monkeypatch: pytest.MonkeyPatch) -> FakeDask:
    fake = FakeDask()
    module = types.ModuleType("distributed")
    scheduler = types.ModuleType("distributed.scheduler")
    scheduler.KilledWorker = KilledWorker  # type: ignore[attr-defined]
    module.scheduler = scheduler  # type: ignore[attr-defined]
    module.Client = fake.Client  # type: ignore[attr-defined]
    module.LocalCluster = fake.local_cluster  # type: ignore[attr-defined]
    module.Event = fake.event  # type: ignore[attr-defined]
    module.get_worker = lambda: fake.worker  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "distributed", module)
    monkeypatch.setitem(sys.modules, "distributed.scheduler", scheduler)
    return fake


@dataclass
class FakeFeeder:
    """What `run_on_cluster` handed a stand-in dispatcher, or a stand-in submitter and gather."""

    client: Any
    token: str
    info: VideoInfo
    traffic: Traffic
    cancel: threading.Event | None = None
    shared_storage: bool | None = None
    folder: JobFolder | None = None
    jobs: list[SegmentJob] | None = None
    submitted: list[list[SegmentJob]] = field(default_factory=list)
    futures: list[str] = field(default_factory=list)
    forgotten: bool = False


@dataclass
class Rendering:
    """Stand-ins for `PieceDispatcher`, `SegmentSubmitter` and `gather`: they record what
    they are given and render each job here with the worker function, as a worker would."""

    dispatchers: list[FakeFeeder] = field(default_factory=list)
    submitters: list[FakeFeeder] = field(default_factory=list)
    before_each: Callable[[SegmentJob], None] | None = None
    after_all: Callable[[], None] | None = None
    submit_error: BaseException | None = None

    def render(self, jobs: list[SegmentJob], traffic: Traffic) -> list[SegmentResult]:
        results = []
        for job in jobs:
            if self.before_each is not None:
                self.before_each(job)
            result = render_shared_segment(job)
            traffic.input_bytes_to_workers += PIECE_BYTES
            traffic.output_bytes_from_workers += result.bytes
            results.append(result)
        if self.after_all is not None:
            self.after_all()
        return results

    def dispatcher(
        self, client: Any, token: str, info: VideoInfo, folder: JobFolder, traffic: Traffic, cancel: Any
    ) -> SimpleNamespace:
        feeder = FakeFeeder(client, token, info, traffic, cancel=cancel, folder=folder)
        self.dispatchers.append(feeder)

        def run(jobs: list[SegmentJob]) -> list[SegmentResult]:
            feeder.jobs = jobs
            return self.render(jobs, traffic)

        return SimpleNamespace(run=run)

    def submitter(self, client: Any, token: str, info: VideoInfo, shared_storage: bool, traffic: Traffic) -> Any:
        feeder = FakeFeeder(client, token, info, traffic, shared_storage=shared_storage)
        self.submitters.append(feeder)

        def submit(jobs: list[SegmentJob]) -> list[str]:
            if self.submit_error is not None:
                raise self.submit_error
            feeder.submitted.append(jobs)
            feeder.futures = [f"future-{job.segment.index}" for job in jobs]
            return feeder.futures

        def forget() -> None:
            feeder.forgotten = True

        return SimpleNamespace(feeder=feeder, submit=submit, forget_input=forget)

    def gather(self, futures: list[str], jobs: list[SegmentJob], submitter: Any, folder: JobFolder) -> Any:
        feeder = submitter.feeder
        assert futures is feeder.futures or futures == []
        feeder.jobs, feeder.folder = jobs, folder
        return self.render(jobs, feeder.traffic)


@pytest.fixture
def rendering(dask: FakeDask, monkeypatch: pytest.MonkeyPatch) -> Rendering:
    fake = Rendering()
    monkeypatch.setattr(cluster, "PieceDispatcher", fake.dispatcher)
    monkeypatch.setattr(cluster, "SegmentSubmitter", fake.submitter)
    monkeypatch.setattr(cluster, "gather", fake.gather)
    return fake


@pytest.fixture(scope="module")
def info(videos: Path) -> VideoInfo:
    """3 s at 10 fps, 64x48: three 1 s segments of 10 frames."""
    return probe(make_sample_video(videos / "cluster-unit.mp4", seconds=3, size=(64, 48), fps=10))


def make_work(
    info: VideoInfo, tmp_path: Path, reused: int = 0, events: list[ProgressEvent] | None = None, workers: int = 2
) -> Work:
    """The job's Work; its first `reused` segments were rendered by an earlier run."""
    output = tmp_path / "out.mp4"
    folder = JobFolder(output)
    folder.path.mkdir()
    segments = plan_segments(info, 1.0)
    chain, encode = FilterChain.parse(None), EncodeSettings(threads=1)
    done = []
    for segment in segments[:reused]:
        render_segment(segment_job(info, segment, chain, encode, 1, folder))
        done.append(reused_result(segment, folder))
    return Work(
        info=info,
        chain=chain,
        encode=encode,
        workers=workers,
        segments=segments,
        pending=segments[reused:],
        reused=done,
        folder=folder,
        output=output,
        progress=events.append if events is not None else None,
        label="unit",
    )


def renderrush_threads() -> list[str]:
    """The poller's and the metrics sampler's threads still alive."""
    names = {"renderrush-progress", "renderrush-worker-metrics"}
    return [t.name for t in threading.enumerate() if t.name in names]


def assert_cleaned_up(client: FakeClient, feeder: FakeFeeder) -> None:
    """What `run_on_cluster` leaves the cluster however the job ends."""
    token = client.token
    assert client.unsubscribed == [f"renderrush-progress-{token}"]
    if feeder.shared_storage is None:  # pieces: the workers drop whatever the job left
        assert client.cancelled == [[]] and client.ran == [(forget_input, token)]
    else:  # a submitted job: its tasks are cancelled and the submitter forgets its input
        assert client.cancelled == [feeder.futures] and feeder.forgotten and client.ran == []
    assert renderrush_threads() == []


# connect ------------------------------------------------------------------------------


def test_a_client_is_used_as_given_and_left_open(dask: FakeDask, caplog: pytest.LogCaptureFixture) -> None:
    given = dask.client()
    with caplog.at_level(logging.INFO, logger="renderrush.backends.cluster"), connect(given, 4) as client:
        assert client is given
    assert not given.closed, "the caller's client stays open"
    assert dask.clients == [given] and dask.clusters == []
    assert [r.getMessage() for r in caplog.records] == [
        f"connected to {ADDRESS}; it serves no dashboard (it needs bokeh installed and no --no-dashboard)"
    ]


def test_an_address_is_connected_for_the_block_and_closed_after(
    dask: FakeDask, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="renderrush.backends.cluster"), connect(ADDRESS, 2) as client:
        assert (client.address, client.timeout, client.closed) == (ADDRESS, CONNECT_TIMEOUT, False)
    assert client.closed and dask.clients == [client] and dask.clusters == []
    assert len(caplog.records) == 1 and ADDRESS in caplog.records[0].getMessage()
    with pytest.raises(SegmentError, match="segment 2 failed: boom"), connect(ADDRESS, 2) as failing:
        raise SegmentError(2, "boom")
    assert failing.closed, "closed when the job fails too"


def test_local_starts_a_local_cluster_of_one_thread_processes(dask: FakeDask) -> None:
    with connect("local", 3) as client:
        (local,) = dask.clusters
        assert local.options == dict(
            n_workers=3, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.ERROR
        )
        assert client.address is local and not (client.closed or local.closed)
    assert client.closed and local.closed


@pytest.mark.parametrize(
    ("address", "error"),
    [
        # what distributed raises for each (checked against distributed 2026.8)
        ("tcp://127.0.0.1:1", OSError("Timed out trying to connect to tcp://127.0.0.1:1 after 10 s")),
        ("tcp://10.0.0.5:8786", TimeoutError("timed out")),
        ("htp://127.0.0.1:8786", ValueError("unknown address scheme 'htp'")),
        ("10.0.0.5:8786x", ValueError("invalid literal for int() with base 10: '8786x'")),
    ],
)
def test_an_unreachable_scheduler_is_a_cluster_error_naming_it(
    dask: FakeDask, address: str, error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    dask.refused[address] = error
    with (
        caplog.at_level(logging.INFO, logger="renderrush.backends.cluster"),
        pytest.raises(ClusterError) as caught,
        connect(address, 2),
    ):
        pytest.fail("the block must not run")
    assert str(caught.value) == (
        f"cannot reach a dask scheduler at '{address}' ({error}); start one with `dask scheduler` "
        "and pass its address, e.g. tcp://127.0.0.1:8786"
    )
    assert isinstance(caught.value, JobError)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__, "no chained dask traceback"
    assert caplog.records == [] and dask.clients == []


def test_other_errors_from_connecting_are_not_reworded(dask: FakeDask) -> None:
    dask.refused[ADDRESS] = RuntimeError("event loop closed")
    with pytest.raises(RuntimeError, match="^event loop closed$"), connect(ADDRESS, 2):
        pytest.fail("the block must not run")


# dashboard and announce ---------------------------------------------------------------


def test_serves_dashboard_is_whether_the_scheduler_imported_its_dashboard(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "distributed.dashboard.scheduler", raising=False)
    assert cluster._serves_dashboard() is False
    monkeypatch.setitem(sys.modules, "distributed.dashboard.scheduler", types.ModuleType("dashboard"))
    assert cluster._serves_dashboard(dask_scheduler=object()) is True


@pytest.mark.parametrize(
    ("serves", "expected"),
    [(True, DASHBOARD), (False, None), (OSError("scheduler busy"), None), (KeyError("run_on_scheduler"), None)],
)
def test_dashboard_link_only_when_the_scheduler_serves_one(
    dask: FakeDask, serves: bool | Exception, expected: str | None
) -> None:
    client = dask.client()
    client.serves_dashboard = serves
    assert dashboard_link(client) == expected


@pytest.mark.parametrize(
    ("serves", "scheduler", "message"),
    [
        (True, ADDRESS, f"dask dashboard: {DASHBOARD} (scheduler {ADDRESS})"),
        (
            False,
            ADDRESS,
            f"connected to {ADDRESS}; it serves no dashboard (it needs bokeh installed and no --no-dashboard)",
        ),
        (
            RuntimeError("no answer"),
            "",
            "connected to the scheduler; it serves no dashboard (it needs bokeh installed and no --no-dashboard)",
        ),
    ],
)
def test_announce_logs_the_scheduler_and_its_dashboard(
    dask: FakeDask, serves: bool | Exception, scheduler: str, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = dask.client()
    client.serves_dashboard, client.scheduler.address = serves, scheduler
    with caplog.at_level(logging.INFO, logger="renderrush.backends.cluster"):
        announce(client)
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("renderrush.backends.cluster", logging.INFO, message)
    ]


# ClusterStatus ------------------------------------------------------------------------


def test_cluster_status_keeps_the_latest_report_and_a_finished_segment_stays_finished(tmp_path: Path) -> None:
    status = ClusterStatus(tmp_path, "renderrush-cancel-t", client=None)
    assert status() == {}
    for message in ([0, 0, "running"], [1, 4, "running"], [0, 7, "running"], [0, 10, DONE], [1, 6, "running"]):
        status.handle((1.0, message))
    assert status() == {0: (10, DONE), 1: (6, "running")}
    # a late report of a finished segment (an earlier attempt, re-run elsewhere) changes nothing
    status.handle((2.0, [0, 3, "running"]))
    status.handle((2.0, [0, 0, "running"]))
    assert status() == {0: (10, DONE), 1: (6, "running")}
    snapshot = status()
    snapshot[1] = (99, DONE)
    assert status()[1] == (6, "running"), "callers get a copy"


def test_cluster_status_stitching_is_the_stitch_marker(tmp_path: Path) -> None:
    status = ClusterStatus(tmp_path, "renderrush-cancel-t", client=None)
    assert not status.stitching()
    stitch_marker(tmp_path).touch()
    assert status.stitching()


def test_cluster_status_cancels_through_the_jobs_dask_event(dask: FakeDask, tmp_path: Path) -> None:
    client = dask.client()
    status = ClusterStatus(tmp_path, "renderrush-cancel-0123456789ab", client)
    status.request_cancel()
    assert dask.set_by == [("renderrush-cancel-0123456789ab", client)]
    # what a worker's reporter then sees
    with pytest.raises(JobCancelledError):
        ClusterReporter("renderrush-progress-0123456789ab", 0, "renderrush-cancel-0123456789ab").update(0, force=True)
    assert dask.worker.events == []


# WorkerMetrics ------------------------------------------------------------------------


def test_worker_metrics_sample_every_worker(dask: FakeDask) -> None:
    client = dask.client()
    client.workers = {
        "tcp://a:1": {"metrics": {"cpu": 37.5, "memory": 123_456}, "nthreads": 2},
        "tcp://b:1": {"nthreads": 1},  # a worker that has not reported metrics yet
    }
    metrics = WorkerMetrics(client)
    assert metrics.interval == METRICS_INTERVAL
    metrics._sample()
    metrics._sample()
    assert [{k: v for k, v in s.items() if k != "t"} for s in metrics.samples] == 2 * [
        {"worker": "tcp://a:1", "cpu_percent": 37.5, "memory": 123_456},
        {"worker": "tcp://b:1", "cpu_percent": 0.0, "memory": 0},
    ]
    times = [s["t"] for s in metrics.samples]
    assert times[0] == times[1] <= times[2] == times[3] and times[0] >= 0, "one time per sample of all workers"


def test_a_busy_scheduler_skips_a_sample(dask: FakeDask, monkeypatch: pytest.MonkeyPatch) -> None:
    client = dask.client()
    answers: list[Any] = [OSError("scheduler busy"), {"workers": client.workers}]
    monkeypatch.setattr(client, "scheduler_info", lambda n_workers: _answer(answers.pop(0)))
    metrics = WorkerMetrics(client)
    metrics._sample()
    assert metrics.samples == []
    metrics._sample()
    assert [s["worker"] for s in metrics.samples] == [WORKER]


def _answer(value: Any) -> Any:
    if isinstance(value, Exception):
        raise value
    return value


def test_a_job_shorter_than_the_interval_still_samples_its_workers(dask: FakeDask) -> None:
    client = dask.client()
    with WorkerMetrics(client, interval=3600) as metrics:
        assert metrics._sampler.running
    assert not metrics._sampler.running and metrics._sampler.error is None
    assert [(s["worker"], s["cpu_percent"], s["memory"]) for s in metrics.samples] == [(WORKER, 87.5, 250_000_000)]


# DaskBackend ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shared_storage", "scheduler"),
    [(False, "distributed (no shared storage)"), (True, "distributed (shared storage)")],
)
def test_dask_backend_runs_the_jobs_at_the_machines_threads_per_worker(
    info: VideoInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_storage: bool, scheduler: str
) -> None:
    calls: list[tuple[Any, ...]] = []
    results = [SegmentResult(i, 10, 0.1, f"s{i}.mp4", 100, 1, WORKER) for i in range(3)]
    samples = [{"t": 0.1, "worker": WORKER, "cpu_percent": 50.0, "memory": 1}]

    def fake_run(*args: Any) -> tuple[Any, ...]:
        calls.append(args)
        return results, 1.5, ["chapters"], samples, Traffic(10, 20)

    monkeypatch.setattr(cluster, "run_on_cluster", fake_run)
    monkeypatch.setattr(resources_module, "available_cores", lambda: 8)
    work, cancel = make_work(info, tmp_path, workers=4), threading.Event()
    run = DaskBackend(ADDRESS, shared_storage).run(work, cancel)
    assert run == BackendRun(
        results,
        1.5,
        ["chapters"],
        scheduler=scheduler,
        workers=4,
        threads_per_worker=2,
        worker_metrics=samples,
        input_bytes_to_workers=10,
        output_bytes_from_workers=20,
    )
    ((address, given_work, jobs, given_cancel, shared),) = calls
    assert (address, given_work, given_cancel, shared) == (ADDRESS, work, cancel, shared_storage)
    assert [(j.segment, j.threads, j.output) for j in jobs] == [
        (s, 2, str(work.folder.segment_file(s.index))) for s in work.pending
    ]


# run_on_cluster -----------------------------------------------------------------------


def test_a_cuttable_source_is_sent_in_pieces_and_the_segments_stitched(
    dask: FakeDask, rendering: Rendering, info: VideoInfo, tmp_path: Path
) -> None:
    assert cuttable(info)
    client, events = dask.client(), list[ProgressEvent]()
    work = make_work(info, tmp_path, events=events)
    jobs = work.jobs(1)
    results, stitch_seconds, dropped, metrics, traffic = run_on_cluster(client, work, jobs, None, False)

    assert frame_indices(work.output) == list(range(30))
    assert [(r.index, r.frames, r.output, r.worker) for r in results] == [
        (i, 10, str(work.folder.segment_file(i)), WORKER) for i in range(3)
    ]
    assert dropped == [] and stitch_seconds >= 0
    token = client.token
    topic, cancel_name = f"renderrush-progress-{token}", f"renderrush-cancel-{token}"
    (feeder,) = rendering.dispatchers
    assert rendering.submitters == []
    assert (feeder.client, feeder.token, feeder.info, feeder.folder, feeder.cancel) == (
        client,
        token,
        work.info,
        work.folder,
        None,
    )
    assert feeder.traffic is traffic
    assert (traffic.input_bytes_to_workers, traffic.output_bytes_from_workers) == (
        3 * PIECE_BYTES,
        sum(r.bytes for r in results),
    )
    # each job reports on the job's topic and listens to its cancel event; nothing else changed
    assert feeder.jobs is not None and len(feeder.jobs) == 3
    for sent, job in zip(feeder.jobs, jobs):
        assert isinstance(sent.reporter, ClusterReporter)
        assert (sent.reporter.topic, sent.reporter.index, sent.reporter.cancel_name) == (
            topic,
            job.segment.index,
            cancel_name,
        )
        assert (sent.segment, sent.source, sent.output, sent.threads) == (job.segment, job.source, job.output, 1)
    # the workers' events reached the job's status source through the topic
    ((subscribed, handler),) = client.subscribed
    status = handler.__self__  # type: ignore[attr-defined]
    assert subscribed == topic and isinstance(status, ClusterStatus)
    assert (status.folder, status.cancel_name, status.client) == (work.folder.path, cancel_name, client)
    assert status() == {i: (10, DONE) for i in range(3)}
    assert {tuple(m) for t, m in dask.worker.events if t == topic} >= {(i, 10, DONE) for i in range(3)}
    # progress ends with every segment finished, then stitching, then stitched
    assert {e.segment for e in events if e.kind == SEGMENT_FINISHED} == {0, 1, 2}
    kinds = [e.kind for e in events]
    assert kinds[-1] == STITCHED and STITCHING in kinds
    last = events[-1]
    assert (last.frames_done, last.frames_total, last.segments_done, last.job) == (30, 30, 3, "unit")
    assert [(m["worker"], m["cpu_percent"], m["memory"]) for m in metrics][:1] == [(WORKER, 87.5, 250_000_000)]
    assert not client.closed, "the caller's client stays open"
    assert_cleaned_up(client, feeder)


@pytest.mark.parametrize("scheduler", [ADDRESS, "local"])
def test_the_job_connects_to_a_scheduler_by_name_and_closes_after(
    dask: FakeDask, rendering: Rendering, info: VideoInfo, tmp_path: Path, scheduler: str
) -> None:
    work = make_work(info, tmp_path, workers=3)
    results, *_ = run_on_cluster(scheduler, work, work.jobs(1), None, False)
    assert len(results) == 3 and frame_indices(work.output) == list(range(30))
    (client,) = dask.clients
    (feeder,) = rendering.dispatchers
    assert feeder.client is client and client.closed
    if scheduler == "local":
        (local,) = dask.clusters
        assert local.options["n_workers"] == 3 and local.closed
    else:
        assert client.address == ADDRESS and dask.clusters == []
    assert_cleaned_up(client, feeder)


def test_an_unreachable_scheduler_stops_the_job_before_anything_runs(
    dask: FakeDask, rendering: Rendering, info: VideoInfo, tmp_path: Path
) -> None:
    dask.refused[ADDRESS] = OSError(f"Timed out trying to connect to {ADDRESS} after 10 s")
    work = make_work(info, tmp_path)
    with pytest.raises(ClusterError, match=f"^cannot reach a dask scheduler at '{ADDRESS}'"):
        run_on_cluster(ADDRESS, work, work.jobs(1), None, False)
    assert rendering.dispatchers == rendering.submitters == [] and dask.worker.events == []
    assert not work.output.exists()


@pytest.mark.parametrize("why", ["shared storage", "not cuttable"])
def test_otherwise_the_jobs_are_submitted_and_gathered(
    dask: FakeDask, rendering: Rendering, info: VideoInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, why: str
) -> None:
    shared_storage = why == "shared storage"
    if not shared_storage:
        monkeypatch.setattr(cluster, "cuttable", lambda checked: checked is not info)
    client = dask.client()
    work = make_work(info, tmp_path)
    results, _, _, _, traffic = run_on_cluster(client, work, work.jobs(1), None, shared_storage)
    assert frame_indices(work.output) == list(range(30)) and [r.index for r in results] == [0, 1, 2]
    assert rendering.dispatchers == []
    (feeder,) = rendering.submitters
    assert (feeder.client, feeder.token, feeder.info, feeder.shared_storage) == (
        client,
        client.token,
        info,
        shared_storage,
    )
    assert feeder.traffic is traffic and traffic.input_bytes_to_workers == 3 * PIECE_BYTES
    (submitted,) = feeder.submitted
    assert submitted is feeder.jobs, "gather waits for the jobs that were submitted"
    assert [j.reporter.cancel_name for j in submitted] == [f"renderrush-cancel-{client.token}"] * 3  # type: ignore[union-attr]
    assert feeder.folder is work.folder
    assert feeder.futures == ["future-0", "future-1", "future-2"]
    assert_cleaned_up(client, feeder)


def test_reused_segments_count_as_finished_and_only_the_rest_are_sent(
    dask: FakeDask, rendering: Rendering, info: VideoInfo, tmp_path: Path
) -> None:
    client, events = dask.client(), list[ProgressEvent]()
    work = make_work(info, tmp_path, reused=1, events=events)
    seen: list[dict[int, Any]] = []
    rendering.before_each = lambda job: seen.append(dask.topics[f"renderrush-progress-{client.token}"].__self__())  # type: ignore[attr-defined]
    results, *_ = run_on_cluster(client, work, work.jobs(1), None, False)
    assert seen[0] == {0: (10, DONE)}, "the reused segment is finished before any worker reports"
    (feeder,) = rendering.dispatchers
    assert feeder.jobs is not None and [j.segment.index for j in feeder.jobs] == [1, 2]
    assert [(r.index, r.reused) for r in results] == [(0, True), (1, False), (2, False)]
    assert frame_indices(work.output) == list(range(30))
    last = events[-1]
    assert (last.kind, last.frames_done, last.frames_reused, last.segments_done) == (STITCHED, 30, 10, 3)


def test_a_job_with_every_segment_reused_submits_nothing(
    dask: FakeDask, rendering: Rendering, info: VideoInfo, tmp_path: Path
) -> None:
    client = dask.client()
    work = make_work(info, tmp_path, reused=3)
    results, *_ = run_on_cluster(client, work, work.jobs(1), None, True)
    assert work.jobs(1) == [] and [(r.index, r.reused) for r in results] == [(0, True), (1, True), (2, True)]
    (feeder,) = rendering.submitters
    assert feeder.submitted == [] and feeder.jobs == []
    assert frame_indices(work.output) == list(range(30))
    assert_cleaned_up(client, feeder)


def test_every_job_has_its_own_topic_and_cancel_event(
    dask: FakeDask, rendering: Rendering, info: VideoInfo, tmp_path: Path
) -> None:
    client = dask.client()
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        work = make_work(info, tmp_path / name, reused=3)
        run_on_cluster(client, work, [], None, False)
    (first, _), (second, _) = client.subscribed
    assert first != second and client.unsubscribed == [first, second]
    tokens = [topic.removeprefix("renderrush-progress-") for topic in (first, second)]
    assert client.ran == [(forget_input, token) for token in tokens]


@pytest.mark.parametrize("shared_storage", [False, True])
def test_workers_that_keep_dying_stop_the_job_with_a_cluster_error(
    dask: FakeDask, rendering: Rendering, info: VideoInfo, tmp_path: Path, shared_storage: bool
) -> None:
    killed = KilledWorker("attempted to run task renderrush-x-segment-1-0 on 4 different workers")

    def kill_on_segment_1(job: SegmentJob) -> None:
        if job.segment.index == 1:
            raise killed

    rendering.before_each = kill_on_segment_1
    client, work = dask.client(), make_work(info, tmp_path)
    with pytest.raises(ClusterError) as caught:
        run_on_cluster(client, work, work.jobs(1), None, shared_storage)
    assert str(caught.value) == f"workers kept dying while rendering ({killed}); the job was stopped"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert not work.output.exists() and not stitch_marker(work.folder.path).exists()
    (feeder,) = rendering.submitters if shared_storage else rendering.dispatchers
    assert_cleaned_up(client, feeder)


def test_a_segments_error_is_raised_as_it_is(
    dask: FakeDask, rendering: Rendering, info: VideoInfo, tmp_path: Path
) -> None:
    failure = SegmentError(2, "decoded 3 of 10 frames from frame 20")

    def fail_segment_2(job: SegmentJob) -> None:
        if job.segment.index == 2:
            raise failure

    rendering.before_each = fail_segment_2
    client, work = dask.client(), make_work(info, tmp_path)
    with pytest.raises(SegmentError) as caught:
        run_on_cluster(client, work, work.jobs(1), None, False)
    assert caught.value is failure and not work.output.exists()
    assert_cleaned_up(client, rendering.dispatchers[0])


def test_a_cancel_after_the_last_segment_stops_before_stitching(
    dask: FakeDask, rendering: Rendering, info: VideoInfo, tmp_path: Path
) -> None:
    client, events, cancel = dask.client(), list[ProgressEvent](), threading.Event()
    work = make_work(info, tmp_path, events=events)
    rendering.after_all = cancel.set
    with pytest.raises(JobCancelledError, match="^the job was cancelled; no output was written$"):
        run_on_cluster(client, work, work.jobs(1), cancel, False)
    (feeder,) = rendering.dispatchers
    assert feeder.cancel is cancel, "the dispatcher stops sending pieces once the caller cancels"
    assert all(work.folder.segment_file(i).exists() for i in range(3)), "every segment came back"
    assert not stitch_marker(work.folder.path).exists() and not work.output.exists()
    assert STITCHED not in [e.kind for e in events]
    assert_cleaned_up(client, feeder)


def test_a_cancel_mid_job_reaches_the_workers_as_the_jobs_dask_event(
    dask: FakeDask, rendering: Rendering, info: VideoInfo, tmp_path: Path
) -> None:
    client, cancel = dask.client(), threading.Event()
    work = make_work(info, tmp_path)

    def cancel_and_wait_for_the_event(job: SegmentJob) -> None:
        cancel.set()
        deadline = time.monotonic() + 10
        while f"renderrush-cancel-{client.token}" not in dask.events_set and time.monotonic() < deadline:
            time.sleep(0.01)  # the progress poller passes the request on at its next tick

    rendering.before_each = cancel_and_wait_for_the_event
    with pytest.raises(JobCancelledError):
        run_on_cluster(client, work, work.jobs(1), cancel, False)
    assert set(dask.set_by) == {(f"renderrush-cancel-{client.token}", client)}
    assert dask.worker.events == [], "the worker stopped before it rendered a frame"
    assert not work.folder.segment_file(0).exists() and not work.output.exists()
    assert_cleaned_up(client, rendering.dispatchers[0])


def test_a_failed_first_submit_unsubscribes_the_jobs_topic(
    dask: FakeDask, rendering: Rendering, info: VideoInfo, tmp_path: Path
) -> None:
    rendering.submit_error = OSError("scatter failed: connection to tcp://10.0.0.7:40000 closed")
    client, work = dask.client(), make_work(info, tmp_path)
    with pytest.raises(OSError, match="scatter failed"):
        run_on_cluster(client, work, work.jobs(1), None, True)
    assert client.unsubscribed == [f"renderrush-progress-{client.token}"]
    assert dask.topics == {}
