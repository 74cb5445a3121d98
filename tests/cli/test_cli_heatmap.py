"""``radarsp heatmap`` through click's CliRunner and as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from cli.main import main
from radarsp.heatmap import heatmap_dataset
from radarsp.io import open_csi, open_heatmap, save
from radarsp.model import SPEED_OF_LIGHT as C

CARRIER, BANDWIDTH, N_RX, N_SUB, N_SYM = 28e9, 800e6, 8, 64, 4
ROOT = Path(__file__).resolve().parents[2]


def csi_dataset(frames=10, *, bend=False, seed=0):
    """A small csi-1 dataset: one point scatterer per frame, with truth and camera."""
    rng = np.random.default_rng(seed)
    wavelength = C / CARRIER
    spacing = BANDWIDTH / N_SUB
    frequency = CARRIER - BANDWIDTH / 2 + spacing * np.arange(N_SUB)
    x = (np.arange(N_RX) - (N_RX - 1) / 2) * wavelength / 2
    if bend:
        x[2] += 0.2 * wavelength
    r = rng.uniform(2, 10, frames)
    angle = rng.uniform(-0.8, 0.8, frames)
    t = np.arange(N_SYM) * 1e-4
    h = (np.exp(-2j * np.pi * frequency * 2 * r[:, None] / C)[:, None, None, :]
         * np.exp(2j * np.pi * x * np.sin(angle)[:, None] / wavelength)[:, None, :, None]
         * np.exp(-2j * np.pi * CARRIER * 2 * 3.0 * t / C)[None, :, None, None])
    h = h + 0.05 * (rng.standard_normal(h.shape) + 1j * rng.standard_normal(h.shape))
    ds = xr.Dataset(
        {
            "csi": (("frame", "symbol", "rx", "subcarrier"), h.astype(np.complex64)),
            "target_range": ("frame", r),
            "target_angle": ("frame", angle),
            "target_box": (("frame", "box"), rng.integers(0, 64, (frames, 4)).astype(np.int32)),
        },
        coords={
            "frequency": ("subcarrier", frequency), "rx_x": ("rx", x),
            "rx_y": ("rx", np.zeros(N_RX)), "rx_z": ("rx", np.zeros(N_RX)),
            "symbol_time": ("symbol", t), "time": ("frame", 0.1 * np.arange(frames)),
        },
        attrs={"carrier_frequency": CARRIER, "bandwidth": BANDWIDTH,
               "subcarrier_spacing": spacing},
    )
    return ds


@pytest.fixture(scope="module")
def csi_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("heatmap") / "csi.nc"
    save(csi_dataset(), path, schema="csi-1")
    return path


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_heatmap_writes_the_library_result_in_chunks(csi_file, tmp_path):
    out = tmp_path / "heat.nc"
    result = run("-q", "heatmap", csi_file, "-o", out, "--doppler", "--chunk-frames", 3,
                 "--window", "hann,taylor-35", "--angle-bins", 32, "--max-range", 12)
    assert result.exit_code == 0, result.output
    heat = open_heatmap(out).load()
    source = open_csi(csi_file).load()
    expected = heatmap_dataset(source, doppler=True, window=("hann", "taylor-35"),
                               angle_bins=32, max_range=12.0)
    xr.testing.assert_allclose(heat["power"], expected["power"], rtol=1e-5, atol=1e-8)
    xr.testing.assert_allclose(heat["doppler_power"], expected["doppler_power"], rtol=1e-5,
                               atol=1e-8)
    for name in ("target_range", "target_angle", "target_box"):
        np.testing.assert_array_equal(heat[name], source[name])
    assert heat.attrs["heatmap_angle_window"] == "taylor-35"
    assert heat.attrs["carrier_frequency"] == CARRIER


@pytest.mark.parametrize("beamformer", ["bartlett", "capon", "music"])
def test_heatmap_beamformers_and_angle_span(csi_file, tmp_path, beamformer):
    out = tmp_path / "heat.nc"
    result = run("-q", "heatmap", csi_file, "-o", out, "--beamformer", beamformer,
                 "--n-sources", 1, "--angle-span=-60,60", "--angle-bins", 24)
    assert result.exit_code == 0, result.output
    heat = open_heatmap(out)
    assert heat.sizes["angle"] == 24 and heat.attrs["heatmap_beamformer"] == beamformer
    np.testing.assert_allclose(heat.angle[[0, -1]], np.radians([-57.5, 57.5]))


def test_heatmap_refuses_to_overwrite_without_force(csi_file, tmp_path):
    out = tmp_path / "heat.nc"
    out.write_text("keep me")
    result = run("heatmap", csi_file, "-o", out)
    assert result.exit_code == 1
    assert "--force" in result.output and out.read_text() == "keep me"
    assert run("-q", "heatmap", csi_file, "-o", out, "--force").exit_code == 0
    assert open_heatmap(out).sizes["frame"] == 10


def test_heatmap_bad_inputs_exit_1_with_one_line(tmp_path):
    bent = tmp_path / "bent.nc"
    save(csi_dataset(bend=True), bent, schema="csi-1")
    result = run("heatmap", bent, "-o", tmp_path / "h.nc")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "bent.nc" in lines[0] and "rx_x" in lines[0]
    assert "bartlett" in lines[0]

    not_csi = tmp_path / "table.nc"
    xr.Dataset({"a": ("x", [1.0])}).to_netcdf(not_csi)
    result = run("heatmap", not_csi, "-o", tmp_path / "h.nc")
    assert result.exit_code == 1 and "table.nc" in result.output

    corrupt = tmp_path / "nan.nc"
    ds = csi_dataset()
    ds["csi"][7, 0, 0, 0] = np.nan
    save(ds, corrupt, schema="csi-1")
    result = run("-q", "heatmap", corrupt, "-o", tmp_path / "h.nc", "--chunk-frames", 4)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: {corrupt}: variable 'csi': expected finite values, found NaN or Inf"]
    assert not list(tmp_path.glob("*h.nc*"))  # no partial output, no temporary file left

    result = run("heatmap", tmp_path / "missing.nc", "-o", tmp_path / "h.nc")
    assert result.exit_code == 1 and "missing.nc" in result.output
    assert not (tmp_path / "h.nc").exists()


def test_heatmap_usage_errors_exit_2(csi_file, tmp_path):
    assert run("heatmap", csi_file, "-o", tmp_path / "h.nc", "--beamformer", "music").exit_code == 2
    assert run("heatmap", csi_file, "-o", tmp_path / "h.nc", "--window", "kaiser").exit_code == 2
    assert run("heatmap", csi_file, "-o", tmp_path / "h.nc", "--angle-span", "a,b").exit_code == 2


@pytest.mark.parametrize("options,words", [
    (["--window", "hann,kaiser"], "--window: unknown window 'kaiser'"),
    (["--window", "hann,none,hann"], "--window: expected NAME or RANGE,ANGLE"),
    (["--beamformer", "music"], "--beamformer music needs --n-sources"),
])
def test_heatmap_usage_errors_name_the_option(csi_file, tmp_path, options, words):
    result = run("heatmap", csi_file, "-o", tmp_path / "h.nc", *options)
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and words in errors[0], result.stderr
    assert not (tmp_path / "h.nc").exists()


def test_heatmap_subprocess(csi_file, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = tmp_path / "heat.nc"
    command = [sys.executable, "-m", "cli.main"]
    done = subprocess.run(command + ["heatmap", str(csi_file), "-o", str(out), "--doppler"],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "10 frames" in done.stderr
    assert open_heatmap(out).sizes["velocity"] == N_SYM

    done = subprocess.run(command + ["-q", "heatmap", str(csi_file), "-o", str(out)],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "exists" in done.stderr
