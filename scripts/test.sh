#!/usr/bin/env bash
# The whole test suite on a fresh machine: install, then run pytest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
python -m pytest "$@"
