"""`radarsp track`: tracks of an estimates file from the command line, in-process and as a
subprocess; what it keeps, names and refuses."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from cli.main import main
from radarsp.io import save
from radarsp.simulate import simulate

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Simulated scenes (two 15-frame sequences) and genie-like estimates at the target car's
    near corner, three frames on clutter, in shuffled row order."""
    root = tmp_path_factory.mktemp("track")
    scenes = simulate("parking-lot", frames=30, seed=4)
    save(scenes, root / "scenes.nc")
    tx, ty = scenes["target_x"].values, scenes["target_y"].values
    x = np.sign(tx) * np.maximum(np.abs(tx) - 2.25, 0.0)  # the lot's target drives along x
    y = ty - 0.9
    x[[3, 17, 25]] += 6.0
    order = np.random.default_rng(0).permutation(30)
    estimates = xr.Dataset(
        {"x": ("frame", x[order]), "y": ("frame", y[order]),
         "range": ("frame", np.hypot(x, y)[order]), "angle": ("frame", np.arctan2(x, y)[order]),
         "power": ("frame", np.ones(30))},
        coords={"frame": scenes["frame"].values[order]},
        attrs={"method": "genie", "genie": 1, "labels_used": 30, "camera_geometry": "none"})
    save(estimates, root / "genie.nc", schema="estimates-1")
    return root, scenes


def test_track_with_the_car_prior_puts_the_estimates_at_the_cars_centre(files, tmp_path):
    root, scenes = files
    out = tmp_path / "tracked.nc"
    result = CliRunner().invoke(main, ["track", str(root / "genie.nc"), "--frames",
                                       str(root / "scenes.nc"), "-o", str(out), "--prior",
                                       "car"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with xr.open_dataset(out) as tracked:
        assert (tracked.attrs["method"], tracked.attrs["genie"], tracked.attrs["prior"]) == (
            "genie-track-car", 1, "car")
        np.testing.assert_array_equal(tracked["frame"], scenes["frame"])
        error = np.hypot(tracked["x"] - scenes["target_x"], tracked["y"] - scenes["target_y"])
        assert float(error.median()) < 0.2 and float(error.max()) < 0.6
    # without the prior the track stays on the corner, about 2.4 m from the centre
    command = [sys.executable, "-m", "cli.main", "-q", "track", str(root / "genie.nc"),
               "--frames", str(root / "scenes.nc"), "-o", str(tmp_path / "plain.nc")]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    with xr.open_dataset(tmp_path / "plain.nc") as plain:
        assert plain.attrs["method"] == "genie-track"
        error = np.hypot(plain["x"] - scenes["target_x"], plain["y"] - scenes["target_y"])
        assert float(error.median()) > 1.5
    # an existing output needs --force; a frames file without sequences is one line
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 1 and "--force" in done.stderr
    bare = tmp_path / "bare.nc"
    save(simulate("parking-lot", frames=3, seed=1).drop_vars("sequence"), bare)
    result = CliRunner().invoke(main, ["track", str(root / "genie.nc"), "--frames", str(bare),
                                       "-o", str(tmp_path / "x.nc")])
    assert result.exit_code == 1 and not (tmp_path / "x.nc").exists()
    assert str(bare) in result.output and "'sequence'" in result.output
    assert len(result.output.strip().splitlines()) == 1
    # a frame without a time is one line naming the file and the variable, not a traceback
    scenes = simulate("parking-lot", frames=30, seed=4)
    time = scenes["time"].values.copy()
    time[2] = np.nan
    gap = tmp_path / "gap.nc"
    save(scenes.assign_coords(time=("frame", time, scenes["time"].attrs)), gap)
    result = CliRunner().invoke(main, ["track", str(root / "genie.nc"), "--frames", str(gap),
                                       "-o", str(tmp_path / "y.nc")])
    assert result.exit_code == 1 and not (tmp_path / "y.nc").exists()
    assert str(gap) in result.output and "'time'" in result.output
    assert "1 frames have no finite time" in result.output
    assert len(result.output.strip().splitlines()) == 1
