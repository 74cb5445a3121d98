"""Simulate a parking lot, form range-angle heatmaps, run CFAR, cluster, match and score.

Run:  python examples/statistical_chain.py [--frames 300] [--out docs/figures]

Writes ``scene_frame.png`` (camera image beside the range-angle map with CFAR detections,
DBSCAN clusters, the genie-aided estimate and the truth) and prints the error table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import radarsp  # noqa: E402
from radarsp.cfar import cfar, detections  # noqa: E402
from radarsp.heatmap import heatmap_dataset  # noqa: E402
from radarsp.metrics import error_summary, localisation_error, summary_table  # noqa: E402
from radarsp.plot import plot_scene_frame  # noqa: E402


def main(frames: int, out: Path, frame: int = 4) -> None:
    scenes = radarsp.simulate("parking-lot", frames=frames, seed=7)  # csi-1, with camera
    heatmap = heatmap_dataset(scenes)  # heatmap-1 (frame, range, angle)
    result = cfar(heatmap.power, method="ca", guard=(4, 2), train=(16, 4), pfa=1e-2)
    table = detections(result, heatmap.power)  # detections-1
    clusters = radarsp.cluster(table, eps=(1.0, 1.0), min_samples=5)  # clusters-1 (DBSCAN, x-y)
    estimates = {
        "genie": radarsp.genie_match(clusters, scenes),
        "strongest": radarsp.strongest(clusters, scenes.frame),
    }
    summaries = {
        name: error_summary(localisation_error(est, scenes)) for name, est in estimates.items()
    }
    print(summary_table(summaries))

    fig = plot_scene_frame(scenes, heatmap, frame, detections=table, clusters=clusters,
                           estimate=estimates["genie"])
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "scene_frame.png", dpi=120)
    print(f"wrote {out / 'scene_frame.png'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--out", type=Path, default=Path("docs/figures"))
    args = parser.parse_args()
    main(args.frames, args.out)
