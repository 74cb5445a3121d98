"""Training runs: resume equals an uninterrupted run; run directory contents; refusals."""

import json

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
    whole = torch.load(tmp_path / "whole" / "last.pt", weights_only=False)
    split = torch.load(tmp_path / "split" / "last.pt", weights_only=False)
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
