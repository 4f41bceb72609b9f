"""The page `renderrush dashboard` serves: the `Dashboard` for one visit, writing under a
folder of its own (`session_folder`), so the web app needs nothing from a source checkout."""

from __future__ import annotations

import os
from pathlib import Path

from ..ui.dashboard import Dashboard
from ..ui.session import session_folder


def app(output_root: str | os.PathLike | None = None) -> Dashboard:
    """The dashboard of one visit: its samples, uploads, renders and reports go to a new
    folder under `output_root` (default `$RENDERRUSH_DASHBOARD_ROOT`, else the system's
    temporary folder); jobs are recorded in the default history ($RENDERRUSH_HISTORY)."""
    folder: Path = session_folder(output_root)
    return Dashboard(folder)
