"""Feeding a cluster from the client: per-segment pieces cut while earlier ones render
(`PieceDispatcher`), or one scattered input every worker fetches (`SegmentSubmitter`);
segments are written to the job folder as they come back, and `Traffic` counts the bytes."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from ..core.atomic import atomic_write_bytes
from ..core.errors import ClusterError
from ..media.cutting import Cutter, Piece
from ..media.probe import VideoInfo
from ..segments.jobfolder import JobFolder
from ..segments.render import SegmentJob, SegmentResult, write_timestamps
from .base import check_cancel, segment_tasks
from .remote import InputData, forget_input, render_piece, render_remote_segment, render_shared_segment

MAX_INPUT_LOSSES = 3
PIECES_PER_THREAD = 2
"""Pieces a worker holds per thread: the one rendering and the next, already there."""
WORKERS_REFRESH = 0.5
"""Seconds between two looks at the scheduler's list of workers."""
NO_WORKERS_TIMEOUT = 60.0
GONE_SECONDS = 30.0
"""How long a worker that lost a piece gets no new one (the scheduler may list a dead
worker a few seconds longer, and a scatter to it waits for the connect timeout)."""

log = logging.getLogger("renderrush.backends.cluster")


def keep(result: SegmentResult, folder: JobFolder) -> SegmentResult:
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
    input_bytes_by_worker: dict[str, int] = field(default_factory=dict)
    """Input bytes each worker received (its address), where the client knows the receiver."""

    def sent(self, worker: str, size: int) -> None:
        """`size` input bytes went to `worker`."""
        self.input_bytes_to_workers += size
        self.input_bytes_by_worker[worker] = self.input_bytes_by_worker.get(worker, 0) + size


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
                        results.append(keep(result, self.folder))
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
        self.traffic.sent(worker, len(data))
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
        """Every other worker that rendered a segment fetched a whole copy from a peer (per
        worker: one copy each to those that rendered)."""
        if self.source is not None:
            workers = sorted({r.worker for r in results if not r.reused})
            self.traffic.input_bytes_to_workers += len(self.source.data) * max(0, len(workers) - 1)
            for worker in workers:
                self.traffic.input_bytes_by_worker[worker] = len(self.source.data)

    def forget_input(self) -> None:
        if self.source is not None:
            self.client.run(forget_input, f"input-{self.source.digest}")


def gather(
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
            results.append(keep(result, folder))
            pending.pop(result.index)
        if lost and pending:
            futures = submitter.submit(list(pending.values()))
    submitter.count_copies(results)
    return results
