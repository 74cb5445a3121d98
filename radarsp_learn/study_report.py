"""``report.md`` and the figures of a :mod:`radarsp_learn.reproduce` study.

Tables are shaped like the paper's Tables 4-7 with the paper's MaxRay numbers beside ours;
figures like its Figs. 5-8. Everything is computed from the study's estimates-1 files, so the
report can be rebuilt at any time from a finished (or partly finished) study.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from radarsp_learn.paper import LABELS, PAPER, PAPER_TABLE7

# the backbones whose self-labels the report examines (Table 7, the collapse check)
SELF_LABELLED = ("mcl", "scl", "cl", "mcl-background", "scl-background", "mcl-noise")


def _truth(path: Path):
    from radarsp.io import open_heatmap

    return open_heatmap(path)[["target_range", "target_angle", "target_x", "target_y"]].load()


class _Scores:
    """Errors and deviations of the study's estimates files (missing files give None).

    Each file is opened, and each error or deviation computed, once per instance (one report).
    """

    def __init__(self, study, train: Path, val: Path):
        self.root = study.root
        self.truth = {"train": _truth(train), "val": _truth(val)}
        self._cache = {}

    def _cached(self, key, compute):
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def estimates(self, *parts):
        from radarsp.io import open_estimates

        path = self.root.joinpath(*parts)
        return self._cached(("estimates", path), lambda: open_estimates(path).load()
                            if path.exists() else None)

    def errors(self, name: str, folder: str = "estimates", split: str = "val"):
        from radarsp.metrics import localisation_error

        def compute():
            est = self.estimates(folder, f"{name}.nc")
            return None if est is None else localisation_error(est, self.truth[split]).values

        return self._cached(("errors", name, folder, split), compute)

    def deviation(self, name: str, split: str):
        from radarsp.metrics import label_deviation

        def compute():
            est = self.estimates("labels", f"{name}-{split}.nc")
            return None if est is None else label_deviation(est, self.truth[split])

        return self._cached(("deviation", name, split), compute)


def _percentiles(errors) -> tuple[float, float]:
    """50th and 90th percentile of ``errors`` (m; a miss counts as infinite)."""
    from radarsp.metrics import error_summary

    p50, p90 = error_summary(errors, percentiles=(50, 90), n_boot=0)["error"].values
    return float(p50), float(p90)


def _pct(errors) -> tuple[str, str]:
    if errors is None:
        return "–", "–"
    p50, p90 = _percentiles(errors)
    return f"{p50:.2f}", f"{p90:.2f}"


def _paper(name: str) -> tuple[str, str]:
    values = PAPER.get(name)
    return (f"{values[0]:.3f}", f"{values[1]:.3f}") if values else ("–", "–")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(row) + " |" for row in rows), ""]


def _deviation_cells(scores: _Scores, name: str) -> list[str] | None:
    cells = []
    for split in ("train", "val"):
        dev = scores.deviation(name, split)
        if dev is None:
            return None
        for quantity, scale in (("range", 1.0), ("angle", np.degrees(1.0))):
            row = dev.sel(quantity=quantity)
            cells += [f"{float(row['wasserstein']) * scale:.3f}",
                      f"{float(row['kl_divergence']):.3f}",
                      f"{float(row['mutual_information']):.3f}"]
    return cells


def _labels_used(scores: _Scores, name: str) -> str:
    est = scores.estimates("estimates", f"{name}.nc")
    if name == "cfar":
        return "truth of every frame (genie)"
    return "–" if est is None else str(int(est.attrs.get("labels_used", 0)))


def _collapse_lines(scores: _Scores, val: Path, names=SELF_LABELLED) -> list[str]:
    """A sentence per backbone whose validation self-labels collapsed to one point
    (:func:`radarsp_learn.selflabel.label_span`; label-free), or none."""
    from radarsp.io import open_heatmap
    from radarsp_learn.selflabel import label_span

    lines = []
    with open_heatmap(val) as heatmap:
        for name in names:
            labels = scores.estimates("labels", f"{name}-val.nc")
            if labels is None:
                continue
            text, collapsed = label_span(labels, heatmap)
            if collapsed:
                lines.append(f"- **{LABELS[name]} collapsed**: its validation self-labels lie "
                             f"within about one model-grid cell ({text}) -- its attention map "
                             "peaks at the same cell in (nearly) every frame, so its localiser "
                             "learns a constant.")
    return lines + [""] if lines else []


def _figures(study, scores: _Scores, sweep: dict[str, list], padding: list,
             dims: dict[str, list]) -> dict[str, str]:
    """Figs. 5-8 as PNGs under ``figures/`` from the label (:func:`_label_sweep`), padding
    (:func:`_padding_sweep`) and feature-dimension (:func:`_dim_sweep`) sweeps; returns
    name -> relative path."""
    from radarsp.plot import _pyplot, plot_error_cdf, save_figure

    plt = _pyplot()
    out = {}
    curves = {LABELS[n]: e for n in ("supervised", "mcl", "scl", "cl", "cfar", "rodnet")
              if (e := scores.errors(n)) is not None}
    if curves:
        fig = plot_error_cdf(curves, max_error=20.0)
        fig.axes[0].set_title("Fig. 5: localisation error CDFs (validation)")
        save_figure(fig, study.path("figures", "fig5_cdf.png"), force=True)
        out["fig5"] = "figures/fig5_cdf.png"

    if any(sweep.values()):
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for method, points in sweep.items():
            if points:
                counts, p50, p90 = np.array(points).T
                axes[0].plot(counts, p50, "o-", label=LABELS[method])
                axes[1].plot(counts, p90, "o-", label=LABELS[method])
        for ax, title in zip(axes, ("50th %ile", "90th %ile"), strict=True):
            ax.set_xscale("log")
            ax.set_xlabel("training (self-)labels")
            ax.set_ylabel("error (m)")
            ax.set_title(f"Fig. 6: {title}")
            ax.grid(True, alpha=0.3)
            ax.legend()
        save_figure(fig, study.path("figures", "fig6_labels.png"), force=True)
        out["fig6"] = "figures/fig6_labels.png"

    if padding:
        fig, ax = plt.subplots(figsize=(5, 4))
        ax.plot(*np.array(padding).T, "o-")
        ax.set_xlabel("mask padding (pixels)")
        ax.set_ylabel("Wasserstein of angle self-labels (deg)")
        ax.set_title("Fig. 7: MCL, validation")
        ax.grid(True, alpha=0.3)
        save_figure(fig, study.path("figures", "fig7_padding.png"), force=True)
        out["fig7"] = "figures/fig7_padding.png"

    if dims:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for series, points in dims.items():
            if points:
                dim, w_range, w_angle = np.array(points).T
                style = "s" if "proj" in series else "o-"
                axes[0].plot(dim, w_range, style, label=series)
                axes[1].plot(dim, w_angle, style, label=series)
        for ax, (title, unit) in zip(axes, (("range", "m"), ("angle", "deg")), strict=True):
            ax.set_xscale("log", base=2)
            ax.set_xlabel("feature dimension C")
            ax.set_ylabel(f"Wasserstein ({unit})")
            ax.set_title(f"Fig. 8: {title} self-labels, validation")
            ax.grid(True, alpha=0.3)
            ax.legend()
        save_figure(fig, study.path("figures", "fig8_dims.png"), force=True)
        out["fig8"] = "figures/fig8_dims.png"
    return out


def _label_sweep(scores: _Scores, config, study) -> dict[str, list]:
    """method -> [(labels, p50, p90)], the full-set runs as the last point."""
    full = scores.truth["train"].sizes["frame"]
    out = {}
    for method in ("supervised", "mcl", "scl"):
        points = []
        for count in config.label_counts:
            name = method if count >= full else f"sweep-{method}-{count}"
            errors = scores.errors(name)
            if errors is not None:
                n = full if count >= full else _run_frames(study, f"sweep-{method}-{count}")
                points.append((n, *_percentiles(errors)))
        if not any(p[0] == full for p in points) and (e := scores.errors(method)) is not None:
            points.append((full, *_percentiles(e)))
        out[method] = sorted(set(points))
    return out


def _run_frames(study, run: str) -> int:
    """Frames a run trained and validated on (from its ``config.json``)."""
    meta = json.loads((study.root / "runs" / run / "config.json").read_text())
    return int(meta["train_frames"] + meta["val_frames"])


def _padding_sweep(scores: _Scores, config, study) -> list[tuple[float, float]]:
    base = study.train_config().mask_padding
    points = []
    for padding in config.paddings:
        name = "mcl" if padding == base else f"mcl-pad{padding:+g}"
        dev = scores.deviation(name, "val")
        if dev is not None:
            points.append((padding, np.degrees(float(dev["wasserstein"].sel(quantity="angle")))))
    return points


def _dim_sweep(scores: _Scores, config, study) -> dict[str, list]:
    base = study.train_config()
    out = {"MCL": [], "SCL": [], "MCL, 4x projector": []}
    for objective in ("mcl", "scl"):
        for dim in config.feature_dims:
            name = objective if dim == base.feature_dim else f"{objective}-C{dim}"
            if (dev := scores.deviation(name, "val")) is not None:
                out[objective.upper()].append((dim, float(dev["wasserstein"][0]),
                                               np.degrees(float(dev["wasserstein"][1]))))
    if (dev := scores.deviation("mcl-Lproj", "val")) is not None:
        out["MCL, 4x projector"].append((base.feature_dim, float(dev["wasserstein"][0]),
                                         np.degrees(float(dev["wasserstein"][1]))))
    return out


def _mask_iou(study) -> dict[str, str]:
    from radarsp.frames import align, take
    from radarsp.io import open_heatmap
    from radarsp_learn.masks import box_iou

    truth_path = study.root / "data" / "train.nc"
    out = {}
    for source in ("background", "noise"):
        path = study.root / "data" / f"train-{source}.nc"
        if path.exists() and truth_path.exists():
            masked, truth = open_heatmap(path), open_heatmap(truth_path)
            # estimated boxes meet the true ones by frame label
            boxes = take(masked["target_box"].values, align(masked, truth))
            iou = box_iou(boxes, truth["target_box"].values)
            out[source] = f"{np.median(iou):.2f} median, {100 * np.mean(iou > 0.5):.0f} % > 0.5"
    return out


def write_report(study, train: Path, val: Path) -> Path:
    """Write ``report.md`` (and ``figures/``) of ``study``; returns the report's path."""
    config = study.config
    scores = _Scores(study, train, val)
    sweep = _label_sweep(scores, config, study)
    padding = _padding_sweep(scores, config, study)
    dims = _dim_sweep(scores, config, study)
    figures = _figures(study, scores, sweep, padding, dims)
    n_train, n_val = (scores.truth[s].sizes["frame"] for s in ("train", "val"))
    source = (f"`{study.user_data}` split by sequence" if study.user_data else
              f"simulated {config.scenario} (training seed {config.train_seed}, validation "
              f"seed {config.val_seed})")
    lines = [
        f"# Look, Radiate, and Learn -- reproduction study (`{config.name}` configuration)",
        "",
        f"Data: {source}; {n_train} training and {n_val} validation frames. Errors are "
        "Euclidean x-y in metres on the validation frames (50th / 90th %ile); a frame "
        "without an estimate counts as an infinite error. Paper columns: MaxRay, from the "
        "paper's tables. Training seed "
        f"{config.seed}; one seed only (the paper reports ± over seeds).",
        "",
        "## Table 4: localisation performance",
        "",
    ]
    rows = []
    for name in ("supervised", "mcl", "cfar", "rodnet"):
        label_free = "no" if name in ("supervised", "cfar") else "yes"
        rows.append([LABELS[name], label_free, _labels_used(scores, name), *_pct(
            scores.errors(name)), *_paper(name)])
    lines += _table(["method", "label free", "ground-truth labels used", "50th %ile",
                     "90th %ile", "paper 50th", "paper 90th"], rows)
    teacher = [f"{split}: {' / '.join(_pct(scores.errors(f'rodnet-{split}', 'labels', split)))} m"
               for split in ("train", "val")]
    lines += [
        "CFAR: 2-D CA-CFAR + DBSCAN with the statistical baseline's settings "
        "(`radarsp_learn.teacher.CFAR_OPTIONS`; tuned on 300 labelled frames of another seed "
        "in `benchmarks/bench_statistical.py`), the cluster nearest the truth chosen "
        "(genie). RODNet-style teacher pseudo-labels themselves (50th / 90th): "
        + "; ".join(teacher) + ". Camera boxes from the simulator; calibration identity.",
        "",
        "## Table 5: backbone training configurations",
        "",
    ]
    rows = [[LABELS[n], *_pct(scores.errors(n)), *_pct(scores.errors(f"{n}-val", "labels")),
             *_paper(n)] for n in ("mcl", "scl", "cl")]
    lines += _table(["backbone", "localiser 50th", "localiser 90th", "self-labels 50th",
                     "self-labels 90th", "paper 50th", "paper 90th"], rows)
    lines += ["Self-labels of the validation frames: MCL and CL by input x gradient attribution "
              "(`radarsp_learn.selflabel`, 3 x 3 smoothing) climbed to the heatmap's nearest local "
              "maximum, SCL by the peak of its own "
              "similarity map; no calibration offset (nothing fitted on labels). Each localiser "
              "trains on the self-labels of the training frames.", ""]
    iou = _mask_iou(study)
    lines += [
        "## Table 6: backbones with estimated masks",
        "",
        "^B: boxes from background subtraction on the camera stream "
        f"(`radarsp_learn.masks.background_boxes`; IoU with the true box on training frames: "
        f"{iou.get('background', '–')}), the label-free stand-in for the paper's Yolov5 "
        f"boxes (^Y). ^N: true boxes through the noise model {config.noise} "
        f"(IoU {iou.get('noise', '–')}).",
        "",
    ]
    rows = [[LABELS[n], *_pct(scores.errors(n)), *_pct(scores.errors(f"{n}-val", "labels")),
             *_paper(n)] for n in ("mcl", "mcl-background", "scl", "scl-background",
                                   "mcl-noise")]
    lines += _table(["backbone", "localiser 50th", "localiser 90th", "self-labels 50th",
                     "self-labels 90th", "paper 50th", "paper 90th"], rows)
    lines += _collapse_lines(scores, val)
    lines += ["## Table 7: self-label deviation from ground truth", "",
              "D_W: 1-D Wasserstein with cost |d| (range m, angle deg; the paper writes a "
              "quadratic cost); D_KL and MI in nats over 32 shared histogram bins "
              "(`radarsp.metrics.label_deviation`). Lower D_W / D_KL and higher MI are better. "
              "Paper rows in the paper's (unstated) units.", ""]
    header = ["config"] + [f"{split} {quantity} {metric}" for split in ("train", "val")
                           for quantity in ("range", "angle") for metric in ("D_W", "D_KL", "MI")]
    rows = []
    for name in SELF_LABELLED:
        cells = _deviation_cells(scores, name)
        if cells is not None:
            rows.append([LABELS[name], *cells])
        if name in PAPER_TABLE7:
            rows.append([f"paper {LABELS[name]}", *(f"{v:.3f}" for v in PAPER_TABLE7[name])])
    lines += _table(header, rows)

    lines += ["## Fig. 5: error CDFs", ""]
    lines += [f"![Fig. 5]({figures['fig5']})", ""] if "fig5" in figures else []
    lines += ["## Fig. 6: number of training (self-)labels", ""]
    rows = [[LABELS[m], str(int(n)), f"{p50:.2f}", f"{p90:.2f}"]
            for m, points in sweep.items() for n, p50, p90 in points]
    lines += _table(["method", "frames", "50th %ile", "90th %ile"], rows)
    lines += [f"![Fig. 6]({figures['fig6']})", ""] if "fig6" in figures else []
    lines += ["## Fig. 7: mask padding (InfoMin)", "",
              "Wasserstein distance of MCL's validation angle self-labels from the truth "
              "against the padding of the training mask (pixels of the network's image; "
              "paper: U-curve with its minimum at +2).", ""]
    lines += _table(["padding (px)", "D_W angle (deg)"],
                    [[f"{p:+g}", f"{w:.3f}"] for p, w in padding])
    lines += [f"![Fig. 7]({figures['fig7']})", ""] if "fig7" in figures else []
    lines += ["## Fig. 8: feature dimension and projector size", ""]
    rows = [[series, str(int(d)), f"{wr:.3f}", f"{wa:.3f}"]
            for series, points in dims.items()
            for d, wr, wa in points]
    lines += _table(["backbone", "C", "D_W range (m)", "D_W angle (deg)"], rows)
    lines += [f"![Fig. 8]({figures['fig8']})", ""] if "fig8" in figures else []
    timings_path = study.root / "timings.json"
    if timings_path.exists():
        timings = json.loads(timings_path.read_text())
        lines += ["## Wall-clock", "",
                  f"Sum of all stages: {sum(timings.values()) / 60:.1f} min "
                  "(`timings.json` has every stage).", ""]
    path = study.root / "report.md"
    from radarsp_learn.train import write_text_atomic

    write_text_atomic(path, "\n".join(lines))
    return path
