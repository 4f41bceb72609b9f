"""NumPy's BLAS threads in a process that runs its own parallel work."""

from __future__ import annotations

import os

ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1"}
"""Set before NumPy loads (unless the user set them): a job already runs a segment on every
core, so BLAS threads could only oversubscribe them, and OpenBLAS's idle threads spin in
`sched_yield` (2 % of a 20 s 720p render's CPU here). Worker processes inherit it, as dask's
nanny sets it for its workers."""


def keep_blas_to_one_thread() -> None:
    """Ask NumPy's BLAS for one thread, unless the environment says otherwise; effective only
    before NumPy is first imported (the command line calls it first thing)."""
    for name, value in ONE_THREAD.items():
        os.environ.setdefault(name, value)
