"""Frame-wise commands on a process-based dask.distributed LocalCluster equal the local path."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

import radarsp
from cli.main import main

pytest.importorskip("dask.distributed")


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    path = tmp_path_factory.mktemp("dist") / "scenes.nc"
    radarsp.save(radarsp.simulate("parking-lot", frames=24, seed=3, image_size=(16, 16)), path)
    return path


def _run(args):
    result = CliRunner().invoke(main, ["-q", *map(str, args)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def _values(path):
    with xr.open_dataset(path, engine="radarsp") as ds:
        return {name: ds[name].values for name in ds.data_vars}


def test_pipeline_on_two_worker_processes_equals_local(scenes, tmp_path):
    _run(["pipeline", scenes, "-o", tmp_path / "local", "--chunk-frames", 8, "--n-boot", 10])
    _run(["pipeline", scenes, "-o", tmp_path / "cluster", "--chunk-frames", 8, "--n-boot", 10,
          "--workers", 2])
    for name in ("heatmap.nc", "detections.nc", "clusters.nc", "estimates-genie.nc"):
        local, remote = _values(tmp_path / "local" / name), _values(tmp_path / "cluster" / name)
        assert local.keys() == remote.keys()
        for key in local:
            np.testing.assert_array_equal(local[key], remote[key], err_msg=f"{name}:{key}")
    assert _values(tmp_path / "local" / "detections.nc")["range"].size > 24


def test_cfar_and_heatmap_commands_on_a_local_cluster(scenes, tmp_path):
    _run(["heatmap", scenes, "-o", tmp_path / "h.nc", "--chunk-frames", 8, "--workers", 2])
    with radarsp.open_csi(scenes) as csi:
        reference = radarsp.heatmap_dataset(csi).load()
    np.testing.assert_allclose(_values(tmp_path / "h.nc")["power"], reference["power"].values,
                               rtol=1e-6)
    _run(["cfar", tmp_path / "h.nc", "-o", tmp_path / "d.nc", "--chunk-frames", 8,
          "--workers", 2, "--pfa", "1e-2"])
    power = reference["power"]
    table = radarsp.detections(radarsp.cfar(power, pfa=1e-2), power)
    np.testing.assert_array_equal(_values(tmp_path / "d.nc")["range"], table["range"].values)


def test_cluster_command_on_a_local_cluster(scenes, tmp_path):
    _run(["pipeline", scenes, "-o", tmp_path / "run", "--n-boot", 10])
    detections = tmp_path / "run" / "detections.nc"
    _run(["cluster", detections, "-o", tmp_path / "local.nc"])
    _run(["cluster", detections, "-o", tmp_path / "remote.nc", "--workers", 2])
    local, remote = _values(tmp_path / "local.nc"), _values(tmp_path / "remote.nc")
    for key in local:
        np.testing.assert_array_equal(local[key], remote[key], err_msg=key)
