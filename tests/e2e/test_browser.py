"""What users see: the live dashboard in JupyterLab and as the `renderrush dashboard` web app
(Voilà), driven end to end in headless Chromium (Debian's package, through Playwright).

The tests start their own servers on 127.0.0.1 with free ports, with the notebooks folder as
the root (notebook 03 writes under notebooks/output, which git ignores), and always stop them.
Screenshots and server logs go to test-artifacts/ (also ignored by git). Without Playwright or
Chromium the browser tests are skipped with the reason (see tests/support/browser.py); the
command-line tests at the top always run.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from renderrush import cli
from renderrush.core.errors import DashboardError
from renderrush.media.samples import make_sample_video
from renderrush.ui import MAX_UPLOAD_BYTES
from renderrush.webapp import server as dashboard

from ..support.browser import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_FLAGS,
    NOTEBOOKS,
    ROOT,
    Server,
    free_port,
    require_browser,
)

NOTEBOOK = "03_live_dashboard.ipynb"
PAGE_TIMEOUT = 60_000  # ms: page loads and single UI steps
RUN_TIMEOUT = 180_000  # ms: executing the whole notebook on 2 busy cores
JOB_TIMEOUT = 120_000  # ms: one render from the Render button


# ---- the command line (no browser needed) -----------------------------------------------


def test_dashboard_command_serves_the_notebook_with_voila_on_loopback() -> None:
    args = cli.build_parser().parse_args(["dashboard"])
    assert (args.port, args.ip, args.notebook, args.output_root) == (8866, "127.0.0.1", None, None)
    assert cli.COMMANDS["dashboard"] is cli._cmd_dashboard
    notebook = dashboard.find_notebook()
    assert notebook == dashboard.PAGE and notebook.is_file(), "the page is installed with the package"
    page = json.loads(notebook.read_text())
    assert "".join(page["cells"][-1]["source"]).endswith("app()")
    command = dashboard.voila_command(notebook, port=9123)
    assert command[:4] == [sys.executable, "-m", "voila", str(notebook)]
    assert "--no-browser" in command and "--Voila.ip=127.0.0.1" in command
    assert "--Voila.port=9123" in command and "--Voila.port_retries=0" in command
    assert "--VoilaConfiguration.strip_sources=True" in command  # code cells hidden
    assert command.index(f"--Voila.config_file_paths={dashboard.CONFIG_DIR}") < command.index(
        f"--Voila.config_file_paths={os.getcwd()}"
    ), "our voila.json has priority over the user's"
    assert all(isinstance(part, str) for part in command)


def test_dashboard_web_app_accepts_200_mb_uploads() -> None:
    """Voilà's WebSocket limit (like the Jupyter server's in binder/) lets a 200 MB upload
    reach the kernel, where VideoSource refuses anything larger with a message."""
    voila = json.loads((dashboard.CONFIG_DIR / "voila.json").read_text())
    limit = voila["Voila"]["tornado_settings"]["websocket_max_message_size"]
    server = json.loads((ROOT / "binder/jupyter_server_config.json").read_text())
    assert limit == server["ServerApp"]["tornado_settings"]["websocket_max_message_size"]
    assert isinstance(limit, int) and limit >= MAX_UPLOAD_BYTES * 1.2


def test_dashboard_command_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(DashboardError, match="between 1 and 65535"):
        dashboard.voila_command(NOTEBOOKS / NOTEBOOK, port=70000)
    with pytest.raises(DashboardError, match="--notebook"):
        dashboard.find_notebook(tmp_path / "missing.ipynb")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(DashboardError, match=f"127.0.0.1:{port}.*--port"):
            dashboard.check_port_free("127.0.0.1", port)
        assert cli.main(["dashboard", "--port", str(port)]) == 1
    assert "renderrush: error: cannot listen on 127.0.0.1" in capsys.readouterr().err
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(DashboardError, match="cannot create the output root .*--output-root"):
        dashboard.prepare_output_root(blocker / "root")
    assert dashboard.prepare_output_root(tmp_path / "new" / "root") == tmp_path / "new" / "root"


def test_readme_shows_the_dashboard_and_its_binder_url() -> None:
    text = (ROOT / "README.md").read_text()
    assert "renderrush dashboard" in text
    url = re.search(r"https://mybinder\.org/v2/gh/\S+?urlpath=voila/render/([^)>\s&]+)", text)
    assert url, "a Binder link that opens the dashboard with Voila"
    assert url.group(1) == f"notebooks/{NOTEBOOK}" and (ROOT / url.group(1)).is_file()
    binder_env = (ROOT / "binder/environment.yml").read_text()
    assert re.search(r"^\s*- voila\b", binder_env, re.MULTILINE), "Binder needs Voila for that URL"


def test_installed_wheel_serves_the_dashboard_outside_a_checkout(tmp_path: Path) -> None:
    """`pip install renderrush[dashboard]` then `renderrush dashboard` from any folder: the page
    comes from the package, and a visit writes under the output root, not into a checkout."""
    import importlib.util
    import subprocess
    import sysconfig
    import urllib.request

    if importlib.util.find_spec("voila") is None:
        pytest.skip("Voila is not installed (pip install -e '.[test]')")
    wheels = tmp_path / "wheels"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if built.returncode != 0:
        pytest.skip(f"cannot build a wheel here (pip needs setuptools>=77 from the index): {built.stderr[-300:]}")
    (wheel,) = wheels.glob("renderrush-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    # The dependencies are this environment's (no download); renderrush itself only from the wheel.
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--ignore-installed",
            "-q",
            str(wheel),
        ],
        check=True,
        timeout=300,
    )
    # (pip runs from this environment, where renderrush is installed already: --ignore-installed)
    (Path(site) / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run(
        [str(python), "-c", "import renderrush, sys; print(renderrush.__file__)"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": os.environ["PATH"]},
    ).stdout
    assert where.startswith(site), f"renderrush must come from the wheel, not a checkout: {where}"

    port, root = free_port(), tmp_path / "visits"
    # Voila's page templates are data files of the environment that holds Voila (this one)
    env = {**server_env(tmp_path), "PYTHONPATH": "", "JUPYTER_PATH": str(Path(sys.prefix) / "share" / "jupyter")}
    server = Server(
        "voila-wheel",
        [str(venv / "bin" / "renderrush"), "dashboard", "--port", str(port), "--output-root", str(root)],
        port,
        elsewhere,
        env,
    )
    try:
        server.wait_listening(90)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=240) as answer:
            page = answer.read().decode()
        assert answer.status == 200
        assert "Render a video through a filter chain" in page, "the packaged page's markdown"
        assert "application/vnd.jupyter.widget-view+json" in page, "the dashboard widget"
        assert "Traceback" not in page and "jupyter.error" not in page, "the page's cell ran without an error"
        visits = list(root.glob("session-*"))
        assert len(visits) == 1 and visits[0].is_dir(), visits
        assert not (elsewhere / "output").exists() and not (elsewhere / "renderrush-output").exists()
    finally:
        server.stop()


# ---- browser fixtures ---------------------------------------------------------------------


def server_env(tmp: Path) -> dict[str, str]:
    """The servers' environment: a throwaway history and Jupyter config/runtime folders."""
    env = dict(os.environ)
    env.update(
        RENDERRUSH_HISTORY=str(tmp / "history.sqlite3"),
        JUPYTER_CONFIG_DIR=str(tmp / "jupyter-config"),
        JUPYTER_RUNTIME_DIR=str(tmp / "jupyter-runtime"),
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Debian Chromium with a fresh profile (one per test module)."""
    require_browser()
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 1800},
        )
        context.set_default_timeout(PAGE_TIMEOUT)
        try:
            yield context
        finally:
            context.close()


def assert_figures_initialised(name: str) -> None:
    """No Plotly model of the page `name` timed out initialising: anywidget drops every later
    message to such a model, so its figure never changes again (see renderrush/ui/figure.py)."""
    console = (ARTIFACTS / f"{name}-console.log").read_text()
    assert "Failed to initialize model" not in console, console[-2000:]


def open_page(browser: Any, name: str) -> Any:
    """A new tab whose console messages and page errors go to ARTIFACTS/<name>-console.log."""
    page = browser.new_page()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / f"{name}-console.log"
    log.write_text("")

    def write(line: str) -> None:
        with log.open("a") as handle:
            handle.write(line + "\n")

    page.on("console", lambda message: write(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: write(f"pageerror: {error}"))
    return page


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    """JupyterLab on 127.0.0.1 (random token) with the README's --config (200 MB uploads)."""
    require_browser()
    tmp = tmp_path_factory.mktemp("jupyterlab")
    settings = tmp / "settings"
    quiet = {  # no news or update pop-ups; keep every cell in the DOM; never save the executed notebook
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
            "fetchNews": "false",
            "checkForUpdates": False,
        },
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
        "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    }
    for relative, values in quiet.items():
        (settings / relative).parent.mkdir(parents=True, exist_ok=True)
        (settings / relative).write_text(json.dumps(values))
    port, token = free_port(), secrets.token_hex(16)
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        f"--config={ROOT / 'binder/jupyter_server_config.json'}",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={NOTEBOOKS}",
        f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={tmp / 'workspaces'}",
    ]
    if os.geteuid() == 0:  # CI runs as root
        command.append("--allow-root")
    server = Server("jupyterlab", command, port, NOTEBOOKS, server_env(tmp))
    try:
        server.wait_listening(90)
        server.wait_http(f"http://127.0.0.1:{port}/api/status?token={token}", 60)
        yield server, token
    finally:
        server.stop()


SEEDED_SEGMENTS = 3  # the seeded comparison: a 3 s clip in 1 s segments


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A history holding one comparison, as a returning user has."""
    require_browser()
    import renderrush as rr
    from renderrush.recording.history import History

    tmp = tmp_path_factory.mktemp("seeded")
    history = History(tmp / "history.sqlite3")
    clip = make_sample_video(tmp / "seed.mp4", seconds=3, size=(320, 180), fps=30)
    comparison = rr.compare(clip, "grayscale", workers=2, segment_seconds=1.0, scheduler="threads", history=history)
    return {"history": history.path, "comparison": comparison, "root": tmp / "visits"}


@pytest.fixture(scope="module")
def voila_server(tmp_path_factory: pytest.TempPathFactory, seeded: dict[str, Any]) -> Iterator[Server]:
    """`renderrush dashboard --port P --output-root DIR`: the web app as users start it, on a
    history that holds a comparison, from a folder that is not the checkout."""
    require_browser()
    tmp = tmp_path_factory.mktemp("voila")
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "renderrush",
        "dashboard",
        "--port",
        str(port),
        "--output-root",
        str(seeded["root"]),
    ]
    env = {**server_env(tmp), "RENDERRUSH_HISTORY": str(seeded["history"]), "PYTHONPATH": str(ROOT)}
    server = Server("voila", command, port, tmp, env)
    try:
        server.wait_listening(90)
        yield server
    finally:
        server.stop()


# ---- what the tests look for ----------------------------------------------------------------


def button(scope: Any, label: str) -> Any:
    """The ipywidgets Button (not a toggle) whose text is exactly `label`."""
    return scope.locator("button.widget-button", has_text=re.compile(rf"^\s*{re.escape(label)}\s*$"))


def bars(chart: Any) -> Any:
    return chart.locator("g.trace.bars g.point path")


def nonempty_box(locator: Any, min_width: float = 20, min_height: float = 10) -> None:
    box = locator.bounding_box()
    assert box and box["width"] >= min_width and box["height"] >= min_height, f"empty element: {box}"


FIGURES = 6  # gauges, CPU/memory timeline, segment timeline, results chart, history trends, health gauge


def wait_for_figures(page: Any) -> None:
    """Wait until every Plotly figure of the dashboard is drawn. A figure's view listens for
    changes only once it is drawn (the first one loads plotly.js, seconds on 2 cores); a job
    finishing before that leaves its chart unchanged, so the tests, like users, wait for the
    page to be complete before pressing buttons."""
    from playwright.sync_api import expect

    expect(page.locator(".rr-dashboard .js-plotly-plot .plot-container")).to_have_count(FIGURES, timeout=PAGE_TIMEOUT)


def assert_dashboard_rendered(page: Any) -> Any:
    """Control panel, progress bars and Plotly gauges are in the page and not empty."""
    from playwright.sync_api import expect

    dash = page.locator(".rr-dashboard")
    expect(dash).to_have_count(1)
    expect(dash).to_be_visible()
    panel = dash.locator(".rr-control-panel")
    expect(panel).to_be_visible()
    nonempty_box(panel, 300, 300)
    for label in ("Generate sample", "Render", "Compare", "Cancel", "Advise"):
        expect(button(panel, label)).to_have_count(1)
    for section in ("1. Video", "2. Filters", "3. Settings", "4. Output", "5. Run"):
        expect(panel).to_contain_text(section)

    progress = dash.locator(".rr-progress")
    expect(progress).to_be_visible()
    expect(progress.locator(".rr-progress-total")).to_have_count(1)
    nonempty_box(progress.locator(".rr-progress-total"), 100, 8)
    assert progress.locator(".widget-hprogress").count() >= 1, "the total bar (segment bars come with a job)"

    gauges = dash.locator(".rr-gauges")
    figures = gauges.locator(".js-plotly-plot")
    expect(figures).to_have_count(2)  # the four gauges, the CPU/memory timeline
    indicators = figures.nth(0).locator("g.indicatorlayer g.trace")
    expect(indicators).to_have_count(4)
    for index, title in enumerate(("CPU %", "Memory %", "Frames/s", "Speedup ×")):
        gauge = indicators.nth(index)
        expect(gauge).to_contain_text(title)
        nonempty_box(gauge, 60, 60)
        if gauge.locator("text.number").count():  # measured: a number
            number = (gauge.locator("text.number").text_content() or "").strip()
            assert re.search(r"\d", number), f"gauge {title} shows no number: {number!r}"
        else:  # not measured (yet): a dash, never a made-up 0
            expect(gauge).to_contain_text("—")
    return dash


def timeline_bars(page: Any) -> Any:
    return page.locator(".rr-dashboard .rr-timeline-chart g.trace.bars g.point path")


def assert_timeline_drawn(page: Any) -> None:
    """The CPU/memory timeline has lines (monitor samples taken while a job ran)."""
    from playwright.sync_api import expect

    timeline = page.locator(".rr-dashboard .rr-gauges .js-plotly-plot").nth(1)
    expect(timeline.locator("g.scatterlayer path.js-line").first).to_have_attribute("d", re.compile(r"M.+L"))


VIDEO = ".rr-dashboard .rr-results video"
VIDEO_STATE = """sel => { const v = document.querySelector(sel); return v && {src: v.src, ready: v.readyState,
    error: v.error && v.error.code, duration: v.duration, width: v.videoWidth, height: v.videoHeight}; }"""


def assert_video_plays(page: Any, width: int) -> dict[str, Any]:
    """The results' <video> element has this output loaded: metadata decoded, no error."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(
            f"sel => {{ const v = document.querySelector(sel); return v && (v.error !== null || "
            f"(v.readyState >= 1 && v.videoWidth === {width})); }}",
            arg=VIDEO,
            timeout=PAGE_TIMEOUT,
        )
    except PlaywrightTimeout:
        pass  # the assertions below say what the element holds
    state = page.evaluate(VIDEO_STATE, VIDEO)
    assert state and state["src"].startswith("blob:"), state
    assert state["error"] is None and state["width"] == width and state["duration"] > 1, state
    return state


def screenshot(page: Any, path: Path, element: Any = None) -> None:
    """Save a screenshot to test-artifacts/: the viewport, or all of `element`. JupyterLab and
    Voila scroll inside a panel, which clips element screenshots at the viewport, so the
    viewport grows to fit the element first."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    if element is None:
        page.screenshot(path=str(path))
        return
    size = page.viewport_size
    box = element.bounding_box()
    page.set_viewport_size({"width": size["width"], "height": min(8000, int(box["height"]) + 300)})
    try:
        element.scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        element.screenshot(path=str(path))
    finally:
        page.set_viewport_size(size)


def render_and_check(page: Any, expected_output: str, width: int) -> None:
    """Press Render; the job finishes with the output video and the results chart shown."""
    from playwright.sync_api import expect

    dash = page.locator(".rr-dashboard")
    results = dash.locator(".rr-results")
    expect(results).not_to_contain_text(f"{expected_output}: ")
    button(dash, "Render").click()
    expect(results).to_contain_text(f"{expected_output}: ", timeout=JOB_TIMEOUT)
    expect(results).to_contain_text("Run Compare to measure the speedup")
    expect(dash.locator(".rr-panel-status")).to_contain_text("rendered")
    expect(button(dash, "Render")).to_be_enabled()
    progress = dash.locator(".rr-progress")
    expect(progress.locator(".rr-progress-total .progress-bar")).to_have_class(re.compile("progress-bar-success"))
    expect(progress).to_contain_text("frames/s")
    segment_bars = progress.locator(".widget-gridbox .progress-bar")
    assert segment_bars.count() >= 1
    for index in range(segment_bars.count()):
        expect(segment_bars.nth(index)).to_have_class(re.compile("progress-bar-success"))

    chart = results.locator(".rr-results-chart")
    expect(bars(chart)).to_have_count(1, timeout=PAGE_TIMEOUT)
    nonempty_box(bars(chart).first, 20, 20)
    expect(chart).to_contain_text("workers")
    assert_timeline_drawn(page)
    summary = dash.locator(".rr-timeline-summary")
    expect(summary).to_contain_text(re.compile(r"\d+ segments? on"))
    segments = int(re.search(r"(\d+) segments? on", summary.inner_text()).group(1))
    expect(timeline_bars(page)).to_have_count(segments)  # one bar per segment
    for index in range(segments):
        nonempty_box(timeline_bars(page).nth(index), 1, 5)
    assert_video_plays(page, width)
    video = results.locator("video")
    expect(video).to_have_count(1)
    nonempty_box(video, 200, 100)


def assert_comparison_chart(page: Any) -> None:
    """The notebook's Compare cell left sequential and parallel bars with the speedup."""
    from playwright.sync_api import expect

    chart = page.locator(".rr-dashboard .rr-results-chart")
    expect(bars(chart)).to_have_count(2)
    expect(chart).to_contain_text("sequential")
    expect(chart).to_contain_text("Speedup")
    for index in range(2):
        nonempty_box(bars(chart).nth(index), 20, 5)


# ---- JupyterLab -------------------------------------------------------------------------------


def test_jupyterlab_runs_the_live_dashboard(browser: Any, lab_server: tuple[Server, str]) -> None:
    from playwright.sync_api import expect

    server, token = lab_server
    stored = (NOTEBOOKS / NOTEBOOK).read_bytes()
    page = open_page(browser, "jupyterlab")
    try:
        page.goto(f"http://127.0.0.1:{server.port}/lab/tree/{NOTEBOOK}?token={token}", wait_until="domcontentloaded")
        notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")
        expect(notebook.locator(".jp-Cell").first).to_be_visible(timeout=PAGE_TIMEOUT)

        def menu(menu_name: str, item: str) -> None:
            page.locator(".lm-MenuBar-item", has_text=re.compile(rf"^{menu_name}$")).click()
            label = page.locator(
                ".lm-Menu-item:not(.lm-mod-hidden) .lm-Menu-itemLabel", has_text=re.compile(rf"^{item}$")
            )
            label.click()

        # The stored outputs would satisfy the checks: clear them, then Run > Run All Cells.
        menu("Edit", "Clear Outputs of All Cells")
        expect(notebook.locator(".jp-OutputArea-output")).to_have_count(0)
        menu("Run", "Run All Cells")
        last_cell = notebook.locator("[data-mime-type='application/vnd.jupyter.stdout']", has_text="render cancelled")
        expect(last_cell).to_be_visible(timeout=RUN_TIMEOUT)
        page.wait_for_function(
            "() => ![...document.querySelectorAll('.jp-InputPrompt')].some(p => p.textContent.includes('*'))",
            timeout=PAGE_TIMEOUT,
        )
        expect(notebook.locator("[data-mime-type='application/vnd.jupyter.error']")).to_have_count(0)
        expect(page.get_by_text("Error displaying widget")).to_have_count(0)

        wait_for_figures(page)
        dash = assert_dashboard_rendered(page)
        assert_comparison_chart(page)  # the notebook's Compare cell, drawn live
        assert_timeline_drawn(page)
        dash.scroll_into_view_if_needed()
        button(dash, "Generate sample").click()
        expect(dash.locator(".rr-source-message")).to_contain_text("Sample ready: sample-6s-640x360.mp4")
        render_and_check(page, "sample-6s-640x360.rendered.mp4", 640)
        assert_figures_initialised("jupyterlab")

        dash.scroll_into_view_if_needed()
        screenshot(page, ARTIFACTS / "jupyterlab.png")
        screenshot(page, ARTIFACTS / "jupyterlab-dashboard.png", dash)
    finally:
        page.close()
    assert (NOTEBOOKS / NOTEBOOK).read_bytes() == stored, "the executed notebook must not be saved"


# ---- the web app (Voila) -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def voila_page(browser: Any, voila_server: Server) -> Iterator[Any]:
    """The web app opened once: Voila runs the notebook, then shows its widgets."""
    from playwright.sync_api import expect

    page = open_page(browser, "voila")
    try:
        page.goto(f"http://127.0.0.1:{voila_server.port}/", wait_until="commit")
        expect(page.locator(".rr-dashboard")).to_be_visible(timeout=RUN_TIMEOUT)
        wait_for_figures(page)
        yield page
    finally:
        page.close()


def test_web_app_first_load_shows_the_history(voila_page: Any, seeded: dict[str, Any]) -> None:
    """Nothing pressed: the history's charts and table, the health score on its gauge, the last
    job's results and segment timeline; no gauge shows a value nobody measured."""
    from playwright.sync_api import expect

    page = voila_page
    text = page.locator("body").inner_text()
    assert "RenderRush" in text and "app()" not in text, "the page's markdown is shown, its code hidden"
    expect(page.get_by_text("Error displaying widget")).to_have_count(0)
    dash = assert_dashboard_rendered(page)
    comparison = seeded["comparison"]
    job = str(comparison.job_id)

    history = dash.locator(".js-plotly-plot").filter(has_text="Frames/s rendered")
    expect(history.locator("g.scatterlayer g.points path.point")).to_have_count(2)  # frames/s and speedup of the job
    expect(dash).to_contain_text(f"{comparison.speedup:.2f}")  # the table and the results
    expect(dash.locator("table")).to_contain_text("compare")

    health = dash.locator(".js-plotly-plot").filter(has_text="Health score")
    expect(health.locator("g.indicatorlayer text.number")).to_have_count(1)
    score = re.search(r"Score (\d+)/100", dash.inner_text()).group(1)
    assert (health.locator("g.indicatorlayer text.number").text_content() or "").strip() == score, "gauge = text"

    gauges = dash.locator(".rr-gauges g.indicatorlayer g.trace")
    for index in (2, 3):  # frames/s and speedup: nothing ran in this visit
        expect(gauges.nth(index).locator("text.number")).to_have_count(0)
        expect(gauges.nth(index)).to_contain_text("—")

    results = dash.locator(".rr-results")
    expect(results).to_contain_text(f"job {job}, compare")
    expect(bars(results.locator(".rr-results-chart"))).to_have_count(2)
    expect(timeline_bars(page)).to_have_count(2 * SEEDED_SEGMENTS)  # both runs on one axis
    expect(dash.locator(".rr-timeline-chart")).to_contain_text("sequential · worker 1")
    page.locator("body").evaluate("b => window.scrollTo(0, 0)")
    screenshot(page, ARTIFACTS / "voila-first-load.png", dash)


def test_web_app_renders_a_generated_sample(voila_page: Any, seeded: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    page = voila_page
    dash = assert_dashboard_rendered(page)
    button(dash, "Generate sample").click()
    expect(dash.locator(".rr-source-message")).to_contain_text("Sample ready: sample-6s-640x360.mp4")
    # the advisor runs this short clip in process: the scheduler buttons show that, not "processes"
    panel = dash.locator(".rr-control-panel")
    expect(panel).to_contain_text("Advisor (in-process)")
    expect(panel.locator(".rr-scheduler button.mod-active")).to_have_text(re.compile(r"^\s*in process\s*$"))
    advice = panel.locator("text=Advisor (in-process)")
    box = advice.bounding_box()  # a readable paragraph under the button, not a narrow column
    assert box and box["width"] >= 300, box
    render_and_check(page, "sample-6s-640x360.rendered.mp4", 640)
    assert_figures_initialised("voila")
    visits = list(seeded["root"].glob("session-*"))
    assert len(visits) == 1, visits  # this visit's own folder, not the checkout's notebooks/output
    assert (visits[0] / "renders" / "sample-6s-640x360.rendered.mp4").is_file()
    page.locator("body").evaluate("b => window.scrollTo(0, 0)")
    screenshot(page, ARTIFACTS / "voila.png")
    screenshot(page, ARTIFACTS / "voila-after-render.png", dash)


def upload(page: Any, path: Path) -> None:
    """Pick `path` in the dashboard's file upload (the browser's file chooser)."""
    source = page.locator(".rr-dashboard .rr-video-source")
    with page.expect_file_chooser() as chooser:
        source.locator("button.widget-upload").click()
    chooser.value.set_files(str(path))


def test_web_app_uploads_a_video_and_refuses_other_files(
    voila_page: Any, seeded: dict[str, Any], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page = voila_page
    dash = page.locator(".rr-dashboard")
    source = dash.locator(".rr-video-source")
    message = source.locator(".rr-source-message")
    source.locator("button.widget-toggle-button", has_text=re.compile(r"^\s*Upload\s*$")).click()
    expect(source).to_contain_text("200.0 MB")

    stem = f"e2e-upload-{secrets.token_hex(4)}"
    clip = make_sample_video(tmp_path / f"{stem}.mp4", seconds=3, size=(320, 180), fps=30)
    (visit,) = seeded["root"].glob("session-*")
    saved = visit / "uploads" / clip.name
    rendered = visit / "renders" / f"{stem}.rendered.mp4"
    try:
        upload(page, clip)
        expect(message).to_contain_text(f"Uploaded {clip.name}", timeout=PAGE_TIMEOUT)
        expect(source).to_contain_text("320×180")
        assert saved.is_file() and saved.stat().st_size == clip.stat().st_size
        render_and_check(page, rendered.name, 320)

        too_big = tmp_path / "too-big.mp4"  # sparse: 201 MB on the wire, nothing on disk
        with too_big.open("wb") as handle:
            handle.truncate(MAX_UPLOAD_BYTES + 1_000_000)
        upload(page, too_big)
        expect(message).to_contain_text("is 201.0 MB, over the 200.0 MB upload limit", timeout=JOB_TIMEOUT)

        notes = tmp_path / "notes.txt"
        notes.write_text("not a video\n")
        upload(page, notes)
        expect(message).to_contain_text("'notes.txt' has .txt: upload a video ending in .mp4, .avi, .mov, .mkv")

        fake = tmp_path / "holiday.mp4"
        fake.write_bytes(b"this is a text file with a video's name\n" * 100)
        upload(page, fake)
        expect(message).to_contain_text("'holiday.mp4' is not a readable video")
        expect(message.locator("span")).to_have_attribute("style", re.compile("#b00020"))  # shown in red
        assert not (visit / "uploads" / "holiday.mp4").exists(), "refused files are not kept"
        expect(source).to_contain_text("320×180")  # the previous video is still the one in use

        screenshot(page, ARTIFACTS / "voila-upload-error.png", dash.locator(".rr-control-panel"))
        screenshot(page, ARTIFACTS / "voila-after-uploads.png", dash)
    finally:
        saved.unlink(missing_ok=True)
        rendered.unlink(missing_ok=True)
