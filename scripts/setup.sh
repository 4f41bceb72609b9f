#!/usr/bin/env bash
# Creates .venv (if missing) and installs RenderRush from this repo with the extras in
# RENDERRUSH_EXTRAS (default "test": what scripts/test.sh needs; "" installs the package alone,
# the command line and the Python API, as scripts/demo.sh does).
# Sourced by scripts/demo.sh and scripts/test.sh; leaves the venv's bin first on PATH.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${RENDERRUSH_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
EXTRAS="${RENDERRUSH_EXTRAS-test}"
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e "$ROOT${EXTRAS:+[$EXTRAS]}"
export PATH="$VENV/bin:$PATH"
cd "$ROOT"
