"""`radarsp cluster | match | evaluate | plot | pipeline` through click and as a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from cli.main import main
from radarsp.io import open_dataset, save
from radarsp.model import annotate

ROOT = Path(__file__).resolve().parents[2]


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def detections_around(truth: xr.Dataset, *, seed=0, skip_frame=None) -> xr.Dataset:
    """A blob of detections at each frame's target plus a clutter blob; one frame left empty."""
    rng = np.random.default_rng(seed)
    frame, x, y, power = [], [], [], []
    for f in range(truth.sizes["frame"]):
        if f == skip_frame:
            continue
        for centre, strength in (((float(truth.target_x[f]), float(truth.target_y[f])), 1.0),
                                 ((-8.0, 30.0), 5.0)):
            points = np.asarray(centre) + rng.normal(0, 0.3, (8, 2))
            frame += [f] * 8
            x += list(points[:, 0])
            y += list(points[:, 1])
            power += list(strength * rng.uniform(0.5, 1.0, 8))
    x, y = np.array(x), np.array(y)
    ds = xr.Dataset(
        {"frame": ("detection", np.array(frame)), "range": ("detection", np.hypot(x, y)),
         "angle": ("detection", np.arctan2(x, y)), "x": ("detection", x),
         "y": ("detection", y), "power": ("detection", np.array(power)),
         "snr": ("detection", np.array(power) * 100)},
        attrs={"radarsp_schema": "detections-1", "frame_count": truth.sizes["frame"]},
    )
    return annotate(ds)


@pytest.fixture
def files(tmp_path, csi_ds):
    scenes = tmp_path / "scenes.nc"
    save(csi_ds, scenes)
    detections = tmp_path / "detections.nc"
    save(detections_around(csi_ds, skip_frame=2), detections)
    ranges = np.linspace(1, 40, 30)
    angles = np.linspace(-1.2, 1.2, 25)
    heatmap = csi_ds[["target_range", "target_angle", "target_x", "target_y"]].assign(
        power=(("frame", "range", "angle"),
               np.random.default_rng(0).exponential(1, (4, 30, 25)).astype(np.float32)),
    ).assign_coords(range=ranges, angle=angles)
    heatmap.attrs = {"radarsp_schema": "heatmap-1"}
    save(annotate(heatmap), tmp_path / "heatmap.nc")
    return tmp_path


def test_cluster_match_evaluate_plot_chain(files):
    out = run("cluster", files / "detections.nc", "-o", files / "clusters.nc", "--eps", "1,1",
              "--min-samples", "3")
    assert out.exit_code == 0, out.output
    clusters = open_dataset(files / "clusters.nc", schema="clusters-1")
    # two blobs in each of the three frames that have detections
    assert clusters.sizes["cluster"] == 6
    assert clusters.attrs["dbscan_eps"].tolist() == [1.0, 1.0]

    for strategy in ("genie", "strongest"):
        out = run("match", files / "clusters.nc", "--truth", files / "scenes.nc", "--strategy",
                  strategy, "-o", files / f"estimates-{strategy}.nc")
        assert out.exit_code == 0, out.output
    genie = open_dataset(files / "estimates-genie.nc", schema="estimates-1")
    assert genie.attrs["method"] == "genie" and genie.sizes["frame"] == 4
    assert genie["cluster"].values[2] == -1 and np.isnan(genie["x"].values[2])

    out = run("evaluate", files / "estimates-genie.nc", files / "estimates-strongest.nc",
              "--truth", files / "scenes.nc", "--plot", files / "cdf.png", "--n-boot", "50")
    assert out.exit_code == 0, out.output
    lines = out.stdout.splitlines()
    assert lines[0].split()[:5] == ["method", "labels", "camera", "frames", "50th"]
    genie_row = next(line for line in lines if line.startswith("genie"))
    strongest_row = next(line for line in lines if line.startswith("strongest"))
    # what each used: the genie read the truth, strongest no labels; neither a camera
    assert genie_row.split()[1:4] == ["genie", "none", "4"]
    assert strongest_row.split()[1:4] == ["0", "none", "4"]
    # one frame in four is empty: a 25 % miss rate for both; genie is right to within a metre
    assert genie_row.endswith("25.0 %") and strongest_row.endswith("25.0 %")
    assert float(genie_row.split()[4]) < 1.0 < float(strongest_row.split()[4])
    assert (files / "cdf.png").read_bytes()[:4] == b"\x89PNG"

    out = run("plot", files / "heatmap.nc", "--frame", "1", "--detections",
              files / "detections.nc", "--clusters", files / "clusters.nc", "--estimates",
              files / "estimates-genie.nc", "-o", files / "frame1.png")
    assert out.exit_code == 0, out.output
    assert (files / "frame1.png").stat().st_size > 10_000


def test_polar_eps_is_in_degrees(files):
    out = run("cluster", files / "detections.nc", "-o", files / "c.nc", "--space", "polar",
              "--eps", "1.5,5")
    assert out.exit_code == 0, out.output
    eps = open_dataset(files / "c.nc")
    np.testing.assert_allclose(eps.attrs["dbscan_eps"], [1.5, np.radians(5)])


def test_refuses_to_overwrite_without_force(files):
    target = files / "clusters.nc"
    assert run("cluster", files / "detections.nc", "-o", target).exit_code == 0
    before = target.read_bytes()
    out = run("cluster", files / "detections.nc", "-o", target, "--min-samples", "2")
    assert out.exit_code == 1
    assert out.stderr.strip().count("\n") == 0 and "exists" in out.stderr
    assert target.read_bytes() == before
    assert run("cluster", files / "detections.nc", "-o", target, "--min-samples", "2",
               "--force").exit_code == 0
    out = run("evaluate", files / "detections.nc", "--plot", files / "detections.nc")
    assert out.exit_code == 1 and "exists" in out.stderr


def test_bad_inputs_give_one_line_and_status_1(files):
    # a heatmap where detections are expected
    out = run("cluster", files / "heatmap.nc", "-o", files / "c.nc")
    assert out.exit_code == 1
    assert out.stderr.startswith("Error: ") and out.stderr.strip().count("\n") == 0
    assert "heatmap.nc" in out.stderr and "detections-1" in out.stderr
    # truth without target_x
    assert run("cluster", files / "detections.nc", "-o", files / "c.nc").exit_code == 0
    out = run("match", files / "c.nc", "--truth", files / "heatmap.nc", "-o", files / "e.nc")
    assert out.exit_code == 0  # the heatmap carries the truth too
    no_truth = open_dataset(files / "heatmap.nc").drop_vars(["target_x", "target_y"]).load()
    save(no_truth, files / "bare.nc")
    out = run("match", files / "c.nc", "--truth", files / "bare.nc", "-o", files / "e2.nc")
    assert out.exit_code == 1 and "'target_x'" in out.stderr and "bare.nc" in out.stderr
    assert not (files / "e2.nc").exists()
    # a missing file, and usage errors (status 2)
    out = run("evaluate", files / "nothing.nc")
    assert out.exit_code == 1 and "nothing.nc" in out.stderr
    assert run("cluster", files / "detections.nc", "-o", files / "x.nc", "--eps",
               "1,-2").exit_code == 2
    assert run("match", files / "c.nc", "-o", files / "x.nc").exit_code == 2


def test_subprocess_cluster_and_evaluate(files):
    env_python = [sys.executable, "-m", "cli.main"]
    done = subprocess.run(env_python + ["cluster", str(files / "detections.nc"), "-o",
                                        str(files / "sc.nc")],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "6 clusters" in done.stderr
    done = subprocess.run(env_python + ["evaluate", str(files / "heatmap.nc")],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "estimates-1" in done.stderr


def point_target_csi(frames=5, rx=8, subcarriers=64, *, symbols=None, seed=0) -> xr.Dataset:
    """A broadside point target at a random range per frame, in weak noise (csi-1).

    With ``symbols`` it recedes at 5 m/s over slow-time symbols 0.1 ms apart.
    """
    from radarsp.model import SPEED_OF_LIGHT

    rng = np.random.default_rng(seed)
    spacing, carrier, period = 2e6, 28e9, 1e-4
    frequency = carrier + spacing * np.arange(subcarriers)
    rx_x = SPEED_OF_LIGHT / carrier / 2 * np.arange(rx)
    target_range = rng.uniform(10, 40, frames)
    slow = np.arange(symbols or 1) * period
    delay = 2 * (target_range[:, None, None, None] + 5.0 * slow[:, None, None]) / SPEED_OF_LIGHT
    csi = np.exp(-2j * np.pi * frequency * delay) * np.ones((1, 1, rx, 1))
    csi = csi + 0.05 * (rng.standard_normal(csi.shape) + 1j * rng.standard_normal(csi.shape))
    dims = ("frame", "symbol", "rx", "subcarrier")
    coords = {"frequency": ("subcarrier", frequency), "rx_x": ("rx", rx_x),
              "rx_y": ("rx", np.zeros(rx)), "rx_z": ("rx", np.zeros(rx))}
    if symbols:
        coords["symbol_time"] = ("symbol", slow)
    else:
        csi, dims = csi[:, 0], dims[:1] + dims[2:]
    zeros = np.zeros(frames)
    ds = xr.Dataset(
        {"csi": (dims, csi.astype(np.complex64)),
         "target_range": ("frame", target_range), "target_angle": ("frame", zeros),
         "target_x": ("frame", zeros), "target_y": ("frame", target_range)},
        coords=coords,
        attrs={"carrier_frequency": carrier, "bandwidth": spacing * subcarriers,
               "subcarrier_spacing": spacing, "radarsp_schema": "csi-1"},
    )
    return annotate(ds)


def test_pipeline_writes_every_file_and_finds_the_target(tmp_path):
    save(point_target_csi(), tmp_path / "csi.nc")
    run_dir = tmp_path / "run"
    args = ("pipeline", tmp_path / "csi.nc", "-o", run_dir, "--angle-bins", "32", "--guard",
            "1,1", "--train", "4,4", "--pfa", "1e-3", "--eps", "2", "--min-samples", "1",
            "--n-boot", "20")
    out = run(*args)
    assert out.exit_code == 0, out.output
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "cdf.png", "clusters.nc", "detections.nc", "estimates-genie.nc",
        "estimates-strongest.nc", "heatmap.nc"]
    for name, schema in (("heatmap.nc", "heatmap-1"), ("detections.nc", "detections-1"),
                         ("clusters.nc", "clusters-1"), ("estimates-genie.nc", "estimates-1")):
        assert open_dataset(run_dir / name).attrs["radarsp_schema"] == schema
    genie_row = next(line for line in out.stdout.splitlines() if line.startswith("genie"))
    # a lone point target in weak noise: genie finds it to within about a range bin (2.3 m)
    assert float(genie_row.split()[4]) < 2.5 and genie_row.endswith(" 0.0 %")
    # a non-empty run directory is refused without --force, accepted with it
    again = run(*args)
    assert again.exit_code == 1 and "not empty" in again.stderr
    assert run(*args, "--force").exit_code == 0


def test_pipeline_with_doppler_adds_cross_domain_estimates(tmp_path):
    save(point_target_csi(3, symbols=8), tmp_path / "csi.nc")
    out = run("pipeline", tmp_path / "csi.nc", "-o", tmp_path / "run", "--doppler",
              "--angle-bins", "32", "--guard", "1,1", "--train", "2,2", "--pfa", "1e-3",
              "--eps", "2", "--min-samples", "1", "--n-boot", "0")
    assert out.exit_code == 0, out.output
    for name in ("detections-doppler.nc", "clusters-doppler.nc", "estimates-cross-domain.nc"):
        assert (tmp_path / "run" / name).exists()
    estimates = open_dataset(tmp_path / "run" / "estimates-cross-domain.nc")
    assert estimates.attrs["method"] == "cross-domain"
    assert "velocity" in estimates and estimates["velocity"].attrs["units"] == "m/s"
    assert any(line.startswith("cross-domain") for line in out.stdout.splitlines())
    # the same pairing from the command line, from the files the pipeline wrote
    out = run("match", tmp_path / "run" / "clusters.nc", "--strategy", "cross-domain",
              "--doppler-clusters", tmp_path / "run" / "clusters-doppler.nc", "--truth",
              tmp_path / "csi.nc", "-o", tmp_path / "cd.nc")
    assert out.exit_code == 0, out.output
    assert open_dataset(tmp_path / "cd.nc").attrs["method"] == "cross-domain-genie"
    assert run("match", tmp_path / "run" / "clusters.nc", "--strategy", "cross-domain",
               "-o", tmp_path / "cd2.nc").exit_code == 2
