"""`radarsp pipeline` refuses bad options as its stage commands do: one line, no traceback,
and before the run directory is made (a corrected rerun needs no --force)."""

from __future__ import annotations

import numpy as np
import pytest

from radarsp.io import save
from tests.cli.test_cli_statistical import point_target_csi, run

FAST = ("--angle-bins", "32", "--guard", "1,1", "--train", "4,4", "--pfa", "1e-3", "--eps", "2",
        "--min-samples", "1", "--n-boot", "0")


@pytest.fixture(scope="module")
def csi_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pipeline-errors")
    save(point_target_csi(2), folder / "csi.nc")  # 8 receive elements, 64 subcarriers
    save(point_target_csi(2, symbols=8), folder / "doppler.nc")
    broken = point_target_csi(2)
    broken["csi"][0, 3, 5] = np.nan
    save(broken, folder / "nan.nc")
    return folder


def assert_refused(result, status, words, run_dir):
    assert result.exit_code == status, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and words in errors[0], result.stderr
    assert not run_dir.exists() or not any(run_dir.iterdir())


@pytest.mark.parametrize("options,status,words", [
    (["--window", "foo"], 2, "--window"),
    (["--window", "hann,none,x"], 2, "--window"),
    (["--beamformer", "music"], 2, "--n-sources"),
    (["--beamformer", "music", "--n-sources", "8"], 2, "n_sources < rx (8)"),
    (["--cfar-method", "os", "--rank", "100000"], 2, "--rank"),
    (["--cfar-method", "ca", "--rank", "3"], 2, "--rank"),
    (["--train", "40,4"], 2, "larger than the map"),
    (["--doppler"], 1, "symbol"),
])
def test_bad_options_are_refused_before_the_run_directory_is_made(csi_files, tmp_path, options,
                                                                  status, words):
    run_dir = tmp_path / "run"
    result = run("pipeline", csi_files / "csi.nc", "-o", run_dir, *FAST, *options)
    assert_refused(result, status, words, run_dir)
    assert not run_dir.exists()


def test_an_empty_run_directory_stays_empty_and_a_corrected_rerun_needs_no_force(csi_files,
                                                                                 tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    result = run("pipeline", csi_files / "csi.nc", "-o", run_dir, *FAST, "--cfar-method", "os",
                 "--rank", "100000")
    assert_refused(result, 2, "--rank", run_dir)
    result = run("pipeline", csi_files / "csi.nc", "-o", run_dir, *FAST, "--beamformer", "music",
                 "--n-sources", "1")
    assert result.exit_code == 0, result.output
    assert (run_dir / "estimates-genie.nc").exists()


def test_range_doppler_cfar_settings_are_tried_first(csi_files, tmp_path):
    # 8 symbols: a velocity window of 2 x (1 + 4) + 1 = 11 bins does not fit
    run_dir = tmp_path / "run"
    result = run("pipeline", csi_files / "doppler.nc", "-o", run_dir, *FAST, "--doppler")
    assert_refused(result, 2, "larger than the map", run_dir)
    assert not run_dir.exists()


def test_non_finite_csi_in_the_first_frame_is_a_file_error(csi_files, tmp_path):
    run_dir = tmp_path / "run"
    result = run("pipeline", csi_files / "nan.nc", "-o", run_dir, *FAST)
    assert_refused(result, 1, "nan.nc", run_dir)
    assert not run_dir.exists()
