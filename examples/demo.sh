#!/usr/bin/env bash
# The main job on the built-in synthetic scene (what `make demo` runs):
# simulate a parking lot, then heatmap -> CFAR -> DBSCAN -> genie / strongest match -> evaluate.
set -euo pipefail
out=${DEMO_OUT:-demo-out}
mkdir -p "$out"
radarsp simulate --scenario parking-lot --frames 600 --seed 1 -o "$out/scenes.nc" --force
radarsp info "$out/scenes.nc"
radarsp pipeline "$out/scenes.nc" -o "$out/run" --force
radarsp plot "$out/run/heatmap.nc" --frame 0 --detections "$out/run/detections.nc" -o "$out/frame0.png" --force
