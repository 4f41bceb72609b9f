#!/usr/bin/env bash
# The whole test suite on a fresh machine: install, check style and types, then run pytest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
ruff format --check renderrush tests benchmarks scripts
ruff check renderrush tests benchmarks scripts
mypy
python -m pytest "$@"
