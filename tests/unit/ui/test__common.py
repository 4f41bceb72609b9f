"""`renderrush.ui._common`: what every component shares. A component displays as its root
widget with its short repr as the text fallback and never lets a user callback's exception
escape; errors become one sentence for the page; numbers, messages and tables are formatted
(and escaped) one way; `frame_preview` gives the JPEG of the frame at a time; `sync_figure`
stores a figure's current state for views drawn later."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import ipywidgets as w
import numpy as np
import plotly.graph_objects as go
import pytest

from renderrush.core.errors import OutputError, RenderRushError
from renderrush.media.probe import probe
from renderrush.media.samples import read_frame_index
from renderrush.ui import (
    Figure,
    FilterEditor,
    LiveGauges,
    ProgressView,
    ResultsView,
    ScalingChart,
    VideoSource,
    frame_preview,
)
from renderrush.ui._common import (
    Component,
    error_sentence,
    fmt_bytes,
    fmt_seconds,
    html_table,
    message_html,
    section,
    sync_figure,
)

from ...support.media import cover_art_clip, rotated_clip


# ---- Component --------------------------------------------------------------------------
@pytest.mark.usefixtures("quick_cpu")  # the machine's readings are not what this is about
def test_components_display_as_stable_text(tmp_path: Path) -> None:
    components = [
        ProgressView(),
        LiveGauges(),
        ScalingChart(),
        FilterEditor("grayscale"),
        VideoSource(tmp_path),
        ResultsView(tmp_path),
    ]
    texts = [c._repr_mimebundle_()["text/plain"] for c in components]
    assert texts == [
        "<ProgressView: idle>",
        "<LiveGauges>",
        "<ScalingChart>",
        "<FilterEditor: grayscale>",
        "<VideoSource: no video yet>",
        "<ResultsView: nothing yet>",
    ]


def test_a_component_displays_as_its_root_widget() -> None:
    component = Component()
    component.widget = w.HTML("hello")
    bundle = component._repr_mimebundle_()
    assert bundle["text/plain"] == "<Component>" == repr(component)
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == component.widget.model_id


def test_a_broken_callback_is_kept_never_raised() -> None:
    component = Component()
    calls: list[tuple[int, str]] = []
    component._call(lambda *args: calls.append(args), 1, "two")
    component._call(None, 1)  # no callback: nothing to do
    broken = ZeroDivisionError("boom")

    def fails() -> None:
        raise broken

    component._call(fails)
    assert calls == [(1, "two")] and component.callback_errors == [broken]


# ---- error_sentence -----------------------------------------------------------------------
def test_error_sentence() -> None:
    assert error_sentence(OutputError("output 'x' must end in .mp4")) == "output 'x' must end in .mp4"
    missing = FileNotFoundError(2, "No such file or directory", "/out/.job/cancel.requested")
    assert error_sentence(missing) == "no such file or directory: /out/.job/cancel.requested"
    assert error_sentence(ValueError("first line\n  second")) == "first line"
    assert error_sentence(KeyError()) == "an unexpected KeyError happened"


@pytest.mark.parametrize(
    "error, sentence",
    [
        (PermissionError(13, "Permission denied"), "permission denied"),  # no file name: nothing after it
        (OSError("plain message"), "plain message"),  # no strerror: its text
        (RenderRushError("\n  first of ours\nsecond"), "first of ours"),
        (ValueError("\n \n"), "an unexpected error happened"),  # only blank lines
    ],
)
def test_error_sentence_edge_cases(error: BaseException, sentence: str) -> None:
    assert error_sentence(error) == sentence


# ---- formatting ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "seconds, text",
    [
        (None, "—"),
        (math.inf, "—"),
        (math.nan, "—"),
        (0.0, "0.0 s"),
        (1.24, "1.2 s"),
        (59.9, "59.9 s"),
        (60, "1 min 00 s"),
        (125.4, "2 min 05 s"),
        (3600, "60 min 00 s"),
    ],
)
def test_fmt_seconds(seconds: float | None, text: str) -> None:
    assert fmt_seconds(seconds) == text


@pytest.mark.parametrize(
    "size, text",
    [
        (None, "—"),
        (0, "0 B"),
        (999, "999 B"),
        (1000, "1.0 kB"),
        (1_234_567, "1.2 MB"),
        (200 * 1000 * 1000, "200.0 MB"),
        (3.5e9, "3.5 GB"),
        (5e12, "5000.0 GB"),  # GB is the largest unit
    ],
)
def test_fmt_bytes(size: float | None, text: str) -> None:
    assert fmt_bytes(size) == text


def test_message_html_colours_and_escapes() -> None:
    assert (
        message_html("<b>done</b> & ok", "ok") == '<span style="color:#1b7a2f">&lt;b&gt;done&lt;/b&gt; &amp; ok</span>'
    )
    colours = {kind: message_html("x", kind) for kind in ("info", "ok", "warn", "error", "unknown")}
    assert "#b00020" in colours["error"] and "#9a6700" in colours["warn"]
    assert colours["info"] == colours["unknown"] == '<span style="color:#333">x</span>'
    assert message_html('say "hi"') == '<span style="color:#333">say "hi"</span>'  # quotes kept: not an attribute


def test_html_table_escapes_every_cell() -> None:
    table = html_table(["name", "<n>"], [["a&b", 1], ["<script>", None]])
    assert table.startswith("<table") and table.endswith("</table>")
    assert table.count("<tr>") == 3 and table.count("<th ") == 2 and table.count("<td ") == 4
    assert ">&lt;n&gt;</th>" in table and ">a&amp;b</td>" in table and ">&lt;script&gt;</td>" in table
    assert ">None</td>" in table and "<script>" not in table
    assert html_table(["only"], []).count("<tr>") == 1  # a header, no rows


def test_section_is_a_titled_box() -> None:
    child = w.Label("x")
    box = section("A <title>", child)
    assert isinstance(box, w.VBox) and box.children[1] is child
    assert box.children[0].value == "<b>A &lt;title&gt;</b>"


# ---- frame_preview --------------------------------------------------------------------------
def decoded(jpeg: bytes) -> np.ndarray:
    assert jpeg.startswith(b"\xff\xd8"), "a JPEG"
    return cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)


@pytest.mark.parametrize("at, index", [(None, 45), (0.0, 0), (-1.0, 0), (1.0, 30), (2.5, 75), (10.0, 89)])
def test_frame_preview_shows_the_frame_at_a_time(clip: Path, at: float | None, index: int) -> None:
    """The first frame at or after `at` (the middle by default; the last one past the end)."""
    image = decoded(frame_preview(clip, at))
    assert image.shape == (120, 160) and read_frame_index(image) == index


def test_frame_preview_scales_wide_frames_down(clip: Path) -> None:
    assert decoded(frame_preview(clip, 1.0, max_width=80)).shape == (60, 80)
    assert decoded(frame_preview(str(clip), 1.0, max_width=1000)).shape == (120, 160)  # never scaled up


@pytest.fixture
def phone_video(tmp_path: Path) -> Path:
    """640x360 coded, shown upright as 360x640 (display rotation 90°), as phones record."""
    return rotated_clip(tmp_path, 90)


@pytest.fixture
def music_video(tmp_path: Path) -> Path:
    """A 320x240 sample whose first video stream is a cover picture (attached_pic)."""
    return cover_art_clip(tmp_path)


def test_frame_preview_shows_a_rotated_video_upright(phone_video: Path) -> None:
    image = decoded(frame_preview(phone_video, 0.5))
    assert probe(phone_video).upright_size == (360, 640)
    assert (image.shape[1], image.shape[0]) == (360, 640)  # actual: (480, 270), the coded picture scaled


def test_frame_preview_skips_cover_art(music_video: Path) -> None:
    image = decoded(frame_preview(music_video, 1.0))
    assert image.shape == (240, 320) and read_frame_index(image) == 30


# ---- sync_figure ----------------------------------------------------------------------------
def test_sync_figure_stores_the_current_state_for_later_views() -> None:
    figure = Figure(data=[go.Bar(x=[1], y=[2])], layout=go.Layout(title={"text": "before"}))
    figure.data[0].y = [5]
    figure.layout.title.text = "after"
    assert figure._widget_data[0]["y"] == [2], "plotly keeps the state it was created with"
    sync_figure(figure)
    assert figure._widget_data[0]["y"] == [5] and figure._widget_layout["title"]["text"] == "after"
    figure.data[0].y = [7]  # a copy was stored, not the live objects
    assert figure._widget_data[0]["y"] == [5]
