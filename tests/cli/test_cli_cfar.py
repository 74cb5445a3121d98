"""`radarsp cfar`: through click's CliRunner and once as a real subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from cli.main import main
from radarsp.cfar import cfar, detections
from radarsp.io import open_detections, save

REPO = Path(__file__).parents[2]
TARGETS = ((0, 20, 5), (2, 33, 12))


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def heatmap_file(tmp_path_factory):
    rng = np.random.default_rng(3)
    power = rng.exponential(size=(3, 48, 24)).astype(np.float32)
    doppler = rng.exponential(size=(3, 48, 16)).astype(np.float32)
    for target in TARGETS:
        power[target] = 1e5
    doppler[1, 10, 0] = 1e5
    ds = xr.Dataset(
        {"power": (("frame", "range", "angle"), power),
         "doppler_power": (("frame", "range", "velocity"), doppler)},
        coords={"frame": np.arange(3), "range": 1.0 + 0.5 * np.arange(48),
                "angle": np.linspace(-1.0, 1.0, 24), "velocity": np.linspace(-8, 7, 16)},
    )
    path = tmp_path_factory.mktemp("cfar") / "heatmap.nc"
    save(ds, path, schema="heatmap-1")
    return path, ds


def test_cfar_writes_the_library_table(heatmap_file, tmp_path):
    path, ds = heatmap_file
    out = tmp_path / "det.nc"
    result = run("cfar", path, "-o", out, "--method", "os", "--guard", "1,1", "--train", "4,3",
                 "--pfa", "1e-6")
    assert result.exit_code == 0, result.output
    assert "2 detections in 3 frames" in result.stderr
    table = open_detections(out)
    expected = detections(cfar(ds["power"], method="os", guard=(1, 1), train=(4, 3), pfa=1e-6),
                          ds["power"])
    np.testing.assert_array_equal(table["frame"], [0, 2])
    for column in ("range", "angle", "x", "y", "power", "snr"):
        np.testing.assert_allclose(table[column], expected[column], rtol=1e-6)
    assert table.attrs["cfar_method"] == "os" and table.attrs["frame_count"] == 3


def test_cfar_refuses_to_overwrite_without_force(heatmap_file, tmp_path):
    path, _ = heatmap_file
    out = tmp_path / "det.nc"
    assert run("cfar", path, "-o", out).exit_code == 0
    again = run("cfar", path, "-o", out)
    assert again.exit_code == 1
    assert "--force" in again.stderr and len(again.stderr.strip().splitlines()) == 1
    assert run("cfar", path, "-o", out, "--force", "--method", "go").exit_code == 0
    assert open_detections(out).attrs["cfar_method"] == "go"


def test_cfar_doppler_uses_range_velocity(heatmap_file, tmp_path):
    path, _ = heatmap_file
    out = tmp_path / "det.nc"
    result = run("cfar", path, "-o", out, "--doppler", "--guard", "1", "--train", "3",
                 "--pfa", "1e-7")
    assert result.exit_code == 0, result.output
    table = open_detections(out)
    assert table.attrs["cfar_edge"] == "truncate,wrap"
    assert float(table["velocity"][0]) == pytest.approx(-8.0)
    assert np.isnan(table["x"]).all()


@pytest.mark.parametrize(
    "options,words",
    [
        (["--method", "os", "--rank", "5000"], "rank"),
        (["--train", "40,40"], "larger than the map"),
        (["--pfa", "1.5"], "pfa"),
        (["--guard", "a,b"], "guard"),
        (["--edge", "mirror"], "edge"),
        (["--method", "ca", "--rank", "3"], "rank"),
    ],
)
def test_cfar_bad_parameters_are_usage_errors(heatmap_file, tmp_path, options, words):
    path, _ = heatmap_file
    result = run("cfar", path, "-o", tmp_path / "det.nc", *options)
    assert result.exit_code == 2, result.output
    assert words in result.stderr
    assert not (tmp_path / "det.nc").exists()


def test_cfar_window_too_large_blames_guard_and_train(heatmap_file, tmp_path):
    path, _ = heatmap_file
    result = run("cfar", path, "-o", tmp_path / "det.nc", "--guard", "1,1", "--train", "40,2")
    assert result.exit_code == 2
    assert "Invalid value for --guard/--train" in result.stderr


def test_cfar_bad_input_files_exit_1_with_one_line(heatmap_file, tmp_path):
    junk = tmp_path / "junk.nc"
    junk.write_text("not netCDF")
    result = run("cfar", junk, "-o", tmp_path / "det.nc")
    assert result.exit_code == 1
    assert "junk.nc" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    path, ds = heatmap_file
    no_doppler = tmp_path / "plain.nc"
    save(ds.drop_vars(["doppler_power", "velocity"]), no_doppler, schema="heatmap-1")
    result = run("cfar", no_doppler, "-o", tmp_path / "det.nc", "--doppler")
    assert result.exit_code == 1
    assert "doppler_power" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    with_nan = tmp_path / "nan.nc"
    broken = ds.copy(deep=True)
    broken["power"][1, 2, 3] = np.nan
    save(broken, with_nan, schema="heatmap-1")
    result = run("cfar", with_nan, "-o", tmp_path / "det.nc")
    assert result.exit_code == 1
    assert "nan.nc: variable 'power'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_cfar_as_a_subprocess(heatmap_file, tmp_path):
    path, _ = heatmap_file
    out = tmp_path / "det.nc"
    command = [sys.executable, "-m", "cli.main", "cfar", str(path), "-o", str(out),
               "--method", "so", "--pfa", "1e-6", "--guard", "1,1", "--train", "3,3"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert open_detections(out).sizes["detection"] == 2
    refused = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    assert refused.returncode == 1 and "--force" in refused.stderr
    bad = subprocess.run(command[:-2] + ["--train", "99,3", "--force"], cwd=REPO,
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "larger than the map" in bad.stderr


def test_cfar_in_blocks_of_frames_gives_the_same_table(heatmap_file, tmp_path):
    path, _ = heatmap_file
    whole, blocks = tmp_path / "whole.nc", tmp_path / "blocks.nc"
    assert run("cfar", path, "-o", whole, "--pfa", "1e-6").exit_code == 0
    assert run("cfar", path, "-o", blocks, "--pfa", "1e-6", "--chunk-frames", "1").exit_code == 0
    one, other = open_detections(whole), open_detections(blocks)
    assert other.attrs["frame_count"] == 3
    for column in ("frame", "range", "angle", "power", "snr"):
        np.testing.assert_array_equal(one[column], other[column])


def test_one_cfar_default_for_the_command_the_pipeline_the_library_and_the_teacher(tmp_path):
    """`radarsp cfar` without options, `radarsp pipeline`, radarsp.cfar() and the RODNet-style
    teacher detect the same cells: one default, not four."""
    import radarsp
    from radarsp.cfar import DEFAULT_GUARD, DEFAULT_METHOD, DEFAULT_PFA, DEFAULT_TRAIN

    scenes = tmp_path / "scenes.nc"
    radarsp.save(radarsp.simulate("parking-lot", frames=4, seed=8, image_size=(16, 16)), scenes)
    assert run("heatmap", scenes, "-o", tmp_path / "h.nc").exit_code == 0
    assert run("cfar", tmp_path / "h.nc", "-o", tmp_path / "d.nc").exit_code == 0
    result = run("pipeline", scenes, "-o", tmp_path / "run", "--n-boot", 0)
    assert result.exit_code == 0, result.output
    with radarsp.open_heatmap(tmp_path / "h.nc") as heat:
        power = heat["power"].load()
    library = detections(cfar(power), power)
    tables = [open_detections(tmp_path / "d.nc"),
              open_detections(tmp_path / "run" / "detections.nc")]
    for table in tables:
        for column in ("frame", "range", "angle"):
            np.testing.assert_array_equal(table[column].values, library[column].values)
    assert library.sizes["detection"] > 0
    teacher = pytest.importorskip("radarsp_learn.teacher")
    assert teacher.CFAR_OPTIONS == {"method": DEFAULT_METHOD, "guard": DEFAULT_GUARD,
                                    "train": DEFAULT_TRAIN, "pfa": DEFAULT_PFA}
