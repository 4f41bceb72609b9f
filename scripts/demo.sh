#!/usr/bin/env bash
# The main job on a fresh machine, in about a minute once installed: install the package alone
# (no test extras), generate a 10 s 720p sample, then measure where parallel segments pay on
# this machine: a built-in chain and a NumPy user filter, each with its speedup and ceiling.
set -euo pipefail
RENDERRUSH_EXTRAS="" source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
mkdir -p out
renderrush sample out/sample.mp4 --seconds 10 --size 1280x720
renderrush probe out/sample.mp4
python scripts/demo.py out/sample.mp4 --keep out
