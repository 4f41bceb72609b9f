"""Run a job's segments on this machine: one after another in this process ("sync"),
or as a dask graph on a thread or process pool ("threads", "processes")."""

from __future__ import annotations

import threading
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass

from ..core.layout import cancel_marker
from ..core.resources import threads_per_worker
from ..segments.progress import STITCHED, FolderStatus, ProgressPoller
from ..segments.timeline import timed_segment
from .base import BackendRun, Work, segment_tasks, stitch_job
from .pools import discard_pool, process_pool


def in_process(scheduler: str, workers: int, pending_segments: int) -> bool:
    """Whether a local job runs in the calling process (the sync path) whatever scheduler
    was asked for: with one worker or one segment to render, a pool cannot run anything in
    parallel, and starting one (0.5-1 s for processes on 2 cores) only adds to the job."""
    return scheduler != "sync" and (workers == 1 or pending_segments <= 1)


def _pool(scheduler: str, workers: int) -> Executor | None:
    """The executor a local job runs its tasks on (None for the synchronous scheduler)."""
    if scheduler == "processes":
        return process_pool(workers)
    if scheduler == "threads":
        return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="renderrush-segment")
    return None


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
                if scheduler == "sync":  # one segment after another in this thread: no pool, no dask
                    outcome = stitch_job([*work.reused, *map(timed_segment, jobs)], folder.path, output, info)
                else:
                    import dask

                    graph = dask.delayed(stitch_job, pure=False)(
                        [*work.reused, *segment_tasks(jobs, timed_segment)],
                        folder.path,
                        output,
                        info,
                        dask_key_name="stitch",
                    )
                    pool = _pool(scheduler, workers)
                    options = {"pool": pool, "chunksize": 1} if scheduler == "processes" else {"pool": pool}
                    (outcome,) = dask.compute(graph, scheduler=scheduler, **options)
            poller.emit(STITCHED)
        except BaseException:
            # dask returns on the first error while sibling segments still run: stop them
            # (they see the cancel marker within a tenth of a second) before the caller
            # removes the job folder under their feet.
            cancel_marker(folder.path).touch()
            if scheduler == "processes":
                discard_pool(workers)
            raise
        finally:
            if scheduler == "threads" and pool is not None:
                pool.shutdown(wait=True)
        results, stitch_seconds, dropped = outcome
        return BackendRun(results, stitch_seconds, dropped, scheduler, workers, threads)
