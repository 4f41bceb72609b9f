"""`renderrush dashboard`: the live dashboard served as a standalone web app with Voilà: code
cells hidden, widgets live. The page is `renderrush/webapp/app.ipynb`, installed with the
package (it only calls `renderrush.webapp.app.app()`), so the command works after
`pip install renderrush[dashboard]` from any folder. Each visit writes under a folder of its own
below the output root (`--output-root`, `$RENDERRUSH_DASHBOARD_ROOT`, else the system's temporary
folder), never into a checkout.

The command line is built here as an argument list (never a shell string) and run by
replacing the current process with Voilà, so Ctrl-C and SIGTERM reach Voilà directly and it
shuts its kernels down. Voilà listens on 127.0.0.1 by default, on exactly the port asked for
(no silent fallback to another port), and reads `renderrush/webapp/voila.json`, which raises
the WebSocket message limit so that uploads of up to 200 MB reach the kernel (`VideoSource`
refuses anything larger with a message).
"""

from __future__ import annotations

import importlib.util
import os
import socket
import sys
from pathlib import Path

from ..core.errors import DashboardError

DEFAULT_IP = "127.0.0.1"
DEFAULT_PORT = 8866
CONFIG_DIR = Path(__file__).resolve().parent
"""Holds `voila.json` (the WebSocket message limit for uploads) and the page, `app.ipynb`."""
PAGE = CONFIG_DIR / "app.ipynb"


def find_notebook(notebook: str | os.PathLike | None = None) -> Path:
    """The notebook to serve: `notebook` if given, else the page installed with the package."""
    candidates = [Path(notebook)] if notebook is not None else [PAGE]
    for path in candidates:
        if path.is_file() and path.suffix == ".ipynb":
            return path.resolve()
    shown = ", ".join(str(p) for p in candidates)
    raise DashboardError(f"no dashboard notebook at {shown}: give --notebook PATH.ipynb, or reinstall renderrush")


def _config_paths() -> list[str]:
    """Where Voilà looks for `voila.json`, highest priority first: ours, then its defaults."""
    try:
        from jupyter_core.paths import jupyter_config_path

        defaults = [os.getcwd(), *jupyter_config_path()]
    except ImportError:  # pragma: no cover - jupyter_core comes with voila
        defaults = [os.getcwd()]
    return [str(CONFIG_DIR), *defaults]


def voila_command(
    notebook: str | os.PathLike,
    port: int = DEFAULT_PORT,
    ip: str = DEFAULT_IP,
    python: str = sys.executable,
) -> list[str]:
    """The Voilà command line (an argument list) that serves `notebook` at http://ip:port/."""
    if not 1 <= int(port) <= 65535:
        raise DashboardError(f"port must be between 1 and 65535, got {port}")
    command = [
        python,
        "-m",
        "voila",
        str(notebook),
        "--no-browser",
        f"--Voila.ip={ip}",
        f"--Voila.port={int(port)}",
        "--Voila.port_retries=0",  # exactly this port, or an error
        "--VoilaConfiguration.strip_sources=True",  # code cells hidden
        "--VoilaConfiguration.show_tracebacks=False",
    ]
    command += [f"--Voila.config_file_paths={path}" for path in _config_paths()]
    return command


def check_port_free(ip: str, port: int) -> None:
    """Raise a `DashboardError` when something already listens on ip:port."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((ip, port))
        except OSError as exc:
            raise DashboardError(
                f"cannot listen on {ip}:{port} ({exc.strerror}): choose another port with --port"
            ) from None


def prepare_output_root(output_root: str | os.PathLike) -> Path:
    """Create the folder the visits write under; a `DashboardError` says why it cannot be used."""
    root = Path(output_root).expanduser().absolute()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DashboardError(
            f"cannot create the output root '{root}' ({exc.strerror}): choose another --output-root"
        ) from None
    if not os.access(root, os.W_OK | os.X_OK):
        raise DashboardError(f"cannot write to the output root '{root}': choose another --output-root")
    return root


def serve(
    notebook: str | os.PathLike | None = None,
    port: int = DEFAULT_PORT,
    ip: str = DEFAULT_IP,
    output_root: str | os.PathLike | None = None,
) -> None:
    """Serve the dashboard with Voilà until interrupted (replaces this process). Each visit
    writes under its own folder below `output_root` (default: `default_output_root()`)."""
    if importlib.util.find_spec("voila") is None:
        raise DashboardError("Voilà is not installed: pip install 'renderrush[dashboard]'")
    from ..ui.session import OUTPUT_ROOT_ENV, default_output_root

    root = prepare_output_root(output_root if output_root is not None else default_output_root())
    os.environ[OUTPUT_ROOT_ENV] = str(root)  # the kernels Voilà starts inherit it
    path = find_notebook(notebook)
    command = voila_command(path, port, ip)
    check_port_free(ip, port)
    host = f"[{ip}]" if ":" in ip else ip
    print(
        f"RenderRush dashboard: http://{host}:{port}/  (serving {path.name} with Voilà; each visit writes under "
        f"{root}; Ctrl-C stops it)",
        flush=True,
    )
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(command[0], command)
