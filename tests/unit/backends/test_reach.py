"""Checking a scheduler before a job: workers, cores, dashboard, and one sentence for a
cluster without workers, without RenderRush or without a codec the job needs."""

from __future__ import annotations

from typing import Any

import pytest

from renderrush import ClusterError
from renderrush.backends.reach import ClusterReport, check_client, worker_can_render


def test_a_worker_names_the_codecs_it_lacks() -> None:
    assert worker_can_render("h264") == [] and worker_can_render(None) == []
    assert worker_can_render("no-such-codec") == ["no-such-codec decoder"]


class FakeClient:
    """What `check_client` asks a `distributed.Client`."""

    def __init__(self, workers: dict[str, dict[str, Any]], answers: dict[str, Any]) -> None:
        self.workers, self.answers = workers, answers
        self.scheduler = type("Scheduler", (), {"address": "tcp://10.0.0.5:8786"})()
        self.dashboard_link = "http://10.0.0.5:8787/status"

    def scheduler_info(self, n_workers: int = 5) -> dict[str, Any]:
        return {"workers": self.workers}

    def run(self, function: Any, *args: Any, on_error: str = "raise") -> dict[str, Any]:
        return self.answers

    def run_on_scheduler(self, function: Any) -> bool:
        return True


WORKERS = {"tcp://10.0.0.6:1": {"nthreads": 4}, "tcp://10.0.0.7:1": {"nthreads": 8}}


def test_check_counts_workers_and_cores_and_links_the_dashboard() -> None:
    report = check_client(FakeClient(WORKERS, {w: [] for w in WORKERS}), "h264")
    assert report == ClusterReport("tcp://10.0.0.5:8786", 2, 12, "http://10.0.0.5:8787/status")


@pytest.mark.parametrize(
    ("workers", "answers", "expected"),
    [
        ({}, {}, "the scheduler at tcp://10.0.0.5:8786 has no workers; start some with `dask worker"),
        (
            WORKERS,
            {"tcp://10.0.0.6:1": [], "tcp://10.0.0.7:1": ModuleNotFoundError("No module named 'renderrush'")},
            "1 of 2 workers cannot run RenderRush (tcp://10.0.0.7:1: No module named 'renderrush'); install",
        ),
        (
            WORKERS,
            {"tcp://10.0.0.6:1": ["hevc decoder"], "tcp://10.0.0.7:1": []},
            "1 of 2 workers lack the hevc decoder this job needs (tcp://10.0.0.6:1)",
        ),
    ],
)
def test_a_cluster_that_cannot_render_is_one_sentence(
    workers: dict[str, Any], answers: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ClusterError) as excinfo:
        check_client(FakeClient(workers, answers), "hevc")
    assert str(excinfo.value).startswith(expected) and "\n" not in str(excinfo.value)
