"""A 0-100 score saying whether this machine has room for a render right now.

Five components, each scored 0-100 (100 = plenty of room), combined by weight:

| component | weight | sub-score |
|---|---|---|
| cpu    | 0.30 | `100 - cpu_percent` (machine-wide busy percent over 0.2 s) |
| memory | 0.30 | `100 * min(1, (mem_available / mem_total) / 0.5)`: full marks with half the memory free |
| swap   | 0.10 | `100 - 2 * swap_percent`: 0 once half the swap is in use |
| disk   | 0.15 | `100 * min(1, disk_free / 5 GiB)` in the work directory, where segments and output go |
| load   | 0.15 | `100 * (1.5 - load_1m / cores)`: full marks at half a runnable task per core, 0 at 1.5 |

Every sub-score is clamped to 0..100. The score is the weighted mean, capped at the
weakest sub-score + 40 so one exhausted resource (a full disk, say) cannot hide
behind the others, and rounded to an integer. Cores and memory come from
`renderrush.core.resources`, i.e. the container's limits, not the host's totals.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from renderrush.core.errors import SettingsError

from ..core import resources

GIB = 1024**3
DISK_COMFORT_BYTES = 5 * GIB
WEAKEST_CAP = 40
WEIGHTS = {"cpu": 0.30, "memory": 0.30, "swap": 0.10, "disk": 0.15, "load": 0.15}


@dataclass(frozen=True)
class HealthReadings:
    """The raw figures the score is computed from (injectable for tests)."""

    cpu_percent: float
    mem_available: int
    mem_total: int
    swap_percent: float
    disk_free: int
    disk_total: int
    load_avg_1m: float
    cores: int


@dataclass(frozen=True)
class HealthComponent:
    """One sub-score: `value` is the raw figure it was computed from."""

    name: str
    score: float
    weight: float
    value: float
    detail: str


@dataclass(frozen=True)
class HealthReport:
    score: int
    components: list[HealthComponent]
    verdict: str
    readings: HealthReadings = field(repr=False)

    @property
    def weakest(self) -> HealthComponent:
        return min(self.components, key=lambda c: c.score)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return asdict(self)


def read_health(work_dir: str | Path = ".") -> HealthReadings:
    """Current readings: psutil for CPU, swap and load, `resources` for cores and memory."""
    try:
        disk = shutil.disk_usage(work_dir)
    except OSError as exc:
        problem = f"cannot check free disk space in {str(work_dir)!r}: {exc.strerror or exc}"
        raise SettingsError(f"{problem}; pass an existing folder as work_dir").in_cli_terms(
            f"{problem}; give an existing folder with --work-dir"
        ) from exc
    return HealthReadings(
        cpu_percent=psutil.cpu_percent(interval=0.2),
        mem_available=resources.available_memory(),
        mem_total=resources.total_memory(),
        swap_percent=psutil.swap_memory().percent,
        disk_free=disk.free,
        disk_total=disk.total,
        load_avg_1m=psutil.getloadavg()[0],
        cores=resources.available_cores(),
    )


def system_health(work_dir: str | Path = ".", readings: HealthReadings | None = None) -> HealthReport:
    """Score the machine's room for a render (formula in the module docstring).

    `readings` defaults to `read_health(work_dir)`, which blocks 0.2 s to measure CPU.
    """
    r = readings if readings is not None else read_health(work_dir)
    mem_fraction = r.mem_available / r.mem_total if r.mem_total > 0 else 0.0
    load_per_core = r.load_avg_1m / max(1, r.cores)
    raw = [
        ("cpu", 100 - r.cpu_percent, r.cpu_percent, f"CPU {r.cpu_percent:.0f}% busy"),
        (
            "memory",
            100 * mem_fraction / 0.5,
            r.mem_available,
            f"{r.mem_available / GIB:.1f} of {r.mem_total / GIB:.1f} GiB memory free ({mem_fraction:.0%})",
        ),
        ("swap", 100 - 2 * r.swap_percent, r.swap_percent, f"swap {r.swap_percent:.0f}% used"),
        (
            "disk",
            100 * r.disk_free / DISK_COMFORT_BYTES,
            r.disk_free,
            f"{r.disk_free / GIB:.1f} of {r.disk_total / GIB:.1f} GiB disk free",
        ),
        ("load", 100 * (1.5 - load_per_core), r.load_avg_1m, f"load {r.load_avg_1m:.2f} on {r.cores} cores"),
    ]
    components = [
        HealthComponent(name, _clamp(score), WEIGHTS[name], float(value), detail) for name, score, value, detail in raw
    ]
    mean = sum(c.score * c.weight for c in components) / sum(WEIGHTS.values())
    weakest = min(components, key=lambda c: c.score)
    score = round(min(mean, weakest.score + WEAKEST_CAP))
    return HealthReport(score, components, _verdict(score, weakest, r), r)


def _clamp(score: float) -> float:
    return max(0.0, min(100.0, score))


def _verdict(score: int, weakest: HealthComponent, r: HealthReadings) -> str:
    """One line: the headline figures when good, otherwise the weakest component."""
    if score >= 80:
        busy = "mostly idle" if r.cpu_percent < 25 else "partly busy" if r.cpu_percent < 60 else "busy"
        return f"Good: {r.cores} cores {busy}, {r.mem_available / GIB:.1f} GiB memory free"
    label = "Fair" if score >= 50 else "Poor"
    return f"{label}: {weakest.name} is the weakest ({weakest.detail})"
