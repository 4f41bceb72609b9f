"""`renderrush.webapp.server`: `renderrush dashboard` serves the page installed with the package
through Voilà, started as an argument list that replaces this process: code cells hidden, on
loopback by default, on exactly the port asked for (checked free first), with the package's
`voila.json` first among Voilà's config paths; each visit writes under the output root, which
is made here and handed to the kernels in `$RENDERRUSH_DASHBOARD_ROOT`. Every refusal is a
`DashboardError` that says what to change. (No server is started here: tests/e2e/test_browser.py.)"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

from renderrush.core.errors import DashboardError
from renderrush.ui.session import OUTPUT_ROOT_ENV
from renderrush.webapp import server as dashboard


class Replaced(Exception):
    """Raised by the fake `os.execv`: the process would have become Voilà here."""


@pytest.fixture
def execv(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[str]]]:
    """Calls to `os.execv`, which never replaces the test process; the root variable serve sets is restored."""
    calls: list[tuple[str, list[str]]] = []

    def fake(path: str, args: list[str]) -> None:
        calls.append((path, list(args)))
        raise Replaced

    monkeypatch.setattr(dashboard.os, "execv", fake)
    monkeypatch.delenv(OUTPUT_ROOT_ENV, raising=False)
    return calls


def free_port(ip: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET) as probe:
        probe.bind((ip, 0))
        return probe.getsockname()[1]


# ---- the page -----------------------------------------------------------------------------------
def test_the_page_and_its_config_are_installed_with_the_package() -> None:
    assert dashboard.find_notebook() == dashboard.PAGE.resolve() and dashboard.PAGE.parent == dashboard.CONFIG_DIR
    page = json.loads(dashboard.PAGE.read_text(encoding="utf-8"))
    assert "".join(page["cells"][-1]["source"]).endswith("app()"), "the page only builds the app"
    assert (dashboard.CONFIG_DIR / "voila.json").is_file()


def test_find_notebook_takes_a_given_notebook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mine.ipynb").write_text("{}")
    monkeypatch.chdir(tmp_path)
    assert dashboard.find_notebook("mine.ipynb") == tmp_path / "mine.ipynb"  # resolved: absolute
    assert dashboard.find_notebook(tmp_path / "mine.ipynb").is_absolute()


@pytest.mark.parametrize("name", ["missing.ipynb", "notes.txt", "folder.ipynb"])
def test_find_notebook_refuses_anything_but_a_notebook_file(tmp_path: Path, name: str) -> None:
    (tmp_path / "notes.txt").write_text("{}")
    (tmp_path / "folder.ipynb").mkdir()
    with pytest.raises(DashboardError) as error:
        dashboard.find_notebook(tmp_path / name)
    assert str(error.value) == (
        f"no dashboard notebook at {tmp_path / name}: give --notebook PATH.ipynb, or reinstall renderrush"
    )


# ---- the command line ---------------------------------------------------------------------------
def test_voila_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    command = dashboard.voila_command(Path("page.ipynb"), port=9123, ip="0.0.0.0", python="/opt/python")
    assert command[:9] == [
        "/opt/python",
        "-m",
        "voila",
        "page.ipynb",
        "--no-browser",
        "--Voila.ip=0.0.0.0",
        "--Voila.port=9123",
        "--Voila.port_retries=0",
        "--VoilaConfiguration.strip_sources=True",
    ]
    assert command[9] == "--VoilaConfiguration.show_tracebacks=False"
    paths = [part.split("=", 1)[1] for part in command[10:]]
    assert all(part.startswith("--Voila.config_file_paths=") for part in command[10:])
    assert paths[:2] == [str(dashboard.CONFIG_DIR), str(tmp_path)], "ours first, then the working folder's"
    assert paths == dashboard._config_paths() and len(paths) > 2  # then Jupyter's own
    default = dashboard.voila_command("page.ipynb")
    assert default[0] == sys.executable and "--Voila.ip=127.0.0.1" in default and "--Voila.port=8866" in default


@pytest.mark.parametrize("port, allowed", [(0, False), (1, True), (65535, True), (65536, False), (-80, False)])
def test_voila_command_checks_the_port(port: int, allowed: bool) -> None:
    if allowed:
        assert f"--Voila.port={port}" in dashboard.voila_command("page.ipynb", port=port)
    else:
        with pytest.raises(DashboardError, match=rf"^port must be between 1 and 65535, got {port}$"):
            dashboard.voila_command("page.ipynb", port=port)


# ---- ports and folders ----------------------------------------------------------------------------
@pytest.mark.parametrize("listen_on, asked", [("127.0.0.1", "127.0.0.1"), ("0.0.0.0", "127.0.0.1"), ("::1", "::1")])
def test_a_port_in_use_is_refused(listen_on: str, asked: str) -> None:
    family = socket.AF_INET6 if ":" in listen_on else socket.AF_INET
    try:
        busy = socket.socket(family)
        busy.bind((listen_on, 0))
    except OSError:
        pytest.skip(f"cannot listen on {listen_on} here")
    with busy:
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(DashboardError) as error:
            dashboard.check_port_free(asked, port)
        assert str(error.value) == (
            f"cannot listen on {asked}:{port} (Address already in use): choose another port with --port"
        )
    dashboard.check_port_free(asked, port)  # closed: free again


def test_prepare_output_root_makes_an_absolute_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert dashboard.prepare_output_root("a/b") == tmp_path / "a" / "b" and (tmp_path / "a" / "b").is_dir()
    assert dashboard.prepare_output_root(tmp_path / "a" / "b") == tmp_path / "a" / "b"  # existing: fine
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert dashboard.prepare_output_root("~/visits") == tmp_path / "home" / "visits"


def test_prepare_output_root_says_why_a_folder_cannot_be_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a-file").write_text("")
    with pytest.raises(DashboardError) as error:
        dashboard.prepare_output_root(tmp_path / "a-file")
    assert str(error.value) == (
        f"cannot create the output root '{tmp_path / 'a-file'}' (File exists): choose another --output-root"
    )
    with pytest.raises(DashboardError, match=r"\(Not a directory\): choose another --output-root"):
        dashboard.prepare_output_root(tmp_path / "a-file" / "root")
    # read-only (faked: these tests may run as root, who can write anywhere)
    monkeypatch.setattr(dashboard.os, "access", lambda path, mode: False)
    with pytest.raises(DashboardError) as error:
        dashboard.prepare_output_root(tmp_path / "root")
    assert str(error.value) == f"cannot write to the output root '{tmp_path / 'root'}': choose another --output-root"


# ---- serve ----------------------------------------------------------------------------------------
def test_serve_becomes_voila(
    tmp_path: Path, execv: list[tuple[str, list[str]]], capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    with pytest.raises(Replaced):
        dashboard.serve(port=port, output_root=tmp_path / "root")
    ((path, command),) = execv
    assert path == command[0] == sys.executable
    assert command == dashboard.voila_command(dashboard.PAGE.resolve(), port, "127.0.0.1")
    assert os.environ[OUTPUT_ROOT_ENV] == str(tmp_path / "root") and (tmp_path / "root").is_dir()
    assert capsys.readouterr().out == (
        f"RenderRush dashboard: http://127.0.0.1:{port}/  (serving app.ipynb with Voilà; each visit writes "
        f"under {tmp_path / 'root'}; Ctrl-C stops it)\n"
    )


def test_serve_defaults_to_the_environment_root_and_brackets_ipv6(
    tmp_path: Path,
    execv: list[tuple[str, list[str]]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    try:
        port = free_port("::1")
    except OSError:
        pytest.skip("no IPv6 loopback here")
    (tmp_path / "page.ipynb").write_text("{}")
    monkeypatch.setenv(OUTPUT_ROOT_ENV, str(tmp_path / "env-root"))
    with pytest.raises(Replaced):
        dashboard.serve(tmp_path / "page.ipynb", port=port, ip="::1")
    ((_, command),) = execv
    assert command[3] == str(tmp_path / "page.ipynb") and "--Voila.ip=::1" in command
    assert (tmp_path / "env-root").is_dir() and os.environ[OUTPUT_ROOT_ENV] == str(tmp_path / "env-root")
    assert f"http://[::1]:{port}/" in capsys.readouterr().out


def test_serve_checks_everything_before_it_starts_voila(
    tmp_path: Path, execv: list[tuple[str, list[str]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(DashboardError, match="no dashboard notebook at "):
        dashboard.serve(tmp_path / "missing.ipynb", port=free_port(), output_root=tmp_path / "root")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(DashboardError, match="choose another port with --port"):
            dashboard.serve(port=busy.getsockname()[1], output_root=tmp_path / "root")
    with pytest.raises(DashboardError, match="port must be between 1 and 65535"):
        dashboard.serve(port=0, output_root=tmp_path / "root")
    assert execv == []
    real = importlib.util.find_spec

    def without_voila(name: str, *args: Any) -> Any:
        return None if name == "voila" else real(name, *args)

    monkeypatch.setattr(dashboard.importlib.util, "find_spec", without_voila)
    with pytest.raises(DashboardError) as error:
        dashboard.serve(port=free_port(), output_root=tmp_path / "never-made")
    assert str(error.value) == "Voilà is not installed: pip install 'renderrush[dashboard]'"
    assert not (tmp_path / "never-made").exists() and execv == []
