"""Accuracy and wall-clock of the MCL localiser against supervised and genie-aided CFAR.

One run, on simulated parking-lot data (training file and validation file from different
seeds, so no validation frame or sequence is ever seen in training):

1. simulate + heatmap (training and validation files);
2. supervised localiser on ground truth (upper bound; uses every training label);
3. MCL backbone (label-free: early stopping on held-out contrastive loss);
4. MCL self-labels of the training frames (for the localiser) and of the validation frames
   (scored): the default (input x gradient attribution, then the heatmap's nearest local
   maximum), and every attention map's own peak (attribution, gradient x activation,
   equation-2 conv);
5. localiser on the training self-labels (label-free: early stopping on held-out self-labels);
   and, reported as using labels, the same on self-labels with the paper's one-off offset
   calibration fitted on ``--calibration-labels`` (100) ground-truth frames;
6. the same MCL self-labels with the camera box's centre-ray angle (``angle="camera"``: camera
   intrinsics and pose from the image attrs, no labels) and a localiser trained on them;
7. the RODNet-style teacher (CFAR clusters + the same camera rays) and its student localiser,
   the paper's radio-visual baseline that uses the same camera geometry;
8. genie-aided CFAR (2-D CA-CFAR + DBSCAN + the cluster nearest the truth) and the strongest
   return, on the validation heatmaps; and the floor of every heatmap-peak self-label: the
   local maximum of the full-resolution heatmap (within 30 dB of the frame's strongest) that
   is nearest the truth, chosen with the truth.

Errors are Euclidean x-y, metres, on the same validation frames. The table goes to
``benchmarks/results/mcl.md``.

Usage::

    .venv/bin/python benchmarks/bench_mcl.py            # 10,000 + 2,000 frames
    .venv/bin/python benchmarks/bench_mcl.py --quick    # 600 + 300 frames, smoke run
    .venv/bin/python benchmarks/bench_mcl.py --scenario suburban   # the scenario table below

``--scenario parking-lot|suburban|street-canyon`` runs the *scenario table* instead: new data
seeds (training 31, validation 32: never used to tune anything), 8,000 + 2,000 frames, two
training seeds (``--seeds``), and for each the methods under their own names -- supervised,
MCL (the paper's self-label), MCL + track (``--track``), MCL + track + a car prior
(``--prior car``, ``--prior car-face``), camera-ray fusion, RODNet-style teacher and student,
the camera-only ground projection, genie CFAR at both settings (and, as a reference for what
a prior alone does, the genie with the same track and each car prior), the strongest cluster --
with
50th / 90th percentiles and their 95 % bootstrap intervals, labels and camera geometry used,
and wall time; then which of issue #14's goals hold. Written to ``results/mcl-<scenario>.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _common import fragment_path, reproduce_command, write_fragment  # noqa: E402

#: ``--reuse``: stages whose output exists are not run again (their recorded time is kept)
REUSE = {"on": False}


def _seconds_file(output: Path) -> Path:
    return output.parent / f".{output.name}.seconds"


def _clock(times: dict, name: str, function, *args, output: Path | None = None, **kwargs):
    """Run and time a stage. With ``--reuse`` and an ``output`` that exists (a file, or a run
    directory with ``best.pt``), skip it: its time is the one recorded when it ran (NaN if
    it was never recorded)."""
    if output is not None and REUSE["on"] and (
            (output / "best.pt").exists() if output.is_dir() else output.exists()):
        seconds = _seconds_file(output)
        times[name] = float(seconds.read_text()) if seconds.exists() else float("nan")
        print(f"[{name}] reused {output}", file=sys.stderr, flush=True)
        return None
    start = time.perf_counter()
    result = function(*args, **kwargs)
    times[name] = time.perf_counter() - start
    if output is not None:
        _seconds_file(output).write_text(f"{times[name]:.3f}\n")
    print(f"[{name}] {times[name]:.1f} s", file=sys.stderr, flush=True)
    return result


def make_data(path: Path, frames: int, seed: int, scenario: str = "parking-lot") -> None:
    """Simulate ``scenario`` CSI in blocks and write its heatmap-1 file."""
    import xarray as xr

    from radarsp.heatmap import heatmap_dataset
    from radarsp.io import save
    from radarsp.simulate import simulate

    block = 1500  # a multiple of the 15-frame sequences, so blocks join seamlessly
    parts = [heatmap_dataset(simulate(scenario, frames=min(block, frames - start),
                                      seed=seed, start=start))
             for start in range(0, frames, block)]
    save(xr.concat(parts, dim="frame") if len(parts) > 1 else parts[0], path, force=True)


def errors_of(estimates_path: Path, truth) -> np.ndarray:
    from radarsp.io import open_estimates
    from radarsp.metrics import localisation_error

    return localisation_error(open_estimates(estimates_path), truth).values


def genie_cfar(heatmap_path: Path, out_dir: Path) -> dict[str, Path]:
    """CA-CFAR + DBSCAN on the validation heatmaps: genie and strongest-cluster picks with the
    former ``radarsp cfar`` defaults (guard 2,2, train 8,8, pfa 1e-4), and the genie pick with
    radarsp's one CFAR default (:data:`radarsp.cfar.DEFAULT_PFA`; tuned for the parking lot,
    also the teacher's)."""
    from radarsp.cfar import DETECTION_OUTPUTS, cfar, detections
    from radarsp.cluster import cluster
    from radarsp.frames import frame_labels
    from radarsp.io import open_heatmap, save
    from radarsp.match import genie_match, strongest
    from radarsp_learn.teacher import cfar_clusters

    heat = open_heatmap(heatmap_path).load()
    former = {"guard": (2, 2), "train": (8, 8), "pfa": 1e-4}
    clusters = cluster(detections(cfar(heat["power"], outputs=DETECTION_OUTPUTS, **former),
                                  heat["power"]))
    truth = heat[["target_range", "target_angle", "target_x", "target_y"]]
    out = {name: out_dir / f"{name}.nc" for name in ("genie", "genie-tuned", "strongest")}
    save(genie_match(clusters, truth), out["genie"], schema="estimates-1", force=True)
    save(genie_match(cfar_clusters(heat["power"]), truth), out["genie-tuned"],
         schema="estimates-1", force=True)
    save(strongest(clusters, frame_labels(heat)), out["strongest"], schema="estimates-1",
         force=True)
    return out


def peak_floor(heatmap_path: Path, floor_db: float = 30.0) -> np.ndarray:
    """Per frame, the x-y error of the heatmap local maximum nearest the truth (a genie).

    Local maxima of the full-resolution power (3 x 3 neighbourhood) within ``floor_db`` of
    the frame's strongest cell: no self-label that is a heatmap peak can do better.
    """
    from scipy.ndimage import maximum_filter

    from radarsp.io import open_heatmap

    heat = open_heatmap(heatmap_path)
    range_m, angle = heat["range"].values, heat["angle"].values
    tx, ty = heat["target_x"].values, heat["target_y"].values
    errors = np.empty(heat.sizes["frame"])
    for start in range(0, len(errors), 500):
        block = heat["power"].isel(frame=slice(start, start + 500)).transpose(
            "frame", "range", "angle").values
        for i, power in enumerate(block, start):
            peaks = (power == maximum_filter(power, 3)) & (power > power.max()
                                                          * 10 ** (-floor_db / 10))
            rows, cols = np.nonzero(peaks)
            x, y = range_m[rows] * np.sin(angle[cols]), range_m[rows] * np.cos(angle[cols])
            errors[i] = np.hypot(x - tx[i], y - ty[i]).min()
    return errors


def localiser(times: dict, stage: str, labels: Path, run: str, files: tuple[Path, Path],
              **config) -> dict:
    """Train a localiser on ``labels`` into ``work/run`` and predict the validation file into
    ``work/run.nc``; the two stages are timed as ``{stage} train`` / ``{stage} predict``."""
    from radarsp_learn.train import TrainConfig, run_predict, train

    train_nc, val_nc = files
    work = labels.parent
    summary = _clock(times, f"{stage} train", train,
                     TrainConfig(objective="localiser", labels=str(labels), **config),
                     train_nc, work / run, force=True, progress=False, output=work / run)
    _clock(times, f"{stage} predict", run_predict, work / run, val_nc, work / f"{run}.nc",
           force=True, progress=False, output=work / f"{run}.nc")
    return summary


def rodnet(train_nc: Path, val_nc: Path, work: Path, times: dict, quick: dict,
           seed: int) -> None:
    """RODNet-style teacher labels of both files, its student localiser and its predictions."""
    from radarsp.io import open_heatmap, save
    from radarsp_learn.teacher import teacher_labels

    for name, path in (("train", train_nc), ("val", val_nc)):
        _clock(times, f"RODNet teacher ({name})", lambda p=path, n=name: save(
            teacher_labels(open_heatmap(p).load()), work / f"rodnet-teacher-{n}.nc",
            schema="estimates-1", force=True))
    localiser(times, "RODNet student", work / "rodnet-teacher-train.nc", "rodnet",
              (train_nc, val_nc), seed=seed, **quick)


def throughput(run_dir: Path) -> float:
    """Median training samples/s over the run's epochs."""
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return float(np.median([json.loads(line)["train_samples_per_s"] for line in lines]))


SCENARIO_DATA_SEEDS = (31, 32)
PINHOLE = "pinhole intrinsics + pose"


def scenario_seed(work: Path, files: tuple[Path, Path], seed: int, quick: dict,
                  times: dict) -> dict[str, Path]:
    """One training seed of the scenario table: every trained method's validation estimates."""
    from radarsp.io import open_heatmap, save
    from radarsp_learn.teacher import teacher_labels
    from radarsp_learn.train import TrainConfig, run_predict, run_selflabel, train

    train_nc, val_nc = files
    work.mkdir(parents=True, exist_ok=True)
    _clock(times, "supervised train", train,
           TrainConfig(objective="supervised", seed=seed, **quick), train_nc,
           work / "supervised", force=True, progress=False, output=work / "supervised")
    _clock(times, "supervised predict", run_predict, work / "supervised", val_nc,
           work / "supervised.nc", force=True, progress=False, output=work / "supervised.nc")
    _clock(times, "MCL train", train, TrainConfig(objective="mcl", seed=seed, **quick),
           train_nc, work / "mcl", force=True, progress=False, output=work / "mcl")
    variants = (("mcl", {}), ("fusion", {"angle": "camera"}),
                ("mcl-track", {"track": True}), ("mcl-track-car", {"track": True, "prior": "car"}),
                ("mcl-track-car-face", {"track": True, "prior": "car-face"}))
    for name, options in variants:
        _clock(times, f"{name} self-label (train)", run_selflabel, work / "mcl", train_nc,
               work / f"{name}-labels.nc", force=True, progress=False,
               output=work / f"{name}-labels.nc", **options)
        localiser(times, f"{name} localiser", work / f"{name}-labels.nc", f"loc-{name}",
                  files, seed=seed, **quick)
    _clock(times, "RODNet teacher (train)", lambda: save(
        teacher_labels(open_heatmap(train_nc).load()), work / "teacher-train.nc",
        schema="estimates-1", force=True), output=work / "teacher-train.nc")
    localiser(times, "RODNet student", work / "teacher-train.nc", "student", files, seed=seed,
              **quick)
    return {"supervised": work / "supervised.nc", "mcl-localiser": work / "loc-mcl.nc",
            "camera-ray-fusion-localiser": work / "loc-fusion.nc",
            "mcl-track-localiser": work / "loc-mcl-track.nc",
            "mcl-track-car-localiser": work / "loc-mcl-track-car.nc",
            "mcl-track-car-face-localiser": work / "loc-mcl-track-car-face.nc",
            "rodnet-student": work / "student.nc"}


def scenario_main(args, files: tuple[Path, Path] | None = None, *, name: str | None = None,
                  title: str | None = None, data: str | None = None) -> int:
    """The scenario table of issue #14 (see the module docstring).

    ``files``: ready training and validation heatmap-1 files (e.g. ray-traced) instead of
    simulating; ``name`` the fragment, ``title`` its heading and ``data`` its description.
    """
    import torch

    from radarsp.io import open_estimates, open_heatmap, save
    from radarsp.metrics import error_summary, localisation_error
    from radarsp.tracking import track_estimates
    from radarsp_learn.teacher import camera_ground_estimates, teacher_labels

    torch.set_num_threads(args.threads)
    name = name or f"mcl-{args.scenario}"
    work = args.workdir.parent / name
    work.mkdir(parents=True, exist_ok=True)
    times: dict[str, float] = {}
    if files is None:
        train_nc, val_nc = work / "train.nc", work / "val.nc"
        _clock(times, "simulate+heatmap (train)", make_data, train_nc, args.frames,
               args.train_seed, args.scenario, output=train_nc)
        _clock(times, "simulate+heatmap (val)", make_data, val_nc, args.val_frames,
               args.val_seed, args.scenario, output=val_nc)
    else:
        train_nc, val_nc = files
    truth = open_heatmap(val_nc)[["target_x", "target_y"]].load()
    quick = {"epochs": 2} if args.quick else {}

    # label-free, untrained rows (the same for every training seed)
    cfar_paths = _clock(times, "genie-aided CFAR (val)", genie_cfar, val_nc, work)
    _clock(times, "RODNet teacher (val)", lambda: save(
        teacher_labels(open_heatmap(val_nc).load()), work / "teacher-val.nc",
        schema="estimates-1", force=True))
    _clock(times, "camera ground projection (val)", lambda: save(
        camera_ground_estimates(open_heatmap(val_nc).load()), work / "camera-ground.nc",
        schema="estimates-1", force=True))
    genie_tuned, val_frames = open_estimates(cfar_paths["genie-tuned"]), open_heatmap(val_nc)
    for prior in ("car", "car-face"):
        _clock(times, f"genie-aided CFAR + track + {prior} prior (val)", lambda p=prior: save(
            track_estimates(genie_tuned, val_frames, prior=p), work / f"genie-track-{p}.nc",
            schema="estimates-1", force=True))
    fixed = {"genie-cfar (radarsp default)": (cfar_paths["genie-tuned"],
                                              "genie-aided CFAR (val)"),
             "genie-cfar (former cfar defaults)": (cfar_paths["genie"],
                                                   "genie-aided CFAR (val)"),
             "genie-cfar (radarsp default) + track + car prior": (
                 work / "genie-track-car.nc", "genie-aided CFAR + track + car prior (val)"),
             "genie-cfar (radarsp default) + track + car-face prior": (
                 work / "genie-track-car-face.nc",
                 "genie-aided CFAR + track + car-face prior (val)"),
             "strongest-cluster": (cfar_paths["strongest"], "genie-aided CFAR (val)"),
             "rodnet-teacher": (work / "teacher-val.nc", "RODNet teacher (val)"),
             "camera-ground": (work / "camera-ground.nc", "camera ground projection (val)")}
    stage_of = {"supervised": ("supervised train", "supervised predict"),
                "mcl-localiser": ("MCL train", "mcl self-label (train)", "mcl localiser train",
                                  "mcl localiser predict"),
                "camera-ray-fusion-localiser": ("MCL train", "fusion self-label (train)",
                                                "fusion localiser train",
                                                "fusion localiser predict"),
                "rodnet-student": ("RODNet teacher (train)", "RODNet student train",
                                   "RODNet student predict")}
    for variant in ("mcl-track", "mcl-track-car", "mcl-track-car-face"):
        stage_of[f"{variant}-localiser"] = ("MCL train", f"{variant} self-label (train)",
                                            f"{variant} localiser train",
                                            f"{variant} localiser predict")
    rows, per_seed = [], {}
    for seed in args.seeds:
        seed_times: dict[str, float] = {}
        paths = scenario_seed(work / f"seed{seed}", (train_nc, val_nc), seed, quick,
                              seed_times)
        for method, path in paths.items():
            stages = np.array([seed_times[k] for k in stage_of[method]])
            # all stages timed: their sum; some reused untimed: minus the timed ones' sum
            seconds = (stages.sum() if np.isfinite(stages).all()
                       else -np.nansum(stages) if np.isfinite(stages).any() else np.nan)
            rows.append((method, seed, path, seconds))
        per_seed[seed] = seed_times
    rows += [(name, None, path, times[stage]) for name, (path, stage) in fixed.items()]
    floor = _clock(times, "floor: genie heatmap peak (val)", peak_floor, val_nc)

    def used(attrs):
        labels = "genie" if int(attrs.get("genie", 0)) else str(attrs.get("labels_used", "?"))
        return labels, str(attrs.get("camera_geometry", "unknown"))

    data = data or (f"Simulated {args.scenario}: {args.frames} training frames (seed "
                    f"{args.train_seed}), {args.val_frames} validation frames (seed "
                    f"{args.val_seed}) -- data seeds no method was tuned on")
    lines = [title or f"## MCL and every label-free baseline on the {args.scenario} (issue #14)",
             "", f"{data}; default `TrainConfig`; training seeds "
             f"{', '.join(map(str, args.seeds))}; torch {torch.__version__}, {args.threads} "
             f"threads on {os.cpu_count()} cores. Errors: Euclidean x-y (m) on the validation "
             "frames, 95 % bootstrap intervals (1,000 resamples). Wall time: the method's own "
             "stages (training, self-labelling, prediction), machine shared with other jobs.",
             "", "| method | training seed | 50th %ile (m) | 90th %ile (m) | labels used | "
             "camera geometry used | wall time (s) |", "|---|---|---|---|---|---|---|"]
    medians: dict[str, list] = {}
    for method, seed, path, seconds in rows:
        est = open_estimates(path)
        summary = error_summary(localisation_error(est, truth), n_boot=1000, seed=0)
        low, high = summary["error_low"].values, summary["error_high"].values
        p50, p90 = summary["error"].values
        labels, camera = used(est.attrs)
        medians.setdefault(method, []).append((p50, p90))
        miss = float(summary["miss_rate"])
        note = f" ({100 * miss:.0f} % missed)" if miss else ""
        wall = ("reused, not timed" if np.isnan(seconds) else f"{seconds:.0f}"
                if seconds >= 0 else f"{-seconds:.0f} + reused stages")
        lines.append(f"| {method}{note} | {'-' if seed is None else seed} | {p50:.2f} "
                     f"[{low[0]:.2f}, {high[0]:.2f}] | {p90:.2f} [{low[1]:.2f}, {high[1]:.2f}] "
                     f"| {labels} | {camera} | {wall} |")
    p50, p90 = np.percentile(floor, [50, 90])
    lines.append(f"| floor of any heatmap-peak self-label: the local maximum nearest the truth, "
                 f"chosen with it | - | {p50:.2f} | {p90:.2f} | genie | none | "
                 f"{times['floor: genie heatmap peak (val)']:.0f} |")
    lines += ["", "Goals of issue #14 item 3, per training seed (the better genie: the lower of "
              "the two CFAR settings, at each percentile):", ""]
    genies = [medians["genie-cfar (radarsp default)"][0],
              medians["genie-cfar (former cfar defaults)"][0]]
    better = (min(g[0] for g in genies), min(g[1] for g in genies))
    variants = {"mcl-localiser": "MCL (the paper's self-label)",
                "mcl-track-localiser": "MCL + track (temporal consistency, no prior)",
                "mcl-track-car-localiser": "MCL + track + car prior (4.5 m x 1.8 m, returns at "
                                           "its nearest point)",
                "mcl-track-car-face-localiser": "MCL + track + car-face prior (4.5 m x 1.8 m, "
                                                "returns mid-face)"}
    for method, title in variants.items():
        lines.append(f"{title}:")
        for i, seed in enumerate(args.seeds):
            sup, mcl = medians["supervised"][i], medians[method][i]
            student = medians["rodnet-student"][i]
            checks = {
                "supervised < MCL < better genie (median)": sup[0] < mcl[0] < better[0],
                "supervised < MCL < better genie (90th)": sup[1] < mcl[1] < better[1],
                "MCL < RODNet-style student (median)": mcl[0] < student[0],
                "MCL median <= 0.75x better genie": mcl[0] <= 0.75 * better[0],
            }
            lines.append(f"- seed {seed}: {mcl[0]:.2f} / {mcl[1]:.2f} m vs better genie "
                         f"{better[0]:.2f} / {better[1]:.2f} m ({mcl[0] / better[0]:.2f}x at "
                         "the median); " + "; ".join(f"{k}: {'yes' if v else 'no'}"
                                                     for k, v in checks.items()))
        lines.append("")
    script = getattr(args, "script", "bench_mcl.py")
    lines += ["", f"Reproduce: `{reproduce_command(script, args.argv)}`", ""]
    write_fragment("\n".join(lines), fragment_path(name, quick=args.quick, out=args.out))
    print("\n".join(lines))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=10_000, help="training frames")
    parser.add_argument("--val-frames", type=int, default=2_000, help="validation frames")
    parser.add_argument("--train-seed", type=int, default=1)
    parser.add_argument("--val-seed", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0, help="training seed (init, split, order)")
    parser.add_argument("--quick", action="store_true", help="600 + 300 frames, 2 epochs")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--calibration-labels", type=int, default=100,
                        help="ground-truth frames for the calibrated rows (0: skip them)")
    parser.add_argument("--workdir", type=Path, default=ROOT / "benchmarks" / ".work" / "mcl")
    parser.add_argument("--out", type=Path, help="fragment to write (default results/mcl.md for "
                        "training seed 0, results/mcl-seed<N>.md otherwise, "
                        "results/mcl-quick.md with --quick)")
    parser.add_argument("--scenario", choices=("parking-lot", "suburban", "street-canyon"),
                        help="run the scenario table (new data seeds, 8,000 + 2,000 frames, "
                             "every method under its own name) instead")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1],
                        help="training seeds of the scenario table")
    parser.add_argument("--reuse", action="store_true",
                        help="scenario table: keep the data, runs and labels already in the "
                             "work directory (same seeds and settings!) and run only what is "
                             "missing")
    args = parser.parse_args(argv)
    REUSE["on"] = args.reuse
    args.argv = argv
    if args.scenario:
        defaults = {"frames": 10_000, "val_frames": 2_000, "train_seed": 1, "val_seed": 2}
        scenario = {"frames": 8_000, "val_frames": 2_000, "train_seed": SCENARIO_DATA_SEEDS[0],
                    "val_seed": SCENARIO_DATA_SEEDS[1]}
        for name, value in scenario.items():
            if getattr(args, name) == defaults[name]:
                setattr(args, name, value)
    if args.quick:
        args.frames, args.val_frames = 600, 300
    if args.scenario:
        return scenario_main(args)

    import torch

    from radarsp.io import open_heatmap
    from radarsp_learn.train import TrainConfig, run_predict, run_selflabel, train

    torch.set_num_threads(args.threads)
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    train_nc, val_nc = work / "train.nc", work / "val.nc"
    times: dict[str, float] = {}
    _clock(times, "simulate+heatmap (train)", make_data, train_nc, args.frames, args.train_seed)
    _clock(times, "simulate+heatmap (val)", make_data, val_nc, args.val_frames, args.val_seed)
    truth = open_heatmap(val_nc)[["target_x", "target_y"]].load()
    quick = {"epochs": 2} if args.quick else {}

    summaries = {}
    summaries["supervised"] = _clock(
        times, "supervised train", train,
        TrainConfig(objective="supervised", seed=args.seed, **quick), train_nc,
        work / "supervised", force=True, progress=False)
    _clock(times, "supervised predict", run_predict, work / "supervised", val_nc,
           work / "supervised.nc", force=True, progress=False)

    summaries["mcl"] = _clock(times, "MCL train", train,
                              TrainConfig(objective="mcl", seed=args.seed, **quick), train_nc,
                              work / "mcl", force=True, progress=False)
    _clock(times, "MCL self-label (train frames)", run_selflabel, work / "mcl", train_nc,
           work / "selflabels-train.nc", force=True, progress=False)
    _clock(times, "MCL self-label (val)", run_selflabel, work / "mcl", val_nc,
           work / "selflabels-val.nc", force=True, progress=False)
    for method in ("attribution", "gradient_x_activation", "conv"):
        _clock(times, f"MCL self-label (val, {method} peak)", run_selflabel, work / "mcl",
               val_nc, work / f"selflabels-val-{method}.nc", method=method, peak="attribution",
               force=True, progress=False)
    files = (train_nc, val_nc)
    summaries["localiser"] = localiser(times, "localiser", work / "selflabels-train.nc",
                                       "localiser", files, seed=args.seed, **quick)
    for name, path in (("train frames", train_nc), ("val", val_nc)):
        _clock(times, f"camera-ray fusion self-label ({name})", run_selflabel, work / "mcl",
               path, work / f"selflabels-camera-{name.split()[0]}.nc", angle="camera",
               force=True, progress=False)
    summaries["localiser-camera"] = localiser(
        times, "camera-ray fusion localiser", work / "selflabels-camera-train.nc",
        "localiser-camera", files, seed=args.seed, **quick)
    calibrated = args.calibration_labels
    if calibrated:
        for name, path in (("train", train_nc), ("val", val_nc)):
            _clock(times, f"MCL self-label, calibrated ({name})", run_selflabel, work / "mcl",
                   path, work / f"selflabels-calibrated-{name}.nc",
                   calibration_labels=calibrated, force=True, progress=False)
        localiser(times, "localiser (calibrated labels)",
                  work / "selflabels-calibrated-train.nc", "localiser-calibrated", files,
                  seed=args.seed, **quick)
    cfar_paths = _clock(times, "genie-aided CFAR (val)", genie_cfar, val_nc, work)

    rodnet(train_nc, val_nc, work, times, quick, args.seed)
    floor = _clock(times, "floor: genie heatmap peak (val)", peak_floor, val_nc)

    train_truth = open_heatmap(train_nc)[["target_x", "target_y"]].load()
    rows = [
        ("supervised localiser", errors_of(work / "supervised.nc", truth),
         f"{summaries['supervised']['labels_used']} (all training frames)"),
        ("MCL self-labels (default: attribution, then the heatmap's local maximum)",
         errors_of(work / "selflabels-val.nc", truth), "0"),
        ("MCL self-labels, attribution (input x gradient) peak",
         errors_of(work / "selflabels-val-attribution.nc", truth), "0"),
        ("MCL self-labels, gradient x activation peak",
         errors_of(work / "selflabels-val-gradient_x_activation.nc", truth), "0"),
        ("MCL self-labels, equation 2 (conv2d) peak",
         errors_of(work / "selflabels-val-conv.nc", truth), "0"),
        ("**MCL localiser** (on training self-labels)", errors_of(work / "localiser.nc", truth),
         "0"),
    ]
    camera = "0 (camera intrinsics and pose)"
    rows += [("camera-ray fusion self-labels (MCL range + camera-ray bearing, "
              "`--angle camera`)", errors_of(work / "selflabels-camera-val.nc", truth), camera),
             ("camera-ray fusion localiser (on those training self-labels; a camera-radar "
              "fusion, not MCL)",
              errors_of(work / "localiser-camera.nc", truth), camera)]
    if calibrated:
        used = f"{calibrated} (offset calibration)"
        rows += [("MCL self-labels + offset calibration",
                  errors_of(work / "selflabels-calibrated-val.nc", truth), used),
                 ("MCL localiser on calibrated self-labels",
                  errors_of(work / "localiser-calibrated.nc", truth), used)]
    for name, path in cfar_paths.items():
        label = {"genie": "genie-aided CFAR (CA 2-D + DBSCAN, former `radarsp cfar` defaults: "
                          "guard 2,2, train 8,8, pfa 1e-4)",
                 "genie-tuned": "genie-aided CFAR, radarsp's CFAR default (guard 4,2, train "
                                "16,4, pfa 1e-2; tuned on labelled frames of another seed)",
                 "strongest": "strongest CFAR cluster"}[name]
        used = "0" if name == "strongest" else "every frame's truth (genie)"
        rows.append((label, errors_of(path, truth), used))
    rows += [("RODNet-style teacher (CFAR clusters + camera rays)",
              errors_of(work / "rodnet-teacher-val.nc", truth), camera),
             ("RODNet-style student (localiser on teacher labels)",
              errors_of(work / "rodnet.nc", truth), camera),
             ("floor of heatmap-peak self-labels: the local maximum nearest the truth",
              floor, "every frame's truth (genie)")]
    selflabel_train = errors_of(work / "selflabels-train.nc", train_truth)

    chain = sum(times[k] for k in ("MCL train", "MCL self-label (train frames)",
                                   "localiser train", "localiser predict"))
    chain_camera = sum(times[k] for k in (
        "MCL train", "camera-ray fusion self-label (train frames)",
        "camera-ray fusion localiser train", "camera-ray fusion localiser predict"))
    command = reproduce_command("bench_mcl.py", argv)
    lines = [
        "## MCL self-supervised localiser (`radarsp_learn`, issue 6)",
        "",
        f"Simulated parking lot: {args.frames} training frames (seed {args.train_seed}), "
        f"{args.val_frames} validation frames (seed {args.val_seed}); default "
        "`TrainConfig` (64 x 64 model grid and images); training seed "
        f"{args.seed}; torch {torch.__version__}, {args.threads} threads on "
        f"{os.cpu_count()} cores ({platform.machine()}), machine shared with other jobs "
        "(timings are noisy, orderings are not).",
        "",
        "| method | 50th %ile (m) | 90th %ile (m) | ground-truth labels used |",
        "|---|---|---|---|",
    ]
    for name, errors, used in rows:
        p50, p90 = np.nanpercentile(errors, [50, 90])
        miss = np.isnan(errors).mean()
        note = f" ({100 * miss:.0f} % missed)" if miss else ""
        lines.append(f"| {name}{note} | {p50:.2f} | {p90:.2f} | {used} |")
    p50, p90 = np.percentile(selflabel_train, [50, 90])
    lines += [
        "",
        f"MCL self-labels on the *training* frames the localiser learns from: {p50:.2f} m / "
        f"{p90:.2f} m (50th / 90th %ile). MCL stopped at epoch "
        f"{summaries['mcl']['best_epoch']} of {summaries['mcl']['epochs_run']} run "
        f"(held-out contrastive loss {summaries['mcl']['best_loss']:.3f}); the localiser at "
        f"epoch {summaries['localiser']['best_epoch']} (held-out self-label loss), the "
        f"camera-ray fusion localiser at epoch {summaries['localiser-camera']['best_epoch']}.",
        "",
        "| stage | wall-clock (s) | training samples/s |",
        "|---|---|---|",
    ]
    rates = {"supervised train": throughput(work / "supervised"),
             "MCL train": throughput(work / "mcl"),
             "localiser train": throughput(work / "localiser")}
    for name, seconds in times.items():
        rate = f"{rates[name]:.0f}" if name in rates else ""
        lines.append(f"| {name} | {seconds:.1f} | {rate} |")
    lines += [
        "",
        f"MCL chain end to end (MCL train + self-label training frames + localiser train + "
        f"predict), default configuration, {args.frames} frames: **{chain / 60:.1f} min**; "
        f"camera-ray fusion chain: **{chain_camera / 60:.1f} min**.",
        "",
        f"Reproduce: `{command}`",
        "",
    ]
    name = "mcl" if args.seed == 0 else f"mcl-seed{args.seed}"
    write_fragment("\n".join(lines), fragment_path(name, quick=args.quick, out=args.out))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
