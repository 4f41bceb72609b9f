"""Per-session output folders: each notebook kernel or web-app visit writes its samples,
uploads, renders and reports under a folder of its own, so two visitors never render to the
same file (one would remove the other's job folder under it)."""

from __future__ import annotations

import os
import secrets
import tempfile
import time
from pathlib import Path

OUTPUT_ROOT_ENV = "RENDERRUSH_DASHBOARD_ROOT"
"""Folder under which the web app makes one folder per visit (`renderrush dashboard --output-root`)."""


def default_output_root() -> Path:
    """`$RENDERRUSH_DASHBOARD_ROOT`, else `renderrush-dashboard` in the system's temporary folder."""
    override = os.environ.get(OUTPUT_ROOT_ENV)
    if override:
        return Path(override).expanduser()
    return Path(tempfile.gettempdir()) / "renderrush-dashboard"


def session_folder(root: str | os.PathLike | None = None) -> Path:
    """A new, empty folder under `root` (default `default_output_root()`) for this session
    alone: `session-<date>-<time>-<process id>-<random>`, created here, never reused."""
    base = Path(root).expanduser() if root is not None else default_output_root()
    base.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    while True:
        folder = base / f"session-{stamp}-{os.getpid()}-{secrets.token_hex(3)}"
        try:
            folder.mkdir()
        except FileExistsError:  # pragma: no cover - 24 random bits in the same second and process
            continue
        return folder
