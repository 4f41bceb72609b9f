"""resources.py: cores and memory a job may use, read from cgroup v2 files (made here in a
temporary folder standing in for /sys/fs/cgroup) and the affinity mask."""

from __future__ import annotations

import os
from pathlib import Path

import psutil
import pytest

from renderrush.core import resources


def cgroup(tmp_path: Path, **files: str) -> Path:
    for name, text in files.items():
        (tmp_path / name.replace("_", ".")).write_text(text + "\n")
    return tmp_path


@pytest.mark.parametrize(
    ("text", "cpus"),
    [("150000 100000", 1.5), ("max 100000", None), ("", None), ("junk 100000", None), ("50000 0", None)],
)
def test_cpu_quota(tmp_path: Path, text: str, cpus: float | None) -> None:
    assert resources.cgroup_cpu_limit(cgroup(tmp_path, cpu_max=text)) == cpus


def test_no_cgroup_files_means_no_limits(tmp_path: Path) -> None:
    assert resources.cgroup_cpu_limit(tmp_path) is None and resources.cgroup_memory_limit(tmp_path) is None
    assert resources.total_memory(tmp_path) == psutil.virtual_memory().total


def test_cores_are_the_affinity_mask_capped_by_the_quota_rounded_up(tmp_path: Path) -> None:
    mask = len(os.sched_getaffinity(0))
    assert resources.available_cores(tmp_path) == mask
    assert resources.available_cores(cgroup(tmp_path, cpu_max="50000 100000")) == 1  # half a core: one
    assert resources.available_cores(cgroup(tmp_path, cpu_max="150000 100000")) == min(mask, 2)
    assert resources.available_cores(cgroup(tmp_path, cpu_max="6400000 100000")) == mask  # quota above the mask


def test_memory_is_capped_by_the_cgroup_and_what_it_has_left(tmp_path: Path) -> None:
    root = cgroup(tmp_path, memory_max=str(512 << 20), memory_current=str(500 << 20))
    assert resources.cgroup_memory_limit(root) == 512 << 20
    assert resources.total_memory(root) == min(psutil.virtual_memory().total, 512 << 20)
    assert resources.available_memory(root) <= 12 << 20
    assert resources.cgroup_memory_limit(cgroup(tmp_path, memory_max="max")) is None


@pytest.mark.parametrize(("workers", "cores", "threads"), [(1, 8, 8), (2, 8, 4), (3, 8, 2), (16, 8, 1), (0, 2, 2)])
def test_threads_per_worker_share_the_cores(workers: int, cores: int, threads: int) -> None:
    assert resources.threads_per_worker(workers, cores) == threads


def test_encoder_threads_share_the_cores_among_the_segments_not_the_workers() -> None:
    assert [resources.encoder_threads(c) for c in (1, 2, 8, 64)] == [1, 2, 8, 8]  # one segment
    assert [resources.encoder_threads(2, n) for n in (1, 2, 3, 4, 100)] == [2, 1, 1, 1, 1]
    assert [resources.encoder_threads(16, n) for n in (1, 3, 4, 16, 40)] == [8, 5, 4, 1, 1]


def test_cpu_busy_percent_from_two_readings() -> None:
    times = type(psutil.cpu_times())
    zero = times(*([0.0] * len(times._fields)))
    busy = zero._replace(user=3.0, idle=1.0)
    assert resources.cpu_busy_percent(zero, busy) == pytest.approx(75.0)
    assert resources.cpu_busy_percent(busy, busy) == 0.0
