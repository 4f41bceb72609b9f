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

This module connects and runs the job (`DaskBackend`); `dispatch.py` feeds the workers
from the client and `remote.py` is what runs on them.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..core.errors import ClusterError
from ..core.layout import stitch_marker
from ..core.periodic import Periodic
from ..media.cutting import cuttable
from ..segments.progress import DONE, STITCHED, ProgressPoller, Status
from ..segments.render import SegmentJob, SegmentResult
from .base import BackendRun, Work, check_cancel, stitch_job
from .dispatch import PieceDispatcher, SegmentSubmitter, Traffic, gather
from .remote import ClusterReporter, forget_input

CONNECT_TIMEOUT = "10s"
METRICS_INTERVAL = 0.5

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
    """Log (logger `renderrush.backends.cluster`, INFO) the scheduler and its dashboard link; the
    CLI prints it on stderr."""
    link = dashboard_link(client)
    address = getattr(client.scheduler, "address", "") or "the scheduler"
    if link:
        log.info("dask dashboard: %s (scheduler %s)", link, address)
    else:
        log.info("connected to %s; it serves no dashboard (it needs bokeh installed and no --no-dashboard)", address)


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


@dataclass(frozen=True)
class DaskBackend:
    """Segments on a dask distributed cluster: `scheduler` is "local" (a LocalCluster of
    the job's workers), a scheduler address or a `distributed.Client`."""

    scheduler: Any
    shared_storage: bool = False

    def run(self, work: Work, cancel: threading.Event | None) -> BackendRun:
        from ..core.resources import threads_per_worker

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
            input_bytes_by_worker=dict(traffic.input_bytes_by_worker),
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
        jobs = [replace(j, reporter=ClusterReporter(topic, j.segment.index, cancel_name)) for j in jobs]
        cut = not shared_storage and cuttable(info)
        submitter: SegmentSubmitter | None = None
        futures: list[Any] = []
        client.subscribe_topic(topic, status.handle)
        try:  # from the subscription on: a client reused across jobs must not keep this job's handler
            submitter = None if cut else SegmentSubmitter(client, token, info, shared_storage, traffic)
            futures = submitter.submit(jobs) if submitter is not None and jobs else []
            with (
                ProgressPoller(status, work.segments, **work.poller_options(cancel)) as poller,
                WorkerMetrics(client) as metrics,
            ):
                if submitter is None:
                    rendered = PieceDispatcher(client, token, info, folder, traffic, poller.cancel).run(jobs)
                else:
                    rendered = gather(futures, jobs, submitter, folder)
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
                client.run(forget_input, token)
    return ordered, stitch_seconds, dropped, metrics.samples, traffic
