"""Where a job runs, chosen in the control panel (and so in the web app): this machine (the
panel's processes / threads / sync choice), a local Dask cluster the panel starts and keeps,
or a scheduler address the user types. A cluster is checked before a job starts (it answers,
has workers, they can render: `backends.reach`); the panel shows its workers, cores and
Dask dashboard link, or what is wrong in one sentence."""

from __future__ import annotations

import html
import importlib.util
from collections.abc import Callable
from typing import Any

import ipywidgets as w

from ..backends.reach import CHECK_TIMEOUT, ClusterReport, check_client, check_scheduler
from ..core.errors import ClusterError
from ._common import Component, error_sentence, message_html

THIS_MACHINE, LOCAL_CLUSTER, ADDRESS = "this machine", "local Dask cluster", "scheduler address"
RUN_ON = (THIS_MACHINE, LOCAL_CLUSTER, ADDRESS)
RUN_ON_HELP = (
    "workers on this machine: processes, threads or sync below",
    "a Dask LocalCluster of one-thread worker processes on this machine, with its dashboard",
    "a running `dask scheduler`: type its address, e.g. tcp://10.0.0.5:8786",
)


class ClusterChoice(Component):
    """The "Run on" choice. `scheduler(local)` is the job's `scheduler` option (`local`, the
    panel's local scheduler, for this machine); for a cluster it checks it first and raises
    `ClusterError` (one sentence) if the job could not run there. `workers` gives the size of
    the local cluster to start; `decoder` the input's codec the workers must decode."""

    def __init__(self, workers: Callable[[], int], local_widget: w.Widget | None = None) -> None:
        super().__init__()
        self.workers, self.local_widget = workers, local_widget
        self.local_cluster: tuple[Any, Any] | None = None
        """The LocalCluster this component started and its client."""
        self.report: ClusterReport | None = None
        self.timeout = CHECK_TIMEOUT
        """How long to wait for a typed scheduler to answer."""
        self.where = w.ToggleButtons(
            options=list(RUN_ON), value=THIS_MACHINE, description="Run on", tooltips=list(RUN_ON_HELP)
        )
        self.address = w.Text(placeholder="tcp://HOST:8786", description="Scheduler")
        self.check_button = w.Button(description="Check", icon="plug", tooltip="connect and count the workers")
        self.check_button.on_click(lambda _: self._check_clicked())
        self.info = w.HTML()
        self.address_row = w.HBox([self.address, self.check_button])
        self.widget = w.VBox([self.where, self.address_row, self.info])
        self.widget.add_class("rr-cluster-choice")
        self.where.observe(lambda _: self._show(), names="value")
        self._show()

    def __repr__(self) -> str:
        return f"<ClusterChoice: {self.where.value}{': ' + self.report.summary() if self.report else ''}>"

    def _show(self) -> None:
        here = self.where.value == THIS_MACHINE
        if self.local_widget is not None:
            self.local_widget.layout.display = None if here else "none"
        self.address.layout.display = None if self.where.value == ADDRESS else "none"
        self.check_button.layout.display = None if not here else "none"
        self.report = None
        self.info.value = ""

    def scheduler(self, local: str, decoder: str | None = None) -> str:
        """The `scheduler` option for a job started now."""
        if self.where.value == THIS_MACHINE:
            return local
        report = self.check(decoder)
        return report.address

    def _check_clicked(self) -> None:
        try:
            self.check()
        except ClusterError:
            pass  # shown in `info`: a button has nobody to raise to

    def check(self, decoder: str | None = None) -> ClusterReport:
        """Reach the chosen cluster (starting the local one if needed) and show what it has;
        a failure is shown in one sentence and raised as `ClusterError`."""
        self.info.value = message_html("Connecting…")
        try:
            if self.where.value == LOCAL_CLUSTER:
                self.report = check_client(self._local_client(), decoder)
            elif self.where.value == ADDRESS:
                self.report = check_scheduler(self.address.value, decoder, self.timeout)
            else:
                raise ClusterError("this machine runs jobs without a cluster; choose a cluster to check")
        except Exception as exc:  # noqa: BLE001 — any failure to reach it is shown as one sentence
            self.report = None
            sentence = error_sentence(exc)
            self.info.value = message_html(sentence, "error")
            raise exc if isinstance(exc, ClusterError) else ClusterError(sentence) from None
        self.info.value = self._report_html(self.report)
        return self.report

    @staticmethod
    def _report_html(report: ClusterReport) -> str:
        board = (
            f'<a href="{html.escape(report.dashboard)}" target="_blank">Dask dashboard</a>'
            if report.dashboard
            else "no Dask dashboard (the scheduler needs bokeh installed)"
        )
        return (
            message_html(
                f"{report.workers} worker{'s' if report.workers != 1 else ''}, {report.cores} cores at "
                f"{report.address}",
                "ok",
            )
            + f"<small>{board}</small>"
        )

    def _local_client(self) -> Any:
        """A client of this panel's LocalCluster, started (again) with the current worker count."""
        from distributed import Client, LocalCluster

        workers = max(1, int(self.workers()))
        if self.local_cluster is not None and len(self.local_cluster[0].workers) != workers:
            self.close()
        if self.local_cluster is None:
            dashboard = ":0" if importlib.util.find_spec("bokeh") else None  # distributed serves one only with bokeh
            cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=dashboard, silence_logs=40
            )
            self.local_cluster = (cluster, Client(cluster))
        return self.local_cluster[1]

    def close(self) -> None:
        """Stop the local cluster this component started, if any."""
        if self.local_cluster is not None:
            cluster, client = self.local_cluster
            self.local_cluster = None
            client.close()
            cluster.close()
