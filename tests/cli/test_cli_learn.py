"""`radarsp-learn`: the train -> selflabel -> localiser -> predict flow, refusals, bad inputs."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from cli.learn import main

ROOT = Path(__file__).resolve().parents[2]
SIZES = ("grid_shape=32,32", "image_shape=32,32", "radio_widths=8,16", "vision_widths=8,16",
         "feature_dim=8", "projector_hidden=32", "embed_dim=16", "localiser_width=8")
SMALL = ["--epochs", "1", "--batch-size", "16", "--val-fraction", "0.25",
         *[arg for size in SIZES for arg in ("--set", size)]]


@pytest.fixture(autouse=True)
def one_thread():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def scenes_file(tmp_path_factory):
    sys.path.insert(0, str(ROOT / "tests" / "radarsp_learn"))
    from learn_scenes import make_scenes

    from radarsp.io import save

    path = tmp_path_factory.mktemp("cli") / "heatmap.nc"
    save(make_scenes(48), path, schema="heatmap-1")
    return str(path)


def invoke(*args):
    return CliRunner().invoke(main, ["-q", *map(str, args)], catch_exceptions=False)


def test_full_flow(scenes_file, tmp_path):
    result = invoke("train", "--objective", "mcl", *SMALL, scenes_file, "-o", tmp_path / "mcl")
    assert result.exit_code == 0, result.output
    assert "0 ground-truth labels used" in result.output
    result = invoke("selflabel", tmp_path / "mcl", scenes_file, "-o", tmp_path / "sl.nc")
    assert result.exit_code == 0, result.output
    # it says where the labels lie (read back from the file it wrote)
    with xr.open_dataset(tmp_path / "sl.nc") as labels:
        low, high = np.percentile(labels["range"], [5, 95])
    assert f"labels in range {low:.1f}-{high:.1f} m" in result.output
    result = invoke("train", "--objective", "localiser", "--labels", tmp_path / "sl.nc", *SMALL,
                    scenes_file, "-o", tmp_path / "loc")
    assert result.exit_code == 0, result.output
    result = invoke("predict", tmp_path / "loc", scenes_file, "-o", tmp_path / "est.nc")
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "loc" / "config.json").read_text())
    assert meta["config"]["labels"] == str(tmp_path / "sl.nc")

    # refusals: existing outputs without --force, exit 1 and one line
    for args in (("selflabel", tmp_path / "mcl", scenes_file, "-o", tmp_path / "sl.nc"),
                 ("predict", tmp_path / "loc", scenes_file, "-o", tmp_path / "est.nc"),
                 ("train", *SMALL, scenes_file, "-o", tmp_path / "mcl")):
        result = CliRunner().invoke(main, ["-q", *map(str, args)])
        assert result.exit_code == 1 and "--force" in result.output
        assert len(result.output.strip().splitlines()) == 1
    result = invoke("selflabel", tmp_path / "mcl", scenes_file, "-o", tmp_path / "sl.nc",
                    "--force")
    assert result.exit_code == 0
    # --peak: the default climbs the heatmap; "attribution" keeps the attention map's peak
    result = invoke("selflabel", tmp_path / "mcl", scenes_file, "-o", tmp_path / "sl-a.nc",
                    "--peak", "attribution")
    assert result.exit_code == 0, result.output
    with xr.open_dataset(tmp_path / "sl.nc") as climbed, \
            xr.open_dataset(tmp_path / "sl-a.nc") as attention:
        assert (climbed.attrs["selflabel_peak"], attention.attrs["selflabel_peak"]) == (
            "heatmap", "attribution")
        assert not (np.allclose(climbed["range"], attention["range"])
                    and np.allclose(climbed["angle"], attention["angle"]))
    # --angle camera: needs the pinhole model in the image attrs, which this world lacks
    result = CliRunner().invoke(main, ["-q", "selflabel", str(tmp_path / "mcl"), scenes_file,
                                       "-o", str(tmp_path / "sl-c.nc"), "--angle", "camera"])
    assert result.exit_code == 1 and not (tmp_path / "sl-c.nc").exists()
    assert scenes_file in result.output and "'image'" in result.output
    assert "focal_length_px" in result.output and len(result.output.strip().splitlines()) == 1
    # ... which the simulator writes: the same range, the camera box's azimuth
    from radarsp.heatmap import heatmap_dataset
    from radarsp.io import save
    from radarsp.simulate import simulate

    lot = tmp_path / "lot.nc"
    save(heatmap_dataset(simulate("parking-lot", frames=30, seed=3)), lot)
    for angle in ("attention", "camera"):
        result = invoke("selflabel", tmp_path / "mcl", lot, "-o", tmp_path / f"lot-{angle}.nc",
                        "--angle", angle)
        assert result.exit_code == 0, result.output
    with xr.open_dataset(tmp_path / "lot-attention.nc") as attention, \
            xr.open_dataset(tmp_path / "lot-camera.nc") as camera, xr.open_dataset(lot) as truth:
        assert camera.attrs["selflabel_angle"] == "camera"
        np.testing.assert_allclose(camera["range"], attention["range"])
        assert np.abs(camera["angle"] - truth["target_angle"]).max() < 0.05
    # --track [--prior car]: each sequence's constant-velocity track, the car's centre
    # behind it; own method names, label-free, no camera geometry
    result = invoke("selflabel", tmp_path / "mcl", lot, "-o", tmp_path / "lot-car.nc",
                    "--track", "--prior", "car")
    assert result.exit_code == 0, result.output
    with xr.open_dataset(tmp_path / "lot-car.nc") as car, xr.open_dataset(lot) as truth:
        assert (car.attrs["method"], car.attrs["labels_used"], car.attrs["camera_geometry"],
                car.attrs["selflabel_prior"]) == ("mcl-track-car-selflabel", 0, "none", "car")
        for sequence in np.unique(truth["sequence"]):
            rows = truth["sequence"].values == sequence
            for column in ("x", "y"):  # on one line: constant velocity, no jumps
                steps = np.diff(car[column].values[rows])
                np.testing.assert_allclose(steps, steps[0], atol=0.05)
    result = invoke("selflabel", tmp_path / "mcl", lot, "-o", tmp_path / "lot-face.nc",
                    "--track", "--prior", "car-face")
    with xr.open_dataset(tmp_path / "lot-face.nc") as face, \
            xr.open_dataset(tmp_path / "lot-car.nc") as car:
        assert face.attrs["method"] == "mcl-track-car-face-selflabel"
        assert not np.allclose(face["x"], car["x"])  # another reading of the same returns
    result = invoke("train", "--objective", "localiser", "--labels", tmp_path / "lot-car.nc",
                    *SMALL, lot, "-o", tmp_path / "loc-car")
    assert result.exit_code == 0, result.output
    result = invoke("predict", tmp_path / "loc-car", lot, "-o", tmp_path / "lot-loc.nc")
    with xr.open_dataset(tmp_path / "lot-loc.nc") as estimates:
        assert estimates.attrs["method"] == "mcl-track-car-localiser"
    # a prior needs the track; tracks need the sequence and time coordinates (one line)
    result = CliRunner().invoke(main, ["-q", "selflabel", str(tmp_path / "mcl"), str(lot),
                                       "-o", str(tmp_path / "p.nc"), "--prior", "car"])
    assert result.exit_code == 2 and "--track" in result.output
    result = CliRunner().invoke(main, ["-q", "selflabel", str(tmp_path / "mcl"), scenes_file,
                                       "-o", str(tmp_path / "t.nc"), "--track"])
    assert result.exit_code == 1 and not (tmp_path / "t.nc").exists()
    assert scenes_file in result.output and "'time'" in result.output
    assert len(result.output.strip().splitlines()) == 1
    result = invoke("train", "--epochs", "2", "--resume", scenes_file, "-o", tmp_path / "mcl")
    assert result.exit_code == 0, result.output
    assert len((tmp_path / "mcl" / "metrics.jsonl").read_text().splitlines()) == 2


def test_bad_inputs(scenes_file, tmp_path):
    not_heatmap = tmp_path / "table.nc"
    xr.Dataset({"range": ("frame", [1.0])}, attrs={"radarsp_schema": "estimates-1"}).to_netcdf(
        not_heatmap)
    result = CliRunner().invoke(main, ["train", str(not_heatmap), "-o", str(tmp_path / "r")])
    assert result.exit_code == 1
    assert str(not_heatmap) in result.output and len(result.output.strip().splitlines()) == 1

    result = CliRunner().invoke(main, ["train", "--objective", "localiser", scenes_file,
                                       "-o", str(tmp_path / "r")])
    assert result.exit_code == 2 and "--labels" in result.output
    result = CliRunner().invoke(main, ["train", "--objective", "nope", scenes_file,
                                       "-o", str(tmp_path / "r")])
    assert result.exit_code == 2 and "--objective" in result.output
    result = CliRunner().invoke(main, ["train", "--set", "feature_dim=big", scenes_file,
                                       "-o", str(tmp_path / "r")])
    assert result.exit_code == 2 and "feature_dim" in result.output
    result = CliRunner().invoke(main, ["predict", str(tmp_path), scenes_file,
                                       "-o", str(tmp_path / "e.nc")])
    assert result.exit_code == 1 and "config.json" in result.output


def test_subprocess_help_and_missing_torch(scenes_file, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    exe = [sys.executable, "-c", "import sys; from cli.learn import main; sys.exit(main())"]
    done = subprocess.run([*exe, "--help"], capture_output=True, text=True, env=env)
    assert done.returncode == 0 and "selflabel" in done.stdout
    light = [sys.executable, "-c", "import sys, cli.learn; print('torch' in sys.modules)"]
    done = subprocess.run(light, capture_output=True, text=True, env=env)
    assert done.stdout.strip() == "False"  # --help never pays for importing torch
    blocked = [sys.executable, "-c",
               "import sys; sys.modules['torch'] = None; from cli.learn import main; main()"]
    done = subprocess.run([*blocked, "train", scenes_file, "-o", str(tmp_path / "r")],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 1
    assert "pip install 'radarsp[learn]'" in done.stderr
    done = subprocess.run([*exe, "-q", "train", *SMALL, "--objective", "supervised",
                           scenes_file, "-o", str(tmp_path / "sup")],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert "ground-truth labels used" in done.stdout
    assert json.loads((tmp_path / "sup" / "config.json").read_text())["labels_used"] == 48


class _Interrupted(Exception):
    pass


def test_resume_without_epochs_runs_the_saved_epochs(scenes_file, tmp_path, monkeypatch):
    """A localiser run killed after epoch 1 of 3, resumed without --epochs (and from another
    working directory, its labels given relative), ends like the uninterrupted run."""
    import torch

    import radarsp_learn.train as train_module

    invoke("train", "--objective", "mcl", *SMALL, scenes_file, "-o", tmp_path / "mcl")
    invoke("selflabel", tmp_path / "mcl", scenes_file, "-o", tmp_path / "sl.nc")
    args = ["--objective", "localiser", "--labels", "sl.nc", *SMALL, "--epochs", "3",
            "--set", "patience=5", scenes_file]
    monkeypatch.chdir(tmp_path)
    assert invoke("train", *args, "-o", tmp_path / "whole").exit_code == 0

    run_epoch, calls = train_module.run_epoch, []

    def interrupting(*a, optimizer=None, **kw):
        if optimizer is not None:
            calls.append(1)
            if len(calls) > 1:
                raise _Interrupted
        return run_epoch(*a, optimizer=optimizer, **kw)

    with monkeypatch.context() as patch:
        patch.setattr(train_module, "run_epoch", interrupting)
        result = CliRunner().invoke(main, ["-q", "train", *map(str, args), "-o",
                                           str(tmp_path / "split")])
    assert isinstance(result.exception, _Interrupted)
    assert len((tmp_path / "split" / "metrics.jsonl").read_text().splitlines()) == 1
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = invoke("train", "--resume", scenes_file, "-o", tmp_path / "split")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"{tmp_path / 'split'}: 3 epochs")  # not mcl's 12
    whole = torch.load(tmp_path / "whole" / "last.pt", weights_only=True)
    split = torch.load(tmp_path / "split" / "last.pt", weights_only=True)
    for name, tensor in whole["objective"].items():
        assert torch.equal(tensor, split["objective"][name]), name


def test_cuda_refused_when_unavailable(scenes_file, tmp_path):
    import torch

    from cli.learn_reproduce import command as reproduce

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    for cli, args in ((main, ["train", scenes_file, "-o", str(tmp_path / "r")]),
                      (main, ["predict", str(tmp_path), scenes_file, "-o", "e.nc"]),
                      (main, ["selflabel", str(tmp_path), scenes_file, "-o", "s.nc"]),
                      (main, ["reproduce", "-o", str(tmp_path / "study")]),
                      (reproduce, ["-o", str(tmp_path / "study")])):
        result = CliRunner().invoke(cli, [*args, "--device", "cuda"])
        assert result.exit_code == 2, result.output
        assert "--device" in result.output and "cuda is not available" in result.output
        assert "Traceback" not in result.output and not (tmp_path / "r").exists()
        assert not (tmp_path / "study").exists()


def test_teacher_student_and_camera_ground_from_the_command_line(tmp_path):
    """The RODNet-style teacher -> student chain and the camera-only baseline, end to end,
    each written under its own name with what it used (labels 0, the pinhole camera)."""
    from cli.main import main as radarsp_main
    from radarsp.heatmap import heatmap_dataset
    from radarsp.io import save
    from radarsp.simulate import simulate

    lot = tmp_path / "lot.nc"
    save(heatmap_dataset(simulate("parking-lot", frames=45, seed=4, image_size=(32, 32))), lot)
    assert invoke("teacher", lot, "-o", tmp_path / "teacher.nc").exit_code == 0
    result = invoke("train", "--objective", "localiser", "--labels", tmp_path / "teacher.nc",
                    *SMALL, lot, "-o", tmp_path / "student")
    assert result.exit_code == 0, result.output
    assert invoke("predict", tmp_path / "student", lot, "-o", tmp_path / "s.nc").exit_code == 0
    assert invoke("camera-ground", lot, "-o", tmp_path / "g.nc").exit_code == 0
    pinhole = "pinhole intrinsics + pose"
    with xr.open_dataset(tmp_path / "teacher.nc") as teacher, \
            xr.open_dataset(tmp_path / "s.nc") as student, \
            xr.open_dataset(tmp_path / "g.nc") as ground, xr.open_dataset(lot) as truth:
        for table, method in ((teacher, "rodnet-teacher"), (student, "rodnet-student"),
                              (ground, "camera-ground")):
            assert (table.attrs["method"], table.attrs["labels_used"], table.attrs["genie"],
                    table.attrs["camera_geometry"]) == (method, 0, 0, pinhole)
        # the teacher's clusters sit on the target: a few m, not the scene's tens of m
        error = np.hypot(teacher["x"] - truth["target_x"], teacher["y"] - truth["target_y"])
        assert np.nanmedian(error) < 3.0
        # the box's bottom edge is the car's near side on the ground: the target's bearing,
        # a shorter range than its centre
        assert np.nanmedian(np.abs(ground["angle"] - truth["target_angle"])) < 0.05
        assert np.nanmean(ground["range"] < truth["target_range"]) > 0.9
    result = CliRunner().invoke(radarsp_main, [
        "evaluate", str(tmp_path / "teacher.nc"), str(tmp_path / "s.nc"), str(tmp_path / "g.nc"),
        "--truth", str(lot), "--n-boot", "0"])
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split() for line in result.output.splitlines()[1:]}
    assert set(rows) == {"rodnet-teacher", "rodnet-student", "camera-ground"}
    assert all(row[1:5] == ["0", "pinhole", "intrinsics", "+"] for row in rows.values())


def test_collapsed_self_labels_are_flagged(scenes_file, tmp_path):
    """Labels at one point (an attention map peaking at a fixed cell) get a warning line;
    labels spread over the scene do not."""
    from cli.learn import _echo_span
    from radarsp.io import open_heatmap, save
    from radarsp_learn.data import estimates_dataset

    with open_heatmap(scenes_file) as heatmap:
        frames = heatmap["frame"].values
        top, right = float(heatmap["range"].max()), float(heatmap["angle"].max())
    n = len(frames)
    runner = CliRunner()
    for name, ranges, angles, flagged in (
            ("one.nc", np.full(n, top - 1.0), np.full(n, right - 0.05), True),
            ("spread.nc", np.linspace(2.0, top - 1.0, n), np.full(n, 0.0), False)):
        path = tmp_path / name
        save(estimates_dataset(frames, ranges, angles, method="scl-selflabel", labels_used=0,
                               camera_geometry="none"), path, schema="estimates-1")
        result = runner.invoke(click_command(_echo_span), [str(path), scenes_file])
        assert result.exit_code == 0, result.output
        assert ("Warning:" in result.stderr) is flagged, result.stderr
        assert f"wrote {path}: labels in range" in result.stdout


def click_command(function):
    """``function(output, data)`` as a two-argument click command (to read its echo)."""
    import click

    @click.command()
    @click.argument("output")
    @click.argument("data")
    def command(output, data):
        function(output, data)

    return command
