"""Ray-traced data (Sionna RT): generation speed beside the point-scatterer engine, and every
method of ``bench_mcl.py --scenario`` on a ray-traced parking lot.

1. Speed: ``radarsp simulate`` of the same parking-lot frames with ``--engine points`` and
   ``--engine raytrace`` (defaults: 1e5 samples, depth 2, 64 x 64 camera), each in its own
   process, run one after the other: frames/s (wall) and peak RSS, and their ratio.
2. Accuracy: a ray-traced parking-lot file (``--data``, e.g. 1,050 frames written by
   ``radarsp simulate --engine raytrace -n 1050 --seed 41``; generated here when absent) goes
   through ``radarsp heatmap``, is split by sequence (the first ``--train-fraction`` of the
   sequences train, the rest are scored), and every method of the scenario table runs on it:
   supervised, MCL (the paper's self-label), camera-ray fusion, RODNet-style teacher and
   student, camera ground projection, genie CFAR at both settings, the strongest cluster.
   Written to ``results/raytrace.md``.

Usage::

    .venv/bin/python benchmarks/bench_raytrace.py --data /path/lot.nc
    .venv/bin/python benchmarks/bench_raytrace.py --quick     # 60 frames, smoke run
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import fragment_path, write_fragment  # noqa: E402

RADARSP = [sys.executable, "-m", "cli.main", "-q"]


def timed(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one ``radarsp`` command in its own process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(RADARSP + args, check=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before) / 1024


def speed(work: Path, frames: int) -> list[str]:
    """Generation speed of both engines on the same frames, as markdown lines."""
    rows = {}
    for engine in ("points", "raytrace"):
        out = work / f"speed-{engine}.nc"
        seconds, rss = timed(["simulate", "--engine", engine, "-n", str(frames), "--seed", "5",
                              "-o", str(out), "--force"])
        rows[engine] = (frames / seconds, rss)
    ratio = rows["points"][0] / rows["raytrace"][0]
    lines = ["| engine | frames | frames/s (wall, incl. start-up) | peak RSS (MB) |",
             "|---|---|---|---|"]
    lines += [f"| {engine} | {frames} | {rate:.2f} | {rss:.0f} |"
              for engine, (rate, rss) in rows.items()]
    lines += ["", f"Point scatterers generate **{ratio:.0f}x** as many frames per second as "
              "ray tracing here (peak RSS: the largest child process so far, so the ray-tracing "
              "row is the larger of the two)."]
    return lines


def split(heatmap: Path, work: Path, fraction: float) -> tuple[Path, Path, str]:
    """Training / validation heatmap files: whole sequences, the first ``fraction`` train."""
    from radarsp.io import open_heatmap, save

    ds = open_heatmap(heatmap)
    sequences = np.unique(ds["sequence"].values)
    cut = sequences[int(round(fraction * len(sequences)))]
    train = ds["sequence"].values < cut
    paths = work / "rt-train.nc", work / "rt-val.nc"
    save(ds.isel(frame=np.flatnonzero(train)), paths[0], force=True)
    save(ds.isel(frame=np.flatnonzero(~train)), paths[1], force=True)
    return (*paths, f"{int(train.sum())} training frames ({int(np.sum(sequences < cut))} "
            f"sequences), {int((~train).sum())} validation frames")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="ray-traced csi-1 file (generated if absent)")
    parser.add_argument("--frames", type=int, default=1050, help="frames to generate")
    parser.add_argument("--speed-frames", type=int, default=60)
    parser.add_argument("--train-fraction", type=float, default=0.7)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="60 frames, 2 epochs")
    parser.add_argument("--workdir", type=Path, default=ROOT / "benchmarks" / ".work" / "rt")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--reuse", action="store_true",
                        help="keep the runs and labels already in the work directory (same "
                             "data and settings!) and run only what is missing")
    args = parser.parse_args(argv)
    if args.quick:
        args.frames, args.speed_frames = 60, 15
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    speed_lines = speed(work, args.speed_frames)

    data = args.data or work / f"raytraced-{args.frames}.nc"
    generation = ""
    if not data.exists():
        seconds, rss = timed(["simulate", "--engine", "raytrace", "-n", str(args.frames),
                              "--seed", "41", "-o", str(data)])
        generation = (f" Generated here: {args.frames} frames in {seconds / 60:.1f} min "
                      f"({args.frames / seconds:.2f} frames/s), peak RSS {rss:.0f} MB.")
    heatmap = work / "raytraced-heatmap.nc"
    start = time.perf_counter()
    subprocess.run(RADARSP + ["heatmap", str(data), "-o", str(heatmap), "--force"], check=True,
                   cwd=ROOT)
    heatmap_s = time.perf_counter() - start
    train_nc, val_nc, sizes = split(heatmap, work, args.train_fraction)

    import bench_mcl

    bench_mcl.REUSE["on"] = args.reuse
    args.scenario, args.script, args.argv = "parking-lot", "bench_raytrace.py", argv
    args.frames = args.val_frames = args.train_seed = args.val_seed = None
    name = "raytrace-quick" if args.quick else "raytrace"
    fragment = fragment_path(name, quick=False, out=args.out)
    args.out = fragment
    bench_mcl.scenario_main(
        args, (train_nc, val_nc), name=name,
        title="## Ray-traced parking lot (Sionna RT, issue #15): every method",
        data=f"Ray-traced parking lot ({data.name}: Sionna RT 2.2, 1e5 samples per source, "
             f"depth 2, specular + diffuse, 64 x 64 camera); {sizes}, split by sequence;"
             f"{generation} `radarsp heatmap` {heatmap_s:.0f} s")
    text = fragment.read_text()
    text += "\n### Generation speed (same parking-lot frames, one run)\n\n"
    text += "\n".join(speed_lines) + "\n"
    write_fragment(text, fragment)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
