"""Run a job's segment tasks on a dask distributed cluster.

No shared filesystem is assumed: the client cuts the source into one piece per segment
by stream copy (`cutting.py`) while earlier pieces render, and sends each piece to the one
worker that renders it, so the input crosses the network about once whatever the number
of workers. A source that cannot be cut (timestamps made up, or a frame table only a
decode pass gives) is scattered whole once and workers fetch it from each other. Workers
return each segment file's bytes; the client writes every segment to its job folder as
soon as it arrives and drops it, then stitches locally. With `shared_storage=True`
workers read the input path and write segment files into the job folder directly.
`Traffic` counts the bytes sent to and received from workers.

Progress travels as dask events on a per-job topic; cancel requests as a dask `Event`;
per-worker CPU and memory come from the scheduler's worker metrics. A worker that dies
mid-segment is replaced by the scheduler re-running the task elsewhere, at most
`distributed.scheduler.allowed-failures` times (3 by default).
"""

from __future__ import annotations

import hashlib
import logging
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .atomic import atomic_write_bytes
from .backend import BackendRun, Work, check_cancel, segment_tasks, stitch_job
from .cutting import Cutter, Piece, cuttable
from .errors import ClusterError, JobCancelledError
from .jobfolder import JobFolder
from .periodic import Periodic
from .probe import VideoInfo
from .progress import DONE, RUNNING, STITCHED, ProgressPoller, Status, Throttle, stitch_marker
from .segment import SegmentJob, SegmentResult, render_segment, write_timestamps

CONNECT_TIMEOUT = "10s"
MAX_INPUT_LOSSES = 3
METRICS_INTERVAL = 0.5
PIECES_PER_THREAD = 2
"""Pieces a worker holds per thread: the one rendering and the next, already there."""
WORKERS_REFRESH = 0.5
"""Seconds between two looks at the scheduler's list of workers."""
NO_WORKERS_TIMEOUT = 60.0
GONE_SECONDS = 30.0
"""How long a worker that lost a piece gets no new one (the scheduler may list a dead
worker a few seconds longer, and a scatter to it waits for the connect timeout)."""

log = logging.getLogger(__name__)


@contextmanager
def connect(scheduler: Any, workers: int) -> Iterator[Any]:
    """A Client for a Client (kept open), "local" (a LocalCluster of `workers` one-thread
    processes, closed afterwards) or a scheduler address (connection closed afterwards)."""
    from distributed import Client, LocalCluster

    if isinstance(scheduler, Client):
        announce(scheduler)
        yield scheduler
        return
    if scheduler == "local":
        with (
            LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
            ) as cluster,
            Client(cluster) as client,
        ):
            announce(client)
            yield client
        return
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterError(
            f"cannot reach a dask scheduler at '{scheduler}' ({exc}); start one with `dask scheduler` "
            "and pass its address, e.g. tcp://127.0.0.1:8786"
        ) from None
    with client:
        announce(client)
        yield client


def _serves_dashboard(dask_scheduler: Any = None) -> bool:
    """Run on the scheduler: its bokeh dashboard is up (distributed imports the dashboard
    module only to serve it; without bokeh, or with --no-dashboard, it never does)."""
    return "distributed.dashboard.scheduler" in sys.modules


def dashboard_link(client: Any) -> str | None:
    """The scheduler's dashboard address, or None when it serves none (started with
    --no-dashboard, or without bokeh installed)."""
    try:
        serves = client.run_on_scheduler(_serves_dashboard)
    except Exception:  # an unanswered question must not stop the job
        return None
    return client.dashboard_link if serves else None


def announce(client: Any) -> None:
    """Log (logger `renderrush.cluster`, INFO) the scheduler and its dashboard link; the
    CLI prints it on stderr."""
    link = dashboard_link(client)
    address = getattr(client.scheduler, "address", "") or "the scheduler"
    if link:
        log.info("dask dashboard: %s (scheduler %s)", link, address)
    else:
        log.info("connected to %s; it serves no dashboard (it needs bokeh installed and no --no-dashboard)", address)


@dataclass(frozen=True)
class InputData:
    """The input file's bytes, scattered once to the cluster."""

    name: str
    digest: str
    data: bytes

    @classmethod
    def read(cls, path: Path) -> InputData:
        data = path.read_bytes()
        return cls(path.name, hashlib.sha256(data).hexdigest()[:16], data)


class ClusterReporter:
    """Reporter for segments on cluster workers: dask events to the job's topic."""

    def __init__(self, topic: str, index: int, cancel_name: str) -> None:
        self.topic, self.index, self.cancel_name = topic, index, cancel_name
        self._due = Throttle()

    def update(self, frames: int, state: str = RUNNING, force: bool = False) -> None:
        if not self._due(force):
            return
        from distributed import Event, get_worker

        if Event(self.cancel_name).is_set():
            raise JobCancelledError()
        get_worker().log_event(self.topic, [self.index, frames, state])


class ClusterStatus:
    """Status source fed by the job's event topic on the client."""

    def __init__(self, folder: Path, cancel_name: str, client: Any) -> None:
        self.folder, self.cancel_name, self.client = folder, cancel_name, client
        self.statuses: dict[int, Status] = {}
        self._lock = threading.Lock()

    def handle(self, event: tuple[float, list[Any]]) -> None:
        index, frames, state = event[1]
        with self._lock:
            if self.statuses.get(index, (0, ""))[1] != DONE:
                self.statuses[index] = (frames, state)

    def __call__(self) -> dict[int, Status]:
        with self._lock:
            return dict(self.statuses)

    def stitching(self) -> bool:
        return stitch_marker(self.folder).exists()

    def request_cancel(self) -> None:
        from distributed import Event

        Event(self.cancel_name, client=self.client).set()


class WorkerMetrics:
    """Samples each worker's CPU and memory from the scheduler while a job runs."""

    def __init__(self, client: Any, interval: float = METRICS_INTERVAL) -> None:
        self.client, self.interval = client, interval
        self.samples: list[dict[str, Any]] = []
        # final_call: a job shorter than the interval still shows its workers
        self._sampler = Periodic(interval, self._sample, name="renderrush-worker-metrics", final_call=True)
        self._started = time.monotonic()

    def _sample(self) -> None:
        try:
            workers = self.client.scheduler_info(n_workers=-1)["workers"]
        except Exception:  # the scheduler may be briefly busy; the next sample will do
            return
        t = time.monotonic() - self._started
        for address, info in workers.items():
            metrics = info.get("metrics", {})
            self.samples.append(
                {"t": t, "worker": address, "cpu_percent": metrics.get("cpu", 0.0), "memory": metrics.get("memory", 0)}
            )

    def __enter__(self) -> WorkerMetrics:
        self._started = time.monotonic()
        self._sampler.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._sampler.stop()


def _worker_folder(worker: Any = None) -> Path:
    from distributed import get_worker

    folder = Path((worker or get_worker()).local_directory) / "renderrush"
    folder.mkdir(exist_ok=True)
    return folder


def render_remote_segment(job: SegmentJob, source: InputData, token: str) -> SegmentResult:
    """Worker side without shared storage: materialise the input once per worker,
    render the segment locally and return the segment file's bytes."""
    from distributed import get_worker

    folder = _worker_folder()
    local_input = folder / f"input-{source.digest}{Path(source.name).suffix}"
    if not local_input.exists():  # tasks of one job on this worker may race here: each writes whole, one wins
        atomic_write_bytes(local_input, source.data)
    out = folder / f"{token}-segment-{job.segment.index:05d}.mp4"
    try:
        result = render_segment(replace(job, source=replace(job.source, path=str(local_input)), output=str(out)))
        data = out.read_bytes()
    finally:
        out.unlink(missing_ok=True)
    return replace(result, output="", data=data, worker=get_worker().address)


def render_shared_segment(job: SegmentJob) -> SegmentResult:
    """Worker side with shared storage: render straight into the job folder."""
    from distributed import get_worker

    return replace(render_segment(job), worker=get_worker().address)


def render_piece(job: SegmentJob, data: bytes, suffix: str, stream_index: int, token: str) -> SegmentResult:
    """Worker side of a cut source: save the segment's piece (or the whole input, for a
    piece that could not be cut) in the worker's own directory, render it and return the
    segment file's bytes. The piece keeps the source's timestamps, so the job's `Source`
    only moves to the local file."""
    from distributed import get_worker

    folder = _worker_folder()
    local = folder / f"{token}-piece-{job.segment.index:05d}{suffix}"
    out = folder / f"{token}-segment-{job.segment.index:05d}.mp4"
    try:
        local.write_bytes(data)
        source = replace(job.source, path=str(local), stream_index=stream_index)
        result = render_segment(replace(job, source=source, output=str(out)))
        segment = out.read_bytes()
    finally:
        local.unlink(missing_ok=True)
        out.unlink(missing_ok=True)
    return replace(result, output="", data=segment, worker=get_worker().address)


def _forget_input(prefix: str, dask_worker: Any) -> None:
    """Run on every worker after a job: delete its local copy of the input, or the pieces
    a task killed half-way left."""
    for leftover in _worker_folder(dask_worker).glob(f"{prefix}*"):
        leftover.unlink(missing_ok=True)


def _keep(result: SegmentResult, folder: JobFolder) -> SegmentResult:
    """Write a returned segment's bytes into the job folder and drop them from memory."""
    if result.data is None:
        return result
    target = folder.segment_file(result.index)
    write_timestamps(target, result.pts)
    atomic_write_bytes(target, result.data)
    return replace(result, output=str(target), data=None)


@dataclass
class Traffic:
    """Bytes that crossed the network for a job, counted on the client where they are sent
    and received."""

    input_bytes_to_workers: int = 0
    output_bytes_from_workers: int = 0


class PieceDispatcher:
    """Cuts the source into per-segment pieces while earlier pieces render, and sends each
    piece to one worker with its task (no shared storage, cuttable source).

    Each worker holds at most `PIECES_PER_THREAD` pieces per thread: one rendering, the
    next one already there, so it never waits for the client, and the client holds only
    the piece it is sending. A piece is scattered straight to the worker chosen for it and
    its task may run only there: the piece's bytes cross the network once. If the worker
    dies, its pieces die with it and their tasks are cancelled; those segments are cut
    again and sent elsewhere, at most `MAX_INPUT_LOSSES` times each.
    """

    def __init__(
        self,
        client: Any,
        token: str,
        info: VideoInfo,
        folder: JobFolder,
        traffic: Traffic,
        cancel: threading.Event | None,
    ) -> None:
        self.client, self.token, self.info, self.folder = client, token, info, folder
        self.traffic, self.cancel = traffic, cancel
        self.inflight: dict[Any, tuple[SegmentJob, str, Any]] = {}
        self.losses: dict[int, int] = {}
        self._wake = threading.Event()
        self._workers: dict[str, int] = {}
        self._gone: dict[str, float] = {}
        """Workers whose pieces were lost (or refused one) lately, with when."""
        self._workers_at = -1.0
        self._no_workers_since: float | None = None
        self.direct = True
        """Scatter straight to workers; False once the client could not reach one (behind
        NAT, say), after which pieces go through the scheduler."""

    def run(self, jobs: list[SegmentJob]) -> list[SegmentResult]:
        first_pass: Iterator[tuple[SegmentJob, Piece | None]] | None = iter(
            zip(jobs, Cutter(self.info, lenient=True).pieces((j.segment.index, j.source) for j in jobs))
        )
        again: deque[SegmentJob] = deque()
        results: list[SegmentResult] = []
        remaining = len(jobs)
        try:
            while remaining:
                check_cancel(self.cancel)
                worker = self._free_worker()
                if worker is not None and (again or first_pass is not None):
                    if again:
                        job = again.popleft()
                        piece = self._cut_one(job)
                    elif first_pass is not None:
                        item = next(first_pass, None)
                        if item is None:
                            first_pass = None
                            continue
                        job, piece = item
                    if not self._send(job, piece, worker):
                        again.appendleft(job)
                    continue
                self._wake.wait(0.5)
                self._wake.clear()
                for future in [f for f in self.inflight if f.status != "pending"]:
                    job, worker, piece_future = self.inflight.pop(future)
                    piece_future.release()
                    if future.status == "finished":
                        result = future.result()
                        future.release()
                        self.traffic.output_bytes_from_workers += len(result.data or b"")
                        results.append(_keep(result, self.folder))
                        remaining -= 1
                    elif future.status == "error":
                        future.result()  # raises the segment's error
                    else:  # cancelled: the piece was lost with its worker
                        self._lost(job, worker)
                        again.append(job)
        finally:
            self.client.cancel([*self.inflight, *(p for _, _, p in self.inflight.values())])
        return results

    def _cut_one(self, job: SegmentJob) -> Piece | None:
        return next(Cutter(self.info, lenient=True).pieces([(job.segment.index, job.source)]))

    def _lost(self, job: SegmentJob, worker: str) -> None:
        self._gone[worker] = time.monotonic()
        self._workers_at = -1.0
        count = self.losses[job.segment.index] = self.losses.get(job.segment.index, 0) + 1
        if count > MAX_INPUT_LOSSES:
            raise ClusterError(
                f"segment {job.segment.index} was lost with its worker {MAX_INPUT_LOSSES + 1} times; the job was stopped"
            )

    def _free_worker(self) -> str | None:
        """The worker with the most free piece slots, or None when all are full."""
        now = time.monotonic()
        if now - self._workers_at > WORKERS_REFRESH:
            info = self.client.scheduler_info(n_workers=-1)["workers"]
            self._gone = {w: t for w, t in self._gone.items() if w in info and now - t < GONE_SECONDS}
            self._workers = {address: w.get("nthreads", 1) for address, w in info.items() if address not in self._gone}
            self._workers_at = now
            if self._workers or self.inflight:
                self._no_workers_since = None
            else:
                self._no_workers_since = self._no_workers_since or now
                if now - self._no_workers_since > NO_WORKERS_TIMEOUT:
                    raise ClusterError(
                        f"the cluster has had no workers for {NO_WORKERS_TIMEOUT:.0f} s; the job was stopped"
                    )
        busy: dict[str, int] = {}
        for _, worker, _ in self.inflight.values():
            busy[worker] = busy.get(worker, 0) + 1
        free = {w: n * PIECES_PER_THREAD - busy.get(w, 0) for w, n in self._workers.items()}
        best = max(free, key=lambda w: free[w], default=None)
        return best if best is not None and free[best] > 0 else None

    def _send(self, job: SegmentJob, piece: Piece | None, worker: str) -> bool:
        """Scatter the piece (or the whole input, if it could not be cut) to `worker` and
        submit its task there."""
        if piece is None:
            log.warning(
                "warning: segment %d could not be cut exactly; its worker receives the whole input", job.segment.index
            )
            data, suffix, stream_index = self.info.path.read_bytes(), self.info.path.suffix, self.info.stream_index
        else:
            data, suffix, stream_index = piece.data, piece.suffix, 0
        try:
            piece_future = self._scatter(data, worker)
        except (OSError, TimeoutError, ValueError, KeyError):  # the worker left: send it elsewhere
            self._gone[worker] = time.monotonic()
            self._workers_at = -1.0
            return False
        self.traffic.input_bytes_to_workers += len(data)
        del data
        key = f"renderrush-{self.token}-segment-{job.segment.index}-{self.losses.get(job.segment.index, 0)}"
        future = self.client.submit(
            render_piece, job, piece_future, suffix, stream_index, self.token, key=key, workers=[worker], pure=False
        )
        future.add_done_callback(lambda _: self._wake.set())
        self.inflight[future] = (job, worker, piece_future)
        return True

    def _scatter(self, data: bytes, worker: str) -> Any:
        if self.direct:
            try:
                return self.client.scatter([data], workers=[worker], hash=False, direct=True)[0]
            except (OSError, TimeoutError):
                self.direct = False  # maybe only this worker died; the scheduler's route works either way
        return self.client.scatter([data], workers=[worker], hash=False, direct=False)[0]


class SegmentSubmitter:
    """Submits segment tasks where pieces are not cut: with shared storage (workers read
    the input path), or for a source that cannot be cut (see `cutting.cuttable`), whose
    bytes are scattered once and fetched by every worker from its peers.

    A scattered input lives on one worker (dask's memory manager trims extra copies);
    if that worker dies, the input is lost and the tasks still needing it are cancelled.
    `submit` is then called again for those segments: the input is scattered anew and
    only they are resubmitted, at most `MAX_INPUT_LOSSES` times.
    """

    def __init__(self, client: Any, token: str, info: VideoInfo, shared_storage: bool, traffic: Traffic) -> None:
        self.client, self.token, self.traffic = client, token, traffic
        self.source = None if shared_storage else InputData.read(info.path)
        self.attempts = 0

    def submit(self, jobs: list[SegmentJob]) -> list[Any]:
        self.attempts += 1
        if self.attempts > MAX_INPUT_LOSSES + 1:
            raise ClusterError(f"the input was lost with its workers {MAX_INPUT_LOSSES} times; the job was stopped")
        prefix = f"renderrush-{self.token}-{self.attempts}"
        if self.source is None:
            return self.client.compute(segment_tasks(jobs, render_shared_segment, prefix=prefix))
        [scattered] = self.client.scatter([self.source], hash=False)
        self.traffic.input_bytes_to_workers += len(self.source.data)
        return self.client.compute(segment_tasks(jobs, render_remote_segment, scattered, self.token, prefix=prefix))

    def count_copies(self, results: list[SegmentResult]) -> None:
        """Every other worker that rendered a segment fetched a whole copy from a peer."""
        if self.source is not None:
            workers = {r.worker for r in results if not r.reused}
            self.traffic.input_bytes_to_workers += len(self.source.data) * max(0, len(workers) - 1)

    def forget_input(self) -> None:
        if self.source is not None:
            self.client.run(_forget_input, f"input-{self.source.digest}")


def _gather(
    futures: list[Any], jobs: list[SegmentJob], submitter: SegmentSubmitter, folder: JobFolder
) -> list[SegmentResult]:
    """Collect segments as they finish (writing each to disk and dropping its bytes at
    once), resubmitting the ones cancelled because their input was lost."""
    from distributed import as_completed
    from distributed.client import FutureCancelledError

    results: list[SegmentResult] = []
    pending = {job.segment.index: job for job in jobs}
    while pending:
        lost = False
        for future, result in as_completed(futures, with_results=True):
            future.release()
            if isinstance(result, FutureCancelledError):
                lost = True
                continue
            submitter.traffic.output_bytes_from_workers += len(result.data or b"")
            results.append(_keep(result, folder))
            pending.pop(result.index)
        if lost and pending:
            futures = submitter.submit(list(pending.values()))
    submitter.count_copies(results)
    return results


@dataclass(frozen=True)
class DaskBackend:
    """Segments on a dask distributed cluster: `scheduler` is "local" (a LocalCluster of
    the job's workers), a scheduler address or a `distributed.Client`."""

    scheduler: Any
    shared_storage: bool = False

    def run(self, work: Work, cancel: threading.Event | None) -> BackendRun:
        from .resources import threads_per_worker

        threads = threads_per_worker(work.workers)
        results, stitch_seconds, dropped, metrics, traffic = run_on_cluster(
            self.scheduler, work, work.jobs(threads), cancel, self.shared_storage
        )
        return BackendRun(
            results,
            stitch_seconds,
            dropped,
            scheduler=f"distributed ({'shared storage' if self.shared_storage else 'no shared storage'})",
            workers=work.workers,
            threads_per_worker=threads,
            worker_metrics=metrics,
            input_bytes_to_workers=traffic.input_bytes_to_workers,
            output_bytes_from_workers=traffic.output_bytes_from_workers,
        )


def run_on_cluster(
    scheduler: Any, work: Work, jobs: list[SegmentJob], cancel: threading.Event | None, shared_storage: bool
) -> tuple[list[SegmentResult], float, list[str], list[dict[str, Any]], Traffic]:
    """Render `jobs` on the cluster, stitch on the client; returns results, stitch seconds,
    what the output could not keep, worker metrics and the job's network traffic.

    Without shared storage a cuttable source travels as one piece per segment, cut while
    earlier pieces render (`PieceDispatcher`); any other source is scattered whole once."""
    from distributed.scheduler import KilledWorker

    folder, output, info, reused = work.folder, work.output, work.info, work.reused
    token = uuid.uuid4().hex[:12]
    topic, cancel_name = f"renderrush-progress-{token}", f"renderrush-cancel-{token}"
    traffic = Traffic()
    with connect(scheduler, work.workers) as client:
        status = ClusterStatus(folder.path, cancel_name, client)
        status.statuses.update({r.index: (r.frames, DONE) for r in reused})
        client.subscribe_topic(topic, status.handle)
        jobs = [replace(j, reporter=ClusterReporter(topic, j.segment.index, cancel_name)) for j in jobs]
        cut = not shared_storage and cuttable(info)
        submitter = None if cut else SegmentSubmitter(client, token, info, shared_storage, traffic)
        futures = submitter.submit(jobs) if submitter is not None and jobs else []
        try:
            with (
                ProgressPoller(status, work.segments, **work.poller_options(cancel)) as poller,
                WorkerMetrics(client) as metrics,
            ):
                if submitter is None:
                    rendered = PieceDispatcher(client, token, info, folder, traffic, poller.cancel).run(jobs)
                else:
                    rendered = _gather(futures, jobs, submitter, folder)
                results = [*reused, *rendered]
                check_cancel(poller.cancel)
                ordered, stitch_seconds, dropped = stitch_job(results, folder.path, output, info)
            poller.emit(STITCHED)
        except KilledWorker as exc:
            raise ClusterError(f"workers kept dying while rendering ({exc}); the job was stopped") from None
        finally:
            client.cancel(futures)
            client.unsubscribe_topic(topic)
            if submitter is not None:
                submitter.forget_input()
            else:
                client.run(_forget_input, token)
    return ordered, stitch_seconds, dropped, metrics.samples, traffic
