"""The control panel's scheduler buttons, which show what will run: "in process" for a job of
one worker (it runs in this process whatever scheduler is chosen: `backends.local.in_process`),
and the parallel scheduler last chosen again when the workers rise above one."""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from ..core.resources import available_cores

SCHEDULERS = ("processes", "threads", "sync")
SCHEDULER_LABELS = {"processes": "processes", "threads": "threads", "sync": "in process"}
"""What the buttons say: "sync" runs the segments one after another in this process."""
SCHEDULER_HELP = {
    "processes": "processes: one Python process per worker (real parallelism)",
    "threads": "threads: workers share one process (filters release the GIL partly)",
    "sync": "in process: one segment at a time, no pool (the sequential baseline; a one-worker job runs here)",
}


class SchedulerButtons:
    """Toggle buttons (`buttons`) for the scheduler, kept in step with a workers slider.

    One worker shows "in process", because that is where such a job runs; more workers
    bring back the parallel scheduler last chosen, unless "in process" itself was chosen.
    Choosing a parallel scheduler while one worker is set raises the workers to use it."""

    def __init__(self, scheduler: str, workers: w.IntSlider) -> None:
        if scheduler not in SCHEDULERS:
            raise ValueError(f"unknown scheduler '{scheduler}': use one of {', '.join(SCHEDULERS)}")
        self.workers = workers
        self.parallel = scheduler if scheduler != "sync" else "processes"
        """The parallel scheduler to show again when the workers rise above one."""
        self.chosen_sync = scheduler == "sync"
        """Whether "in process" was chosen, rather than shown because one worker runs there."""
        self._showing = False
        self.buttons = w.ToggleButtons(
            options=[(SCHEDULER_LABELS[s], s) for s in SCHEDULERS],
            value=scheduler,
            description="Scheduler",
            tooltips=[SCHEDULER_HELP[s] for s in SCHEDULERS],
            style={"button_width": "90px"},
        )
        self.buttons.add_class("rr-scheduler")
        workers.observe(lambda _: self.show_what_runs(), names="value")
        self.buttons.observe(self._on_choice, names="value")
        self.show_what_runs()

    @property
    def runs_in_process(self) -> bool:
        """Whether the job runs in this process: "in process" chosen, or one worker."""
        return self.buttons.value == "sync" or self.workers.value == 1

    def show_what_runs(self) -> None:
        if self.workers.value == 1 and self.buttons.value != "sync":
            self._show("sync")
        elif self.workers.value > 1 and self.buttons.value == "sync" and not self.chosen_sync:
            self._show(self.parallel)

    def _show(self, value: str) -> None:
        self._showing = True
        try:
            self.buttons.value = value
        finally:
            self._showing = False

    def _on_choice(self, change: dict[str, Any]) -> None:
        if self._showing:
            return
        self.chosen_sync = change["new"] == "sync"
        if not self.chosen_sync:
            self.parallel = change["new"]
            if self.workers.value == 1:  # a parallel scheduler needs workers to run on
                self.workers.value = max(2, min(available_cores(), self.workers.max))
