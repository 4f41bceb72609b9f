"""Live resource sampling for a render job.

A `Monitor` samples the machine (CPU, memory, swap, disk I/O) and the job's own
process tree (the root process plus every descendant: ffmpeg encoders, dask worker
processes) from a background daemon thread, so the UI can draw live gauges and the
history can keep a timeline and a summary. Sampling costs well under 2% of one core
at the default 0.5 s interval; `overhead_seconds` measures it.

Every recording has a reading when it starts (t = 0: memory as the job found it, the job's
CPU at zero since it has not run yet) and one when it stops, whatever the interval, so a job
shorter than one interval still charts as a line from its start to its end. Like dask's
`SystemMonitor`, the samples are kept in a bounded window (`max_samples`, an hour at the
default interval) that answers range queries (`between`); the summary's figures cover the
whole recording, not only the window, so a day-long job costs bounded memory.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import psutil

from renderrush.core.errors import MonitorError, SettingsError
from renderrush.core.periodic import Periodic

from ..core import resources

DEFAULT_INTERVAL = 0.5
DEFAULT_MAX_SAMPLES = 7200  # an hour at the default interval


@dataclass(frozen=True)
class Sample:
    """One reading. Machine CPU percentages are 0-100 and host-wide (as psutil reports
    them); `job_cpu_percent` is summed over the job's processes in percent of one core
    (two busy cores = 200). Memory figures honour the container's limit."""

    t: float  # seconds since the monitor started
    cpu_percent: float
    per_core: tuple[float, ...]
    mem_used: int  # bytes of the job's memory limit not available (cgroup-aware, via resources)
    mem_available: int  # bytes
    swap_percent: float
    disk_read_bps: float  # bytes per second over the last period; 0.0 when the OS has no counters
    disk_write_bps: float
    job_rss: int  # bytes, summed over the job's process tree
    job_cpu_percent: float
    job_processes: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (per_core as a list)."""
        d = asdict(self)
        d["per_core"] = list(self.per_core)
        return d


class _ProcessTree:
    """The root process and its recursive children, with psutil.Process objects kept
    between samples so each one's `cpu_percent()` measures the time since the last call."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._procs: dict[int, psutil.Process] = {}

    def measure(self) -> tuple[int, float, int]:
        """(summed RSS bytes, summed CPU percent of one core, process count)."""
        try:
            root = psutil.Process(self.pid)
            current = [root, *root.children(recursive=True)]
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            self._procs.clear()
            return 0, 0.0, 0
        procs: dict[int, psutil.Process] = {}
        for proc in current:
            cached = self._procs.get(proc.pid)
            procs[proc.pid] = cached if cached is not None and cached == proc else proc
        self._procs = procs
        rss, cpu, count = 0, 0.0, 0
        for proc in procs.values():
            try:
                with proc.oneshot():
                    cpu += proc.cpu_percent(None)
                    rss += proc.memory_info().rss
                count += 1
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return rss, cpu, count


class Monitor:
    """Samples resources every `interval` seconds in a daemon thread.

    Use as a context manager (`with Monitor() as mon: ...`) or call start()/stop().
    `on_sample`, if given, is called from the sampling thread with each `Sample`;
    if it raises, the exception is kept in `callback_error` and the callback is no
    longer called, so a broken gauge never stops the recording. The newest
    `max_samples` readings are kept; older ones scroll out of `samples` but still count
    in `summary()`.
    """

    def __init__(
        self,
        interval: float = DEFAULT_INTERVAL,
        pid: int | None = None,
        on_sample: Callable[[Sample], None] | None = None,
        *,
        max_samples: int = DEFAULT_MAX_SAMPLES,
    ) -> None:
        if not interval > 0:
            raise SettingsError(f"monitor interval must be a positive number of seconds, got {interval!r}")
        if isinstance(max_samples, bool) or not isinstance(max_samples, int) or max_samples < 2:
            raise SettingsError(f"monitor max_samples must be an integer of at least 2, got {max_samples!r}")
        self.interval = float(interval)
        self.max_samples = max_samples
        self.pid = os.getpid() if pid is None else pid
        self.on_sample = on_sample
        self.callback_error: BaseException | None = None
        self.overhead_seconds = 0.0
        self._samples: deque[Sample] = deque(maxlen=max_samples)
        self._totals = _Totals()
        self._lock = threading.Lock()
        self._sampler: Periodic | None = None
        self._started: float | None = None
        self._stopped: float | None = None
        # Sampling state, used only on the sampling thread; set up by its first call.
        self._tree: _ProcessTree | None = None
        self._last_disk: Any = None
        self._last_t = 0.0

    def __enter__(self) -> Monitor:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._sampler is not None and self._sampler.running

    def start(self) -> None:
        """Begin a fresh recording (earlier samples are discarded)."""
        if self.running:
            raise MonitorError("monitor is already running; call stop() before starting it again")
        self._samples = deque(maxlen=self.max_samples)
        self._totals = _Totals()
        self.overhead_seconds = 0.0
        self.callback_error = None
        self._tree = None
        self._started = time.monotonic()
        self._stopped = None
        # first_call primes the counters on the sampling thread and takes the start reading;
        # final_call takes the end reading, however soon after the last one the job ends
        self._sampler = Periodic(
            self.interval, self._sample, name="renderrush-monitor", first_call=True, final_call=True
        )
        self._sampler.start()  # assigned first: the sampling thread reads `stopping` from it

    def stop(self) -> None:
        """Stop sampling (returns within one sample's work, not a whole interval)."""
        if self._sampler is None:
            return
        self._sampler.stop()
        self._sampler = None
        self._stopped = time.monotonic()

    def _prime(self) -> None:
        self._tree = _ProcessTree(self.pid)
        psutil.cpu_percent(None)  # psutil keeps these counters per thread: prime ours
        cores = len(psutil.cpu_percent(None, percpu=True))
        rss, _, count = self._tree.measure()  # starts each process's CPU counter for the next reading
        self._last_disk = psutil.disk_io_counters()
        self._last_t = time.monotonic()
        # The start reading: memory as the job found it; no CPU has been measured over any period
        # yet (the job has not run), so CPU and disk rates read zero.
        self._keep(
            self._reading(self._last_t, cpu=0.0, per_core=(0.0,) * cores, disk=(0.0, 0.0), tree=(rss, 0.0, count)),
            measured=False,
        )

    def _sample(self) -> None:
        cpu_start = time.thread_time()
        try:
            if self._tree is None:
                self._prime()
                return
            now = time.monotonic()
            period = now - self._last_t
            if period <= 0:
                return  # stopped in the same clock tick as the last reading: that one is the end
            disk = psutil.disk_io_counters()
            rates = _disk_rates(self._last_disk, disk, period)
            cpu = psutil.cpu_percent(None)
            per_core = tuple(psutil.cpu_percent(None, percpu=True))
            sample = self._reading(now, cpu=cpu, per_core=per_core, disk=rates, tree=self._tree.measure())
            self._last_disk, self._last_t = disk, now
            self._keep(sample, measured=True)
        finally:
            self.overhead_seconds += time.thread_time() - cpu_start

    def _reading(
        self,
        now: float,
        *,
        cpu: float,
        per_core: tuple[float, ...],
        disk: tuple[float, float],
        tree: tuple[int, float, int],
    ) -> Sample:
        assert self._started is not None
        mem_available = resources.available_memory()
        rss, job_cpu, count = tree
        return Sample(
            t=max(0.0, now - self._started),
            cpu_percent=cpu,
            per_core=per_core,
            mem_used=max(0, resources.total_memory() - mem_available),
            mem_available=mem_available,
            swap_percent=psutil.swap_memory().percent,
            disk_read_bps=disk[0],
            disk_write_bps=disk[1],
            job_rss=rss,
            job_cpu_percent=job_cpu,
            job_processes=count,
        )

    def _keep(self, sample: Sample, *, measured: bool) -> None:
        with self._lock:
            self._samples.append(sample)
            self._totals.add(sample, measured=measured)
        self._notify(sample)

    def _notify(self, sample: Sample) -> None:
        if self.on_sample is None or self.callback_error is not None:
            return
        try:
            self.on_sample(sample)
        except Exception as exc:  # a failing gauge must not end the recording
            self.callback_error = exc

    @property
    def samples(self) -> list[Sample]:
        """A copy of the samples in the window, oldest first (safe to read while running)."""
        with self._lock:
            return list(self._samples)

    def between(self, start: float, stop: float) -> list[Sample]:
        """The samples in the window taken from `start` to `stop` seconds (both included)."""
        with self._lock:
            return [s for s in self._samples if start <= s.t <= stop]

    @property
    def elapsed(self) -> float:
        """Seconds from start() to stop(), or to now while running."""
        if self._started is None:
            return 0.0
        return (self._stopped or time.monotonic()) - self._started

    @property
    def overhead_fraction(self) -> float:
        """CPU time spent sampling as a fraction of one core over the elapsed time."""
        return self.overhead_seconds / self.elapsed if self.elapsed > 0 else 0.0

    def timeline(self) -> list[dict[str, Any]]:
        """Every sample as a plain dict, oldest first (for charts and the history)."""
        return [s.to_dict() for s in self.samples]

    def summary(self) -> dict[str, Any]:
        """Duration, sample count and the headline figures of the whole recording (the
        means and maxima cover every reading taken over a period, not only the window)."""
        with self._lock:
            taken, figures = self._totals.taken, self._totals.figures()
        return {
            "duration": self.elapsed,
            "samples": taken,
            "interval": self.interval,
            **figures,
            "overhead_seconds": self.overhead_seconds,
        }


@dataclass
class _Totals:
    """Running sums and maxima of every reading, so the summary needs no stored samples.
    CPU figures leave out the start reading, whose CPU is zero by construction."""

    taken: int = 0  # every reading, the start one included
    count: int = 0  # readings over a period
    cpu_sum: float = 0.0
    cpu_max: float = 0.0
    job_cpu_sum: float = 0.0
    job_rss_max: int = 0
    mem_used_max: int = 0

    def add(self, sample: Sample, *, measured: bool) -> None:
        self.taken += 1
        self.job_rss_max = max(self.job_rss_max, sample.job_rss)
        self.mem_used_max = max(self.mem_used_max, sample.mem_used)
        if measured:
            self.count += 1
            self.cpu_sum += sample.cpu_percent
            self.cpu_max = max(self.cpu_max, sample.cpu_percent)
            self.job_cpu_sum += sample.job_cpu_percent

    def figures(self) -> dict[str, Any]:
        n = self.count
        return {
            "cpu_mean": self.cpu_sum / n if n else 0.0,
            "cpu_max": self.cpu_max,
            "job_rss_max": self.job_rss_max,
            "job_cpu_mean": self.job_cpu_sum / n if n else 0.0,
            "mem_used_max": self.mem_used_max,
        }


def _disk_rates(before: Any, after: Any, seconds: float) -> tuple[float, float]:
    """Read and write bytes per second between two `disk_io_counters()` results,
    either of which may be None (no disks visible, as in some containers)."""
    if before is None or after is None or seconds <= 0:
        return 0.0, 0.0
    return (
        max(0, after.read_bytes - before.read_bytes) / seconds,
        max(0, after.write_bytes - before.write_bytes) / seconds,
    )
