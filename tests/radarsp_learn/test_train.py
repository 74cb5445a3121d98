"""Training runs: resume equals an uninterrupted run; run directory contents; refusals."""

import json

import numpy as np
import pytest
import torch

from radarsp_learn.train import TrainConfig, load_run, run_predict, run_selflabel, train

SMALL = dict(grid_shape=(32, 32), image_shape=(32, 32), radio_widths=(8, 16),
             vision_widths=(8, 16), feature_dim=8, projector_hidden=32, embed_dim=16,
             batch_size=16, val_fraction=0.25, patience=10)


@pytest.mark.parametrize("objective,extra", [("mcl", {"queue_size": 24, "momentum": 0.9}),
                                             ("supervised", {})])
def test_resume_equals_uninterrupted(scenes_file, tmp_path, objective, extra):
    config = TrainConfig(objective=objective, epochs=3, **SMALL, **extra)
    train(config, scenes_file, tmp_path / "whole", progress=False)
    train(TrainConfig(objective=objective, epochs=1, **SMALL, **extra), scenes_file,
          tmp_path / "split", progress=False)
    train(TrainConfig(epochs=3), scenes_file, tmp_path / "split", resume=True, progress=False)
    whole = torch.load(tmp_path / "whole" / "last.pt", weights_only=True)
    split = torch.load(tmp_path / "split" / "last.pt", weights_only=True)
    for name, tensor in whole["objective"].items():
        assert torch.equal(tensor, split["objective"][name]), name
    logs = [(tmp_path / run / "metrics.jsonl").read_text().splitlines()
            for run in ("whole", "split")]
    strip = [[{k: v for k, v in json.loads(line).items() if "seconds" not in k
               and "per_s" not in k} for line in log] for log in logs]
    assert strip[0] == strip[1] and len(strip[0]) == 3


def test_run_directory_records_config_and_refuses_to_clobber(scenes_file, tmp_path):
    run = tmp_path / "run"
    summary = train(TrainConfig(objective="mcl", epochs=1, **SMALL), scenes_file, run,
                    progress=False)
    meta = json.loads((run / "config.json").read_text())
    assert meta["config"]["objective"] == "mcl" and meta["labels_used"] == 0
    assert meta["versions"]["torch"] == torch.__version__ and "radarsp" in meta["versions"]
    assert {p.name for p in run.iterdir()} >= {"config.json", "last.pt", "best.pt",
                                               "metrics.jsonl"}
    assert summary["labels_used"] == 0
    with pytest.raises(FileExistsError):
        train(TrainConfig(objective="mcl", epochs=1, **SMALL), scenes_file, run, progress=False)
    objective, config, _ = load_run(run)
    assert config.feature_dim == 8 and not objective.training


def test_early_stopping_stops_after_patience(scenes_file, tmp_path):
    config = TrainConfig(objective="supervised", epochs=50, lr=0.5, **{**SMALL, "patience": 1})
    summary = train(config, scenes_file, tmp_path / "run", progress=False)
    assert summary["epochs_run"] < 50
    assert summary["labels_used"] == 96


def test_pipeline_selflabel_localiser_predict(scenes_file, tmp_path):
    from radarsp.io import open_estimates

    train(TrainConfig(objective="mcl", epochs=1, **SMALL), scenes_file, tmp_path / "mcl",
          progress=False)
    run_selflabel(tmp_path / "mcl", scenes_file, tmp_path / "sl.nc", progress=False)
    labels = open_estimates(tmp_path / "sl.nc")
    assert labels.attrs["labels_used"] == 0 and labels.sizes["frame"] == 96
    train(TrainConfig(objective="localiser", labels=str(tmp_path / "sl.nc"), epochs=1,
                      **SMALL), scenes_file, tmp_path / "loc", progress=False)
    run_predict(tmp_path / "loc", scenes_file, tmp_path / "est.nc", progress=False)
    estimates = open_estimates(tmp_path / "est.nc")
    assert estimates.attrs["method"] == "mcl-localiser" and estimates.sizes["frame"] == 96
    run_selflabel(tmp_path / "mcl", scenes_file, tmp_path / "calibrated.nc",
                  calibration_labels=10, progress=False)
    calibrated = open_estimates(tmp_path / "calibrated.nc")
    assert calibrated.attrs["labels_used"] == 10  # labels are counted and carried on
    train(TrainConfig(objective="localiser", labels=str(tmp_path / "calibrated.nc"), epochs=1,
                      **SMALL), scenes_file, tmp_path / "loc2", progress=False)
    assert json.loads((tmp_path / "loc2" / "config.json").read_text())["labels_used"] == 10
    with pytest.raises(ValueError, match="cannot self-label"):
        run_selflabel(tmp_path / "loc", scenes_file, tmp_path / "x.nc", progress=False)


class _Interrupted(Exception):
    pass


def _interrupt_after(monkeypatch, epochs: int):
    """Make training raise once ``epochs`` epochs are checkpointed (a run killed mid-way)."""
    import radarsp_learn.train as train_module

    run_epoch, calls = train_module.run_epoch, []

    def interrupting(*args, optimizer=None, **kwargs):
        if optimizer is not None:
            calls.append(1)
            if len(calls) > epochs:
                raise _Interrupted
        return run_epoch(*args, optimizer=optimizer, **kwargs)

    monkeypatch.setattr(train_module, "run_epoch", interrupting)


def _truth_labels(data_path, out, frames=None):
    """An estimates-1 'self-label' file holding the truth of ``frames`` (all by default)."""
    from radarsp.io import open_heatmap, save
    from radarsp_learn.data import estimates_dataset

    ds = open_heatmap(data_path)
    frames = slice(None) if frames is None else frames
    save(estimates_dataset(ds["frame"].values[frames], ds["target_range"].values[frames],
                           ds["target_angle"].values[frames], method="mcl-selflabel",
                           labels_used=0, camera_geometry="none"),
         out, schema="estimates-1")
    return out


def test_resume_runs_the_saved_epochs_unless_more_are_asked_for(scenes_file, tmp_path,
                                                                monkeypatch):
    run = tmp_path / "run"
    with monkeypatch.context() as patch:
        _interrupt_after(patch, 1)
        with pytest.raises(_Interrupted):
            train(TrainConfig(objective="supervised", epochs=3, **SMALL), scenes_file, run,
                  progress=False)
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 1
    # a default config (mcl: 12 epochs) or None continues to the run's own 3 epochs
    assert TrainConfig().epochs == 12 and "epochs" in TrainConfig().defaulted
    summary = train(TrainConfig(), scenes_file, run, resume=True, progress=False)
    assert summary["epochs_run"] == 3
    assert train(None, scenes_file, run, resume=True, progress=False)["epochs_run"] == 3
    # an explicit larger epochs extends the run, and a later resume keeps the extension
    summary = train(TrainConfig(epochs=4), scenes_file, run, resume=True, progress=False)
    assert summary["epochs_run"] == 4
    assert json.loads((run / "config.json").read_text())["config"]["epochs"] == 4
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 4


def test_metrics_truncated_by_rank_zero_only_and_partial_lines_dropped(scenes_file, tmp_path,
                                                                      monkeypatch):
    import radarsp_learn.train as train_module

    run = tmp_path / "run"
    train(TrainConfig(objective="supervised", epochs=2, **SMALL), scenes_file, run,
          progress=False)
    log = run / "metrics.jsonl"
    lines = log.read_text().splitlines()
    damaged = "\n".join([*lines, json.dumps({"epoch": 3}), '{"epoch": 4, "train_lo']) + "\n"
    log.write_text(damaged)
    with monkeypatch.context() as patch:  # another DDP rank: must not touch the log
        patch.setattr(train_module, "_rank_world", lambda: (1, 2))
        patch.setattr(torch.nn.parallel, "DistributedDataParallel", lambda module, **_: module)
        train(None, scenes_file, run, resume=True, progress=False)
    assert log.read_text() == damaged
    train(None, scenes_file, run, resume=True, progress=False)
    assert log.read_text().splitlines() == lines


def test_labels_saved_absolute_so_resume_works_from_another_directory(scenes_file, tmp_path,
                                                                      monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    _truth_labels(scenes_file, work / "labels.nc")
    monkeypatch.chdir(work)
    with monkeypatch.context() as patch:
        _interrupt_after(patch, 1)
        with pytest.raises(_Interrupted):
            train(TrainConfig(objective="localiser", labels="labels.nc", epochs=2, **SMALL),
                  scenes_file, tmp_path / "run", progress=False)
    meta = json.loads((tmp_path / "run" / "config.json").read_text())
    assert meta["config"]["labels"] == str(work / "labels.nc")
    monkeypatch.chdir(tmp_path)
    assert train(None, scenes_file, tmp_path / "run", resume=True,
                 progress=False)["epochs_run"] == 2


def test_labels_missing_on_a_split_are_refused_naming_the_file(scenes_file, tmp_path):
    from radarsp.io import open_heatmap
    from radarsp_learn.data import frame_sequences, split_by_sequence
    from radarsp_learn.train import prepare_data

    _, val = split_by_sequence(frame_sequences(open_heatmap(scenes_file)),
                               val_fraction=SMALL["val_fraction"], seed=0)
    for name, frames, split in (("none.nc", [], "training"), ("train-only.nc", np.setdiff1d(
            np.arange(96), val), "validation")):
        labels = _truth_labels(scenes_file, tmp_path / name, frames)
        config = TrainConfig(objective="localiser", labels=str(labels), **SMALL)
        with pytest.raises(ValueError, match=f"{labels}: no finite label .* {split} split"):
            prepare_data(config, scenes_file, needs_camera=False, needs_labels=True)


def test_cl_selflabels_and_their_localiser_are_named_cl(scenes_file, tmp_path):
    from radarsp.io import open_estimates, open_heatmap
    from radarsp_learn.data import estimate_cells, truth_cells
    from radarsp_learn.grid import Grid
    from radarsp_learn.selflabel import calibration_offset

    train(TrainConfig(objective="cl", epochs=1, **SMALL), scenes_file, tmp_path / "cl",
          progress=False)
    run_selflabel(tmp_path / "cl", scenes_file, tmp_path / "sl.nc", progress=False)
    labels = open_estimates(tmp_path / "sl.nc")
    assert labels.attrs["method"] == "cl-selflabel" and labels.attrs["labels_used"] == 0
    from radarsp_learn.reproduce import self_label_estimates  # the study's path: same labels

    study_labels = self_label_estimates(*load_run(tmp_path / "cl")[:2], scenes_file)
    assert study_labels.attrs["method"] == "cl-selflabel"
    np.testing.assert_allclose(study_labels["range"], labels["range"], rtol=1e-6)
    train(TrainConfig(objective="localiser", labels=str(tmp_path / "sl.nc"), epochs=1,
                      **SMALL), scenes_file, tmp_path / "loc", progress=False)
    run_predict(tmp_path / "loc", scenes_file, tmp_path / "est.nc", progress=False)
    assert open_estimates(tmp_path / "est.nc").attrs["method"] == "cl-localiser"
    # the calibration offset is fitted on the self-labels of the chosen frames, applied to all
    run_selflabel(tmp_path / "cl", scenes_file, tmp_path / "cal.nc", calibration_labels=10,
                  progress=False)
    calibrated = open_estimates(tmp_path / "cal.nc")
    ds = open_heatmap(scenes_file)
    grid = Grid.from_dataset(ds, SMALL["grid_shape"])
    cells = estimate_cells(labels, ds, grid)
    chosen = np.random.default_rng(0).permutation(96)[:10]
    expected = calibration_offset(cells[chosen], truth_cells(ds, grid)[chosen])
    np.testing.assert_allclose(calibrated.attrs["calibration_offset_cells"], expected,
                               atol=1e-3)
    np.testing.assert_allclose(estimate_cells(calibrated, ds, grid), cells + expected,
                               atol=1e-3)
