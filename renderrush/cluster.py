"""Run a job's segment tasks on a dask distributed cluster.

No shared filesystem is assumed: the client scatters the input's bytes once (workers
fetch them from each other, never one copy per task), each worker writes them to its
own local directory once, renders its segments there, and returns each segment file's
bytes. The client writes every segment to its job folder as soon as it arrives and
drops it, then stitches locally. With `shared_storage=True` workers read the input path
and write segment files into the job folder directly.

Progress travels as dask events on a per-job topic; cancel requests as a dask `Event`;
per-worker CPU and memory come from the scheduler's worker metrics. A worker that dies
mid-segment is replaced by the scheduler re-running the task elsewhere, at most
`distributed.scheduler.allowed-failures` times (3 by default).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator

from .engine import check_cancel, segment_tasks, stitch_job
from .errors import ClusterError, JobCancelledError
from .jobfolder import JobFolder
from .plan import Segment
from .probe import VideoInfo
from .progress import DONE, RUNNING, STITCHED, ProgressPoller, Status, Throttle, stitch_marker
from .segment import SegmentJob, SegmentResult, render_segment, write_timestamps

CONNECT_TIMEOUT = "10s"
MAX_INPUT_LOSSES = 3
METRICS_INTERVAL = 0.5


@contextmanager
def connect(scheduler: Any, workers: int) -> Iterator[Any]:
    """A Client for a Client (kept open), "local" (a LocalCluster of `workers` one-thread
    processes, closed afterwards) or a scheduler address (connection closed afterwards)."""
    from distributed import Client, LocalCluster

    if isinstance(scheduler, Client):
        yield scheduler
        return
    if scheduler == "local":
        with LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
        ) as cluster, Client(cluster) as client:  # fmt: skip
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
        yield client


@dataclass(frozen=True)
class InputData:
    """The input file's bytes, scattered once to the cluster."""

    name: str
    digest: str
    data: bytes

    @classmethod
    def read(cls, path: Path) -> "InputData":
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
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="renderrush-worker-metrics", daemon=True)
        self._started = time.monotonic()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                workers = self.client.scheduler_info(n_workers=-1)["workers"]
            except Exception:  # the scheduler may be briefly busy; the next sample will do
                continue
            t = time.monotonic() - self._started
            for address, info in workers.items():
                metrics = info.get("metrics", {})
                self.samples.append(
                    {"t": t, "worker": address, "cpu_percent": metrics.get("cpu", 0.0), "memory": metrics.get("memory", 0)}
                )

    def __enter__(self) -> "WorkerMetrics":
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


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
    if not local_input.exists():
        tmp = local_input.with_suffix(f".part{os.getpid()}-{threading.get_ident()}")
        tmp.write_bytes(source.data)
        os.replace(tmp, local_input)
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


def _forget_input(digest: str, dask_worker: Any) -> None:
    """Run on every worker after a job: delete its local copy of the input."""
    for leftover in _worker_folder(dask_worker).glob(f"input-{digest}*"):
        leftover.unlink(missing_ok=True)


def _keep(result: SegmentResult, folder: JobFolder) -> SegmentResult:
    """Write a returned segment's bytes into the job folder and drop them from memory."""
    if result.data is None:
        return result
    target = folder.segment_file(result.index)
    write_timestamps(target, result.pts)
    tmp = target.with_suffix(".part")
    tmp.write_bytes(result.data)
    os.replace(tmp, target)
    return replace(result, output=str(target), data=None)


class SegmentSubmitter:
    """Submits segment tasks; without shared storage it scatters the input's bytes first.

    A scattered input lives on one worker (dask's memory manager trims extra copies);
    if that worker dies, the input is lost and the tasks still needing it are cancelled.
    `submit` is then called again for those segments: the input is scattered anew and
    only they are resubmitted, at most `MAX_INPUT_LOSSES` times.
    """

    def __init__(self, client: Any, token: str, info: VideoInfo, shared_storage: bool) -> None:
        self.client, self.token = client, token
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
        return self.client.compute(segment_tasks(jobs, render_remote_segment, scattered, self.token, prefix=prefix))

    def forget_input(self) -> None:
        if self.source is not None:
            self.client.run(_forget_input, self.source.digest)


def _gather(futures: list[Any], jobs: list[SegmentJob], submitter: SegmentSubmitter, folder: JobFolder) -> list[SegmentResult]:
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
            results.append(_keep(result, folder))
            pending.pop(result.index)
        if lost and pending:
            futures = submitter.submit(list(pending.values()))
    return results


def run_on_cluster(
    scheduler: Any, jobs: list[SegmentJob], reused: list[SegmentResult], workers: int, folder: JobFolder,
    output: Path, info: VideoInfo, segments: list[Segment], poller_options: dict[str, Any], shared_storage: bool,
) -> tuple[list[SegmentResult], float, list[str], list[dict[str, Any]]]:  # fmt: skip
    """Render `jobs` on the cluster, stitch on the client; returns results, stitch seconds, worker metrics."""
    from distributed.scheduler import KilledWorker

    token = uuid.uuid4().hex[:12]
    topic, cancel_name = f"renderrush-progress-{token}", f"renderrush-cancel-{token}"
    with connect(scheduler, workers) as client:
        status = ClusterStatus(folder.path, cancel_name, client)
        status.statuses.update({r.index: (r.frames, DONE) for r in reused})
        client.subscribe_topic(topic, status.handle)
        jobs = [replace(j, reporter=ClusterReporter(topic, j.segment.index, cancel_name)) for j in jobs]
        submitter = SegmentSubmitter(client, token, info, shared_storage)
        futures = submitter.submit(jobs)
        try:
            with ProgressPoller(status, segments, **poller_options) as poller, WorkerMetrics(client) as metrics:
                results = [*reused, *_gather(futures, jobs, submitter, folder)]
                check_cancel(poller.cancel)
                ordered, stitch_seconds, dropped = stitch_job(results, folder.path, output, info)
            poller.emit(STITCHED)
        except KilledWorker as exc:
            raise ClusterError(f"workers kept dying while rendering ({exc}); the job was stopped") from None
        finally:
            client.cancel(futures)
            client.unsubscribe_topic(topic)
            submitter.forget_input()
    return ordered, stitch_seconds, dropped, metrics.samples
