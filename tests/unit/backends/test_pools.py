"""pools.py: one warm `ProcessPoolExecutor` per worker count, kept between jobs.

`process_pool(n)` returns the same pool until it is discarded or broken (a dead worker);
its workers come from a forkserver that has already imported the rendering code and
ignore Ctrl-C (the caller stops them through the cancel marker). `warm_pool(n)` starts all
n processes at once. `discard_pool` drops a pool, killing workers that are still busy after
`STOP_GRACE`; `shutdown_pools` stops every pool.

Worker processes are essential here; the tests share one two-worker pool and use one-worker
pools for what destroys a pool. Tasks are builtins, so workers never import this module.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import psutil
import pytest

from renderrush.backends import pools
from renderrush.backends.pools import PRELOAD, discard_pool, process_pool, shutdown_pools, warm_pool

FORKSERVER = "forkserver" in multiprocessing.get_all_start_methods()


@pytest.fixture(scope="module")
def pool() -> Iterator[ProcessPoolExecutor]:
    warm_pool(2)
    yield process_pool(2)
    discard_pool(2)


def gone(pid: int, within: float = 10) -> bool:
    """Whether process `pid` has exited (a zombie counts as exited)."""
    deadline = time.monotonic() + within
    while True:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


def test_warm_pool_starts_every_worker_and_the_pool_is_kept(pool: ProcessPoolExecutor) -> None:
    assert process_pool(2) is pool, "the same warm pool for the next job"
    processes = pool._processes  # the executor starts processes lazily; warm_pool must have started both
    assert processes is not None and len(processes) == 2
    assert all(p.is_alive() for p in processes.values())
    assert os.getpid() not in {p.pid for p in processes.values()}


def test_warming_a_warm_pool_reports_no_start_up(pool: ProcessPoolExecutor) -> None:
    assert warm_pool(2) == 0


def test_workers_ignore_ctrl_c(pool: ProcessPoolExecutor) -> None:
    assert pool.submit(signal.getsignal, signal.SIGINT).result(timeout=30) == signal.SIG_IGN


@pytest.mark.skipif(not FORKSERVER, reason="no forkserver on this platform")
def test_workers_start_with_the_rendering_code_imported(pool: ProcessPoolExecutor) -> None:
    # eval of a string: the task must be a builtin, or unpickling it would import modules first
    loaded = pool.submit(eval, f"[m for m in {PRELOAD!r} if m in __import__('sys').modules]").result(timeout=30)
    assert loaded == PRELOAD


def test_each_worker_count_has_its_own_pool(pool: ProcessPoolExecutor) -> None:
    one = process_pool(1)
    try:
        assert one is not pool and process_pool(1) is one and process_pool(2) is pool
    finally:
        discard_pool(1)
    assert process_pool(2) is pool, "discarding one pool leaves the others"


def test_a_pool_broken_by_a_dead_worker_is_replaced() -> None:
    broken = process_pool(1)
    with pytest.raises(BrokenProcessPool):
        broken.submit(os._exit, 1).result(timeout=30)
    try:
        fresh = process_pool(1)
        assert fresh is not broken
        assert isinstance(fresh.submit(os.getpid).result(timeout=30), int)
    finally:
        discard_pool(1)


def test_discarding_kills_workers_still_busy_after_the_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pools, "STOP_GRACE", 0.2)
    busy = process_pool(1)
    worker = busy.submit(os.getpid).result(timeout=30)
    stuck = busy.submit(time.sleep, 120)  # a filter that never looks at the cancel marker
    while not stuck.running():
        time.sleep(0.01)
    discard_pool(1)
    assert gone(worker, within=0), "joined before discard_pool returned"
    assert process_pool(1) is not busy
    discard_pool(1)
    discard_pool(1)  # no pool for that count: nothing to do


def test_shutdown_pools_stops_every_pool() -> None:
    workers = [process_pool(n).submit(os.getpid).result(timeout=30) for n in (1, 3)]
    shutdown_pools()
    assert pools._pools == {}
    assert all(gone(pid) for pid in workers)
