"""Run a job's segments on this machine: one after another in this process ("sync"),
or on a thread or process pool ("threads", "processes"), longest segment first.

The pool is fed directly, in the order `schedule` gives, rather than through a dask
graph: dask's local schedulers order tasks by their key names, not by the list they are
given (with `segment-N` keys they started the last segment first), and a job whose
longest segment starts last ends with one worker busy and the others idle."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, Executor, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from ..core.layout import cancel_marker
from ..core.resources import threads_per_worker
from ..segments.progress import STITCHED, FolderStatus, ProgressPoller
from ..segments.render import SegmentJob, SegmentResult
from ..segments.timeline import timed_segment
from .base import BackendRun, Work, stitch_job
from .pools import discard_pool, process_pool


def in_process(scheduler: str, workers: int, pending_segments: int) -> bool:
    """Whether a local job runs in the calling process (the sync path) whatever scheduler
    was asked for: with one worker or one segment to render, a pool cannot run anything in
    parallel, and starting one (0.5-1 s for processes on 2 cores) only adds to the job."""
    return scheduler != "sync" and (workers == 1 or pending_segments <= 1)


def schedule(jobs: Sequence[SegmentJob]) -> list[SegmentJob]:
    """The order segments are handed to a pool: longest first (ties in index order), so the
    job does not end waiting on one long segment that started last while the other workers
    sit idle (longest-processing-time-first scheduling)."""
    return sorted(jobs, key=lambda job: (-job.segment.frames, job.segment.index))


def _pool(scheduler: str, workers: int) -> Executor:
    """The executor a local job runs its segments on."""
    if scheduler == "processes":
        return process_pool(workers)
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="renderrush-segment")


def _timed_pickled(payload: bytes) -> SegmentResult:
    """`timed_segment` of a job sent with cloudpickle (in a worker process)."""
    import cloudpickle

    return timed_segment(cloudpickle.loads(payload))


def _submit(pool: Executor, job: SegmentJob) -> Future[SegmentResult]:
    if isinstance(pool, ThreadPoolExecutor):
        return pool.submit(timed_segment, job)
    # a worker process gets the job by value through cloudpickle (as dask sent it): a user's
    # filter defined in a notebook cell or inside a function cannot be pickled by reference
    import cloudpickle

    return pool.submit(_timed_pickled, cloudpickle.dumps(job))


def _run_on(pool: Executor, jobs: Sequence[SegmentJob]) -> list[SegmentResult]:
    """Every job's result, submitted to `pool` in `schedule` order (both pools start tasks
    in the order they were submitted); raises the first error as soon as it happens,
    cancelling the segments that have not started."""
    futures = [_submit(pool, job) for job in schedule(jobs)]
    done, waiting = wait(futures, return_when=FIRST_EXCEPTION)
    failed = [future for future in futures if future in done and future.exception() is not None]
    if failed:
        for future in waiting:
            future.cancel()
        raise failed[0].exception()  # type: ignore[misc]
    return [future.result() for future in futures]


@dataclass(frozen=True)
class LocalBackend:
    """Segments on this machine; `scheduler` is "sync", "threads" or "processes"."""

    scheduler: str

    def run(self, work: Work, cancel: threading.Event | None) -> BackendRun:
        scheduler, workers = self.scheduler, work.workers
        if scheduler == "sync" or in_process(scheduler, workers, len(work.pending)):
            scheduler, workers = "sync", 1
        threads = threads_per_worker(workers)
        jobs = work.jobs(threads)
        folder, output, info = work.folder, work.output, work.info
        poller = ProgressPoller(FolderStatus(folder.path, work.segments), work.segments, **work.poller_options(cancel))
        if cancel is not None and cancel.is_set():
            cancel_marker(folder.path).touch()
        pool = None
        try:
            with poller:
                if scheduler == "sync":  # one segment after another in this thread: no pool
                    rendered = [timed_segment(job) for job in jobs]
                else:
                    pool = _pool(scheduler, workers)
                    rendered = _run_on(pool, jobs)
                outcome = stitch_job([*work.reused, *rendered], folder.path, output, info)
            poller.emit(STITCHED)
        except BaseException:
            # the first error returns while sibling segments still run: stop them (they see
            # the cancel marker within a tenth of a second) before the caller removes the
            # job folder under their feet.
            cancel_marker(folder.path).touch()
            if scheduler == "processes":
                discard_pool(workers)
            raise
        finally:
            if scheduler == "threads" and pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
        results, stitch_seconds, dropped = outcome
        return BackendRun(results, stitch_seconds, dropped, scheduler, workers, threads)
