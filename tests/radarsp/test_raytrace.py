"""The Sionna RT engine: physics on tiny scenes (a lone car), not pixels.

A lone car's heatmap peak sits at its near face and its azimuth (sign included); the projected
box overlaps the car Mitsuba rendered; a car driving at the radar has the right Doppler; the
same seed gives the same file. Skipped where Sionna RT is not installed (``radarsp[raytrace]``,
which ``make test`` installs).
"""

from __future__ import annotations

import numpy as np
import pytest

import radarsp

pytest.importorskip("sionna.rt")


def _engine_problem() -> str | None:
    """Why Dr.Jit's CPU backend cannot trace here (it aborts with LLVM < 16), or None.

    Tried in a child process, so a crash skips these tests with its reason instead of
    killing the test run."""
    import subprocess
    import sys

    code = ("import numpy as np; from radarsp.simulate.raytrace import simulate_raytrace; "
            "simulate_raytrace(frames=1, samples=1000, max_depth=1, image_size=(8, 8), "
            "n_subcarriers=8)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    if done.returncode == 0:
        return None
    return (f"Sionna RT cannot trace on this machine (status {done.returncode}; Dr.Jit needs "
            f"libllvm >= 16, which `make test` installs): {done.stderr.strip()[-300:]}")


_PROBLEM = _engine_problem()
pytestmark = pytest.mark.skipif(_PROBLEM is not None, reason=_PROBLEM or "")

from radarsp.simulate.raytrace import simulate_raytrace  # noqa: E402
from radarsp.simulate.scene import make_scene  # noqa: E402

TINY = ["--samples", "2000", "--max-depth", "1", "--image-size", "16x16", "--subcarriers",
        "32", "--array", "4", "--sequence-length", "5"]

SAMPLES = 100_000
RANGE_BIN = 299_792_458.0 / (2 * 800e6)


def lone_car(x: float, y: float, *, heading: float = 0.0, velocity=(0.0, 0.0)):
    """A one-sequence parking-lot layout with only the target car, at (x, y)."""
    layout = make_scene("parking-lot", np.arange(1), seed=3)
    layout.box_active[:, 1:] = False
    layout.box_x[:, 0], layout.box_y[:, 0], layout.box_heading[:, 0] = x, y, heading
    layout.target_velocity[:] = velocity
    return layout


def strongest_beyond(ds, frame: int, nearest: float = 3.0):
    """Range and angle of the heatmap's strongest cell beyond ``nearest`` m (the ground
    under the radar, at its height, is a real and strong return)."""
    heat = radarsp.heatmap_dataset(ds.isel(frame=[frame])).load()
    power = heat["power"].isel(frame=0).where(heat["range"] > nearest, 0.0)
    power = power.transpose("range", "angle").values
    i, j = np.unravel_index(power.argmax(), power.shape)
    return float(heat["range"][i]), float(heat["angle"][j])


@pytest.mark.parametrize("x", [4.0, -4.0])
def test_a_lone_cars_peak_is_at_its_near_face_and_azimuth(x):
    layout = lone_car(x, 12.0)
    ds = simulate_raytrace(frames=1, seed=3, layout=layout, samples=SAMPLES, image_size=None,
                           snr_db=30)
    length, width = layout.box_length[0, 0], layout.box_width[0, 0]
    face_y = 12.0 - width / 2  # the side facing the radar, from |x| - L/2 to |x| + L/2
    near, far = abs(x) - length / 2, abs(x) + length / 2
    range_m, angle = strongest_beyond(ds, 0)
    assert np.hypot(near, face_y) - 2 * RANGE_BIN <= range_m <= np.hypot(x, face_y) + 2 * RANGE_BIN
    assert np.sign(angle) == np.sign(x)
    assert np.arctan2(near, face_y) - 0.05 <= abs(angle) <= np.arctan2(far, face_y) + 0.05
    assert ds.attrs["engine"].startswith("raytrace")


def test_the_projected_box_overlaps_the_rendered_car():
    with_car = lone_car(2.0, 10.0)
    without = lone_car(2.0, 10.0)
    without.box_active[:, 0] = False
    options = dict(frames=1, seed=3, samples=1000, image_size=(48, 64), max_depth=1)
    seen = simulate_raytrace(layout=with_car, **options)
    empty = simulate_raytrace(layout=without, **options)
    changed = np.abs(seen["image"].values[0].astype(int)
                     - empty["image"].values[0].astype(int)).sum(-1) > 30
    rows, cols = np.nonzero(changed)
    rendered = np.array([cols.min(), rows.min(), cols.max(), rows.max()])
    box = seen["target_box"].values[0]
    inter = np.prod(np.clip(np.minimum(rendered[2:], box[2:]) - np.maximum(rendered[:2], box[:2])
                            + 1, 0, None))
    union = np.prod(rendered[2:] - rendered[:2] + 1) + np.prod(box[2:] - box[:2] + 1) - inter
    assert inter / union > 0.6, (rendered, box)
    assert seen["image"].attrs["camera_model"] == "pinhole"


def test_a_car_driving_at_the_radar_has_its_doppler():
    speed = -8.0  # m/s along -y: towards the radar (radial velocity negative: approaching)
    ds = simulate_raytrace(frames=1, seed=3, layout=lone_car(0.0, 12.0, heading=np.pi / 2,
                                                              velocity=(0.0, speed)),
                           samples=SAMPLES, image_size=None, symbols=32, snr_db=30)
    period = float(ds["symbol_time"][1] - ds["symbol_time"][0])
    lam = 299_792_458.0 / 28e9
    velocity_bins = np.fft.fftshift(np.fft.fftfreq(32, period)) * lam / 2
    profile = np.fft.ifft(ds["csi"].values[0], axis=-1).sum(axis=1)  # (symbol, range)
    doppler = np.abs(np.fft.fftshift(np.fft.fft(profile, axis=0), axes=0)) ** 2
    doppler[16] = 0  # static returns (the ground)
    measured = -velocity_bins[np.unravel_index(doppler.argmax(), doppler.shape)[0]]
    assert abs(measured - ds["target_velocity"].values[0]) < 2 * lam / (2 * 32 * period)
    assert ds["target_velocity"].values[0] == pytest.approx(speed, rel=0.05)


def test_the_same_seed_gives_the_same_file():
    layout = make_scene("suburban", np.arange(1), seed=5)
    one, two = (simulate_raytrace("suburban", frames=2, seed=5, samples=2000, max_depth=1,
                                  image_size=(16, 16)) for _ in range(2))
    for name in ("csi", "image", "target_box", "target_x"):
        np.testing.assert_array_equal(one[name].values, two[name].values, err_msg=name)
    np.testing.assert_allclose(one["target_x"].values, layout.box_x[:2, 0])


def test_paths_to_csi_is_sionnas_cfr_with_the_carrier_phase():
    import mitsuba as mi

    from radarsp.simulate.channel import subcarrier_frequencies, ula_positions
    from radarsp.simulate.raytrace import RaytracedWorld, paths_to_csi

    world = RaytracedWorld(lone_car(3.0, 9.0), carrier=28e9, radar_height=1.2,
                           rx_positions=ula_positions(16, carrier=28e9))
    try:
        world.place(0)
        paths = world.solver(world.scene, max_depth=2, los=False, diffuse_reflection=True,
                             refraction=False, samples_per_src=20_000, seed=1)
        frequency = subcarrier_frequencies(28e9, 800e6, 64)
        reference = paths.cfr(frequencies=mi.Float((frequency - 28e9).astype(np.float32)),
                              normalize_delays=False, out_type="numpy")[0, :, 0, 0, 0]
        ours = paths_to_csi(paths, frequency)
    finally:
        world.close()
    # Sionna sums in float32: agreement to its precision
    assert np.abs(ours - reference).max() < 1e-3 * np.abs(reference).max()


def test_the_command_writes_blocks_and_a_killed_run_resumes_to_the_same_file(tmp_path):
    """`radarsp simulate --engine raytrace`: killed (-9) after its first block, the same
    command finishes the run, and the file equals an uninterrupted run's."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import xarray as xr

    def command(out):
        return [sys.executable, "-m", "cli.main", "-q", "simulate", "--engine", "raytrace",
                "-n", "10", "--block", "5", "--seed", "9", *TINY, "-o", str(out)]

    whole = tmp_path / "whole.nc"
    assert subprocess.run(command(whole), capture_output=True).returncode == 0
    killed = tmp_path / "killed.nc"
    child = subprocess.Popen(command(killed), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    blocks = tmp_path / "killed.nc.blocks"
    deadline = time.time() + 120
    while not list(blocks.glob("block-*.nc")) and time.time() < deadline:
        time.sleep(0.1)
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    assert list(blocks.glob("block-*.nc")) and not killed.exists()
    done = subprocess.run(command(killed), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert not blocks.exists()
    with xr.open_dataset(whole, engine="radarsp") as a, xr.open_dataset(killed,
                                                                        engine="radarsp") as b:
        for name in ("csi", "image", "target_box", "target_x", "sequence"):
            np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
        assert a.attrs["engine"].startswith("raytrace") and a.sizes["frame"] == 10
    # other settings on the same blocks are refused in one line
    other = command(tmp_path / "other.nc")
    (tmp_path / "other.nc.blocks").mkdir()
    (tmp_path / "other.nc.blocks" / "settings.json").write_text('{"frames": 3}')
    refused = subprocess.run(other, capture_output=True, text=True)
    assert refused.returncode == 1 and "other settings" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1


def test_convert_sionna_brings_a_users_own_paths_in(tmp_path):
    """Sionna's own cfr array (what a user saves after tracing on a GPU) -> csi-1 through the
    command; the heatmap finds the car; a missing array is one line."""
    import mitsuba as mi
    from click.testing import CliRunner

    from cli.main import main
    from radarsp.simulate.channel import subcarrier_frequencies, ula_positions
    from radarsp.simulate.raytrace import RaytracedWorld, csi_from_sionna

    rx = ula_positions(16, carrier=28e9)
    world = RaytracedWorld(lone_car(-3.0, 10.0), carrier=28e9, radar_height=1.2,
                           rx_positions=rx)
    frequency = subcarrier_frequencies(28e9, 800e6, 256)
    try:
        world.place(0)
        paths = world.solver(world.scene, max_depth=2, los=False, diffuse_reflection=True,
                             refraction=False, samples_per_src=SAMPLES, seed=2)
        cfr = paths.cfr(frequencies=mi.Float((frequency - 28e9).astype(np.float32)),
                        normalize_delays=False, out_type="numpy")
        from_paths = csi_from_sionna(paths, frequency=frequency, rx_positions=rx)
    finally:
        world.close()
    np.savez(tmp_path / "mine.npz", cfr=np.asarray(cfr)[None], frequency=frequency,
             rx_positions=rx, truth_xy=np.array([[-3.0, 10.0]]))
    result = CliRunner().invoke(main, ["convert", "sionna", str(tmp_path / "mine.npz"),
                                       "-o", str(tmp_path / "csi.nc")])
    assert result.exit_code == 0, result.output
    ds = radarsp.open_csi(tmp_path / "csi.nc").load()
    reference = from_paths["csi"].values
    assert np.abs(ds["csi"].values - reference).max() < 1e-3 * np.abs(reference).max()
    range_m, angle = strongest_beyond(ds, 0)
    assert angle < 0 and abs(range_m - float(ds["target_range"][0])) < 1.5
    np.savez(tmp_path / "bad.npz", cfr=np.asarray(cfr)[None], frequency=frequency)
    result = CliRunner().invoke(main, ["convert", "sionna", str(tmp_path / "bad.npz"),
                                       "-o", str(tmp_path / "bad.nc")])
    assert result.exit_code == 1 and "rx_positions" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "bad.nc").exists()
