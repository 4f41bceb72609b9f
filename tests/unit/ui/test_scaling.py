"""`renderrush.ui.scaling`: the sweep chart keeps one measurement per worker count, draws the
ideal N× line from its smallest point, and its table and data are plain copies."""

from __future__ import annotations

import pytest

from renderrush.ui import ScalingChart


def test_scaling_chart_replaces_a_repeated_measurement_and_starts_at_its_smallest_point() -> None:
    chart = ScalingChart(title="Sweep")
    chart.add(2, 8.0, 20)
    chart.add(4, 5.0)
    assert chart.speedups == pytest.approx([1.0, 1.6]) and chart.points[1]["efficiency"] == pytest.approx(0.8)
    assert list(chart.figure.data[2].y) == [1.0, 2.0], "ideal: relative to the smallest worker count"
    chart.add(2, 10.0, 16)  # measured again: replaced, not added
    assert [p["workers"] for p in chart.points] == [2, 4] and chart.speedups == pytest.approx([1.0, 2.0])
    assert chart.figure._widget_data[0]["y"] == [10.0, 5.0] and chart.figure._widget_data[0]["text"] == [
        "16 fps",
        "0 fps",
    ]
    assert chart.figure.layout.title.text == "Sweep"
    assert "<td style='padding:2px 8px;white-space:nowrap'>2.00×</td>" in chart.table.value
    copied = chart.to_dict()
    copied[0]["workers"] = 99
    assert chart.points[0]["workers"] == 2 and copied[1] == chart.points[1]


def test_scaling_chart() -> None:
    chart = ScalingChart()
    chart.add(2, 6.0, 30)
    chart.add(1, 10.0, 18)
    chart.add(4, 5.0, 36)
    assert [p["workers"] for p in chart.points] == [1, 2, 4]
    assert chart.speedups == pytest.approx([1.0, 10 / 6, 2.0])
    assert chart.points[2]["efficiency"] == pytest.approx(0.5)
    assert list(chart.figure.data[2].y) == [1, 2, 4]
    assert "50%" in chart.table.value


# ---- download_link ----------------------------------------------------------------------------
