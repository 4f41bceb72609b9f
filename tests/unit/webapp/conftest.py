from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def own_default_history(private_default_history: Path) -> Path:
    """The web app records into the default history: a private one per test."""
    return private_default_history
