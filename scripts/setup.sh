#!/usr/bin/env bash
# Creates .venv (if missing) and installs RenderRush with its test extras from this repo.
# Sourced by scripts/demo.sh and scripts/test.sh; leaves the venv's bin first on PATH.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${RENDERRUSH_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e "$ROOT[test]"
export PATH="$VENV/bin:$PATH"
cd "$ROOT"
