#!/usr/bin/env bash
# The main job on the built-in synthetic scene (what `make demo` runs):
# simulate a parking lot, then heatmap -> CFAR -> DBSCAN -> genie / strongest match -> evaluate.
set -euo pipefail
out=${DEMO_OUT:-demo-out}
mkdir -p "$out"
radarsp simulate --scenario parking-lot --frames 2000 --seed 1 -o "$out/scenes.nc" --force
radarsp info "$out/scenes.nc"
radarsp pipeline "$out/scenes.nc" -o "$out/run" --force
radarsp plot "$out/run/heatmap.nc" --frame 0 --detections "$out/run/detections.nc" -o "$out/frame0.png" --force
# MCL: self-supervised backbone on radio + masked camera, self-labels, radio-only localiser (quick settings)
radarsp-learn -q train --objective mcl "$out/run/heatmap.nc" -o "$out/mcl" --force --epochs 5
radarsp-learn -q selflabel "$out/mcl" "$out/run/heatmap.nc" -o "$out/selflabels.nc" --force
radarsp-learn -q train --objective localiser --labels "$out/selflabels.nc" "$out/run/heatmap.nc" -o "$out/loc" --force --epochs 6
radarsp-learn -q predict "$out/loc" "$out/run/heatmap.nc" -o "$out/estimates-mcl.nc" --force
radarsp evaluate "$out/run/estimates-genie.nc" "$out/run/estimates-strongest.nc" "$out/estimates-mcl.nc" --truth "$out/scenes.nc"
