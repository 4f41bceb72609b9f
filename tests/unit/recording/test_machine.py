"""Machine facts: what a job row records about the machine, and when two rows come from
the same machine (the advisor only fits timings from this one)."""

from __future__ import annotations

import sys
from typing import Any

import cv2
import numpy as np
import pytest

import renderrush
from renderrush.core.resources import available_cores, total_memory
from renderrush.recording import machine
from renderrush.recording.machine import machine_info, same_machine


def test_machine_info_reports_limits_and_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(machine, "PACKAGES", (*machine.PACKAGES, "no-such-package-here"))
    info = machine_info()
    assert info["cores"] == available_cores() and info["memory"] == total_memory()
    assert info["os"] and info["python"].count(".") == 2
    packages = info["packages"]
    assert packages["renderrush"] == renderrush.__version__ and packages["opencv"] == cv2.__version__
    assert packages["numpy"] == np.__version__ and packages["no-such-package-here"] is None
    assert all(packages[name] for name in ("dask", "av", "imageio-ffmpeg", "psutil"))


def test_machine_info_without_opencv_reports_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cv2", None)  # `import cv2` raises ImportError
    assert machine_info()["packages"]["opencv"] is None


def test_this_machine_is_the_same_machine_whatever_its_library_versions() -> None:
    here = machine_info()
    upgraded: dict[str, Any] = {**here, "python": "9.9.9", "packages": {"numpy": "99"}}
    assert same_machine(here, here) and same_machine(upgraded, here)


@pytest.mark.parametrize("key", ["cores", "memory", "os", "platform", "arch"])
def test_a_record_that_differs_in_one_key_is_another_machine(key: str) -> None:
    here = machine_info()
    assert not same_machine({**here, key: "elsewhere"}, here)
    assert not same_machine({k: v for k, v in here.items() if k != key}, here)


@pytest.mark.parametrize("recorded", [None, {}])
def test_a_record_without_machine_facts_is_never_this_machine(recorded: dict[str, Any] | None) -> None:
    assert not same_machine(recorded, machine_info())
