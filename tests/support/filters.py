"""User filters for tests: one slow filter that makes a job last long enough to watch,
disturb or cancel, and `FilterRegistry`, behind the `registry` fixture, which undoes every
registration a test makes."""

from __future__ import annotations

import time

import numpy as np

from renderrush import Param, available_filters, register_filter, unregister_filter

SLOW = "slow_copy"


def slow_copy(frame: np.ndarray, delay: float = 0.02) -> np.ndarray:
    """Sleeps `delay` seconds and returns the frame unchanged. A top-level function of an
    importable module, so process pools, dask workers and child processes (PYTHONPATH set
    to the repository) find it by reference."""
    time.sleep(delay)
    return frame


def register_slow(name: str = SLOW, delay: float = 0.02) -> str:
    """Register `slow_copy` as `name`, taking `delay` seconds a frame unless a chain says
    otherwise (`name:SECONDS`); returns the name to put in a chain."""
    register_filter(name, replace=True, delay=Param(delay, 0.0, 1.0, "seconds per frame"))(slow_copy)
    return name


class FilterRegistry:
    """The filter registry as a test found it. `register` is `register_filter`, `slow`
    registers the slow filter; `restore` (at the end of a `with` block or of the test, for
    the `registry` fixture, even when it fails) removes every filter added since and puts
    back any that was replaced."""

    register = staticmethod(register_filter)

    def __init__(self) -> None:
        self._before = available_filters()

    def slow(self, name: str = SLOW, delay: float = 0.02) -> str:
        return register_slow(name, delay)

    def restore(self) -> None:
        now = available_filters()
        for name in now.keys() - self._before.keys():
            unregister_filter(name)
        for name, spec in self._before.items():
            if now.get(name) is not spec:
                register_filter(name, description=spec.description, yuv=spec.yuv, replace=True, **spec.params)(spec.bgr)

    def __enter__(self) -> FilterRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.restore()
