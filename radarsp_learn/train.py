"""Training runs: configuration, the epoch loop, checkpoints, resume and the metrics log.

A run directory holds

* ``config.json`` -- the full :class:`TrainConfig`, the data file, the package and torch
  versions and how many ground-truth labels the run used;
* ``last.pt`` -- written atomically after every epoch: model (including momentum encoders and
  queues), optimiser, RNG states, early-stopping state; ``--resume`` continues from it with
  the saved configuration (including its ``epochs``, unless a larger one is asked for
  explicitly) and reaches the same weights as an uninterrupted run with the same seed (batch
  order is a pure function of seed and epoch, :func:`radarsp_learn.data.batch_order`);
* ``best.pt`` -- the weights of the epoch with the lowest held-out loss (what
  ``selflabel``/``predict`` use);
* ``metrics.jsonl`` -- one JSON object per epoch (losses, metrics, seconds, samples/s).

Every file is written atomically (a temporary file renamed over the old one), so a run killed
at any point leaves each file either old or new, never half-written.

Model selection is by held-out loss on frames split off by sequence: for MCL the contrastive
loss (label-free), for the localiser its loss on held-out self-labels (label-free), for the
supervised baseline its loss on held-out ground truth (counted in ``labels_used``).

Distributed data parallel: when ``torch.distributed`` is initialised (e.g. under
``torchrun``), every rank takes an equal shard of each epoch's permutation, gradients are
averaged by ``DistributedDataParallel``, contrastive keys are gathered across ranks, and only
rank 0 writes to the run directory.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from radarsp_learn.data import (
    RadioVisualFrames,
    batch_order,
    estimate_cells,
    estimates_dataset,
    frame_sequences,
    open_heatmap,
    split_by_sequence,
    to_device,
    truth_cells,
)
from radarsp_learn.grid import Grid
from radarsp_learn.objectives import build_objective

# Contrastive training overfits within a few epochs (stop on held-out loss); the localiser
# needs more, smaller steps.
OBJECTIVE_DEFAULTS = {
    "mcl": dict(epochs=12, batch_size=128, lr=1e-3, weight_decay=1e-4, patience=2),
    "localiser": dict(epochs=10, batch_size=64, lr=2e-3, weight_decay=1e-3, patience=3),
    "supervised": dict(epochs=10, batch_size=64, lr=2e-3, weight_decay=1e-3, patience=3),
}


@dataclass
class TrainConfig:
    """Everything that defines a training run (saved as ``config.json``).

    Sizes are in cells/pixels of the model grid; ``lr`` and ``weight_decay`` are AdamW's.
    ``epochs``, ``batch_size``, ``lr``, ``weight_decay`` and ``patience`` left at None take
    the objective's defaults (:data:`OBJECTIVE_DEFAULTS`); :attr:`defaulted` names the fields
    that did. ``extra`` holds settings of objectives that need more than these fields (read by
    the objective's ``from_config``).

    Examples
    --------
    >>> config = TrainConfig(objective="localiser", lr=1e-3)
    >>> config.epochs, sorted(config.defaulted)
    (10, ['batch_size', 'epochs', 'patience', 'weight_decay'])
    """

    objective: str = "mcl"
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    weight_decay: float | None = None
    seed: int = 0
    val_fraction: float = 0.1
    patience: int | None = None
    grid_shape: tuple[int, int] = (64, 64)
    image_shape: tuple[int, int] = (64, 64)
    dynamic_range_db: float = 40.0
    mask_padding: float = 0.0
    # MCL
    radio_widths: tuple[int, ...] = (16, 32, 64)
    vision_widths: tuple[int, ...] = (16, 32, 64)
    feature_dim: int = 64
    projector_hidden: int = 256
    embed_dim: int = 128
    # tau = 0.5 (against 0.1) halved the self-labels' 90th-percentile error on development
    # data (simulated seeds 11/12, not the benchmark's): fewer labels on the wrong car
    temperature: float = 0.5
    # m = 0 (f̄ = f, keys = stop-gradient queries) gave lower held-out loss and better
    # self-labels than m = 0.99 on simulated parking-lot data, in 0.6x the time
    momentum: float = 0.0
    queue_size: int = 0
    batch_by_sequence: bool = False
    # localiser / supervised
    labels: str | None = None
    localiser_width: int = 32
    localiser_dilations: tuple[int, ...] = (1, 2, 4)
    loss: str = "huber"
    huber_delta: float = 1.0
    augment: bool = True
    # execution
    device: str = "cpu"
    cache: bool = True
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        defaults = OBJECTIVE_DEFAULTS.get(self.objective, OBJECTIVE_DEFAULTS["mcl"])
        defaulted = set()
        for name, value in defaults.items():
            if getattr(self, name) is None:
                setattr(self, name, value)
                defaulted.add(name)
        # not a dataclass field: neither saved in config.json nor compared
        self._defaulted = frozenset(defaulted)

    @property
    def defaulted(self) -> frozenset[str]:
        """Fields that were left at None and took the objective's defaults."""
        return self._defaulted

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        names = {f.name: f for f in dataclasses.fields(cls)}
        kwargs = {}
        for key, value in values.items():
            if key in names:
                kwargs[key] = tuple(value) if isinstance(value, list) else value
        return cls(**kwargs)


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    try:
        package = version("radarsp")
    except PackageNotFoundError:
        package = "unknown"
    return {"radarsp": package, "torch": torch.__version__, "python": sys.version.split()[0]}


def resolve_device(device: str) -> torch.device:
    """``"auto"`` -> cuda when available, else cpu."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _rank_world() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def _save_atomic(obj, path: Path) -> None:
    from radarsp.io import atomic_path

    with atomic_path(path, force=True) as tmp:
        torch.save(obj, tmp)


def write_text_atomic(path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file renamed over it (never half-written)."""
    from radarsp.io import atomic_path

    with atomic_path(path, force=True) as tmp:
        Path(tmp).write_text(text)


def _rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
            "python": random.getstate()}


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])


def seed_everything(seed: int) -> None:
    """Seed torch, numpy and python's RNGs."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def _mean_metrics(sums: dict, count: int) -> dict:
    """Average summed metrics over ``count`` samples (over all ranks when distributed)."""
    keys = sorted(sums)
    values = torch.tensor([float(sums[k]) for k in keys] + [float(count)], dtype=torch.float64)
    if _rank_world()[1] > 1:
        torch.distributed.all_reduce(values)
    total = max(float(values[-1]), 1.0)
    return {k: float(v) / total for k, v in zip(keys, values[:-1], strict=True)}


def run_epoch(model, data: RadioVisualFrames, *, config: TrainConfig, epoch: int,
              optimizer=None, device=None, progress: bool = False,
              desc: str = "") -> dict:
    """One pass over ``data``: training when ``optimizer`` is given, else evaluation.

    Returns the per-sample mean of every scalar the objective reports (keys as returned by its
    ``forward``). Batches that carry labels are weighted by their labelled frames (frames with
    a NaN label do not count), others by their size.
    """
    from tqdm.auto import tqdm

    rank, world = _rank_world()
    device = device or torch.device("cpu")
    training = optimizer is not None
    objective = getattr(model, "module", model)
    model.train(training)
    groups = data.sequences if config.batch_by_sequence else None
    batches = batch_order(len(data), config.batch_size, seed=config.seed, epoch=epoch,
                          shuffle=training, drop_last=True, rank=rank, world_size=world,
                          groups=groups)
    sums, count = {}, 0
    bar = tqdm(batches, desc=desc, unit="batch", file=sys.stderr, leave=False,
               disable=not progress or rank != 0)
    for positions in bar:
        batch = to_device(data.batch(positions), device)
        with torch.set_grad_enabled(training):
            out = model(batch)
        if training:
            optimizer.zero_grad(set_to_none=True)
            out["loss"].backward()
            optimizer.step()
            objective.after_step()
        n = _weight(batch)
        for key, value in out.items():
            sums[key] = sums.get(key, 0.0) + float(value.detach()) * n
        count += n
        bar.set_postfix(loss=f"{float(out['loss'].detach()):.3f}")
    return _mean_metrics(sums, count)


def _weight(batch: dict) -> int:
    """Frames of ``batch`` that count towards its metrics: the labelled ones if it has labels."""
    if "label" in batch:
        return int(torch.isfinite(batch["label"]).all(dim=1).sum())
    return len(batch["heatmap"])


def _labels_for(config: TrainConfig, ds, grid: Grid) -> tuple[np.ndarray, int, str]:
    """Training targets as model-grid cells, how many of them are ground truth, and the
    ``method`` that made them."""
    if config.objective == "supervised":
        cells = truth_cells(ds, grid)
        return cells, int(np.isfinite(cells).all(axis=1).sum()), "ground truth"
    if config.labels is None:
        raise ValueError(f"objective {config.objective!r} needs --labels (a self-label file)")
    from radarsp.io import open_estimates

    estimates = open_estimates(config.labels)
    used = int(estimates.attrs.get("labels_used", 0))
    return estimate_cells(estimates, ds, grid), used, str(estimates.attrs.get("method", ""))


def prepare_data(config: TrainConfig, data_path, *, needs_camera: bool, needs_labels: bool):
    """Open ``data_path``, split by sequence and build train/validation frame sets.

    Returns ``(train, val, labels_used, labels_method)``.
    """
    ds = open_heatmap(data_path)
    grid = Grid.from_dataset(ds, config.grid_shape)
    labels, labels_used, labels_method = None, 0, ""
    if needs_labels:
        labels, labels_used, labels_method = _labels_for(config, ds, grid)
    train_frames, val_frames = split_by_sequence(frame_sequences(ds),
                                                 val_fraction=config.val_fraction,
                                                 seed=config.seed)
    if len(val_frames) == 0:
        raise ValueError(f"{data_path}: a held-out split needs frames of at least two "
                         "sequences (coordinate 'sequence')")
    common = dict(grid_shape=config.grid_shape, image_shape=config.image_shape,
                  mask_padding=config.mask_padding, dynamic_range_db=config.dynamic_range_db,
                  labels=labels, with_camera=needs_camera, cache=config.cache)
    if labels is not None:  # a split without any label cannot train or select a model
        for split, frames in (("training", train_frames), ("validation", val_frames)):
            if np.isfinite(labels[frames]).all(axis=1).any():
                continue
            if config.objective == "supervised":
                raise ValueError(f"{data_path}: no finite ground truth on any frame of the "
                                 f"{split} split ({len(frames)} frames)")
            raise ValueError(f"{config.labels}: no finite label on any frame of the {split} "
                             f"split of {data_path} ({len(frames)} frames)")
    train = RadioVisualFrames(ds, frames=train_frames, **common)
    val = RadioVisualFrames(ds, frames=val_frames, **common)
    return train, val, labels_used, labels_method


def train(config: TrainConfig, data_path, run_dir, *, resume: bool = False,
          force: bool = False, progress: bool = True) -> dict:
    """Train ``config.objective`` on ``data_path``, writing the run directory ``run_dir``.

    Parameters
    ----------
    config : TrainConfig or None
        On ``resume`` the saved configuration is used and ``config`` only for its ``epochs``,
        and only if set explicitly (not in :attr:`TrainConfig.defaulted`): a larger value
        extends the run (and is saved), a smaller one is ignored. ``None`` (or ``epochs`` left
        at its default) continues to the saved run's ``epochs``.
    data_path : path-like
        heatmap-1 file (with ``image``/``target_box`` for contrastive objectives).
    run_dir : path-like
        Output directory. An existing run is refused unless ``resume`` or ``force``.
    resume : bool
        Continue from ``run_dir/last.pt``.
    force : bool
        Start afresh in an existing run directory (its files are replaced).
    progress : bool
        tqdm bars on stderr.

    Returns
    -------
    dict
        Summary: ``best_epoch``, ``best_loss``, ``epochs_run``, ``labels_used``, ``seconds``.
    """
    run_dir = Path(run_dir)
    rank, world = _rank_world()
    last = run_dir / "last.pt"
    if resume:
        if not last.exists():
            raise FileNotFoundError(f"{last}: no checkpoint to resume from")
        saved = json.loads((run_dir / "config.json").read_text())
        saved_config = TrainConfig.from_dict(saved["config"])
        epochs = saved_config.epochs
        if config is not None and "epochs" not in config.defaulted:
            epochs = max(config.epochs, epochs)
        config = dataclasses.replace(saved_config, epochs=epochs)
        data_path = saved["data"]
        if epochs != saved_config.epochs and rank == 0:  # a later resume keeps the extension
            saved["config"] = config.to_dict()
            write_text_atomic(run_dir / "config.json", json.dumps(saved, indent=2) + "\n")
    elif (run_dir / "config.json").exists() and not force:
        raise FileExistsError(f"{run_dir}: run directory exists; pass --resume or --force")
    elif config.labels is not None:  # config.json must not depend on the working directory
        config = dataclasses.replace(config, labels=os.path.abspath(config.labels))

    device = resolve_device(config.device)
    seed_everything(config.seed)
    objective = build_objective(config).to(device)
    train_data, val_data, labels_used, labels_method = prepare_data(
        config, data_path, needs_camera=objective.needs_camera,
        needs_labels=objective.needs_labels)
    if hasattr(objective, "flip_angle"):
        objective.flip_angle = config.augment and train_data.grid.symmetric_in_angle
    model = objective
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(
            objective, device_ids=[device.index] if device.type == "cuda" else None)
    optimizer = torch.optim.AdamW([p for p in objective.parameters() if p.requires_grad],
                                  lr=config.lr, weight_decay=config.weight_decay)
    state = {"epoch": 0, "best_loss": float("inf"), "best_epoch": 0, "bad_epochs": 0}
    if resume:
        checkpoint = torch.load(last, map_location=device, weights_only=False)
        objective.load_state_dict(checkpoint["objective"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        state = checkpoint["state"]
        _set_rng_state(checkpoint["rng"])
    else:
        if rank == 0:
            run_dir.mkdir(parents=True, exist_ok=True)
            for stale in ("metrics.jsonl", "best.pt", "last.pt"):
                (run_dir / stale).unlink(missing_ok=True)
            meta = {"config": config.to_dict(), "data": os.fspath(Path(data_path).resolve()),
                    "versions": _versions(), "labels_used": labels_used,
                    "labels_method": labels_method,
                    "train_frames": len(train_data), "val_frames": len(val_data),
                    "world_size": world}
            write_text_atomic(run_dir / "config.json", json.dumps(meta, indent=2) + "\n")
        objective.prepare(to_device(train_data.batch(b), device) for b in batch_order(
            len(train_data), config.batch_size, seed=config.seed, epoch=-1,
            rank=rank, world_size=world, drop_last=True))
    if rank == 0:
        _truncate_metrics(run_dir / "metrics.jsonl", state["epoch"])

    started = time.perf_counter()
    while state["epoch"] < config.epochs and state["bad_epochs"] < config.patience:
        epoch = state["epoch"]
        tic = time.perf_counter()
        train_metrics = run_epoch(model, train_data, config=config, epoch=epoch,
                                  optimizer=optimizer, device=device, progress=progress,
                                  desc=f"{config.objective} epoch {epoch + 1}/{config.epochs}")
        train_seconds = time.perf_counter() - tic
        val_metrics = run_epoch(model, val_data, config=config, epoch=epoch, device=device)
        state["epoch"] = epoch + 1
        improved = val_metrics.get("loss", float("inf")) < state["best_loss"]
        if improved:
            state.update(best_loss=val_metrics["loss"], best_epoch=epoch + 1, bad_epochs=0)
        else:
            state["bad_epochs"] += 1
        record = {"epoch": epoch + 1, "seconds": round(time.perf_counter() - tic, 3),
                  "train_samples_per_s": round(len(train_data) / train_seconds, 1),
                  **{f"train_{k}": v for k, v in train_metrics.items()},
                  **{f"val_{k}": v for k, v in val_metrics.items()}}
        if rank == 0:
            if improved:
                _save_atomic({"objective": objective.state_dict(), "epoch": epoch + 1},
                             run_dir / "best.pt")
            _save_atomic({"objective": objective.state_dict(),
                          "optimizer": optimizer.state_dict(), "state": dict(state),
                          "rng": _rng_state()}, last)
            log = run_dir / "metrics.jsonl"
            previous = log.read_text() if log.exists() else ""
            write_text_atomic(log, previous + json.dumps(record) + "\n")
    return {"best_epoch": state["best_epoch"], "best_loss": state["best_loss"],
            "epochs_run": state["epoch"], "labels_used": labels_used,
            "seconds": time.perf_counter() - started}


def _truncate_metrics(path: Path, epochs: int) -> None:
    """Drop log lines of epochs after the checkpoint (a run killed between the two writes),
    and lines that are not a JSON record with an ``epoch`` (e.g. a partly written last line)."""
    if not path.exists():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("epoch"), int) \
                and record["epoch"] <= epochs:
            kept.append(line)
    write_text_atomic(path, "".join(line + "\n" for line in kept))


def load_run(run_dir, *, device: str = "cpu", which: str = "best"):
    """Rebuild a run's objective from ``config.json`` and ``best.pt`` (or ``last.pt``).

    Returns
    -------
    objective : Objective
        In eval mode, on ``device``.
    config : TrainConfig
    meta : dict
        Contents of ``config.json``.
    """
    run_dir = Path(run_dir)
    meta_path = run_dir / "config.json"
    if not meta_path.exists():
        raise FileNotFoundError(f"{run_dir}: not a run directory (no config.json)")
    meta = json.loads(meta_path.read_text())
    config = TrainConfig.from_dict(meta["config"])
    checkpoint_path = run_dir / f"{which}.pt"
    if not checkpoint_path.exists():
        raise FileNotFoundError(f"{checkpoint_path}: no checkpoint (has the run trained?)")
    objective = build_objective(config)
    checkpoint = torch.load(checkpoint_path, map_location=resolve_device(device),
                            weights_only=False)
    objective.load_state_dict(checkpoint["objective"])
    return objective.to(resolve_device(device)).eval(), config, meta


def _frames_for(config: TrainConfig, data_path, *, with_camera: bool) -> RadioVisualFrames:
    """All frames of ``data_path`` preprocessed as the run was trained (read lazily)."""
    return RadioVisualFrames(open_heatmap(data_path), grid_shape=config.grid_shape,
                             image_shape=config.image_shape, mask_padding=config.mask_padding,
                             dynamic_range_db=config.dynamic_range_db, with_camera=with_camera,
                             cache=False)


def selflabel_estimates(objective, config: TrainConfig, data_path, *,
                        method: str = "attribution", smoothing: int = 3, peak: str = "heatmap",
                        angle: str = "attention", calibration_labels: int = 0,
                        progress: bool = False, run=None):
    """Self-labels of every frame of ``data_path`` by a trained contrastive ``objective``.

    MCL and CL use the attention maps of :mod:`radarsp_learn.selflabel` (``method``,
    ``smoothing``, ``peak``, ``angle``); SCL the peak of its own similarity map
    (:func:`radarsp_learn.objectives.scl.self_label_cells`; only ``angle="attention"``).
    The table's ``method`` attr is ``"<objective>-selflabel"`` (``mcl-``, ``cl-``,
    ``scl-selflabel``), which names the localisers trained on it. Camera and boxes only,
    never ground truth -- unless ``calibration_labels`` = N > 0: then the paper's one-off
    systematic-offset calibration (:func:`radarsp_learn.selflabel.calibration_offset`) is
    fitted on the ground truth of N frames drawn at random (seed 0) and applied to all; the
    attrs record ``labels_used`` (0 or N) and the offset. ``run``, the run directory the
    objective came from, is named in refusals and recorded as the ``run`` attr.

    Returns
    -------
    xarray.Dataset
        estimates-1, one row per frame of ``data_path``.
    """
    from radarsp_learn.selflabel import calibration_offset, self_label_cells, self_labels

    where = f"{os.fspath(run)}: " if run is not None else ""
    is_scl = hasattr(objective, "attention_maps")  # SCL: its own per-location attention
    if is_scl and angle != "attention":
        raise ValueError(f"{where}angle={angle!r} applies to MCL self-labels; an SCL run "
                         "self-labels from its own attention")
    if not is_scl and not hasattr(objective, "embed_radio"):
        raise ValueError(f"{where}a {config.objective!r} run cannot self-label; train with "
                         "--objective mcl")
    data = _frames_for(config, data_path, with_camera=True)
    if is_scl:
        from radarsp_learn.objectives.scl import self_label_cells as scl_cells

        cells = scl_cells(objective, data, progress=progress)
    else:
        cells = self_label_cells(objective, data, method=method, smoothing=smoothing,
                                 peak=peak, angle=angle, progress=progress)
    offset = np.zeros(2)
    used = int(min(calibration_labels, len(data)))
    if used > 0:
        truth = truth_cells(data.ds, data.grid)
        chosen = np.random.default_rng(0).permutation(len(data))[:used]
        offset = calibration_offset(cells[chosen], truth[data.frames[chosen]])
    attrs = {**({} if run is None else {"run": os.fspath(run)}), "labels_used": used}
    name = f"{config.objective}-selflabel"
    if is_scl:
        cells = cells + offset
        range_m, angle_rad = data.grid.to_polar(cells[:, 0], cells[:, 1])
        return estimates_dataset(data.frame_ids, range_m, angle_rad, method=name,
                                 attrs={"selflabel_method": "similarity",
                                        "calibration_offset_cells": list(map(float, offset)),
                                        **attrs})
    return self_labels(objective, data, method=method, smoothing=smoothing, peak=peak,
                       angle=angle, offset=offset, cells=cells, name=name, attrs=attrs)


def run_selflabel(run_dir, data_path, output, *, method: str = "attribution",
                  smoothing: int = 3, peak: str = "heatmap", angle: str = "attention",
                  calibration_labels: int = 0, force: bool = False, progress: bool = True,
                  device: str = "cpu") -> Path:
    """Self-label every frame of ``data_path`` with the MCL (CL, SCL) run ``run_dir``; write
    estimates-1 (:func:`selflabel_estimates`, which describes the options).

    Uses the camera image and target box of each frame, never its ground truth -- unless
    ``calibration_labels`` = N > 0 (the one-off offset calibration on N labelled frames,
    recorded as ``labels_used`` in the output's attrs).
    """
    from radarsp.io import save

    objective, config, _ = load_run(run_dir, device=device)
    estimates = selflabel_estimates(objective, config, data_path, method=method,
                                    smoothing=smoothing, peak=peak, angle=angle,
                                    calibration_labels=calibration_labels, progress=progress,
                                    run=run_dir)
    return save(estimates, output, schema="estimates-1", force=force)


def predict_estimates(objective, config: TrainConfig, meta: dict, data_path, *,
                      method: str | None = None, progress: bool = False, run=None):
    """Radio-only estimates of every frame of ``data_path`` by a localiser run's objective.

    ``method`` (the table's ``method`` attr) defaults to ``"supervised"`` for the supervised
    baseline and otherwise to ``"<source>-localiser"``, ``<source>`` from the run's labels
    (``"mcl-selflabel"`` labels make an ``"mcl-localiser"``, ``"cl-selflabel"`` a
    ``"cl-localiser"``, ...). ``labels_used`` is the run's (``meta``, its ``config.json``);
    ``run``, the run directory, is named in refusals and recorded as the ``run`` attr.
    """
    from radarsp_learn.localiser import predict

    if not hasattr(objective, "localiser"):
        where = f"{os.fspath(run)}: " if run is not None else ""
        raise ValueError(f"{where}a {config.objective!r} run has no localiser; train with "
                         "--objective localiser or supervised")
    if method is None:
        source = meta.get("labels_method") or "mcl-selflabel"
        method = ("supervised" if config.objective == "supervised"
                  else f"{source.removesuffix('-selflabel')}-localiser")
    data = _frames_for(config, data_path, with_camera=False)
    return predict(objective.localiser, data, method=method, progress=progress,
                   attrs={**({} if run is None else {"run": os.fspath(run)}),
                          "labels_used": meta["labels_used"]})


def run_predict(run_dir, data_path, output, *, force: bool = False, progress: bool = True,
                device: str = "cpu") -> Path:
    """Radio-only estimates of every frame of ``data_path`` by the localiser run ``run_dir``
    (:func:`predict_estimates`); writes estimates-1."""
    from radarsp.io import save

    objective, config, meta = load_run(run_dir, device=device)
    estimates = predict_estimates(objective, config, meta, data_path, progress=progress,
                                  run=run_dir)
    return save(estimates, output, schema="estimates-1", force=force)


def parse_settings(settings) -> dict:
    """``["feature_dim=32", "grid_shape=32,32"]`` -> typed :class:`TrainConfig` fields.

    Values take the type of the field's default: int, float, bool (``true``/``false``),
    str, or a tuple of ints for comma-separated values.

    Examples
    --------
    >>> parse_settings(["feature_dim=32", "grid_shape=32,32", "augment=false"])
    {'feature_dim': 32, 'grid_shape': (32, 32), 'augment': False}
    """
    defaults = TrainConfig()
    out = {}
    for item in settings:
        name, sep, text = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in {f.name for f in dataclasses.fields(TrainConfig)}:
            raise ValueError(f"expected NAME=VALUE with NAME a TrainConfig field, got {item!r}")
        default = getattr(defaults, name)
        try:
            if isinstance(default, bool):
                if text.lower() not in ("true", "false", "1", "0"):
                    raise ValueError(text)
                value = text.lower() in ("true", "1")
            elif isinstance(default, tuple):
                value = tuple(int(v) for v in text.split(","))
            elif default is None:
                value = text
            else:
                value = type(default)(text)
        except ValueError:
            raise ValueError(f"{name}: cannot read {text!r} as {type(default).__name__}") from None
        out[name] = value
    return out
