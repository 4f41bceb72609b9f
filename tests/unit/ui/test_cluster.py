"""The control panel's "Run on" choice: this machine, a local Dask cluster, a typed address
checked before the job starts (one sentence when it cannot be used)."""

from __future__ import annotations

from pathlib import Path

import pytest

from renderrush import ClusterError
from renderrush.backends.reach import ClusterReport
from renderrush.ui.cluster import ADDRESS, LOCAL_CLUSTER, THIS_MACHINE, ClusterChoice
from renderrush.ui.panel import ControlPanel


def test_this_machine_keeps_the_local_scheduler_and_shows_its_choice(tmp_path: Path) -> None:
    panel = ControlPanel(tmp_path, history=False, scheduler="threads")
    choice = panel.cluster
    assert choice.where.value == THIS_MACHINE and choice.scheduler("threads") == "threads"
    assert panel.job_settings()["scheduler"] == "threads"
    assert panel.scheduler.layout.display is None and choice.address.layout.display == "none"
    choice.where.value = ADDRESS
    assert panel.scheduler.layout.display == "none", "processes/threads/sync only apply to this machine"
    assert choice.address.layout.display is None and choice.check_button.layout.display is None
    choice.where.value = LOCAL_CLUSTER
    assert choice.address.layout.display == "none"


def test_an_unreachable_address_is_one_sentence_before_the_job(tmp_path: Path, clip: Path) -> None:
    panel = ControlPanel(tmp_path, history=False)
    panel.source.use_file(clip)
    panel.cluster.where.value = ADDRESS
    panel.cluster.address.value = "tcp://127.0.0.1:1"  # nothing listens on port 1
    panel.cluster.timeout = "1s"
    with pytest.raises(ClusterError) as excinfo:
        panel.job_settings()
    message = str(excinfo.value)
    assert "cannot reach a dask scheduler at 'tcp://127.0.0.1:1'" in message and "\n" not in message
    assert message.count(". ") == 0, "one sentence"
    panel._start(panel.render)  # from the Render button: shown in the status, no job started
    assert "cannot reach a dask scheduler" in panel.status.value and panel.job is None
    assert "cannot reach" in panel.cluster.info.value


def test_an_empty_address_says_what_to_type(tmp_path: Path) -> None:
    choice = ClusterChoice(lambda: 2)
    choice.where.value = ADDRESS
    with pytest.raises(ClusterError, match="type a scheduler address first"):
        choice.scheduler("processes")


def test_a_report_shows_workers_cores_and_the_dashboard_link() -> None:
    shown = ClusterChoice._report_html(ClusterReport("tcp://10.0.0.5:8786", 2, 12, "http://10.0.0.5:8787/status"))
    assert "2 workers, 12 cores at tcp://10.0.0.5:8786" in shown and 'href="http://10.0.0.5:8787/status"' in shown
    assert "no Dask dashboard" in ClusterChoice._report_html(ClusterReport("tcp://h:1", 1, 1, None))
