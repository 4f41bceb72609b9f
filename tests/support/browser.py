"""Helpers for the browser tests: free loopback ports, servers started and always stopped,
headless Chromium (Debian's package, driven by Playwright), and the skip-or-fail rule.

The browser tests need Playwright's Python package, a Chromium binary (Debian's `chromium`
at /usr/bin/chromium, or RENDERRUSH_CHROMIUM), JupyterLab and Voilà. Playwright's own browser
download (`playwright install`) is never used. When something is missing the tests are skipped
with the reason (pytest's summary lists it) unless RENDERRUSH_BROWSER_TESTS=required, which
`.ci/run` sets once Chromium is installed: then a missing piece fails the tests.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import psutil
import pytest

from . import ROOT

NOTEBOOKS = ROOT / "notebooks"
ARTIFACTS = Path(os.environ.get("RENDERRUSH_ARTIFACTS", ROOT / "test-artifacts"))
"""Screenshots and server logs of the browser tests (git ignores this folder)."""
CHROMIUM = os.environ.get("RENDERRUSH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def missing_for_browser_tests() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    for module, install in (
        ("playwright", "pip install -e '.[test]'"),
        ("jupyterlab", "pip install -e '.[test]'"),
        ("voila", "pip install -e '.[test]'"),
    ):
        if importlib.util.find_spec(module) is None:
            return f"the Python package '{module}' is not installed ({install})"
    if not os.access(CHROMIUM, os.X_OK):
        return (
            f"no Chromium at {CHROMIUM}: install Debian's package (apt-get install chromium; "
            ".ci/run does it as root) or set RENDERRUSH_CHROMIUM"
        )
    return None


def require_browser() -> None:
    """Skip (with the reason) or, where the browser tests are required, fail."""
    reason = missing_for_browser_tests()
    if reason is None:
        return
    if os.environ.get("RENDERRUSH_BROWSER_TESTS") == "required":
        pytest.fail(f"browser tests are required here (RENDERRUSH_BROWSER_TESTS=required) but {reason}")
    pytest.skip(f"browser test skipped: {reason}")


def free_port() -> int:
    """A TCP port nobody listens on at 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A server process started on loopback, its output kept in `ARTIFACTS/<name>.log`.

    `stop()` sends SIGTERM (Jupyter servers and Voilà then shut their kernels down), waits,
    and kills whatever is left of the process and its descendants, by process id."""

    def __init__(self, name: str, command: Sequence[str], port: int, cwd: Path, env: dict[str, str]) -> None:
        self.name, self.command, self.port = name, list(command), port
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.log_path = ARTIFACTS / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            self.command,
            cwd=cwd,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log_tail(self, chars: int = 3000) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]

    def wait_listening(self, timeout: float) -> None:
        """Wait until the port accepts connections (or fail with the server's log)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise TimeoutError(f"{self.name} did not listen on port {self.port} within {timeout:.0f} s:\n{self.log_tail()}")

    def wait_http(self, url: str, timeout: float) -> None:
        """Wait until `url` answers with a status below 500."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(url, timeout=5) as answer:
                    if answer.status < 500:
                        return
            except urllib.error.HTTPError as exc:
                if exc.code < 500:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"{self.name} did not answer {url} within {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self, timeout: float = 20.0) -> None:
        try:
            descendants = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.Error:
            descendants = []
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        _, alive = psutil.wait_procs(descendants, timeout=5)
        for proc in alive:  # kernels or workers that outlived their server
            try:
                proc.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(alive, timeout=5)
        self._log.close()


def write_json(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
