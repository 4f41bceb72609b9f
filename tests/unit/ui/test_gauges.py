"""`renderrush.ui.gauges`: CPU, memory, frames/s and speedup gauges and a CPU/memory timeline.
A gauge shows a number only once its value was measured (a dash, never a made-up 0); the
timeline scrolls over a window and runs on across jobs with a gap; frames/s grows its dial;
the speedup is measured against a sequential baseline, on a dial up to the worker count."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from renderrush.core.resources import available_cores
from renderrush.recording.monitor import Sample
from renderrush.segments.progress import ProgressEvent
from renderrush.ui import LiveGauges

EventFactory = Callable[..., ProgressEvent]
SampleFactory = Callable[..., Sample]


def test_live_gauges_show_samples_fps_and_speedup(event: EventFactory, sample: SampleFactory) -> None:
    gauges = LiveGauges(window=3.0, columns=2)
    assert gauges.gauges_figure.layout.grid.rows == 2
    gauges.reset(workers=2)
    for t in (0.5, 1.0, 1.5, 2.0, 2.5):
        gauges.update_sample(sample(t, cpu=40 + t))
    cpu, memory, fps, speedup = gauges.gauges_figure.data
    assert cpu.value == 42.5 and memory.value == 75.0 and gauges.values["memory"] == 75.0
    assert list(gauges.timeline_figure.data[2].y) == [75.0] * 5
    gauges.reset()  # the next job continues the timeline after a gap; old points scroll out
    gauges.update_sample(sample(0.5))
    gauges.update_sample(sample(1.0))
    assert list(gauges.timeline_figure.data[0].x) == [1.5, 2.0, 2.5, 3.0, 4.0, 4.5]
    assert gauges.timeline_figure.data[0].y[-3] is None and gauges.samples == 2
    gauges.update_progress(event("frames", 60, 2.0, job="sequential"))
    assert fps.value == 30.0 and gauges.values["speedup"] is None
    gauges.set_baseline(20.0)
    gauges.update_progress(event("frames", 60, 1.0, job="parallel"))
    assert speedup.value == 3.0 and gauges.values["speedup"] == 3.0
    gauges.update_progress(event("frames", 900, 1.0))  # faster than the dial: the dial grows
    assert fps.gauge.axis.range[1] >= 900
    gauges.set_speedup(1.5, workers=2)
    assert speedup.value == 1.5 and tuple(speedup.gauge.axis.range) == (0, max(2, available_cores()))


def test_gauges_show_only_measured_values() -> None:
    gauges = LiveGauges()
    cpu, memory, fps, speedup = gauges.gauges_figure._widget_data
    for measured in (cpu, memory):  # read when the gauges were made
        assert measured["mode"] == "gauge+number" and 0 <= measured["value"] <= 100
    for unmeasured in (fps, speedup):
        assert unmeasured["mode"] == "gauge" and unmeasured.get("value") is None and "—" in unmeasured["title"]["text"]
    event = ProgressEvent("frames", 30, 90, 0, 3, 1.0, job="")
    gauges.update_progress(event)  # a plain render: frames/s measured, speedup still not
    fps, speedup = gauges.gauges_figure._widget_data[2:]
    assert fps["value"] == 30.0 and fps["mode"] == "gauge+number"
    assert speedup["mode"] == "gauge" and speedup.get("value") is None
    gauges.set_speedup(1.5, 2)
    assert gauges.gauges_figure._widget_data[3]["value"] == 1.5
    gauges.reset(2)  # a new job: its frames/s and speedup are not measured yet
    assert [g["mode"] for g in gauges.gauges_figure._widget_data[2:]] == ["gauge", "gauge"]


def test_memory_that_cannot_be_read_shows_a_dash(monkeypatch: pytest.MonkeyPatch, quick_cpu: float) -> None:
    monkeypatch.setattr("renderrush.ui.gauges.total_memory", lambda: 0)
    gauges = LiveGauges()
    cpu, memory = gauges.gauges_figure._widget_data[:2]
    assert cpu["value"] == quick_cpu and cpu["title"]["text"] == "CPU %"
    assert memory["mode"] == "gauge" and memory.get("value") is None and memory["title"]["text"] == "Memory %<br>—"
    assert gauges.values["memory"] is None and repr(gauges) == "<LiveGauges>"


@pytest.mark.usefixtures("quick_cpu")
def test_the_timeline_shows_the_jobs_share_of_the_usable_cores(
    monkeypatch: pytest.MonkeyPatch, sample: SampleFactory
) -> None:
    monkeypatch.setattr("renderrush.ui.gauges.available_cores", lambda: 2)
    gauges = LiveGauges(columns=4)
    assert gauges.gauges_figure.layout.grid.rows == 1 and gauges.workers == 2
    for t, job_cpu in ((0.5, 150.0), (1.0, 500.0), (1.5, 33.333)):
        gauges.update_sample(sample(t, cpu=12.345, job_cpu=job_cpu))
    machine, job, memory = gauges.timeline_figure._widget_data  # the stored state, for pages drawn later
    assert job["y"] == [75.0, 100.0, 16.7]  # per cent of 2 cores, capped at 100, one decimal
    assert machine["y"] == [12.3] * 3 and memory["y"] == [75.0] * 3 and job["x"] == [0.5, 1.0, 1.5]
    assert gauges.gauges_figure._widget_data[0]["value"] == 12.3


@pytest.mark.usefixtures("quick_cpu")
def test_speedup_is_live_only_against_a_baseline(event: EventFactory) -> None:
    gauges = LiveGauges(fps_max=50.0)
    gauges.update_progress(event("frames", 60, 1.0, job="parallel"))  # no baseline yet
    assert gauges.values["speedup"] is None and gauges.gauges_figure.data[3].value is None
    assert tuple(gauges.gauges_figure.data[2].gauge.axis.range) == (0, 90.0)  # 60 fps: grown to 1.5 times
    gauges.set_baseline(30.0)
    gauges.update_progress(event("frames", 60, 2.0, job="sequential"))  # the baseline run itself
    assert gauges.values["speedup"] is None and gauges.values["fps"] == 30.0
    gauges.update_progress(event("frames", 45, 1.0, job="parallel"))
    assert gauges.values["speedup"] == 1.5 and gauges.gauges_figure.data[3].value == 1.5
    gauges.update_progress(event("frames", 10, 1.0))  # slower again: the dial keeps its size
    assert tuple(gauges.gauges_figure.data[2].gauge.axis.range) == (0, 90.0)


@pytest.mark.usefixtures("quick_cpu")
def test_speedup_dial_reaches_the_worker_count_or_the_speedup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("renderrush.ui.gauges.available_cores", lambda: 2)
    gauges = LiveGauges()
    assert tuple(gauges.gauges_figure.data[3].gauge.axis.range) == (0, 2)
    gauges.reset(workers=6)
    assert tuple(gauges.gauges_figure.data[3].gauge.axis.range) == (0, 6) and gauges.workers == 6
    gauges.set_speedup(7.456)  # above the ideal (a lucky run): the dial still shows it
    speedup = gauges.gauges_figure._widget_data[3]
    assert speedup["value"] == 7.46 and tuple(speedup["gauge"]["axis"]["range"]) == (0, 7.456)


@pytest.mark.usefixtures("quick_cpu")
@pytest.mark.parametrize("cores", [1, 2, 4])
def test_after_a_one_worker_render_the_speedup_dial_is_not_0_to_1(monkeypatch: pytest.MonkeyPatch, cores: int) -> None:
    """A render in process (1 worker) measured against an earlier sequential run: the dial
    still reaches what this machine's cores could give, at least 2."""
    monkeypatch.setattr("renderrush.ui.gauges.available_cores", lambda: cores)
    gauges = LiveGauges()
    gauges.reset(workers=1)
    assert tuple(gauges.gauges_figure.data[3].gauge.axis.range) == (0, max(2, cores))
    gauges.set_speedup(0.96, workers=1)
    speedup = gauges.gauges_figure._widget_data[3]
    assert speedup["value"] == 0.96 and tuple(speedup["gauge"]["axis"]["range"]) == (0, max(2, cores))
