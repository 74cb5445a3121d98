"""Training runs: configuration, the epoch loop, checkpoints, resume and the metrics log.

A run directory holds

* ``config.json`` -- the full :class:`TrainConfig`, the data file, fingerprints of the data
  and labels files (:func:`radarsp_learn.rundir.fingerprint`: ``--resume`` refuses files
  that changed), the package and torch versions and how many ground-truth labels the run
  used;
* ``last.pt`` -- written atomically after every epoch: model (including momentum encoders and
  queues), optimiser, RNG states, early-stopping state; ``--resume`` continues from it with
  the saved configuration (including its ``epochs``, unless a larger one is asked for
  explicitly) and reaches the same weights as an uninterrupted run with the same seed (batch
  order is a pure function of seed and epoch, :func:`radarsp_learn.data.batch_order`);
* ``best.pt`` -- the weights of the epoch with the lowest held-out loss (what
  ``selflabel``/``predict`` use);
* ``metrics.jsonl`` -- one strict-JSON object per epoch (losses, metrics, seconds,
  samples/s); a loss that turns NaN or infinite stops the run (:class:`TrainingDiverged`)
  before that epoch is logged or checkpointed;
* ``.lock`` -- held by the training process for the whole run, so a second writer and any
  reader (``selflabel``, ``predict``) is refused while it trains
  (:func:`radarsp_learn.rundir.locked`; the lock dies with its process, even on kill -9).

Every file is written atomically (a temporary file renamed over the old one), so a run killed
at any point leaves each file either old or new, never half-written. Checkpoints hold tensors
and plain values only and are loaded with ``weights_only=True``
(:func:`radarsp_learn.rundir.load_checkpoint`): a crafted one is refused, never executed.

Model selection is by held-out loss on frames split off by sequence: for MCL the contrastive
loss (label-free), for the localiser its loss on held-out self-labels (label-free), for the
supervised baseline its loss on held-out ground truth (counted in ``labels_used``).

Distributed data parallel: when ``torch.distributed`` is initialised (e.g. under
``torchrun``), every rank takes an equal shard of each epoch's permutation, gradients are
averaged by ``DistributedDataParallel``, contrastive keys are gathered across ranks, and only
rank 0 writes to the run directory.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from radarsp.errors import RadarspFileError
from radarsp.metrics import NO_CAMERA
from radarsp_learn.config import OBJECTIVE_DEFAULTS, ConfigError, TrainConfig, parse_settings
from radarsp_learn.data import (
    RadioVisualFrames,
    batch_order,
    check_power,
    estimate_cells,
    estimates_dataset,
    frame_sequences,
    open_heatmap,
    progress_bar,
    split_by_sequence,
    to_device,
    truth_cells,
)
from radarsp_learn.distributed import all_ranks_agree, resolve_device
from radarsp_learn.grid import Grid
from radarsp_learn.rundir import (
    CHECKPOINT_KEYS,
    RUN_FILES,
    RunBusyError,
    build_checked,
    check_fingerprint,
    fingerprint,
    load_checkpoint,
    load_run,
    load_state,
    locked,
    read_run,
    rng_state,
    save_checkpoint,
    set_rng_state,
    strict_json,
    write_text_atomic,
)

__all__ = ["OBJECTIVE_DEFAULTS", "ConfigError", "TrainConfig", "TrainingDiverged", "load_run",
           "parse_settings", "predict_estimates", "read_run", "resolve_device", "run_predict",
           "run_selflabel", "selflabel_estimates", "train", "write_text_atomic"]

class TrainingDiverged(ValueError):
    """The loss (or another metric) became NaN or infinite; the run stopped."""


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    try:
        package = version("radarsp")
    except PackageNotFoundError:
        package = "unknown"
    return {"radarsp": package, "torch": torch.__version__, "python": sys.version.split()[0]}


def _rank_world() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def seed_everything(seed: int) -> None:
    """Seed torch, numpy and python's RNGs."""
    import random

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


def _diverged(config: TrainConfig, epoch: int, what: str) -> TrainingDiverged:
    return TrainingDiverged(
        f"training diverged in epoch {epoch + 1} of {config.epochs}: {what} with lr "
        f"{config.lr:g}, batch size {config.batch_size} ({config.objective}); the run keeps "
        "the epochs before it -- start afresh with a lower --lr")


def run_epoch(model, data: RadioVisualFrames, *, config: TrainConfig, epoch: int,
              optimizer=None, device=None, progress: bool = False,
              desc: str = "") -> dict:
    """One pass over ``data``: training when ``optimizer`` is given, else evaluation.

    Returns the per-sample mean of every scalar the objective reports (keys as returned by its
    ``forward``). Batches that carry labels are weighted by their labelled frames (frames with
    a NaN label do not count), others by their size.

    Raises
    ------
    TrainingDiverged
        A batch's loss, or an epoch mean, is NaN or infinite -- on every rank at the same
        step (the check is agreed across ranks before the gradients are exchanged), and
        before the optimiser takes the step.
    """
    rank, world = _rank_world()
    device = device or torch.device("cpu")
    training = optimizer is not None
    split = "training" if training else "held-out"
    objective = getattr(model, "module", model)
    model.train(training)
    groups = data.sequences if config.batch_by_sequence else None
    batches = batch_order(len(data), config.batch_size, seed=config.seed, epoch=epoch,
                          shuffle=training, drop_last=True, rank=rank, world_size=world,
                          groups=groups)
    sums, count = {}, 0
    bar = progress_bar(batches, enabled=progress and rank == 0, desc=desc, leave=False)
    for positions in bar:
        batch = to_device(data.batch(positions), device)
        with torch.set_grad_enabled(training):
            out = model(batch)
        loss = float(out["loss"].detach())
        if not all_ranks_agree(math.isfinite(loss)):
            raise _diverged(config, epoch, f"the {split} loss became "
                            f"{loss if not math.isfinite(loss) else 'non-finite on another rank'}")
        if training:
            optimizer.zero_grad(set_to_none=True)
            out["loss"].backward()
            try:
                optimizer.step()
            except RuntimeError as err:  # the same on every rank: gradients are averaged
                if "overflow" not in str(err):
                    raise
                raise _diverged(config, epoch, "the optimiser step overflowed") from None
            objective.after_step()
        n = _weight(batch)
        for key, value in out.items():
            sums[key] = sums.get(key, 0.0) + float(value.detach()) * n
        count += n
        bar.set_postfix(loss=f"{loss:.3f}")
    metrics = _mean_metrics(sums, count)
    bad = sorted(key for key, value in metrics.items() if not math.isfinite(value))
    if bad:
        raise _diverged(config, epoch, f"the {split} {bad[0]} became {metrics[bad[0]]}")
    return metrics


def _weight(batch: dict) -> int:
    """Frames of ``batch`` that count towards its metrics: the labelled ones if it has labels."""
    if "label" in batch:
        return int(torch.isfinite(batch["label"]).all(dim=1).sum())
    return len(batch["heatmap"])


def _labels_for(config: TrainConfig, ds, grid: Grid) -> tuple[np.ndarray, int, str, str]:
    """Training targets as model-grid cells, how many of them are ground truth, the
    ``method`` that made them and the camera geometry it used (``camera_geometry``)."""
    if config.objective == "supervised":
        cells = truth_cells(ds, grid)
        return cells, int(np.isfinite(cells).all(axis=1).sum()), "ground truth", NO_CAMERA
    if config.labels is None:
        raise ValueError(f"objective {config.objective!r} needs --labels (a self-label file)")
    from radarsp.io import open_estimates

    estimates = open_estimates(config.labels)
    used = int(estimates.attrs.get("labels_used", 0))
    camera = str(estimates.attrs.get("camera_geometry", "unknown"))
    return (estimate_cells(estimates, ds, grid), used, str(estimates.attrs.get("method", "")),
            camera)


def prepare_data(config: TrainConfig, data_path, *, needs_camera: bool, needs_labels: bool):
    """Open ``data_path``, split by sequence and build train/validation frame sets.

    Returns ``(train, val, labels_used, labels_method, labels_camera_geometry)``.
    """
    ds = open_heatmap(data_path)
    if not config.cache:  # cached frames are checked as they are read, below
        check_power(ds)
    grid = Grid.from_dataset(ds, config.grid_shape)
    labels, labels_used, labels_method, labels_camera = None, 0, "", NO_CAMERA
    if needs_labels:
        labels, labels_used, labels_method, labels_camera = _labels_for(config, ds, grid)
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
    return train, val, labels_used, labels_method, labels_camera


def train(config: TrainConfig | None, data_path, run_dir, *, resume: bool = False,
          force: bool = False, progress: bool = True) -> dict:
    """Train ``config.objective`` on ``data_path``, writing the run directory ``run_dir``.

    Parameters
    ----------
    config : TrainConfig or None
        On ``resume`` the saved configuration is used and ``config`` only for its ``epochs``,
        and only if set explicitly (not in :attr:`TrainConfig.defaulted`): a larger value
        extends the run (and is saved), a smaller one is ignored. ``None`` (or ``epochs`` left
        at its default) continues to the saved run's ``epochs``.
    data_path : path-like or None
        heatmap-1 file (with ``image``/``target_box`` for contrastive objectives). On
        ``resume`` it may be None; otherwise it must be the run's own data file.
    run_dir : path-like
        Output directory, locked for the whole run (:func:`radarsp_learn.rundir.locked`). An
        existing run is refused unless ``resume`` or ``force``; a run that never finished an
        epoch (``config.json`` only, e.g. killed early) is started again either way.
    resume : bool
        Continue from ``run_dir/last.pt`` with the run's settings, after checking that its
        data (and labels) are the files it started on (:func:`radarsp_learn.rundir.fingerprint`).
    force : bool
        Start afresh in an existing run directory (its files are replaced).
    progress : bool
        A tqdm bar on a terminal and one summary line per epoch on stderr.

    Returns
    -------
    dict
        Summary: ``best_epoch``, ``best_loss``, ``epochs_run``, ``labels_used``, ``seconds``.

    Raises
    ------
    TrainingDiverged
        A non-finite loss (exit status 1 on the command line); ``metrics.jsonl`` and the
        checkpoints stay those of the last finished epoch.
    """
    run_dir = Path(run_dir)
    with _writing(run_dir), contextlib.ExitStack() as on_failure:
        return _train(config, data_path, run_dir, resume=resume, force=force,
                      progress=progress, on_failure=on_failure)


@contextlib.contextmanager
def _removed_unless_checkpointed(run_dir: Path):
    """The files of a fresh run are removed again if the block fails before the run's first
    checkpoint: a refused or diverged start leaves nothing behind."""
    try:
        yield
    except BaseException:
        if not (run_dir / "last.pt").exists():
            for name in RUN_FILES:
                (run_dir / name).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _writing(run_dir: Path):
    """Hold the run directory's lock (rank 0) for the block; every rank stops if it cannot."""
    rank, _ = _rank_world()
    with contextlib.ExitStack() as stack:
        refused = None
        if rank == 0:
            try:
                stack.enter_context(locked(run_dir, exclusive=True))
            except OSError as err:
                refused = err
        if not all_ranks_agree(refused is None):
            raise refused or RunBusyError(f"{run_dir}: rank 0 could not lock the run directory")
        yield


def _train(config, data_path, run_dir: Path, *, resume: bool, force: bool, progress: bool,
           on_failure: contextlib.ExitStack) -> dict:
    rank, world = _rank_world()
    last = run_dir / "last.pt"
    checkpoint = None
    if resume:
        meta, saved_config = read_run(run_dir)
        data_path = _resumed_inputs(meta, saved_config, data_path, run_dir)
        epochs = saved_config.epochs
        if config is not None and "epochs" not in config.defaulted:
            epochs = max(config.epochs, epochs)
        config = dataclasses.replace(saved_config, epochs=epochs)
        if last.exists():
            checkpoint = load_checkpoint(last, keys=CHECKPOINT_KEYS["last"],
                                         device=resolve_device(config.device))
            if epochs != saved_config.epochs and rank == 0:  # a later resume keeps it
                meta["config"] = config.to_dict()
                write_text_atomic(run_dir / "config.json", json.dumps(meta, indent=2) + "\n")
    else:
        if not force:
            _check_fresh(run_dir)
        if config.labels is not None:  # config.json must not depend on the working directory
            config = dataclasses.replace(config, labels=os.path.abspath(config.labels))

    device = resolve_device(config.device)
    seed_everything(config.seed)
    objective = build_checked(config).to(device)
    train_data, val_data, labels_used, labels_method, labels_camera = prepare_data(
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
    if checkpoint is not None:
        state = _restore(checkpoint, objective, optimizer, config, source=last)
    else:
        if rank == 0:
            for stale in RUN_FILES[1:]:
                (run_dir / stale).unlink(missing_ok=True)
            inputs = {"data": data_path, **({"labels": config.labels} if config.labels else {})}
            meta = {"config": config.to_dict(), "data": os.fspath(Path(data_path).resolve()),
                    "fingerprints": {role: fingerprint(path) for role, path in inputs.items()},
                    "versions": _versions(), "labels_used": labels_used,
                    "labels_method": labels_method, "labels_camera_geometry": labels_camera,
                    "train_frames": len(train_data), "val_frames": len(val_data),
                    "world_size": world}
            if not resume:  # a resumed run's own config.json is kept whatever happens
                on_failure.enter_context(_removed_unless_checkpointed(run_dir))
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
                save_checkpoint({"objective": objective.state_dict(), "epoch": epoch + 1},
                                run_dir / "best.pt")
            save_checkpoint({"objective": objective.state_dict(),
                             "optimizer": optimizer.state_dict(), "state": dict(state),
                             "rng": rng_state()}, last)
            log = run_dir / "metrics.jsonl"
            previous = log.read_text() if log.exists() else ""
            write_text_atomic(log, previous + json.dumps(record, allow_nan=False) + "\n")
            if progress:
                print(_epoch_line(config, record, improved), file=sys.stderr, flush=True)
    return {"best_epoch": state["best_epoch"], "best_loss": state["best_loss"],
            "epochs_run": state["epoch"], "labels_used": labels_used,
            "seconds": time.perf_counter() - started}


def _epoch_line(config: TrainConfig, record: dict, improved: bool) -> str:
    """The summary of an epoch on stderr (what a log gets instead of progress bars)."""
    held_out = record.get("val_loss", float("nan"))
    return (f"{config.objective} epoch {record['epoch']}/{config.epochs}: training loss "
            f"{record.get('train_loss', float('nan')):.4f}, held-out loss {held_out:.4f}"
            f"{' (best)' if improved else ''}, {record['train_samples_per_s']:g} frames/s, "
            f"{record['seconds']:.1f} s")


def _check_fresh(run_dir: Path) -> None:
    """Refuse to start afresh (without ``force``) where a run has made progress, or over a
    ``config.json`` that is not a run's. A run that never finished an epoch is restarted."""
    for name in RUN_FILES[1:]:
        if (run_dir / name).exists():
            raise FileExistsError(f"{run_dir}: run directory exists (it holds {name}); pass "
                                  "--resume to continue it or --force to start afresh")
    if (run_dir / "config.json").exists():
        try:
            read_run(run_dir)
        except RadarspFileError as err:
            raise FileExistsError(f"{run_dir / 'config.json'}: exists and is not a usable "
                                  f"radarsp-learn run configuration ({err.problem}); pass "
                                  "--force to replace it") from None


def _resumed_inputs(meta: dict, config: TrainConfig, data_path, run_dir: Path) -> str:
    """The run's data file, after checking it (and its labels file) are the files the run
    started on; a different ``data_path`` is refused unless it is the same file."""
    saved = meta["data"]
    if data_path is not None and os.path.exists(saved) \
            and not os.path.samefile(data_path, saved):
        raise ValueError(f"{data_path}: --resume continues run {run_dir} on its own data "
                         f"{saved}; a different file was given")
    fingerprints = meta.get("fingerprints")
    inputs = {"data": saved, **({"labels": config.labels} if config.labels else {})}
    for role, path in inputs.items():
        if not isinstance(fingerprints, dict) or not isinstance(fingerprints.get(role), dict):
            raise RadarspFileError(run_dir / "config.json", None, f"no fingerprint of the "
                                   f"run's {role} file (written by an older radarsp-learn); "
                                   "it cannot be resumed safely -- start afresh with --force")
        check_fingerprint(path, fingerprints[role], role=role, run=run_dir)
    return saved


def _restore(checkpoint: dict, objective, optimizer, config: TrainConfig, *, source) -> dict:
    """Load a ``last.pt`` into the objective, optimiser and RNGs; returns its loop state.
    The optimiser takes ``lr`` and ``weight_decay`` from ``config`` (``config.json``)."""
    load_state(objective, checkpoint["objective"], source)
    load_state(optimizer, checkpoint["optimizer"], source)
    for group in optimizer.param_groups:  # config.json holds the run's settings
        group.update(lr=config.lr, weight_decay=config.weight_decay)
    set_rng_state(checkpoint["rng"], source=source)
    state = checkpoint["state"]
    ints = ("epoch", "best_epoch", "bad_epochs")
    if not (isinstance(state, dict) and all(isinstance(state.get(k), int) for k in ints)
            and isinstance(state.get("best_loss"), float)):
        raise RadarspFileError(source, None, f"damaged training state {state!r:.80}")
    return dict(state)


def _truncate_metrics(path: Path, epochs: int) -> None:
    """Drop log lines of epochs after the checkpoint (a run killed between the two writes),
    and lines that are not a strict-JSON record with an ``epoch`` (e.g. a partly written last
    line, or a NaN an older version wrote)."""
    if not path.exists():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            record = strict_json(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("epoch"), int) \
                and record["epoch"] <= epochs:
            kept.append(line)
    write_text_atomic(path, "".join(line + "\n" for line in kept))


def _frames_for(config: TrainConfig, data_path, *, with_camera: bool) -> RadioVisualFrames:
    """All frames of ``data_path`` preprocessed as the run was trained (read lazily)."""
    return RadioVisualFrames(open_heatmap(data_path), grid_shape=config.grid_shape,
                             image_shape=config.image_shape, mask_padding=config.mask_padding,
                             dynamic_range_db=config.dynamic_range_db, with_camera=with_camera,
                             cache=False)


def selflabel_estimates(objective, config: TrainConfig, data_path, *,
                        method: str = "attribution", smoothing: int = 3, peak: str = "heatmap",
                        angle: str = "attention", calibration_labels: int = 0,
                        track: bool = False, prior: str | None = None,
                        progress: bool = False, run=None):
    """Self-labels of every frame of ``data_path`` by a trained contrastive ``objective``.

    MCL and CL use the attention maps of :mod:`radarsp_learn.selflabel` (``method``,
    ``smoothing``, ``peak``, ``angle``, and the temporal ``track`` with its optional box
    ``prior``); SCL the peak of its own similarity map
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
    if is_scl and (track or prior):
        raise ValueError(f"{where}track and prior apply to MCL and CL self-labels, not SCL's")
    if not is_scl and not hasattr(objective, "embed_radio"):
        raise ValueError(f"{where}a {config.objective!r} run cannot self-label; train with "
                         "--objective mcl")
    data = _frames_for(config, data_path, with_camera=True)
    if is_scl:
        from radarsp_learn.objectives.scl import self_label_cells as scl_cells

        cells = scl_cells(objective, data, progress=progress)
    else:
        cells = self_label_cells(objective, data, method=method, smoothing=smoothing,
                                 peak=peak, angle=angle, track=track, prior=prior,
                                 progress=progress)
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
                                 labels_used=used, camera_geometry=NO_CAMERA,
                                 attrs={"selflabel_method": "similarity",
                                        "calibration_offset_cells": list(map(float, offset)),
                                        **attrs})
    return self_labels(objective, data, method=method, smoothing=smoothing, peak=peak,
                       angle=angle, offset=offset, cells=cells, name=name, attrs=attrs,
                       track=track, prior=prior)


def run_selflabel(run_dir, data_path, output, *, method: str = "attribution",
                  smoothing: int = 3, peak: str = "heatmap", angle: str = "attention",
                  calibration_labels: int = 0, track: bool = False, prior: str | None = None,
                  force: bool = False, progress: bool = True, device: str = "cpu") -> Path:
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
                                    calibration_labels=calibration_labels, track=track,
                                    prior=prior, progress=progress, run=run_dir)
    return save(estimates, output, schema="estimates-1", force=force)


def predict_estimates(objective, config: TrainConfig, meta: dict, data_path, *,
                      method: str | None = None, progress: bool = False, run=None):
    """Radio-only estimates of every frame of ``data_path`` by a localiser run's objective.

    ``method`` (the table's ``method`` attr) defaults to ``"supervised"`` for the supervised
    baseline and otherwise to ``"<source>-localiser"``, ``<source>`` from the run's labels
    (``"mcl-selflabel"`` labels make an ``"mcl-localiser"``, ``"cl-selflabel"`` a
    ``"cl-localiser"``, ``"rodnet-teacher"`` labels a ``"rodnet-student"``, ...).
    ``labels_used`` and ``camera_geometry`` are the run's labels' (``meta``, its
    ``config.json``); ``run``, the run directory, is named in refusals and recorded as the
    ``run`` attr.
    """
    from radarsp_learn.localiser import predict

    if not hasattr(objective, "localiser"):
        where = f"{os.fspath(run)}: " if run is not None else ""
        raise ValueError(f"{where}a {config.objective!r} run has no localiser; train with "
                         "--objective localiser or supervised")
    if method is None:
        source = meta.get("labels_method") or "mcl-selflabel"
        method = ("supervised" if config.objective == "supervised"
                  else "rodnet-student" if source == "rodnet-teacher"
                  else f"{source.removesuffix('-selflabel')}-localiser")
    data = _frames_for(config, data_path, with_camera=False)
    # a localiser inherits what its training labels used; runs from before the attr was
    # recorded say "unknown" rather than a guess
    camera = meta.get("labels_camera_geometry", "unknown")
    return predict(objective.localiser, data, method=method, progress=progress,
                   labels_used=meta["labels_used"], camera_geometry=camera,
                   attrs={} if run is None else {"run": os.fspath(run)})


def run_predict(run_dir, data_path, output, *, force: bool = False, progress: bool = True,
                device: str = "cpu") -> Path:
    """Radio-only estimates of every frame of ``data_path`` by the localiser run ``run_dir``
    (:func:`predict_estimates`); writes estimates-1."""
    from radarsp.io import save

    objective, config, meta = load_run(run_dir, device=device)
    estimates = predict_estimates(objective, config, meta, data_path, progress=progress,
                                  run=run_dir)
    return save(estimates, output, schema="estimates-1", force=force)
