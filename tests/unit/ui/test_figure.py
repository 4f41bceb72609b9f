"""`renderrush.ui.figure`: `Figure` is Plotly's `FigureWidget` whose own page-side module is a
small loader; plotly's widget bundle (the module a plain `FigureWidget` sends per figure)
travels once per kernel in one carrier widget every figure refers to, renewed when closed. The
loader, run in Node with fake models, never waits in `initialize` and imports the bundle once."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import plotly
import plotly.graph_objects as go
import pytest

from renderrush.recording.history import History
from renderrush.ui import Dashboard
from renderrush.ui.figure import BUNDLE, LOADER, Figure, PlotlyBundle, plotly_bundle

from ...support import ROOT


@pytest.mark.usefixtures("quick_cpu")  # the machine's readings are not what this is about
def test_dashboard_figures_load_plotly_once_per_page(tmp_path: Path, history: History) -> None:
    """Every figure's own module is a small loader (anywidget gives a model 2 s to load it);
    plotly's 5 MB widget bundle travels once, in one carrier widget all figures refer to."""
    dash = Dashboard(tmp_path / "dash", history=history, scheduler="threads")
    figures = [
        dash.gauges.gauges_figure,
        dash.gauges.timeline_figure,
        dash.timeline.figure,
        dash.results.chart,
        dash.history.trend,
        dash.health.figure,
    ]
    assert all(isinstance(figure, Figure) and isinstance(figure, go.FigureWidget) for figure in figures)
    carrier = plotly_bundle()
    assert carrier.source == BUNDLE.read_text(encoding="utf-8") and len(carrier.source) > 1_000_000
    for figure in figures:
        state = figure.get_state()
        assert len(state["_esm"]) < 5000 and "import(url)" in state["_esm"]
        assert state["_plotly_bundle"] == f"IPY_MODEL_{carrier.model_id}"
    closed = carrier.model_id
    carrier.close()  # a closed carrier (Widget.close_all()) is replaced for the next figure
    renewed = Figure().get_state()["_plotly_bundle"]
    assert isinstance(plotly_bundle(), PlotlyBundle) and renewed == f"IPY_MODEL_{plotly_bundle().model_id}"
    assert renewed != f"IPY_MODEL_{closed}"


def test_figure_loader_imports_plotly_once_and_never_waits_in_initialize(tmp_path: Path) -> None:
    """The page-side loader, run in Node with fake models: initialize never waits for the
    bundle; views of several figures share one fetch and one import; a figure made after the
    import starts at once; a failed load is retried by the next view."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed (apt-get install nodejs); the browser tests cover the loader too")
    loader = tmp_path / "loader.mjs"
    loader.write_text(Figure._esm)
    harness = ROOT / "tests" / "support" / "js" / "figure_loader.mjs"
    run = subprocess.run([node, str(harness), str(loader)], capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["startedBeforeLoad"] == [0, 0] and result["started"] == [1, 1]
    assert result["drawnWithOwnModel"] == [True, True, True]
    assert result["loads"] == {"getModel": 1, "objectUrls": 1}, "one carrier fetch and one import per page"
    assert result["startedAtInitialize"] == 1
    assert result["firstError"] == "Error: no carrier" and result["retried"] is True


def test_the_bundle_is_plotlys_own_widget_module() -> None:
    assert BUNDLE.is_file() and BUNDLE.parent == Path(plotly.__file__).resolve().parent / "package_data"
    assert str(go.FigureWidget._esm) == BUNDLE.read_text(encoding="utf-8"), "what a plain FigureWidget sends"


def test_one_carrier_per_kernel() -> None:
    carrier = plotly_bundle()
    assert plotly_bundle() is carrier and carrier.comm is not None
    first, second = Figure(), Figure()
    assert first._plotly_bundle is second._plotly_bundle is carrier
    assert carrier.get_state()["source"] == carrier.source  # synced to the page


def test_the_loader_is_keyed_by_plotlys_version() -> None:
    """Two plotly versions in one page (kernels of different environments) never share a module."""
    key = json.dumps(f"renderrush.plotly-widget {plotly.__version__}")
    assert Figure._esm == LOADER % {"key": key}
    assert f"const KEY = Symbol.for({key});" in Figure._esm and "%(" not in Figure._esm
    assert "export default" in Figure._esm


def test_a_figure_takes_the_arguments_of_a_figure_widget() -> None:
    figure = Figure(data=[go.Bar(x=["a"], y=[3])], layout=go.Layout(title={"text": "t"}, height=200))
    assert figure.data[0].type == "bar" and list(figure.data[0].y) == [3]
    assert figure.layout.title.text == "t" and figure.layout.height == 200
    figure.add_trace(go.Scatter(x=[1], y=[2]))
    assert [trace.type for trace in figure.data] == ["bar", "scatter"]
