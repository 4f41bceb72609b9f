"""Filter chain editor: add, remove and reorder filters, one slider per parameter."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import ipywidgets as w

from ..core.errors import FilterError
from ..media.filters import FilterChain, Param, available_filters, unknown_filter_error
from ._common import Component, message_html


def slider_step(param: Param) -> float:
    """A round slider step giving about 200–500 positions over the parameter's range."""
    if param.integer:
        return 1
    span = param.max - param.min
    if span <= 0:
        return 1.0
    raw = span / 500
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * magnitude >= raw:
            return factor * magnitude
    return 10 * magnitude


class FilterStepRow:
    """One filter of the editor: its name, a slider per parameter and ↑ ↓ ✕ buttons."""

    def __init__(self, editor: FilterEditor, name: str, values: dict[str, float]) -> None:
        spec = available_filters()[name]
        self.name = name
        self.sliders: dict[str, w.Widget] = {}
        for pname, param in spec.params.items():
            value = values.get(pname, param.default)
            kind = w.IntSlider if param.integer else w.FloatSlider
            options: dict[str, Any] = {} if param.integer else {"readout_format": ".3g"}
            slider = kind(
                value=value,
                min=param.min,
                max=param.max,
                step=slider_step(param),
                description=pname,
                tooltip=param.help,
                continuous_update=False,
                style={"description_width": "initial"},
                layout=w.Layout(width="220px"),
                **options,
            )
            slider.observe(lambda _: editor._changed(), names="value")
            self.sliders[pname] = slider
        self.up = w.Button(icon="arrow-up", tooltip="move up", layout=w.Layout(width="34px"))
        self.down = w.Button(icon="arrow-down", tooltip="move down", layout=w.Layout(width="34px"))
        self.remove = w.Button(icon="times", tooltip="remove", button_style="danger", layout=w.Layout(width="34px"))
        self.up.on_click(lambda _: editor.move(editor.index_of(self), -1))
        self.down.on_click(lambda _: editor.move(editor.index_of(self), +1))
        self.remove.on_click(lambda _: editor.remove(editor.index_of(self)))
        label = w.HTML(f"<b>{name}</b>", tooltip=spec.description, layout=w.Layout(width="80px"))
        self.widget = w.HBox([label, *self.sliders.values(), self.up, self.down, self.remove])

    @property
    def values(self) -> dict[str, float]:
        return {name: slider.value for name, slider in self.sliders.items()}

    def text(self) -> str:
        """This step as chain text, e.g. "blur:sigma=2.5"."""
        return ":".join([self.name, *(f"{n}={v:g}" for n, v in self.values.items())])


class FilterEditor(Component):
    """Edits a filter chain.

    Parameters
    ----------
    chain:
        Initial chain as text ("grayscale,blur:5"), a `FilterChain`, or None for none.
    on_change:
        Called with this editor whenever the chain changes.

    Pick a filter in the drop-down and press "Add"; each filter gets a slider per
    parameter and buttons to move it up or down or remove it. The text box shows the
    chain in canonical form and accepts a typed chain (applied on Enter). `chain` is the
    current `FilterChain`, `text` its string form.
    """

    def __init__(
        self, chain: str | FilterChain | None = "grayscale", on_change: Callable[[FilterEditor], Any] | None = None
    ) -> None:
        super().__init__()
        self.on_change = None
        self.rows: list[FilterStepRow] = []
        names = list(available_filters())
        self.choice = w.Dropdown(options=names, value=names[0], description="Filter", layout=w.Layout(width="220px"))
        self.add_button = w.Button(description="Add", icon="plus", layout=w.Layout(width="80px"))
        self.add_button.on_click(lambda _: self.add(self.choice.value))
        self.chain_text = w.Text(description="Chain", continuous_update=False, layout=w.Layout(width="400px"))
        self.chain_text.observe(self._on_text, names="value")
        self.message = w.HTML()
        self._rows_box = w.VBox()
        self.widget = w.VBox([w.HBox([self.choice, self.add_button]), self._rows_box, self.chain_text, self.message])
        self.set_chain(chain)
        self.on_change = on_change

    def __repr__(self) -> str:
        return f"<FilterEditor: {self.text}>"

    @property
    def chain(self) -> FilterChain:
        return FilterChain.parse([row.text() for row in self.rows])

    @property
    def text(self) -> str:
        return str(self.chain)

    def index_of(self, row: FilterStepRow) -> int:
        return self.rows.index(row)

    def add(self, name: str, **values: float) -> int:
        """Append filter `name` (parameters default unless given); returns its position."""
        if name not in available_filters():
            raise unknown_filter_error(name)
        self.rows.append(FilterStepRow(self, name, values))
        self._changed()
        return len(self.rows) - 1

    def remove(self, index: int) -> None:
        """Remove the filter at `index`."""
        del self.rows[index]
        self._changed()

    def move(self, index: int, offset: int) -> None:
        """Move the filter at `index` by `offset` places (clamped to the ends)."""
        target = max(0, min(len(self.rows) - 1, index + offset))
        if target != index:
            self.rows.insert(target, self.rows.pop(index))
            self._changed()

    def clear(self) -> None:
        self.rows = []
        self._changed()

    def set_chain(self, chain: str | FilterChain | None) -> None:
        """Replace the editor's filters with `chain` (raises `FilterError` if invalid)."""
        parsed = FilterChain.parse(chain)
        self.rows = [FilterStepRow(self, step.spec.name, step.kwargs) for step in parsed.steps]
        self._changed()

    def _on_text(self, change: dict[str, Any]) -> None:
        if change["new"] == self.text:
            return
        try:
            self.set_chain(change["new"])
        except FilterError as exc:
            self.message.value = message_html(str(exc), "error")

    def _changed(self) -> None:
        self._rows_box.children = [row.widget for row in self.rows]
        for position, row in enumerate(self.rows):
            row.up.disabled = position == 0
            row.down.disabled = position == len(self.rows) - 1
        text = self.text
        self.chain_text.value = text
        self.message.value = "" if self.rows else message_html("No filters: the video is re-encoded as it is.")
        self._call(self.on_change, self)
