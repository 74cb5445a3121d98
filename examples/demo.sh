#!/usr/bin/env bash
# The main job on the built-in synthetic scene (what `make demo` runs).
set -euo pipefail
out=${DEMO_OUT:-demo-out}
mkdir -p "$out"
radarsp simulate --scenario parking-lot --frames 300 --seed 1 -o "$out/scenes.nc" --force
radarsp info "$out/scenes.nc"
