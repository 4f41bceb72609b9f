"""Helpers the tests share (no tests here): generated media, jobs in other processes, a
loopback dask cluster, the browser harness, slow filters and frame readers."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
"""The repository's root folder (child processes get it on PYTHONPATH to import `tests`)."""
