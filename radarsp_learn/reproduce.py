"""The paper's whole study in one resumable run: baselines, ablations, sweeps and the report.

:func:`reproduce` trains and scores, on one training set and one validation set,

* Table 4 -- supervised localiser (ground truth), MCL localiser, genie-aided CFAR and the
  RODNet-style student (:mod:`radarsp_learn.teacher`);
* Table 5 -- localisers on the self-labels of MCL, SCL and CL backbones;
* Table 6 -- MCL and SCL with estimated masks (:mod:`radarsp_learn.masks`: background
  subtraction on the camera, the stand-in for the paper's Yolov5 boxes) and MCL with
  noise-model masks;
* Table 7 -- self-label deviation from ground truth (Wasserstein, KL, MI; range and angle;
  training and validation frames; :func:`radarsp.metrics.label_deviation`);
* Fig. 5 -- error CDFs; Fig. 6 -- localiser error against the number of training
  (self-)labels in logarithmic steps; Fig. 7 -- Wasserstein distance of angle self-labels
  against mask padding (the InfoMin U-curve); Fig. 8 -- Wasserstein distances against the
  feature dimension C (MCL, SCL) and a 4x projector (MCL).

Every stage writes its artefact (a run directory with ``done.json``, an estimates-1 file, a
data file) under the output directory and is skipped when that artefact exists, so an
interrupted study continues where it stopped (an interrupted training run resumes from its
last epoch). Ground truth is read only by the supervised baseline, the genie and the
scoring; every other method is label-free (the report's tables say which used labels).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from radarsp_learn.paper import LABELS, PAPER, PAPER_TABLE7  # noqa: F401 - the study's names

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class StudyConfig:
    """Size of the study. ``train`` holds :class:`~radarsp_learn.train.TrainConfig` fields
    shared by every run; the sweeps list the values each figure visits."""

    name: str
    train_frames: int
    val_frames: int
    backbone_epochs: int
    localiser_epochs: int
    label_counts: tuple[int, ...]
    paddings: tuple[float, ...]
    feature_dims: tuple[int, ...]
    projector_scale: int = 4
    sweep_max_epochs: int = 60
    scenario: str = "parking-lot"
    train_seed: int = 1
    val_seed: int = 2
    seed: int = 0
    val_fraction: float = 0.25
    noise: dict = field(default_factory=lambda: {"jitter": 0.15, "scale": 0.15,
                                                 "dropout": 0.05})
    # mask source -> backbones trained with its boxes (Table 6)
    estimated_masks: tuple = (("background", ("mcl", "scl")), ("noise", ("mcl",)))
    train: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


PRESETS = {
    "paper": StudyConfig("paper", 24_000, 6_000, backbone_epochs=10, localiser_epochs=20,
                         label_counts=(100, 300, 1_000, 3_000, 10_000, 24_000),
                         paddings=(-4, -2, 0, 2, 4, 8), feature_dims=(32, 64, 128, 256)),
    # Sized for ~25 min on 2 CPU cores: a 64 x 32 model grid (the 64 angle bins of a
    # 16-element array are 4x oversampled, so 32 columns keep its resolution), 32 x 32 camera
    # images, and a stride-4 radio backbone so the feature grid keeps 8 angle cells (SCL
    # localises on it directly).
    "small": StudyConfig("small", 1_200, 450, backbone_epochs=5, localiser_epochs=6,
                         label_counts=(90, 300, 1_200), paddings=(-2, 0, 2),
                         feature_dims=(32, 64), sweep_max_epochs=20,
                         train={"grid_shape": (64, 32), "image_shape": (32, 32),
                                "radio_widths": (32, 64), "batch_size": 64}),
    # The small study with 2.5x the frames and longer sweeps: ~15 min on 2 idle cores.
    "medium": StudyConfig("medium", 3_000, 750, backbone_epochs=6, localiser_epochs=8,
                          label_counts=(90, 300, 1_000, 3_000), paddings=(-2, 0, 2, 4),
                          feature_dims=(32, 64, 128), sweep_max_epochs=30,
                          train={"grid_shape": (64, 32), "image_shape": (32, 32),
                                 "radio_widths": (32, 64), "batch_size": 64}),
    "tiny": StudyConfig("tiny", 60, 30, backbone_epochs=1, localiser_epochs=1,
                        label_counts=(30, 60), paddings=(0, 2), feature_dims=(4, 8),
                        sweep_max_epochs=2,
                        train={"grid_shape": (32, 32), "image_shape": (32, 32),
                               "radio_widths": (8, 16), "vision_widths": (8, 16),
                               "feature_dim": 8, "projector_hidden": 32, "embed_dim": 16,
                               "batch_size": 16, "localiser_width": 8,
                               "localiser_dilations": (1,)}),
}

class StudyExistsError(FileExistsError):
    """The output directory holds something other than this study; pass force to replace."""


class Study:
    """The stages of one study under ``root``; :func:`reproduce` is the entry point.

    Parameters
    ----------
    config : StudyConfig
        Sizes and sweeps.
    root : path-like
        Study directory (layout in :func:`reproduce`).
    data : path-like, optional
        User heatmap-1 file instead of simulated frames.
    device : {"cpu", "cuda", "auto"}
    progress : bool
        tqdm bars of training runs on stderr.

    Notes
    -----
    Each stage method returns the path of its artefact and does nothing if the artefact
    exists; training runs are skipped when ``done.json`` exists and resumed from
    ``last.pt`` when only that does.
    """

    OWNED = ("study.json", "timings.json", "data", "runs", "labels", "estimates", "figures",
             "report.md")

    def __init__(self, config: StudyConfig, root, *, data=None, device: str = "cpu",
                 progress: bool = False):
        self.config = config
        self.root = Path(root)
        self.user_data = None if data is None else Path(data).resolve()
        self.device = device
        self.progress = progress

    # -- bookkeeping -------------------------------------------------------------------------
    def path(self, *parts) -> Path:
        out = self.root.joinpath(*parts)
        out.parent.mkdir(parents=True, exist_ok=True)
        return out

    def claim(self, *, force: bool) -> None:
        """Start (or continue) the study in :attr:`root`; refuse a foreign or different one."""
        from radarsp_learn.rundir import LOCK_NAME

        meta = {"config": json.loads(json.dumps(self.config.to_dict())),
                "data": None if self.user_data is None else str(self.user_data)}
        stamp = self.root / "study.json"
        if force:
            for name in self.OWNED:
                target = self.root / name
                if target.is_dir():
                    shutil.rmtree(target)
                elif target.exists():
                    target.unlink()
        elif stamp.exists():
            if json.loads(stamp.read_text()) != meta:
                raise StudyExistsError(f"{self.root}: holds a study with another configuration "
                                       "or data; pass --force to start afresh")
        elif self.root.exists() and any(p.name != LOCK_NAME for p in self.root.iterdir()):
            raise StudyExistsError(f"{self.root}: directory is not empty and holds no study; "
                                   "pass --force to use it")
        self.root.mkdir(parents=True, exist_ok=True)
        _write_text(stamp, json.dumps(meta, indent=2) + "\n")

    def stage(self, name: str, target: Path, make) -> Path:
        """Run ``make(target)`` unless ``target`` exists; time it."""
        if target.exists():
            return target
        log.info("stage %s", name)
        start = time.perf_counter()
        make(target)
        self.record(name, time.perf_counter() - start)
        return target

    def record(self, name: str, seconds: float) -> None:
        """Add a stage's wall-clock time to ``timings.json`` (kept across resumed runs)."""
        path = self.root / "timings.json"
        timings = json.loads(path.read_text()) if path.exists() else {}
        timings[name] = round(seconds, 2)
        _write_text(path, json.dumps(timings, indent=1) + "\n")

    def save(self, ds, path: Path) -> None:
        from radarsp.io import save

        save(ds, path, force=True)

    # -- data -------------------------------------------------------------------------------
    def data(self) -> tuple[Path, Path]:
        """Training and validation heatmap-1 files (simulated, or split from ``--data``)."""
        train, val = self.path("data", "train.nc"), self.path("data", "val.nc")
        if train.exists() and val.exists():
            return train, val
        if self.user_data is None:
            self.stage("simulate train", train,
                       lambda p: self.save(_simulate(self.config, self.config.train_frames,
                                                     self.config.train_seed), p))
            self.stage("simulate val", val,
                       lambda p: self.save(_simulate(self.config, self.config.val_frames,
                                                     self.config.val_seed), p))
            return train, val
        from radarsp.io import open_heatmap
        from radarsp_learn.data import frame_sequences, split_by_sequence

        ds = open_heatmap(self.user_data)
        frames_train, frames_val = split_by_sequence(
            frame_sequences(ds), val_fraction=self.config.val_fraction, seed=self.config.seed)
        self.stage("split train", train, lambda p: self.save(ds.isel(frame=frames_train), p))
        self.stage("split val", val, lambda p: self.save(ds.isel(frame=frames_val), p))
        return train, val

    def masked_data(self, source: str, split: str, base: Path) -> Path:
        """``base`` with ``target_box`` from a mask source (``noise`` or ``background``)."""
        from radarsp.io import open_heatmap
        from radarsp_learn.masks import mask_boxes, with_boxes

        def make(path):
            ds = open_heatmap(base).load()
            options = ({**self.config.noise, "seed": self.config.seed + (split == "val")}
                       if source == "noise" else {})
            self.save(with_boxes(ds, mask_boxes(ds, source, **options), source=source), path)

        return self.stage(f"{source} masks ({split})", self.path("data", f"{split}-{source}.nc"),
                          make)

    def subset(self, base: Path, count: int) -> Path:
        """The first whole sequences of a seeded shuffle of ``base`` holding >= ``count`` frames."""
        from radarsp.io import open_heatmap
        from radarsp_learn.data import frame_sequences

        def make(path):
            ds = open_heatmap(base)
            sequence = frame_sequences(ds)
            order = np.random.default_rng(self.config.seed).permutation(np.unique(sequence))
            sizes = np.array([np.sum(sequence == s) for s in order])
            # at least two sequences: a run holds one out for early stopping
            keep = order[: max(2, int(np.searchsorted(np.cumsum(sizes), count)) + 1)]
            self.save(ds.isel(frame=np.flatnonzero(np.isin(sequence, keep))), path)

        return self.stage(f"subset {count}", self.path("data", f"train-{count}.nc"), make)

    # -- training ---------------------------------------------------------------------------
    def train_config(self, **overrides):
        from radarsp_learn.train import TrainConfig

        return TrainConfig(**{"seed": self.config.seed, "device": self.device,
                              **self.config.train, **overrides})

    def run(self, name: str, data: Path, **overrides) -> Path:
        """Train (or resume, or skip) run ``runs/name``."""
        from radarsp_learn.train import train

        run_dir = self.root / "runs" / name
        done = run_dir / "done.json"
        if done.exists():
            return run_dir
        log.info("train %s", name)
        start = time.perf_counter()
        config = self.train_config(**overrides)
        resume = (run_dir / "last.pt").exists()
        summary = train(config, data, run_dir, resume=resume, force=not resume,
                        progress=self.progress)
        self.record(f"train {name}", time.perf_counter() - start)
        _write_text(done, json.dumps(summary) + "\n")
        return run_dir

    def backbone(self, name: str, objective: str, data: Path, **overrides) -> Path:
        return self.run(name, data, objective=objective, epochs=self.config.backbone_epochs,
                        **overrides)

    def self_labels(self, run_dir: Path, data: Path, out: Path) -> Path:
        """estimates-1 self-labels of every frame of ``data`` by the backbone ``run_dir``."""
        def make(path):
            from radarsp_learn.train import load_run

            objective, config, _ = load_run(run_dir, device=self.device)
            self.save(self_label_estimates(objective, config, data, run=run_dir), path)

        return self.stage(f"self-label {out.stem}", out, make)

    def localiser(self, name: str, data: Path, labels: Path | None, *, epochs=None,
                  patience=None) -> Path:
        """Localiser (or, without labels, the supervised net) trained on ``data``."""
        overrides = {"epochs": epochs or self.config.localiser_epochs}
        if patience is not None:
            overrides["patience"] = patience
        if labels is None:
            return self.run(name, data, objective="supervised", **overrides)
        return self.run(name, data, objective="localiser", labels=str(labels), **overrides)

    def predict(self, run_dir: Path, data: Path, out: Path, method: str) -> Path:
        def make(path):
            from radarsp_learn.train import load_run, predict_estimates

            objective, config, meta = load_run(run_dir, device=self.device)
            self.save(predict_estimates(objective, config, meta, data, method=method,
                                        run=run_dir), path)

        return self.stage(f"predict {out.stem}", out, make)

    def contrastive_chain(self, name: str, objective: str, train: Path, val: Path,
                          **overrides) -> None:
        """Backbone -> self-labels (train, val) -> localiser -> validation estimates."""
        run_dir = self.backbone(name, objective, train, **overrides)
        train_labels = self.self_labels(run_dir, train, self.path("labels", f"{name}-train.nc"))
        self.self_labels(run_dir, val, self.path("labels", f"{name}-val.nc"))
        loc = self.localiser(f"{name}-localiser", train, train_labels)
        self.predict(loc, val, self.path("estimates", f"{name}.nc"), f"{name}-localiser")

    # -- the study --------------------------------------------------------------------------
    def baselines(self, train: Path, val: Path) -> None:
        from radarsp.io import open_heatmap
        from radarsp.match import genie_match
        from radarsp_learn.teacher import cfar_clusters, teacher_labels

        run = self.localiser("supervised", train, None)
        self.predict(run, val, self.path("estimates", "supervised.nc"), "supervised")

        def genie(path):
            ds = open_heatmap(val).load()
            self.save(genie_match(cfar_clusters(ds["power"]), ds), path)

        self.stage("genie-aided CFAR", self.path("estimates", "cfar.nc"), genie)
        for split, data in (("train", train), ("val", val)):
            self.stage(f"RODNet teacher ({split})", self.path("labels", f"rodnet-{split}.nc"),
                       lambda p, d=data: self.save(teacher_labels(open_heatmap(d).load()), p))
        run = self.localiser("rodnet-localiser", train, self.path("labels", "rodnet-train.nc"))
        self.predict(run, val, self.path("estimates", "rodnet.nc"), "rodnet-localiser")

    def label_sweep(self, train: Path, val: Path) -> None:
        from radarsp.io import open_heatmap

        full = open_heatmap(train).sizes["frame"]
        for count in self.config.label_counts:
            if count >= full:
                continue  # the full-set runs of Tables 4-5 are the sweep's last point
            data = self.subset(train, count)
            epochs = int(min(self.config.sweep_max_epochs,
                             np.ceil(self.config.localiser_epochs * full / count)))
            patience = max(2, epochs // 5)
            for method in ("supervised", "mcl", "scl"):
                labels = None if method == "supervised" else self.path("labels",
                                                                      f"{method}-train.nc")
                run = self.localiser(f"sweep-{method}-{count}", data, labels, epochs=epochs,
                                     patience=patience)
                self.predict(run, val, self.path("estimates", f"sweep-{method}-{count}.nc"),
                             f"{method}-{count}")

    def ablations(self, train: Path, val: Path) -> None:
        base_dim = self.train_config().feature_dim
        for padding in self.config.paddings:
            if padding == self.train_config().mask_padding:
                continue
            name = f"pad{padding:+g}"
            run = self.backbone(f"mcl-{name}", "mcl", train, mask_padding=float(padding))
            self.self_labels(run, val, self.path("labels", f"mcl-{name}-val.nc"))
        for dim in self.config.feature_dims:
            if dim == base_dim:
                continue
            for objective in ("mcl", "scl"):
                run = self.backbone(f"{objective}-C{dim}", objective, train, feature_dim=dim)
                self.self_labels(run, val, self.path("labels", f"{objective}-C{dim}-val.nc"))
        hidden = self.train_config().projector_hidden * self.config.projector_scale
        run = self.backbone("mcl-Lproj", "mcl", train, projector_hidden=hidden)
        self.self_labels(run, val, self.path("labels", "mcl-Lproj-val.nc"))

    def execute(self) -> Path:
        """Run every stage not yet done, then write the report; returns its path."""
        train, val = self.data()
        self.baselines(train, val)
        for objective in ("mcl", "scl", "cl"):
            self.contrastive_chain(objective, objective, train, val)
        for source, objectives in self.config.estimated_masks:
            masked_train = self.masked_data(source, "train", train)
            masked_val = self.masked_data(source, "val", val)
            for objective in objectives:
                self.contrastive_chain(f"{objective}-{source}", objective, masked_train,
                                       masked_val)
        self.label_sweep(train, val)
        self.ablations(train, val)
        from radarsp_learn.study_report import write_report

        return write_report(self, train, val)


def _simulate(config: StudyConfig, frames: int, seed: int):
    """Simulated heatmap-1 frames in blocks of whole 15-frame sequences (bounded memory)."""
    import xarray as xr

    from radarsp.heatmap import heatmap_dataset
    from radarsp.simulate import simulate

    block = 1_500
    parts = [heatmap_dataset(simulate(config.scenario, frames=min(block, frames - start),
                                      seed=seed, start=start)).load()
             for start in range(0, frames, block)]
    return xr.concat(parts, dim="frame") if len(parts) > 1 else parts[0]


def _write_text(path: Path, text: str) -> None:
    from radarsp_learn.train import write_text_atomic

    write_text_atomic(path, text)


def self_label_estimates(objective, config, data_path, *, run=None):
    """Self-labels of every frame of ``data_path`` as estimates-1, for MCL, CL or SCL.

    What ``radarsp-learn selflabel`` writes with its defaults
    (:func:`radarsp_learn.train.selflabel_estimates`): MCL and CL use the attribution map of
    :mod:`radarsp_learn.selflabel` (input x gradient, then the heatmap's nearest local
    maximum); SCL the peak of its own similarity map
    (:func:`radarsp_learn.objectives.scl.self_label_cells`). The ``method`` attr is
    ``"<objective>-selflabel"``. Camera and boxes only, never ground truth
    (``labels_used = 0``).
    """
    from radarsp_learn.train import selflabel_estimates

    return selflabel_estimates(objective, config, data_path, run=run)


def reproduce(config: StudyConfig | str = "small", output="report", *, data=None,
              force: bool = False, device: str = "cpu", progress: bool = False) -> Path:
    """Run (or continue) the paper's study and write ``output/report.md``.

    Parameters
    ----------
    config : StudyConfig or {"small", "medium", "paper", "tiny"}
        Study size (:data:`PRESETS`). ``small`` takes 4 min on 2 idle CPU cores and 20 min
        on 2 heavily shared ones; ``medium`` has 2.5x the frames; ``paper`` uses 24,000
        training frames, the default 64 x 64 networks and the paper's sweeps (hours on CPU);
        ``tiny`` is a smoke test.
    output : path-like
        Study directory: ``data/``, ``runs/``, ``labels/``, ``estimates/``, ``figures/``,
        ``report.md``. Finished stages found there are not recomputed.
    data : path-like, optional
        A heatmap-1 file with camera (``image``, ``target_box``) and ground truth (for
        scoring) to use instead of simulated parking-lot frames; split by sequence.
    force : bool
        Delete this study's artefacts in ``output`` and start afresh (also needed when
        ``output`` holds another configuration or unrelated files). ``output`` is locked for
        the whole study: a second study into it is refused
        (:class:`radarsp_learn.rundir.RunBusyError`).
    device : {"cpu", "cuda", "auto"}
    progress : bool
        tqdm bars of the training runs on stderr.

    Returns
    -------
    pathlib.Path
        ``output/report.md``.

    Examples
    --------
    >>> import torch; torch.set_num_threads(1)  # a shared machine: avoid spinning threads
    >>> reproduce("small", "study-small")  # doctest: +SKIP
    PosixPath('study-small/report.md')
    """
    if isinstance(config, str):
        if config not in PRESETS:
            raise ValueError(f"unknown study configuration {config!r}; "
                             f"expected one of {', '.join(PRESETS)}")
        config = PRESETS[config]
    from radarsp_learn.rundir import locked

    study = Study(config, output, data=data, device=device, progress=progress)
    with locked(output, exclusive=True, what="study directory"):  # one study writes it
        study.claim(force=force)
        return study.execute()
