"""`renderrush.ui.filters`: the filter chain editor. Filters are added, reordered and removed
with buttons, each parameter gets a slider of its range with a round step, the text box shows
the chain in canonical form and accepts a typed one (an invalid one is a message, the chain
stays), and `on_change` hears every change but not the initial chain."""

from __future__ import annotations

import ipywidgets as w
import pytest

import renderrush as rr
from renderrush.core.errors import FilterError
from renderrush.media.filters import Param
from renderrush.ui import FilterEditor
from renderrush.ui.filters import slider_step


def test_filter_editor_add_reorder_remove_and_sliders() -> None:
    changes = []
    editor = FilterEditor("grayscale", on_change=changes.append)
    assert editor.text == "grayscale" and changes == []
    editor.choice.value = "blur"
    editor.add_button.click()
    assert editor.text == "grayscale,blur:2" and editor.chain_text.value == "grayscale,blur:2"
    sigma = editor.rows[1].sliders["sigma"]
    spec = rr.available_filters()["blur"].params["sigma"]
    assert isinstance(sigma, w.FloatSlider) and (sigma.min, sigma.max) == (spec.min, spec.max)
    sigma.value = 5
    assert editor.text == "grayscale,blur:5"
    assert editor.rows[0].up.disabled and editor.rows[-1].down.disabled
    editor.rows[1].up.click()
    assert editor.text == "blur:5,grayscale"
    editor.rows[0].down.click()
    assert editor.text == "grayscale,blur:5"
    editor.rows[0].remove.click()
    assert editor.text == "blur:5" and len(editor._rows_box.children) == 1
    assert len(changes) == 5 and changes[-1] is editor  # add, slider, up, down, remove
    assert editor.chain == rr.FilterChain.parse("blur:5")


def test_filter_editor_typed_chain() -> None:
    editor = FilterEditor(None)
    assert editor.text == "none" and "No filters" in editor.message.value
    editor.chain_text.value = "sepia:0.5, brightness:10"
    assert [row.name for row in editor.rows] == ["sepia", "brightness"]
    assert isinstance(editor.rows[1].sliders["offset"], w.IntSlider)
    assert editor.text == "sepia:0.5,brightness:10"
    editor.chain_text.value = "sparkle:3"
    assert "unknown filter 'sparkle'" in editor.message.value
    assert editor.text == "sepia:0.5,brightness:10"
    editor.chain_text.value = "blur:500"
    assert "between 0.1 and 50" in editor.message.value


@pytest.mark.parametrize(
    "param, step",
    [
        (Param(0, -255, 255), 1),  # integers step by one
        (Param(2.0, 0.1, 50.0), 0.1),
        (Param(1.0, 0.0, 4.0), 0.01),
        (Param(1.0, 0.0, 1.0), 0.002),
        (Param(0.0, 0.0, 7.0), 0.02),
        (Param(0.0, 0.0, 2000.0), 5),
        (Param(1.0, 1.0, 1.0), 1.0),  # no range: any step
    ],
)
def test_slider_step_is_round(param: Param, step: float) -> None:
    assert slider_step(param) == pytest.approx(step)


@pytest.mark.parametrize("span", [0.3, 1.0, 3.7, 12.0, 55.5, 640.0, 9999.0])
def test_slider_step_gives_200_to_500_positions(span: float) -> None:
    positions = span / slider_step(Param(0.0, 0.0, span))
    assert 200 - 1e-6 <= positions <= 500 + 1e-6


def test_rows_take_given_values_and_write_them_as_chain_text() -> None:
    editor = FilterEditor(rr.FilterChain.parse("contrast:1.5"))  # a parsed chain is accepted too
    assert editor.rows[0].values == {"gain": 1.5} and editor.rows[0].text() == "contrast:gain=1.5"
    position = editor.add("blur", sigma=2.5)
    assert position == 1 and editor.rows[1].text() == "blur:sigma=2.5" and editor.text == "contrast:1.5,blur:2.5"
    editor.add("invert")
    assert editor.rows[2].sliders == {} and editor.rows[2].text() == "invert"
    assert editor.rows[1].sliders["sigma"].step == pytest.approx(0.1)
    assert repr(editor) == "<FilterEditor: contrast:1.5,blur:2.5,invert>"


def test_unknown_filters_and_invalid_chains_raise_and_change_nothing() -> None:
    changes = []
    editor = FilterEditor("grayscale", on_change=changes.append)
    with pytest.raises(FilterError, match="unknown filter 'sparkle'; available: blur, "):
        editor.add("sparkle")
    with pytest.raises(FilterError, match="unknown filter 'sparkle'"):
        editor.set_chain("invert,sparkle")
    assert editor.text == "grayscale" and changes == []


def test_moves_past_the_ends_are_clamped_and_silent() -> None:
    changes = []
    editor = FilterEditor("grayscale,invert,sepia", on_change=changes.append)
    editor.move(0, -1)
    editor.move(2, +5)
    assert editor.text == "grayscale,invert,sepia:1" and changes == []
    editor.move(0, +5)
    assert editor.text == "invert,sepia:1,grayscale" and changes == [editor]
    assert [row.up.disabled for row in editor.rows] == [True, False, False]
    assert [row.down.disabled for row in editor.rows] == [False, False, True]


def test_clear_and_retyping_the_same_chain() -> None:
    changes = []
    editor = FilterEditor("grayscale,blur:3", on_change=changes.append)
    editor.chain_text.value = " grayscale , blur:sigma=3"  # the same chain written differently
    assert editor.chain_text.value == "grayscale,blur:3" and [row.name for row in editor.rows] == ["grayscale", "blur"]
    editor.clear()
    assert editor.rows == [] and editor.text == "none" and editor._rows_box.children == ()
    assert "No filters: the video is re-encoded as it is." in editor.message.value
    assert changes[-1] is editor
