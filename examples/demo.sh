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
# Label-free localisers, each under its own name (quick settings; all read 0 labels):
# MCL -- self-supervised backbone on radio + masked camera, the paper's self-labels, radio-only localiser
h="$out/run/heatmap.nc"
radarsp-learn -q train --objective mcl "$h" -o "$out/mcl" --force --epochs 5
radarsp-learn -q selflabel "$out/mcl" "$h" -o "$out/selflabels.nc" --force
radarsp-learn -q train --objective localiser --labels "$out/selflabels.nc" "$h" -o "$out/loc" --force --epochs 6
radarsp-learn -q predict "$out/loc" "$h" -o "$out/estimates-mcl.nc" --force
# MCL + track + car prior -- the same self-labels, each sequence's constant-velocity track, moved
# from the car's nearest point to the centre of a 4.5 m x 1.8 m car (a named prior; no camera model)
radarsp-learn -q selflabel "$out/mcl" "$h" -o "$out/selflabels-track-car.nc" --track --prior car --force
radarsp-learn -q train --objective localiser --labels "$out/selflabels-track-car.nc" "$h" -o "$out/loc-track-car" --force --epochs 6
radarsp-learn -q predict "$out/loc-track-car" "$h" -o "$out/estimates-mcl-track-car.nc" --force
# camera-ray fusion -- MCL's range, the calibrated camera ray's bearing (uses the camera model)
radarsp-learn -q selflabel "$out/mcl" "$h" -o "$out/selflabels-camera.nc" --angle camera --force
radarsp-learn -q train --objective localiser --labels "$out/selflabels-camera.nc" "$h" -o "$out/loc-camera" --force --epochs 6
radarsp-learn -q predict "$out/loc-camera" "$h" -o "$out/estimates-camera-ray-fusion.nc" --force
# RODNet-style teacher (CFAR clusters picked by camera rays) and the student trained on it
radarsp-learn -q teacher "$h" -o "$out/teacher.nc" --force
radarsp-learn -q train --objective localiser --labels "$out/teacher.nc" "$h" -o "$out/student" --force --epochs 6
radarsp-learn -q predict "$out/student" "$h" -o "$out/estimates-rodnet-student.nc" --force
radarsp evaluate "$out/run/estimates-genie.nc" "$out/run/estimates-strongest.nc" \
    "$out/estimates-mcl.nc" "$out/estimates-mcl-track-car.nc" "$out/estimates-camera-ray-fusion.nc" "$out/estimates-rodnet-student.nc" \
    --truth "$out/scenes.nc"
