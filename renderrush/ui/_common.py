"""Shared pieces of the notebook components: the `Component` base class, number
formatting, frame previews and a few layout helpers."""

from __future__ import annotations

import html
import math
import threading
from copy import deepcopy
from fractions import Fraction
from pathlib import Path
from typing import Any

import ipywidgets as w

from ..core.errors import RenderRushError

PREVIEW_WIDTH = 480


class Component:
    """Base of every RenderRush notebook component.

    A component is a plain Python object that owns a tree of ipywidgets; `widget` is the
    root of that tree. Displaying the component (leaving it as the last expression of a
    cell, or `display(component)`) shows the root widget. The text fallback is the
    component's short `repr`, so notebooks that show components validate with nbval.
    Components can be composed freely: put `component.widget` into any ipywidgets box.
    """

    widget: w.Widget

    def __init__(self) -> None:
        self._lock = threading.RLock()
        """Serialises updates that may arrive from background threads (progress, monitor)."""
        self.callback_errors: list[BaseException] = []
        """Exceptions raised by user callbacks (kept, so a broken callback never stops a job)."""

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle = self.widget._repr_mimebundle_(include=include, exclude=exclude) or {}
        bundle["text/plain"] = repr(self)
        return bundle

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

    def display(self) -> None:
        """Show the component in the notebook (same as leaving it as a cell's last expression)."""
        from IPython.display import display

        display(self)

    def _call(self, callback: Any, *args: Any) -> None:
        """Run a user callback; an exception is kept in `callback_errors`, never raised."""
        if callback is None:
            return
        try:
            callback(*args)
        except Exception as exc:  # noqa: BLE001 — a broken callback must not break the component
            self.callback_errors.append(exc)


def error_sentence(error: BaseException) -> str:
    """An error as one sentence for the page: RenderRush's own messages as they are; others
    without their type or traceback (a file error says what and where), first line only."""
    if isinstance(error, RenderRushError):
        text = str(error)
    elif isinstance(error, OSError) and error.strerror:
        where = f": {error.filename}" if error.filename else ""
        text = f"{error.strerror.lower()}{where}"
    else:
        text = str(error) or f"an unexpected {type(error).__name__} happened"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else "an unexpected error happened"


def fmt_seconds(seconds: float | None) -> str:
    """ "1.2 s", "2 min 05 s", "—" for None."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def fmt_bytes(n: float | None) -> str:
    """ "12.3 MB" (powers of 1000, like file managers)."""
    if n is None:
        return "—"
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def message_html(text: str, kind: str = "info") -> str:
    """A one-line coloured message for an `ipywidgets.HTML` (text is escaped)."""
    colours = {"info": "#333", "ok": "#1b7a2f", "warn": "#9a6700", "error": "#b00020"}
    return f'<span style="color:{colours.get(kind, "#333")}">{html.escape(text, quote=False)}</span>'


def html_table(header: list[str], rows: list[list[Any]]) -> str:
    """A compact HTML table (cells escaped)."""
    head = "".join(
        f"<th style='text-align:left;padding:2px 8px;white-space:nowrap'>{html.escape(str(h))}</th>" for h in header
    )
    body = "".join(
        "<tr>"
        + "".join(f"<td style='padding:2px 8px;white-space:nowrap'>{html.escape(str(c))}</td>" for c in row)
        + "</tr>"
        for row in rows
    )
    return f"<table style='border-collapse:collapse;font-size:90%'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def frame_preview(path: str | Path, at: float | None = None, max_width: int = PREVIEW_WIDTH) -> bytes:
    """JPEG bytes of the first frame at or after `at` seconds (default: the middle) of a
    video, upright, scaled down to at most `max_width` pixels wide."""
    from ..media.probe import upright_rotation

    frame = decoded_frame(path, at)
    return jpeg(frame.to_ndarray(format="bgr24"), upright_rotation(frame), max_width)


def decoded_frame(path: str | Path, at: float | None = None) -> Any:
    """The first `av.VideoFrame` of the main video stream at or after `at` seconds (default:
    the middle), as the render decodes it."""
    import av

    from ..media.probe import main_video_stream

    found: Any = None
    with av.open(str(path)) as container:
        stream = main_video_stream(container)  # not a cover picture in front of the video
        stream.codec_context.flags |= av.codec.context.Flags.unaligned  # crop as the render does (decode_stream)
        time_base = stream.time_base or Fraction(1, 90000)
        duration = float(stream.duration * time_base) if stream.duration else None
        if at is None:
            at = (duration or 0.0) / 2
        start = float(stream.start_time * time_base) if stream.start_time else 0.0
        target = start + max(0.0, at)
        if target > start:
            container.seek(int(target / time_base), stream=stream, backward=True)
        for frame in container.decode(stream):
            found = frame
            if frame.time is None or frame.time >= target - 1e-6:
                break
    if found is None:
        raise ValueError(f"'{path}' has no video frames to preview")
    return found


def jpeg(image: Any, turn: int = 0, max_width: int = PREVIEW_WIDTH) -> bytes:
    """JPEG bytes of a BGR image turned `turn` degrees clockwise (shown as the render shows
    it: a phone clip upright) and scaled down to at most `max_width` pixels wide."""
    import cv2

    if turn:
        image = cv2.rotate(
            image, {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}[turn]
        )
    height, width = image.shape[:2]
    if width > max_width:
        image = cv2.resize(image, (max_width, max(2, round(height * max_width / width))), interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise ValueError("could not encode a preview frame")
    return bytes(encoded.tobytes())


def section(title: str, *children: w.Widget) -> w.VBox:
    """A titled vertical box."""
    return w.VBox([w.HTML(f"<b>{html.escape(title)}</b>"), *children], layout=w.Layout(margin="4px 0"))


def sync_figure(figure: Any) -> None:
    """Store a `FigureWidget`'s current data and layout as its widget state.

    Plotly sends later changes to the views that exist as messages and keeps the state it
    synchronises (`_widget_data`, `_widget_layout`) as it was when the figure was created or
    displayed on its own. A view created afterwards (a Voila page loading after the notebook
    ran, a figure inside an ipywidgets box, a second browser tab, a `Figure` drawn before
    plotly.js finished loading in the page) draws that old state: empty charts, gauges at 0. Storing the current state after each change makes every new view
    draw what the figure holds now; views that exist already are not redrawn by it."""
    figure._widget_layout = deepcopy(figure._layout_obj._props)
    figure._widget_data = deepcopy(figure._data)
