"""`Figure`: Plotly's `FigureWidget` whose page-side code loads within anywidget's time limit.

Why: plotly's `FigureWidget` is an anywidget whose ES module (`_esm`) is plotly's whole widget
bundle, about 5 MB with plotly.js inside, sent and imported once per figure. anywidget (0.11)
gives a model 2 seconds from its creation in the page to import that module and initialise it;
after that it rejects the model's `ready` promise for good ("[anywidget] Failed to initialize
model."), and every later message from the kernel to that model waits on that promise and is
dropped. The figure then draws the state it had when the page loaded and never follows a change.
In headless Chromium on this 2-core machine, importing the bundle took 2.7-3.0 s for one figure
and 7-21 s for six at once (the dashboard's six figures, created together when a Voila page or a
reloaded notebook restores its widgets), so every figure missed the limit.

What: each `Figure`'s own module is a small loader (well under the limit). The bundle's text is
sent once per kernel, in one hidden carrier widget that every `Figure` refers to; the page
imports it once, when the first figure is drawn, and all figures share that module. A figure's
Plotly model starts when the bundle has loaded (at once when another figure loaded it already)
and its views draw after it.
Changes the kernel sends before the bundle has loaded are not replayed: the dashboard's
components store each figure's whole state after every change (`sync_figure`), and a view
drawn later draws that state.
"""

from __future__ import annotations

import json
from pathlib import Path

import ipywidgets as w
import plotly
import plotly.graph_objects as go
import traitlets

BUNDLE = Path(plotly.__file__).resolve().parent / "package_data" / "widgetbundle.js"
"""Plotly's widget module (plotly.js included), the `_esm` of a plain `FigureWidget`."""

LOADER = """\
// RenderRush (renderrush/ui/figure.py): plotly's widget module, imported once per page.
const KEY = Symbol.for(%(key)s);
const PREFIX = "IPY_MODEL_";

function load(model) {
  // The bundle's text travels once, in the carrier widget every figure refers to.
  let entry = globalThis[KEY];
  if (!entry) {
    entry = globalThis[KEY] = { module: null, promise: null };
    entry.promise = (async () => {
      const ref = model.get("_plotly_bundle");
      const carrier = await model.widget_manager.get_model(String(ref).slice(PREFIX.length));
      const url = URL.createObjectURL(new Blob([carrier.get("source")], { type: "text/javascript" }));
      try {
        entry.module = await import(url);
        return entry.module;
      } finally {
        URL.revokeObjectURL(url);
      }
    })();
    entry.promise.catch(() => { if (globalThis[KEY] === entry) delete globalThis[KEY]; });  // the next view retries
  }
  return entry.promise;
}

export default () => {
  let model = null;
  let plotlyWidget = null;  // plotly's widget for this model, once its module loaded
  let starting = null;
  function start(module) {
    if (!plotlyWidget) {
      plotlyWidget = module.default();
      plotlyWidget.initialize({ model });
    }
  }
  return {
    initialize(props) {
      // Never waits: anywidget drops every later message of a model whose initialize takes
      // over 2 s, and the first import of the bundle takes longer than that. When another
      // figure loaded the bundle already, plotly's model starts now and follows every change.
      model = props.model;
      const module = globalThis[KEY]?.module;
      if (module) start(module);
    },
    async render({ el }) {
      // The first view starts the import: by then the page has created its models, whose
      // own small modules are not kept waiting behind the bundle's evaluation.
      if (!plotlyWidget) {
        starting ??= load(model).then(start, (error) => {
          starting = null;
          throw error;
        });
        await starting;
      }
      return plotlyWidget.render({ el });
    },
  };
};
"""


class PlotlyBundle(w.Widget):
    """The hidden widget that carries plotly's widget module to the page, once per kernel."""

    source = traitlets.Unicode().tag(sync=True)


_bundle: PlotlyBundle | None = None


def plotly_bundle() -> PlotlyBundle:
    """This kernel's carrier of plotly's widget module (made on first use)."""
    global _bundle
    if _bundle is None or _bundle.comm is None:  # none yet, or closed (Widget.close_all())
        _bundle = PlotlyBundle(source=BUNDLE.read_text(encoding="utf-8"))
    return _bundle


class Figure(go.FigureWidget):
    """A `plotly.graph_objects.FigureWidget` (same arguments and behaviour) that loads in the
    page within anywidget's time limit, however many figures a page holds (see the module's
    docstring)."""

    _esm = LOADER % {"key": json.dumps(f"renderrush.plotly-widget {plotly.__version__}")}
    _plotly_bundle = traitlets.Instance(PlotlyBundle).tag(sync=True, **w.widget_serialization)

    @traitlets.default("_plotly_bundle")
    def _default_plotly_bundle(self) -> PlotlyBundle:
        # A default (not set after __init__), so it is in the state the page first receives.
        return plotly_bundle()
