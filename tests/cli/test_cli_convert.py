"""`radarsp convert cruw|fmcw`: through click's CliRunner and once as a real subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cli.main import main
from radarsp.io import open_csi, open_heatmap
from radarsp.io.cruw import open_cruw

REPO = Path(__file__).parents[2]
CAPTURE = REPO / "../shared/data/openradar/doppler_example_1.npy"
FMCW_OPTIONS = ["--slope", "60e12", "--sample-rate", "2.5e6", "--carrier", "77e9",
                "--chirp-period", "2e-4"]


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def sequence(tmp_path):
    seq = tmp_path / "2019_05_09_CM1S004"
    (seq / "RADAR_RA_H").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for frame in range(2):
        for chirp in (0, 128):
            np.save(seq / "RADAR_RA_H" / f"{frame:06d}_{chirp:04d}.npy",
                    rng.standard_normal((128, 128, 2)).astype(np.float32))
    (seq / f"{seq.name}.txt").write_text("0 4.0 0.2 car\n1 6.0 -0.1 pedestrian\n1 9.0 0.3 car\n")
    return seq


@pytest.fixture
def adc_file(tmp_path):
    """A synthetic (chirp, rx, sample) cube: one tone on range bin 12, all elements in phase."""
    tone = np.exp(2j * np.pi * 12 * np.arange(32) / 32)
    cube = np.broadcast_to(tone, (8, 4, 32)).copy()
    path = tmp_path / "adc.npy"
    np.save(path, cube)
    return path


def test_convert_cruw_writes_the_reader_output(sequence, tmp_path):
    out = tmp_path / "cruw.nc"
    result = run("convert", "cruw", sequence, "-o", out, "--class", "car")
    assert result.exit_code == 0, result.output
    assert "wrote" in result.stderr and "heatmap-1" in result.stderr
    expected = open_cruw(sequence, classes=["car"])
    with open_heatmap(out) as heat:
        np.testing.assert_array_equal(heat.power, expected.power)
        np.testing.assert_allclose(heat.target_range, [4.0, 9.0])


def test_convert_cruw_chirp_selection_and_bad_chirp_list(sequence, tmp_path):
    out = tmp_path / "one.nc"
    assert run("convert", "cruw", sequence, "-o", out, "--chirps", "128").exit_code == 0
    with open_heatmap(out) as heat:
        np.testing.assert_allclose(heat.power, open_cruw(sequence, chirps=[128]).power)
    bad = run("convert", "cruw", sequence, "-o", tmp_path / "x.nc", "--chirps", "a,b")
    assert bad.exit_code == 2


def test_convert_refuses_to_overwrite_without_force(sequence, tmp_path):
    out = tmp_path / "cruw.nc"
    out.write_text("precious")
    result = run("convert", "cruw", sequence, "-o", out)
    assert result.exit_code == 1
    assert result.stderr.strip().count("\n") == 0 and "--force" in result.stderr
    assert out.read_text() == "precious"
    assert run("convert", "cruw", sequence, "-o", out, "--force").exit_code == 0
    with open_heatmap(out) as heat:
        assert heat.sizes["frame"] == 2


def test_convert_cruw_broken_map_is_one_line_and_status_1(sequence, tmp_path):
    np.save(sequence / "RADAR_RA_H" / "000001_0128.npy", np.zeros((128, 128), np.float32))
    result = run("convert", "cruw", sequence, "-o", tmp_path / "out.nc")
    assert result.exit_code == 1
    line = result.stderr.strip()
    assert "\n" not in line and "000001_0128.npy" in line and "expected a float array" in line
    assert not (tmp_path / "out.nc").exists()


def test_convert_fmcw_heatmap_and_csi(adc_file, tmp_path):
    out = tmp_path / "heat.nc"
    result = run("convert", "fmcw", adc_file, *FMCW_OPTIONS, "-o", out, "--keep-static",
                 "--angle-bins", "32")
    assert result.exit_code == 0, result.output
    with open_heatmap(out) as heat:
        power = heat.power.isel(frame=0).values
        assert np.unravel_index(power.argmax(), power.shape) == (12, 16)  # boresight: bin 16 of 32
        assert heat.sizes["velocity"] == 8
        assert heat.range.values[1] == pytest.approx(299_792_458.0 * 2.5e6 / (2 * 60e12 * 32))
    csi_out = tmp_path / "csi.nc"
    result = run("convert", "fmcw", adc_file, *FMCW_OPTIONS, "-o", csi_out, "--to", "csi")
    assert result.exit_code == 0, result.output
    with open_csi(csi_out) as csi:
        assert csi.csi.dims == ("frame", "symbol", "rx", "subcarrier")
        np.testing.assert_allclose(csi.csi.values[0], np.conj(np.load(adc_file)), rtol=1e-6)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (lambda p: np.save(p, np.zeros((4, 32))), "expected a numeric (chirp, rx, sample)"),
        (lambda p: p.write_text("frame range angle"), "expected a numpy .npy array"),
    ],
)
def test_convert_fmcw_bad_input_file(tmp_path, content, message):
    bad = tmp_path / "bad.npy"
    content(bad)
    result = run("convert", "fmcw", bad, *FMCW_OPTIONS, "-o", tmp_path / "out.nc")
    assert result.exit_code == 1
    line = result.stderr.strip()
    assert "\n" not in line and message in line and "bad.npy" in line


def test_convert_fmcw_usage_errors(adc_file, tmp_path):
    out = tmp_path / "out.nc"
    assert run("convert", "fmcw", adc_file, "-o", out).exit_code == 2  # radio options missing
    negative = run("convert", "fmcw", adc_file, *FMCW_OPTIONS, "--slope", "-1", "-o", out)
    assert negative.exit_code == 2
    assert run("convert", "fmcw", adc_file, *FMCW_OPTIONS, "--window", "square",
               "-o", out).exit_code == 2
    assert run("convert", "fmcw", adc_file, *FMCW_OPTIONS, "--rx-spacing", "0",
               "-o", out).exit_code == 2
    assert run("convert", "nosuchformat", adc_file, "-o", out).exit_code == 2
    assert not out.exists()


def test_convert_fmcw_real_capture_as_a_subprocess(tmp_path):
    if not CAPTURE.exists():
        pytest.skip(f"real TI capture not found at {CAPTURE.resolve()} (see its README.md)")
    out = tmp_path / "ti.nc"
    command = [sys.executable, "-m", "cli.main", "-q", "convert", "fmcw", str(CAPTURE),
               *FMCW_OPTIONS, "--rx-spacing", "-0.5", "--angle-bins", "256", "-o", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # -q: no report line
    with open_heatmap(out) as heat:
        peak = heat.power.isel(frame=0).argmax(...)
        assert float(heat.range[peak["range"]]) == pytest.approx(2.93, abs=0.05)
        assert np.degrees(float(heat.angle[peak["angle"]])) == pytest.approx(7.4, abs=1.0)
    again = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    assert again.returncode == 1
    assert again.stderr.startswith("Error: ") and "--force" in again.stderr


def test_own_radar_data_example_finds_the_target_in_the_real_capture():
    if not CAPTURE.exists():
        pytest.skip(f"real TI capture not found at {CAPTURE.resolve()} (see its README.md)")
    done = subprocess.run([sys.executable, str(REPO / "examples" / "own_radar_data.py")],
                          capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    first = done.stdout.split("range-angle CFAR:")[1].splitlines()[1]
    assert "2.93 m" in first and "+7.2 deg" in first
