"""The machine a job runs on, as the history records it: timings are only comparable
between runs on the same machine, so every job row carries these facts and the advisor
compares them before it trusts a past timing."""

from __future__ import annotations

import platform
from collections.abc import Mapping
from importlib import metadata
from typing import Any

from ..core.resources import available_cores, total_memory

PACKAGES = ("renderrush", "numpy", "dask", "av", "imageio-ffmpeg", "psutil")
"""Distributions whose versions `machine_info` reports (OpenCV is read from `cv2` itself)."""
MACHINE_KEYS = ("cores", "memory", "os", "platform", "arch")
"""What makes two history records come from the same machine, for the advisor's timings."""


def _package_version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _opencv_version() -> str | None:
    # opencv-python's distribution name varies (headless, contrib): the module knows its version
    try:
        import cv2
    except ImportError:
        return None
    return cv2.__version__


def machine_info() -> dict[str, Any]:
    """The machine a job ran on: the cores and memory it may use (container limits
    honoured), OS, Python and library versions, so timings from different machines
    can be told apart. A package that is missing reports None."""
    packages = {name: _package_version(name) for name in PACKAGES}
    packages["opencv"] = _opencv_version()
    return {
        "cores": available_cores(),
        "memory": total_memory(),
        "os": platform.system(),
        "platform": platform.platform(),
        "arch": platform.machine(),
        "python": platform.python_version(),
        "packages": packages,
    }


def same_machine(machine: Mapping[str, Any] | None, here: Mapping[str, Any]) -> bool:
    """Whether a record's `machine` is this one (timings from other machines do not fit here)."""
    return machine is not None and bool(machine) and all(machine.get(key) == here.get(key) for key in MACHINE_KEYS)
