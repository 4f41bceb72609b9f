#!/usr/bin/env bash
# The main job on a fresh machine: install, generate a 720p sample, compare sequential vs parallel.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
mkdir -p out
renderrush sample out/sample.mp4 --seconds 20 --size 1280x720
renderrush probe out/sample.mp4
renderrush compare out/sample.mp4 --filters "grayscale,blur:5,contrast:1.3" --keep out
