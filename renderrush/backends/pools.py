"""Worker processes kept warm between jobs.

dask's processes scheduler would spawn fresh interpreters for every job (each importing
numpy, OpenCV and dask: about a second on 2 cores). RenderRush instead keeps one
`ProcessPoolExecutor` per worker count, started from a forkserver that has already
imported the rendering code, so a notebook's second job starts instantly and even the
first pays one import, not one per worker.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import signal
import time
from concurrent.futures import ProcessPoolExecutor

PRELOAD = ["renderrush.segments.render", "renderrush.media.filters"]
_pools: dict[int, ProcessPoolExecutor] = {}


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        return context
    return multiprocessing.get_context("spawn")


def _ignore_interrupts() -> None:
    """Worker initializer: Ctrl-C is the caller's to handle. It stops the job through the
    cancel marker, so workers finish cleanly instead of printing KeyboardInterrupt tracebacks."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A warm pool of `workers` processes (replaced if a worker died and broke it)."""
    pool = _pools.get(workers)
    if pool is None or getattr(pool, "_broken", False):
        pool = _pools[workers] = ProcessPoolExecutor(
            max_workers=workers, mp_context=_context(), initializer=_ignore_interrupts
        )
    return pool


def _live_processes(pool: ProcessPoolExecutor) -> list[multiprocessing.Process]:
    # the executor keeps its processes private (and starts them lazily, one per busy task)
    processes = (getattr(pool, "_processes", None) or {}).values()
    return [process for process in processes if process.is_alive()]


def _ready() -> int:
    time.sleep(0.05)  # busy long enough that the pool starts another process for the next task
    return os.getpid()


def warm_pool(workers: int) -> float:
    """Start every process of the pool for `workers` now; returns the seconds it took
    (0 when it was warm already), so a timed job does not include the start-up."""
    started = time.perf_counter()
    pool = process_pool(workers)
    if len(_live_processes(pool)) >= workers:
        return 0.0
    pids: set[int] = set()
    for _ in range(5):  # a pool starts processes only while the ones it has are busy
        pids |= {future.result() for future in [pool.submit(_ready) for _ in range(workers)]}
        if len(pids) >= workers:
            break
    return time.perf_counter() - started


STOP_GRACE = 5.0
"""Seconds a stopped job's workers get to notice the cancel marker (they check it at
every frame) before they are killed: a filter or a decode that makes no progress must
not keep the job, or a worker process, alive after it was stopped."""


def discard_pool(workers: int, wait: bool = True) -> None:
    """Shut down the pool for `workers` after a failed or interrupted job. With `wait`,
    tasks still running get `STOP_GRACE` seconds to stop; workers still busy then are
    killed (what they were writing is a partial segment, which is never kept)."""
    pool = _pools.pop(workers, None)
    if pool is None:
        return
    processes = _live_processes(pool)
    pool.shutdown(wait=False, cancel_futures=True)
    if not wait:
        return
    deadline = time.monotonic() + STOP_GRACE
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
    for process in processes:
        if process.is_alive():
            process.kill()
            process.join(5)
    pool.shutdown(wait=True)


@atexit.register
def shutdown_pools() -> None:
    """Stop every warm pool (at interpreter exit, or to free memory)."""
    for workers in list(_pools):
        discard_pool(workers, wait=False)
