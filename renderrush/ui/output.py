"""What a render writes, chosen in the control panel (and so in the web app): the codec (or the
default for the source), the container (the output's suffix), and for an HDR source whether to
keep HDR or tone-map it to SDR, with a before/after frame of the tone mapping. Combinations that
cannot go together are named in one sentence as soon as they are chosen, before any job."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w

from ..media.codecs import CODECS, CONTAINERS, choose_codec
from ..media.probe import VideoInfo
from ._common import Component, decoded_frame, error_sentence, jpeg, message_html

AUTO = "default for the source"
KEEP, TONEMAP = "keep HDR", "tone-map to SDR"
SUFFIXES = {name: container.suffixes[0] for name, container in CONTAINERS.items()}
"""Container name -> the suffix the panel writes."""
PREVIEW_WIDTH = 320


class OutputChoice(Component):
    """Codec, container and HDR handling. `settings()` gives the job's `codec` and `tonemap`
    options, `suffix` the output's file suffix; `show_source(info)` adapts the choice to a new
    source (the HDR row appears for HDR sources) and `check()` says, in one sentence, what
    cannot go together (empty when the job can run)."""

    def __init__(self) -> None:
        super().__init__()
        self.info: VideoInfo | None = None
        self.codec = w.Dropdown(
            options=[(AUTO, None), *((f"{c.label} ({c.encoder})", c.name) for c in CODECS.values())],
            value=None,
            description="Codec",
        )
        self.container = w.Dropdown(
            options=[(f"{name.upper()} ({SUFFIXES[name]})", name) for name in CONTAINERS],
            value="mp4",
            description="Container",
        )
        self.hdr = w.ToggleButtons(options=[KEEP, TONEMAP], value=KEEP, description="HDR")
        self.before = w.Image(format="jpeg", layout=w.Layout(max_width=f"{PREVIEW_WIDTH}px"))
        self.after = w.Image(format="jpeg", layout=w.Layout(max_width=f"{PREVIEW_WIDTH}px"))
        self.preview = w.HBox(
            [
                w.VBox([w.HTML("<small>as an SDR screen shows the HDR signal</small>"), self.before]),
                w.VBox([w.HTML("<small>tone-mapped to SDR (Hable)</small>"), self.after]),
            ]
        )
        self.hdr_row = w.VBox([self.hdr, self.preview])
        self.message = w.HTML()
        self.widget = w.VBox([w.HBox([self.codec, self.container]), self.hdr_row, self.message])
        self.widget.add_class("rr-output-choice")
        for control in (self.codec, self.container, self.hdr):
            control.observe(lambda _: self.check(), names="value")
        self._show_hdr()

    def __repr__(self) -> str:
        return f"<OutputChoice: {self.codec.value or 'default'} in {self.container.value}, {self.hdr.value}>"

    @property
    def suffix(self) -> str:
        return SUFFIXES[self.container.value]

    @property
    def tonemap(self) -> bool:
        return self.info is not None and self.info.hdr is not None and self.hdr.value == TONEMAP

    def settings(self) -> dict[str, Any]:
        """The job options this choice holds."""
        return {"codec": self.codec.value, "tonemap": self.tonemap}

    def show_source(self, info: VideoInfo | None) -> None:
        """A new source: the HDR row (with its before/after frame) shows for HDR sources only."""
        self.info = info
        self._show_hdr()
        self.check()

    def check(self) -> str:
        """What cannot go together for the current source, in one sentence ("" when nothing)."""
        problem = ""
        if self.info is not None:
            try:
                codec, depth = choose_codec(
                    self.codec.value,
                    CONTAINERS[self.container.value],
                    bit_depth=self.info.bit_depth,
                    hdr=self.info.hdr.format if self.info.hdr else "",
                    tonemap=self.tonemap,
                    source=self.info.path.name,
                )
            except Exception as exc:  # noqa: BLE001 — a refused combination is shown, not raised
                problem = error_sentence(exc)
            else:
                self.message.value = message_html(
                    f"Writes {html.escape(codec.label)}, {depth}-bit, in {self.container.value.upper()} ({self.suffix}).",
                    "ok",
                )
        if problem or self.info is None:
            self.message.value = message_html(problem, "error") if problem else ""
        return problem

    def _show_hdr(self) -> None:
        hdr = self.info.hdr if self.info is not None else None
        self.hdr_row.layout.display = "" if hdr is not None else "none"
        if hdr is None:
            return
        self.hdr.description = f"HDR ({hdr.format})"
        try:
            self.before.value, self.after.value = tonemap_preview(self.info)  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001 — a preview that cannot be made leaves the choice usable
            self.preview.layout.display = "none"
        else:
            self.preview.layout.display = ""


def tonemap_preview(info: VideoInfo, max_width: int = PREVIEW_WIDTH) -> tuple[bytes, bytes]:
    """JPEG bytes of the middle frame of an HDR source, upright: its signal shown as if it were
    SDR (washed out, as a screen that ignores HDR shows it), and the same frame tone-mapped."""
    import av

    from ..media.picture import plane_views
    from ..media.probe import upright_rotation
    from ..media.tonemap import ToneMapper

    assert info.hdr is not None
    frame = decoded_frame(info.path)
    turn = upright_rotation(frame)
    deep = frame.reformat(format="yuv420p10le")
    width, height = deep.width & ~1, deep.height & ~1
    planes = plane_views(deep, width, height)
    sdr = av.VideoFrame(width, height, "yuv420p")
    ToneMapper(info.hdr.transfer, info.hdr.peak, frame.color_range == 2)(planes, plane_views(sdr, width, height))
    after = sdr.to_ndarray(format="bgr24", src_colorspace="ITU709")
    return jpeg(frame.to_ndarray(format="bgr24"), turn, max_width), jpeg(after, turn, max_width)
