"""The scheduler buttons show what will run: one worker runs in this process whatever
scheduler is chosen, so they show "in process" then, and the parallel choice comes back
with more workers."""

from __future__ import annotations

from pathlib import Path

import ipywidgets as w
import pytest

from renderrush.backends.local import in_process
from renderrush.recording.advisor import Recommendation
from renderrush.ui import ControlPanel
from renderrush.ui.scheduler import SchedulerButtons


def labels(buttons: SchedulerButtons) -> dict[str, str]:
    return {value: label for label, value in buttons.buttons.options}


def test_the_in_process_scheduler_is_labelled_in_process() -> None:
    buttons = SchedulerButtons("threads", w.IntSlider(value=2, min=1, max=4))
    assert labels(buttons) == {"processes": "processes", "threads": "threads", "sync": "in process"}


@pytest.mark.parametrize("chosen", ["processes", "threads"])
def test_one_worker_shows_in_process_and_more_bring_the_choice_back(chosen: str) -> None:
    workers = w.IntSlider(value=2, min=1, max=4)
    buttons = SchedulerButtons(chosen, workers)
    assert buttons.buttons.value == chosen and not buttons.runs_in_process
    workers.value = 1
    assert buttons.buttons.value == "sync" and buttons.runs_in_process
    assert in_process(chosen, 1, 4), "what the local backend does with one worker: the buttons agree"
    workers.value = 3
    assert buttons.buttons.value == chosen


def test_a_chosen_in_process_stays_and_a_parallel_choice_gets_workers() -> None:
    workers = w.IntSlider(value=3, min=1, max=4)
    buttons = SchedulerButtons("sync", workers)
    workers.value = 2
    assert buttons.buttons.value == "sync", "chosen, not shown: more workers do not undo it"
    workers.value = 1
    buttons.buttons.value = "threads"  # the user presses threads with one worker: it needs workers
    assert buttons.buttons.value == "threads" and workers.value >= 2


def test_an_in_process_advice_shows_in_process(tmp_path: Path, clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    advice = Recommendation(1, 3.0, "in-process", "short job", memory_cap_workers=8, segments=1)
    monkeypatch.setattr("renderrush.ui.panel.advise", lambda *args: advice)
    panel = ControlPanel(tmp_path, history=False)
    assert panel.scheduler.value == "processes"
    panel.source.use_file(clip)
    assert (panel.workers.value, panel.scheduler.value) == (1, "sync")
    assert panel.settings()["scheduler"] == "sync"
    assert "line-height:1.35" in panel.advice.value and "<small>" not in panel.advice.value
