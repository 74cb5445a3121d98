"""radarsp.fmcw: FMCW ADC cubes -> heatmap-1 / csi-1, against references and a real capture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from radarsp.errors import RadarspFileError
from radarsp.fmcw import fmcw_to_csi, from_fmcw, uniform_array
from radarsp.geometry import range_resolution, wavelength
from radarsp.io.schema import validate
from radarsp.model import SPEED_OF_LIGHT

CAPTURE = Path(__file__).parents[2] / "../shared/data/openradar/doppler_example_1.npy"

# TI-like configuration, small enough to be fast
SLOPE, FS, F0, TC = 60e12, 2.5e6, 77e9, 2e-4
LAMBDA = wavelength(F0)


def beat_cube(*, range_m, angle, velocity, n_chirps=16, n_rx=8, n_samples=64, positions=None):
    """Slow, obviously-correct beat signal of one unit point target, (chirp, rx, sample).

    ``b = exp(+j 2π (f_0 + S t_k) τ)`` with round-trip delay
    ``τ = (2 (R + v t_c) - x_n sin θ) / c`` for element ``n`` at ``x_n`` and chirp time ``t_c``.
    """
    positions = uniform_array(n_rx, LAMBDA / 2) if positions is None else positions
    cube = np.empty((n_chirps, n_rx, n_samples), dtype=complex)
    for c in range(n_chirps):
        for n in range(n_rx):
            path = 2 * (range_m + velocity * c * TC) - positions[n] * np.sin(angle)
            tau = path / SPEED_OF_LIGHT
            for k in range(n_samples):
                cube[c, n, k] = np.exp(2j * np.pi * (F0 + SLOPE * k / FS) * tau)
    return cube


def fft_grid(n_bins):
    """Angles of the zero-padded FFT across a half-wavelength array: sin θ_q = 2 (q - Q/2) / Q."""
    return np.arcsin((np.arange(n_bins) - n_bins // 2) * 2.0 / n_bins)


def reference_heatmaps(cube, n_angle):
    """The README's plain processing, written out: range FFT, clutter removal, angle FFT.

    For elements at x_n = +n λ/2 the beat phase across the array is -π n sin θ, so grid
    angle q (sin θ_q = 2 (q - Q/2) / Q) is bin -(q - Q/2) of the FFT over the element index.
    """
    n_chirps, n_rx, n_samples = cube.shape
    taper = np.hanning(n_samples)
    kept = n_samples if np.iscomplexobj(cube) else n_samples // 2  # I/Q: all beat frequencies
    profiles = np.fft.fft(cube * taper, axis=-1)[..., :kept] / taper.sum()
    profiles = profiles - profiles.mean(axis=0)
    spatial = np.fft.fft(profiles, n=n_angle, axis=1) / n_rx  # (chirp, angle bin, range)
    bins = np.arange(n_angle) - n_angle // 2
    range_angle = (abs(spatial[:, (-bins) % n_angle, :]) ** 2).mean(axis=0).T
    slow = np.hanning(n_chirps)[:, None, None]
    doppler = np.fft.fftshift(np.fft.fft(profiles * slow, axis=0), axes=0) / slow.sum()
    range_doppler = (abs(doppler) ** 2).mean(axis=1).T
    return range_angle, range_doppler


def test_heatmaps_equal_the_plain_fft_processing():
    rng = np.random.default_rng(1)
    cube = rng.standard_normal((16, 8, 32)) + 1j * rng.standard_normal((16, 8, 32))
    heat = from_fmcw(cube, slope=SLOPE, sample_rate=FS, carrier=F0, chirp_period=TC,
                     rx_positions=uniform_array(8, LAMBDA / 2), angle_bins=32)
    range_angle, range_doppler = reference_heatmaps(cube, 32)
    np.testing.assert_allclose(heat.power[0], range_angle, rtol=2e-4, atol=1e-6)
    np.testing.assert_allclose(heat.doppler_power[0], range_doppler, rtol=2e-4, atol=1e-6)
    np.testing.assert_allclose(heat.angle, fft_grid(32))
    np.testing.assert_allclose(heat.range, np.arange(32) * SPEED_OF_LIGHT * FS / (2 * SLOPE * 32))
    np.testing.assert_allclose(heat.velocity, np.arange(-8, 8) * LAMBDA / (2 * 16 * TC))


def test_reversed_element_order_mirrors_the_angle():
    rng = np.random.default_rng(2)
    cube = rng.standard_normal((4, 8, 16)) + 1j * rng.standard_normal((4, 8, 16))
    radio = dict(slope=SLOPE, sample_rate=FS, carrier=F0, chirp_period=TC, angle_bins=16,
                 remove_static=False, doppler=False)
    plus = from_fmcw(cube, rx_positions=uniform_array(8, LAMBDA / 2), **radio).power[0].values
    minus = from_fmcw(cube, rx_positions=uniform_array(8, -LAMBDA / 2), **radio).power[0].values
    # grid bin q <-> -q: sin θ = 2 (q - 8) / 16; bin 0 (-90°) has no mirror on the grid
    np.testing.assert_allclose(minus[:, 1:], plus[:, :0:-1], rtol=1e-4, atol=1e-7)


def test_unit_point_target_on_bins_has_unit_power_at_its_range_and_angle():
    range_bin, angle_bin = 20, 40  # angle grid of 64: sin θ = 2 (40 - 32) / 64
    dr = range_resolution(SLOPE * 64 / FS)
    angle = fft_grid(64)[angle_bin]
    heat = from_fmcw(beat_cube(range_m=range_bin * dr, angle=angle, velocity=0.0), slope=SLOPE,
                     sample_rate=FS, carrier=F0, chirp_period=TC,
                     rx_positions=uniform_array(8, LAMBDA / 2), window="hann", remove_static=False)
    validate(heat, "heatmap-1")
    power = heat.power.isel(frame=0)
    assert power.dtype == np.float32
    peak = np.unravel_index(int(np.argmax(power.values)), power.shape)
    assert peak == (range_bin, angle_bin)
    # not exactly 1: the element offsets x_n sin θ move the beat frequency by a hair per element
    assert float(power.max()) == pytest.approx(1.0, rel=1e-3)
    bin_width = SPEED_OF_LIGHT * FS / (2 * SLOPE * 64)
    assert float(heat.range[range_bin]) == pytest.approx(range_bin * bin_width)
    assert float(heat.doppler_power.isel(frame=0).max()) == pytest.approx(1.0, rel=1e-4)


@settings(max_examples=15, deadline=None)
@given(range_bin=st.integers(3, 28), angle_bin=st.integers(18, 46),
       doppler_bin=st.integers(-6, 6))
def test_moving_point_target_peaks_at_its_range_angle_and_velocity(
    range_bin, angle_bin, doppler_bin
):
    n_chirps = 16
    dr = range_resolution(SLOPE * 64 / FS)
    dv = LAMBDA / (2 * TC * n_chirps)
    angle = fft_grid(64)[angle_bin]
    cube = beat_cube(range_m=range_bin * dr, angle=angle, velocity=doppler_bin * dv,
                     n_chirps=n_chirps)
    heat = from_fmcw(cube, slope=SLOPE, sample_rate=FS, carrier=F0, chirp_period=TC,
                     rx_positions=uniform_array(8, LAMBDA / 2), remove_static=doppler_bin != 0)
    power = heat.power.isel(frame=0).values
    assert np.unravel_index(power.argmax(), power.shape) == (range_bin, angle_bin)
    doppler = heat.doppler_power.isel(frame=0).values
    r, v = np.unravel_index(doppler.argmax(), doppler.shape)
    assert r == range_bin
    assert float(heat.velocity[v]) == pytest.approx(doppler_bin * dv)


def test_frames_are_processed_independently():
    one = beat_cube(range_m=1.0, angle=0.2, velocity=0.3)
    two = beat_cube(range_m=2.0, angle=-0.3, velocity=-0.3)
    radio = dict(slope=SLOPE, sample_rate=FS, carrier=F0, chirp_period=TC,
                 rx_positions=uniform_array(8, LAMBDA / 2))
    both = from_fmcw(np.stack([one, two]), **radio)
    np.testing.assert_array_equal(both.power[1], from_fmcw(two, **radio).power[0])
    assert both.sizes["frame"] == 2


def test_fmcw_to_csi_is_the_conjugate_beat_on_the_sweep_frequencies():
    cube = beat_cube(range_m=1.5, angle=0.1, velocity=0.0, n_chirps=4)
    csi = fmcw_to_csi(cube, slope=SLOPE, sample_rate=FS, carrier=F0, chirp_period=TC,
                      rx_positions=uniform_array(8, LAMBDA / 2))
    validate(csi, "csi-1")
    np.testing.assert_allclose(csi.frequency, F0 + SLOPE / FS * np.arange(64))
    tau = 2 * 1.5 / SPEED_OF_LIGHT - csi.rx_x.values[0] * np.sin(0.1) / SPEED_OF_LIGHT
    # channel frequency response of a delay tau: exp(-j 2π f tau)
    np.testing.assert_allclose(csi.csi[0, 0, 0], np.exp(-2j * np.pi * csi.frequency.values * tau),
                               rtol=1e-6)
    assert csi.attrs["bandwidth"] == pytest.approx(SLOPE * 64 / FS)


@pytest.mark.parametrize(
    ("adc", "kwargs", "message"),
    [
        (np.zeros((4, 8)), {}, "adc: expected"),
        (np.zeros((2, 3, 8)), {}, "rx_positions: 4 elements"),
        (np.zeros((2, 4, 8)), {"slope": -1.0}, "slope: expected a positive"),
        (np.zeros((2, 4, 8)), {"window": "square"}, "unknown window"),
        (np.zeros((1, 4, 8)), {}, "need at least 2 chirps"),
        (np.zeros((2, 4, 8), dtype=object), {}, "adc: expected numeric"),
    ],
)
def test_bad_arguments_raise_one_clear_error(adc, kwargs, message):
    radio = dict(slope=SLOPE, sample_rate=FS, carrier=F0, chirp_period=TC,
                 rx_positions=uniform_array(4, LAMBDA / 2)) | kwargs
    with pytest.raises(ValueError, match=message) as info:
        from_fmcw(adc, **radio)
    assert not isinstance(info.value, RadarspFileError)


def test_fft_beamformer_needs_a_uniform_line_and_bartlett_takes_any_array():
    positions = np.array([0.0, 0.6, 1.7, 3.1]) * LAMBDA / 2
    cube = beat_cube(range_m=1.0, angle=0.3, velocity=0.0, n_chirps=2, n_rx=4,
                     positions=positions)
    radio = dict(slope=SLOPE, sample_rate=FS, carrier=F0, chirp_period=TC,
                 rx_positions=positions, remove_static=False, doppler=False)
    with pytest.raises(RadarspFileError, match="uniform linear array"):
        from_fmcw(cube, **radio)
    heat = from_fmcw(cube, beamformer="bartlett", angle_bins=181, **radio)
    peak = heat.power.isel(frame=0).argmax(...)
    assert float(heat.angle[peak["angle"]]) == pytest.approx(0.3, abs=np.radians(1))
    assert float(heat.range[peak["range"]]) == pytest.approx(1.0, abs=0.05)


@pytest.fixture(scope="module")
def capture():
    if not CAPTURE.exists():
        pytest.skip(f"real TI capture not found at {CAPTURE.resolve()} (see its README.md)")
    return np.load(CAPTURE)


@pytest.mark.parametrize(("spacing", "sign"), [(LAMBDA / 2, -1), (-LAMBDA / 2, +1)])
def test_real_ti_capture_target_at_2p93_m_and_7_degrees(capture, spacing, sign):
    """README: moving target at 2.93 m (bin 60), about 7 deg, Doppler bin +7 of 128.

    With element n at x = +n λ/2 the physical beat-signal convention puts it at -7°; TI's SDK
    and OpenRadar (x = -n λ/2 in radarsp's terms) report +7°.
    """
    heat = from_fmcw(capture, slope=60e12, sample_rate=2.5e6, carrier=77e9, chirp_period=TC,
                     rx_positions=uniform_array(8, spacing), angle_bins=256)
    power = heat.power.isel(frame=0)
    peak = power.argmax(...)
    assert float(heat.range[peak["range"]]) == pytest.approx(2.93, abs=0.049)
    assert np.degrees(float(heat.angle[peak["angle"]])) == pytest.approx(sign * 7.4, abs=1.0)
    doppler = heat.doppler_power.isel(frame=0)
    moving = doppler.argmax(...)
    assert abs(int(moving["range"]) - 60) <= 1
    assert int(moving["velocity"]) - 64 == 7
    assert float(heat.velocity[moving["velocity"]]) == pytest.approx(7 * LAMBDA / (2 * TC * 128))


def test_iq_samples_resolve_the_full_range_and_real_samples_half():
    n = np.arange(128)
    far = np.exp(2j * np.pi * 100 * n / 128)[None, None, :].repeat(4, 1).repeat(8, 0)
    options = dict(slope=SLOPE, sample_rate=FS, carrier=F0, chirp_period=TC,
                   rx_positions=uniform_array(4, LAMBDA / 2), remove_static=False)
    heat = from_fmcw(far, **options)
    bin_width = SPEED_OF_LIGHT * FS / (2 * SLOPE * 128)
    assert heat.sizes["range"] == 128
    peak = int(heat.power.isel(frame=0).max("angle").argmax("range"))
    assert peak == 100 and abs(float(heat.range[peak]) - 100 * bin_width) < 1e-9
    assert from_fmcw(far.real, **options).sizes["range"] == 64
