"""`radarsp simulate` and `radarsp info` through click's CliRunner and as subprocesses."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from cli.main import main
from radarsp.io import open_csi, save


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    path = tmp_path_factory.mktemp("sim") / "scenes.nc"
    result = CliRunner().invoke(main, ["simulate", "--frames", "20", "--seed", "3", "-o",
                                       str(path)])
    assert result.exit_code == 0, result.output
    return path


def test_simulate_writes_a_csi_file(scenes):
    ds = open_csi(scenes)
    assert ds.sizes["frame"] == 20 and ds.sizes["rx"] == 16 and ds.sizes["subcarrier"] == 256
    assert ds.attrs["scenario"] == "parking-lot" and ds.attrs["seed"] == 3
    assert ds["image"].shape == (20, 64, 64, 3)


def test_simulate_refuses_to_overwrite_without_force(scenes):
    runner = CliRunner()
    before = scenes.read_bytes()
    result = runner.invoke(main, ["simulate", "--frames", "5", "-o", str(scenes)])
    assert result.exit_code == 1
    assert "exists" in result.output and "--force" in result.output
    assert scenes.read_bytes() == before
    copy = scenes.with_name("copy.nc")
    copy.write_bytes(before)
    result = runner.invoke(main, ["simulate", "--frames", "5", "-o", str(copy), "--force"])
    assert result.exit_code == 0, result.output
    assert open_csi(copy).sizes["frame"] == 5


def test_blocked_write_equals_one_shot(tmp_path):
    runner = CliRunner()
    args = ["simulate", "--frames", "40", "--seed", "5", "--image-size", "16x20"]
    one = tmp_path / "one.nc"
    blocks = tmp_path / "blocks.nc"
    assert runner.invoke(main, args + ["-o", str(one)]).exit_code == 0
    result = runner.invoke(main, ["-q"] + args + ["--block", "15", "-o", str(blocks)])
    assert result.exit_code == 0, result.output
    a, b = open_csi(one), open_csi(blocks)
    for name in a.variables:
        np.testing.assert_array_equal(a[name].values, b[name].values)
    assert a.attrs == b.attrs


def test_simulate_options(tmp_path):
    out = tmp_path / "planar.nc"
    result = CliRunner().invoke(main, [
        "simulate", "--scenario", "street_canyon", "--frames", "4", "--array", "4x4",
        "--symbols", "4", "--subcarriers", "128", "--image-size", "none", "--weather", "fog",
        "--multipath", "--snr-db", "20", "-o", str(out)])
    assert result.exit_code == 0, result.output
    ds = open_csi(out)
    assert ds["csi"].dims == ("frame", "symbol", "rx", "subcarrier")
    assert ds["csi"].shape == (4, 4, 16, 128)
    assert "image" not in ds and ds.attrs["weather"] == "fog"


@pytest.mark.parametrize("args", [
    ["--scenario", "moon"], ["--frames", "0"], ["--image-size", "axb"], ["--array", "x"],
    ["--bandwidth", "0"], ["--snr-db", "nan"], ["--frame-interval", "inf"],
    ["--bandwidth", "inf"], ["--symbol-period", "nan"], ["--carrier", "-inf"],
])
def test_simulate_usage_errors(tmp_path, args):
    result = CliRunner().invoke(main, ["simulate", "-o", str(tmp_path / "x.nc")] + args)
    assert result.exit_code == 2
    assert not (tmp_path / "x.nc").exists()


@pytest.mark.parametrize("args,words", [
    (["--snr-db", "nan"], "'--snr-db': expected a finite number, got 'nan'"),
    (["--frame-interval", "inf"], "'--frame-interval': expected a finite number"),
    (["--bandwidth", "inf"], "'--bandwidth': expected a finite number"),
    (["--carrier", "1"], "--carrier: expected a carrier above half the bandwidth (4e+08 Hz)"),
    (["--carrier", "1e9", "--bandwidth", "2e9"], "half the bandwidth (1e+09 Hz), got 1e+09 Hz"),
])
def test_simulate_non_finite_and_too_low_values_are_one_line_before_any_work(tmp_path, args,
                                                                              words):
    result = CliRunner().invoke(main, ["simulate", "-o", str(tmp_path / "x.nc")] + args)
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and words in errors[0], result.stderr
    assert not (tmp_path / "x.nc").exists()


def test_simulate_carrier_just_above_half_the_bandwidth_is_accepted(tmp_path):
    out = tmp_path / "low.nc"
    result = CliRunner().invoke(main, [
        "-q", "simulate", "-n", "1", "--subcarriers", "16", "--array", "2", "--image-size",
        "none", "--carrier", "1e9", "--bandwidth", "1.9e9", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert float(open_csi(out)["frequency"].min()) == pytest.approx(5e7)


def test_info_describes_a_csi_file(scenes):
    result = CliRunner().invoke(main, ["info", str(scenes)])
    assert result.exit_code == 0, result.output
    text = result.output
    for expected in ("schema: csi-1", "carrier: 28 GHz", "bandwidth: 800 MHz",
                     "range resolution c/2B: 0.1874 m", "maximum range c/2df: 47.97 m",
                     "array: 16 receive elements", "angular resolution (broadside): 0.1250 rad",
                     "truth: yes", "images: yes (64 x 64 RGB"):
        assert expected in text, text


def test_info_describes_heatmaps_and_tables(tmp_path):
    heatmap = xr.Dataset(
        {"power": (("frame", "range", "angle"), np.ones((2, 5, 7), np.float32))},
        coords={"range": np.linspace(0, 4, 5), "angle": np.linspace(-1, 1, 7)},
    )
    save(heatmap, tmp_path / "h.nc", schema="heatmap-1")
    text = CliRunner().invoke(main, ["info", str(tmp_path / "h.nc")]).output
    assert "schema: heatmap-1" in text
    assert "range: 5 bins, 0 .. 4 m, step 1 m" in text
    assert "angle: 7 bins, -57.3 .. 57.3 deg" in text
    assert "truth: no" in text and "images: no" in text
    table = xr.Dataset({c: ("detection", np.arange(3.0)) for c in
                        ("frame", "range", "angle", "x", "y", "power", "snr")})
    save(table, tmp_path / "d.nc", schema="detections-1")
    text = CliRunner().invoke(main, ["info", str(tmp_path / "d.nc")]).output
    assert "schema: detections-1" in text and "rows: 3 detections over 3 frames" in text
    clusters = table.rename(detection="cluster", snr="size").assign(
        cluster=("cluster", np.arange(3)))
    save(clusters, tmp_path / "c.nc", schema="clusters-1")
    text = CliRunner().invoke(main, ["info", str(tmp_path / "c.nc")]).output
    assert "schema: clusters-1" in text and "rows: 3 clusters over 3 frames" in text
    estimates = xr.Dataset({c: ("frame", np.zeros(4)) for c in ("range", "angle", "x", "y",
                                                                "power")},
                           coords={"frame": np.arange(4)}, attrs={"method": "genie"})
    save(estimates, tmp_path / "e.nc", schema="estimates-1")
    text = CliRunner().invoke(main, ["info", str(tmp_path / "e.nc")]).output
    assert "schema: estimates-1" in text and "method: genie" in text and "dims: frame=4" in text


def test_info_bad_file_is_one_line_and_status_1(tmp_path):
    bad = tmp_path / "bad.nc"
    bad.write_text("not netcdf")
    result = CliRunner().invoke(main, ["info", str(bad)])
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0 and str(bad) in result.output


def test_simulate_and_info_as_subprocesses(tmp_path):
    out = tmp_path / "s.nc"
    run = [sys.executable, "-m", "cli.main"]
    done = subprocess.run(run + ["simulate", "-n", "3", "--seed", "1", "--image-size", "8",
                                 "-o", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    info = subprocess.run(run + ["info", str(out)], capture_output=True, text=True)
    assert info.returncode == 0 and "schema: csi-1" in info.stdout
    again = subprocess.run(run + ["simulate", "-n", "3", "-o", str(out)], capture_output=True,
                           text=True)
    assert again.returncode == 1
    assert again.stderr.strip().splitlines()[-1].startswith("Error:")
    missing = subprocess.run(run + ["info", str(tmp_path / "missing.nc")], capture_output=True,
                             text=True)
    # a missing input is a bad input file, as in every command: one line, status 1
    assert missing.returncode == 1
    assert missing.stderr == f"Error: {tmp_path / 'missing.nc'}: no such file\n"
