"""Probe results kept between jobs, so a repeated job with a quality target encodes no
probe for a segment it has seen: SQLite in the user's cache folder
(`$RENDERRUSH_CACHE_DIR`, else `$XDG_CACHE_HOME/renderrush`, else `~/.cache/renderrush`).

A segment's key (`probe_key`) names what its probes measured: the source file (path, size,
modification time), the segment's frame range, the filter chain, the picture the encoder
gets, every encoder setting but the CRF, and the probe sampling. Each entry is the
(crf, vmaf) list of its probes. The cache is looked up and filled by the job (on the
caller's machine, whatever backend runs the segments); a damaged or unwritable cache
is skipped, never an error.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..core.segment import Segment
from ..media.codecs import OPTIONS_SCHEME
from ..media.encode import EncodeSettings
from .target import MAX_PROBES, PROBE_BYTES, PROBE_FRAMES, PROBE_RUNS

CACHE_ENV = "RENDERRUSH_CACHE_DIR"
CACHE_FILE = "probes.sqlite3"
SCHEME = f"v2:{PROBE_FRAMES}:{PROBE_BYTES}:{PROBE_RUNS}:{MAX_PROBES}:{OPTIONS_SCHEME}"
"""Changes whenever what a probe encodes or measures changes, so older entries are not reused
(v2: 10-bit probes' VMAF is measured on 10-bit samples; v1 fed them to libvmaf as bytes; the
last field: `codecs.OPTIONS_SCHEME`)."""


def cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "renderrush"


def probe_key(
    source: str | os.PathLike[str], segment: Segment, chain: str, encode: EncodeSettings, picture: Any
) -> str | None:
    """The key of a segment's probes, or None when the source cannot be stat'ed."""
    try:
        stat = Path(source).stat()
    except OSError:
        return None
    settings = {k: v for k, v in asdict(encode).items() if k != "crf"}
    described = {
        "source": str(Path(source).resolve()),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "frames": [segment.start, segment.stop],
        "filters": chain,
        "encode": settings,
        "picture": repr(picture),
        "scheme": SCHEME,
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True, default=str).encode()).hexdigest()


class ProbeCache:
    """(crf, vmaf) probes by segment key, in one SQLite file."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else cache_dir() / CACHE_FILE

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=10)
        db.execute("CREATE TABLE IF NOT EXISTS probes (key TEXT PRIMARY KEY, points TEXT NOT NULL, used REAL)")
        return db

    def get(self, keys: list[str]) -> dict[str, tuple[tuple[int, float], ...]]:
        """The probes known for each of `keys` (those not known are left out)."""
        if not keys:
            return {}
        try:
            db = self._connect()
            try:
                marks = ",".join("?" * len(keys))
                rows = db.execute(f"SELECT key, points FROM probes WHERE key IN ({marks})", keys).fetchall()
            finally:
                db.close()
            return {key: tuple((int(c), float(v)) for c, v in json.loads(points)) for key, points in rows}
        except (sqlite3.Error, OSError, ValueError, TypeError):
            return {}  # a damaged cache costs probes, not the job

    def put(self, entries: Mapping[str, tuple[tuple[int, float], ...]]) -> None:
        """Keep the probes of each key (merged with those already known)."""
        if not entries:
            return
        try:
            known = self.get(list(entries))
            db = self._connect()
            try:
                with db:
                    for key, points in entries.items():
                        merged = sorted({**dict(known.get(key, ())), **dict(points)}.items())
                        db.execute(
                            "INSERT OR REPLACE INTO probes (key, points, used) VALUES (?, ?, ?)",
                            (key, json.dumps(merged), time.time()),
                        )
            finally:
                db.close()
        except (sqlite3.Error, OSError):
            pass  # the next job probes again
