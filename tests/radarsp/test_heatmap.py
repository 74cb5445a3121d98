"""Tests of radarsp.heatmap (range-angle / range-Doppler maps) and its kernels."""

from __future__ import annotations

import math
import subprocess
import sys

import dask
import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from radarsp import beamform
from radarsp.errors import RadarspFileError
from radarsp.heatmap import heatmap_dataset, range_angle, range_doppler
from radarsp.io import validate
from radarsp.model import SPEED_OF_LIGHT as C
from radarsp.windows import peak_sidelobe_db, window

CARRIER = 28e9
BANDWIDTH = 800e6
WAVELENGTH = C / CARRIER
RANGE_RESOLUTION = C / (2 * BANDWIDTH)


def ula(n_rx):
    """x, y, z of a λ/2 uniform linear array along x, centred on the origin."""
    x = (np.arange(n_rx) - (n_rx - 1) / 2) * WAVELENGTH / 2
    return x, np.zeros(n_rx), np.zeros(n_rx)


def point_csi(targets, *, n_rx=16, n_sub=128, positions=None, symbols=None,
              symbol_period=1e-4, noise=0.0, seed=0, phases=None):
    """Analytic monostatic CSI of point scatterers, one frame per entry of ``targets``.

    ``targets[f]`` is a list of ``(range m, angle rad, amplitude[, velocity m/s])``;
    ``phases[f][p]`` optionally gives scatterer ``p`` a phase per symbol (shape (symbols,)).
    ``noise`` is the complex white-noise standard deviation per sample.
    """
    rng = np.random.default_rng(seed)
    x, y, z = ula(n_rx) if positions is None else positions
    spacing = BANDWIDTH / n_sub
    frequency = CARRIER - BANDWIDTH / 2 + spacing * np.arange(n_sub)
    n_sym = symbols or 1
    t = np.arange(n_sym) * symbol_period
    h = np.zeros((len(targets), n_sym, len(x), n_sub), complex)
    for f, frame in enumerate(targets):
        for p, (r, angle, amplitude, *velocity) in enumerate(frame):
            v = velocity[0] if velocity else 0.0
            slow = np.exp(-2j * np.pi * CARRIER * 2 * v * t / C)
            if phases is not None:
                slow = slow * phases[f][p]
            array = np.exp(2j * np.pi * (x * np.sin(angle) + y * np.cos(angle)) / WAVELENGTH)
            delay = np.exp(-2j * np.pi * frequency * 2 * r / C)
            h[f] += amplitude * slow[:, None, None] * array[None, :, None] * delay
    h += noise * (rng.standard_normal(h.shape) + 1j * rng.standard_normal(h.shape)) / np.sqrt(2)
    dims = ("frame", "symbol", "rx", "subcarrier")
    coords = {"frequency": ("subcarrier", frequency), "rx_x": ("rx", x), "rx_y": ("rx", y),
              "rx_z": ("rx", z)}
    if symbols is None:
        h, dims = h[:, 0], ("frame", "rx", "subcarrier")
    else:
        coords["symbol_time"] = ("symbol", t)
    attrs = {"carrier_frequency": CARRIER, "bandwidth": BANDWIDTH, "subcarrier_spacing": spacing}
    return xr.DataArray(h.astype(np.complex64), dims=dims, coords=coords, attrs=attrs)


def bin_half_width(coord, index):
    """Half the width of bin ``index`` of a (possibly non-uniform) centre coordinate."""
    values = np.asarray(coord)
    gaps = np.diff(values)
    left = gaps[index - 1] if index > 0 else gaps[0]
    right = gaps[index] if index < len(gaps) else gaps[-1]
    return max(left, right) / 2


def local_maxima(profile):
    """Indices of strict interior local maxima of a 1-D profile."""
    p = np.asarray(profile)
    return np.flatnonzero((p[1:-1] > p[:-2]) & (p[1:-1] > p[2:])) + 1


# --- accuracy ------------------------------------------------------------------------------


@pytest.mark.parametrize("beamformer", ["fft", "bartlett", "capon", "music"])
def test_single_scatterer_peak_within_half_a_bin(beamformer):
    rng = np.random.default_rng(7)
    truth = [(rng.uniform(4, 40), rng.uniform(-math.radians(60), math.radians(60)))
             for _ in range(8)]
    csi = point_csi([[(r, a, 1.0)] for r, a in truth], n_sub=512, noise=0.01, seed=1)
    power = range_angle(csi, beamformer=beamformer, n_sources=1, max_range=45.0)
    for frame, (r, a) in enumerate(truth):
        peak = power.isel(frame=frame).argmax(...)
        i, j = int(peak["range"]), int(peak["angle"])
        assert abs(float(power.range[i]) - r) <= bin_half_width(power.range, i) + 1e-9
        assert abs(float(power.angle[j]) - a) <= bin_half_width(power.angle, j) + 1e-9


def incoherent_pair(first, second, symbols=8):
    """Two scatterers whose cross term cancels exactly over the symbols (power adds)."""
    phases = [[np.ones(symbols), np.exp(2j * np.pi * np.arange(symbols) / symbols)]]
    return point_csi([[first, second]], symbols=symbols, phases=phases)


@pytest.mark.parametrize("beamformer", ["fft", "bartlett"])
def test_fft_and_bartlett_resolve_pairs_at_1p2_rayleigh(beamformer):
    # Rayleigh criterion is for an untapered aperture: window "none".
    separation = 1.2 * RANGE_RESOLUTION
    csi = incoherent_pair((20.0, 0.0, 1.0), (20.0 + separation, 0.0, 1.0))
    power = range_angle(csi, window="none", beamformer=beamformer, range_bins=2048,
                        max_range=30.0, angle_bins=64).isel(frame=0)
    profile = power.sel(angle=0.0, method="nearest")
    peaks = profile.range.values[local_maxima(profile)]
    assert any(abs(peaks - 20.0) < RANGE_RESOLUTION / 4)
    assert any(abs(peaks - 20.0 - separation) < RANGE_RESOLUTION / 4)

    half = 0.6 * 2 / 16  # 1.2 x the broadside Rayleigh resolution 2/N of 16 elements
    csi = incoherent_pair((20.0, -half, 1.0), (20.0, half, 1.0))
    power = range_angle(csi, window="none", beamformer=beamformer, angle_bins=256,
                        max_range=30.0).isel(frame=0)
    cut = power.isel(range=int(power.max("angle").argmax("range")))
    peaks = cut.angle.values[local_maxima(cut)]
    strong = peaks[cut.values[local_maxima(cut)] > 0.5 * float(cut.max())]
    assert len(strong) == 2
    np.testing.assert_allclose(np.sort(strong), [-half, half], atol=0.02)


@pytest.mark.parametrize("beamformer", ["capon", "music"])
def test_adaptive_beamformers_resolve_half_rayleigh_at_20db(beamformer):
    half = 0.5 * 2 / 16 / 2  # pair 0.5 x Rayleigh apart, symmetric about broadside
    n_sub = 128
    # 20 dB per element after range compression: per-sample noise power n_sub / 100.
    noise = math.sqrt(n_sub / 100)
    rng = np.random.default_rng(3)
    symbols = 8
    phases = [[np.exp(2j * np.pi * rng.random(symbols)), np.exp(2j * np.pi * rng.random(symbols))]]
    csi = point_csi([[(20.0, -half, 1.0), (20.0, half, 1.0)]], n_sub=n_sub, symbols=symbols,
                    phases=phases, noise=noise, seed=4)
    power = range_angle(csi, beamformer=beamformer, n_sources=2, angle_bins=121,
                        angle_span=(-0.3, 0.3), max_range=30.0).isel(frame=0)
    cut = power.isel(range=int(power.max("angle").argmax("range")))
    maxima = local_maxima(cut)
    strong = cut.angle.values[maxima[cut.values[maxima] > 0.25 * float(cut.max())]]
    assert len(strong) == 2, strong
    np.testing.assert_allclose(np.sort(strong), [-half, half], atol=0.6 / 121 * 1.5)


def test_bartlett_on_planar_array_cut_to_azimuth():
    columns = (np.arange(16) - 7.5) * WAVELENGTH / 2
    x, z = (a.ravel() for a in np.meshgrid(columns, columns))
    positions = (x, np.zeros_like(x), z)
    csi = point_csi([[(12.0, 0.4, 1.0)]], positions=positions, n_sub=256)
    power = range_angle(csi, beamformer="bartlett", angle_bins=90).isel(frame=0)
    peak = power.argmax(...)
    assert abs(float(power.range[peak["range"]]) - 12.0) <= RANGE_RESOLUTION / 2
    assert abs(float(power.angle[peak["angle"]]) - 0.4) <= math.pi / 90 / 2
    with pytest.raises(RadarspFileError, match="bartlett"):
        range_angle(csi, beamformer="fft")
    # A (smaller) planar array is centro-symmetric: Capon uses forward-backward averaging.
    columns = (np.arange(6) - 2.5) * WAVELENGTH / 2
    x, z = (a.ravel() for a in np.meshgrid(columns, columns))
    csi = point_csi([[(12.0, 0.4, 1.0)]], positions=(x, np.zeros_like(x), z), n_sub=256,
                    noise=0.01)
    capon = range_angle(csi, beamformer="capon", angle_bins=90, max_range=20.0).isel(frame=0)
    peak = capon.argmax(...)
    assert capon.attrs["forward_backward"] == 1
    assert abs(float(capon.angle[peak["angle"]]) - 0.4) <= math.pi / 90 / 2


# --- windows ---------------------------------------------------------------------------------


def sidelobe_db(profile):
    """Peak sidelobe level (dB) of a sampled, single-peaked power profile."""
    p = np.asarray(profile, dtype=float)
    p = p / p.max()
    peak = int(p.argmax())
    right = peak
    while right + 1 < len(p) and p[right + 1] < p[right]:
        right += 1
    left = peak
    while left > 0 and p[left - 1] < p[left]:
        left -= 1
    outside = np.concatenate([p[:left], p[right + 1:]])
    return 10 * np.log10(outside.max())


@pytest.mark.parametrize("name", ["none", "hann", "hamming", "blackman", "taylor", "taylor-40"])
def test_range_window_peak_sidelobe_level_matches_theory(name):
    n_sub = 512
    csi = point_csi([[(30.0, 0.0, 1.0)]], n_rx=2, n_sub=n_sub)
    power = range_angle(csi, window=(name, "none"), range_bins=32 * n_sub, angle_bins=2,
                        max_range=60.0).isel(frame=0)
    profile = power.sel(angle=0.0, method="nearest")
    assert sidelobe_db(profile) == pytest.approx(peak_sidelobe_db(name), abs=1.0)


@pytest.mark.parametrize("name", ["none", "hann", "blackman", "taylor"])
def test_angle_window_peak_sidelobe_level_matches_theory(name):
    # 16 elements: long-aperture theory holds for these tapers (not for Hamming, -39.4 dB).
    csi = point_csi([[(10.0, 0.0, 1.0)]], n_sub=16)
    power = range_angle(csi, window=("none", name), angle_bins=4096).isel(frame=0)
    cut = power.isel(range=int(power.max("angle").argmax("range")))
    assert sidelobe_db(cut) == pytest.approx(peak_sidelobe_db(name), abs=1.0)


@pytest.mark.parametrize("beamformer", ["fft", "bartlett"])
@pytest.mark.parametrize("name", ["none", "hann", "taylor-35"])
def test_unit_scatterer_on_a_bin_centre_has_unit_power(beamformer, name):
    csi = point_csi([[(10.0, 0.0, 1.0)]], n_sub=64)
    spacing = float(range_angle(csi, beamformer=beamformer).range[1])
    csi = point_csi([[(17 * spacing, 0.0, 1.0)]], n_sub=64)
    power = range_angle(csi, window=name, beamformer=beamformer, angle_bins=65 if
                        beamformer == "bartlett" else 64)
    assert float(power.max()) == pytest.approx(1.0, rel=1e-5)
    assert int(power.isel(frame=0).argmax(...)["range"]) == 17


# --- grids and coordinates ------------------------------------------------------------------


def test_coordinates_are_exact_bin_centres_with_attrs():
    csi = point_csi([[(10.0, 0.0, 1.0)]], n_sub=128)
    spacing = BANDWIDTH / 128
    power = range_angle(csi, range_bins=512, angle_bins=32)
    np.testing.assert_allclose(power.range, np.arange(512) * C / (2 * 512 * spacing))
    sine = (np.arange(32) - 16) * WAVELENGTH / (32 * WAVELENGTH / 2)
    np.testing.assert_allclose(power.angle, np.arcsin(sine))
    assert power.dims == ("frame", "range", "angle") and power.dtype == np.float32
    assert power.range.attrs["units"] == "m" and power.angle.attrs["units"] == "rad"
    assert "long_name" in power.range.attrs and power.attrs["beamformer"] == "fft"

    uniform = range_angle(csi, beamformer="bartlett", angle_bins=10, angle_span=(-0.5, 0.5))
    np.testing.assert_allclose(uniform.angle, -0.5 + (np.arange(10) + 0.5) * 0.1)


def test_range_grid_options():
    csi = point_csi([[(10.0, 0.0, 1.0)]], n_sub=128)
    unambiguous = C / (2 * BANDWIDTH / 128)
    assert range_angle(csi).sizes["range"] == 128
    assert range_angle(csi, range_bins=64).sizes["range"] == 64
    assert range_angle(csi, range_bins=300).attrs["range_fft_length"] == 300
    cropped = range_angle(csi, max_range=unambiguous / 4)
    last = float(cropped.range[-1])
    assert last <= unambiguous / 4 < last + unambiguous / 128
    both = range_angle(csi, range_bins=100, max_range=20.0)
    assert both.sizes["range"] == 100 and float(both.range[-1]) <= 20.0
    with pytest.raises(ValueError, match="range_bins"):
        range_angle(csi, range_bins=0)


def test_fft_sorts_elements_and_rejects_non_uniform_arrays():
    csi = point_csi([[(10.0, 0.3, 1.0)]], n_sub=32)
    shuffled = csi.isel(rx=np.random.default_rng(0).permutation(16))
    xr.testing.assert_allclose(range_angle(csi), range_angle(shuffled), rtol=1e-5)
    x, y, z = ula(16)
    x[3] += 0.1 * WAVELENGTH
    bent = point_csi([[(10.0, 0.3, 1.0)]], n_sub=32, positions=(x, y, z))
    with pytest.raises(RadarspFileError, match="uniform linear array.*bartlett"):
        range_angle(bent)


def test_bad_options_and_inputs():
    csi = point_csi([[(10.0, 0.3, 1.0)]], n_sub=32)
    with pytest.raises(ValueError, match="n_sources"):
        range_angle(csi, beamformer="music")
    with pytest.raises(ValueError, match="unknown window"):
        range_angle(csi, window="kaiser")
    with pytest.raises(ValueError, match="angle_span"):
        range_angle(csi, angle_span=(0.5, -0.5))
    with pytest.raises(ValueError, match="beamformer"):
        range_angle(csi, beamformer="esprit")
    with pytest.raises(ValueError, match="angle_bins"):
        range_angle(csi, angle_bins=8)
    with pytest.raises(RadarspFileError, match="symbol"):
        range_doppler(csi)
    with pytest.raises(RadarspFileError, match="dims"):
        range_angle(csi.rename(rx="antenna"))
    with pytest.raises(RadarspFileError, match="frequency"):
        range_angle(csi.assign_coords(frequency=("subcarrier", np.r_[0.0, np.cumsum(
            np.random.default_rng(0).uniform(1, 2, 31))])))


@pytest.mark.parametrize("beamformer", ["fft", "bartlett"])
@pytest.mark.parametrize("n_rx", [2, 3])
def test_tapers_that_zero_all_but_one_element_are_refused(beamformer, n_rx):
    # Hann over 2 elements is [0, 0] (NaN map), over 3 it is [0, 1, 0] (flat angle map).
    csi = point_csi([[(10.0, 0.3, 1.0)]], n_rx=n_rx, n_sub=32)
    with pytest.raises(ValueError, match=f"window 'hann' over {n_rx} receive elements "
                                         "leaves fewer than 2 non-zero weights.*'none'"):
        range_angle(csi, beamformer=beamformer, angle_bins=16)
    power = range_angle(csi, window=("hann", "none"), beamformer=beamformer, angle_bins=16)
    assert np.isfinite(power.values).all() and float(power.max()) > 0
    # the range taper over subcarriers and the Doppler taper over symbols get the same check
    with pytest.raises(ValueError, match="window 'blackman' over 2 subcarriers"):
        range_angle(point_csi([[(10.0, 0.3, 1.0)]], n_sub=2), window=("blackman", "none"))
    with pytest.raises(ValueError, match="window 'hann' over 3 symbols"):
        range_doppler(point_csi([[(10.0, 0.3, 1.0)]], n_sub=32, symbols=3))


def test_forward_backward_needs_a_centro_symmetric_array():
    x, y, z = ula(8)
    x = np.r_[x[:-1], x[-1] + 0.3 * WAVELENGTH]  # last element off the uniform grid
    csi = point_csi([[(10.0, 0.2, 1.0)]], n_sub=32, positions=(x, y, z))
    with pytest.raises(RadarspFileError, match="centro-symmetric"):
        range_angle(csi, beamformer="capon", forward_backward=True)
    power = range_angle(csi, beamformer="capon")  # default: no FB for this array
    assert power.attrs["forward_backward"] == 0
    assert range_angle(point_csi([[(10.0, 0.2, 1.0)]], n_sub=32), beamformer="capon").attrs[
        "forward_backward"] == 1


def test_accessor_pipes_to_range_angle():
    import radarsp.accessor  # noqa: F401  (registers .radarsp even when tests/ shadows radarsp)

    ds = point_csi([[(10.0, 0.3, 1.0)]], n_sub=32).to_dataset(name="csi")
    xr.testing.assert_identical(ds.radarsp.range_angle(angle_bins=32),
                                range_angle(ds, angle_bins=32))


def test_import_stays_light():
    code = ("import sys, radarsp.heatmap; "
            "print(sorted(m for m in ('scipy', 'numba', 'matplotlib') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"


# --- range-Doppler ------------------------------------------------------------------------------


def test_range_doppler_velocity_axis_sign_and_wrapping():
    period = 1e-4
    v_max = WAVELENGTH / (4 * period)
    cases = [5.0, -7.3, 0.0, v_max + 3.0]
    csi = point_csi([[(15.0, 0.2, 1.0, v)] for v in cases], symbols=32, symbol_period=period,
                    n_sub=128)
    rd = range_doppler(csi, window="none")
    spacing = WAVELENGTH / (2 * 32 * period)
    np.testing.assert_allclose(rd.velocity, (np.arange(32) - 16) * spacing)
    assert rd.velocity.attrs["units"] == "m/s" and rd.dims == ("frame", "range", "velocity")
    for frame, v in enumerate(cases):
        expected = (v + v_max) % (2 * v_max) - v_max  # wrapped into [-v_max, v_max)
        peak = rd.isel(frame=frame).argmax(...)
        assert abs(float(rd.velocity[peak["velocity"]]) - expected) <= spacing / 2 + 1e-9
        assert abs(float(rd.range[peak["range"]]) - 15.0) <= float(rd.range[1]) / 2


# --- kernels against slow references --------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 4), st.integers(1, 9), st.integers(0, 2**31), st.booleans())
def test_hermitian_inverse_matches_numpy(batch, n, seed, single):
    from radarsp._beamform_kernels import hermitian_inverse

    rng = np.random.default_rng(seed)
    snapshots = rng.standard_normal((batch, n, 2 * n, 2)).view(complex)[..., 0]
    matrices = snapshots @ snapshots.conj().swapaxes(-1, -2) + 0.1 * np.eye(n)
    if single:
        matrices = matrices.astype(np.complex64)
    loading = rng.uniform(0, 0.1)
    got = hermitian_inverse(matrices, loading)
    assert got.dtype == matrices.dtype
    level = loading * np.trace(matrices, axis1=-2, axis2=-1).real / n + 1e-30
    expected = np.linalg.inv(matrices.astype(complex) + level[:, None, None] * np.eye(n))
    np.testing.assert_allclose(got, expected, rtol=0, atol=(2e-3 if single else 1e-9)
                               * np.abs(expected).max())


def naive_range_profiles(h, weights, n_fft, n_range):
    """Direct sum h_n(m) = Σ_k w_k H_k e^{+j 2π k m / n_fft} for every frame/symbol/element."""
    k = np.arange(h.shape[-1])
    basis = np.exp(2j * np.pi * np.outer(k, np.arange(n_range)) / n_fft)
    return np.einsum("...k,km->...m", h.astype(complex) * weights, basis)


@st.composite
def cube(draw):
    frames = draw(st.integers(1, 3))
    symbols = draw(st.integers(1, 3))
    n_rx = draw(st.integers(2, 6))
    n_sub = draw(st.integers(4, 12))
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    h = rng.standard_normal((frames, symbols, n_rx, n_sub, 2)).view(complex)[..., 0]
    n_fft = n_sub + draw(st.integers(0, 8))
    n_range = draw(st.integers(1, n_fft))
    return h.astype(np.complex64), n_fft, n_range, rng


@settings(max_examples=25, deadline=None)
@given(cube(), st.integers(0, 6))
def test_fft_and_bartlett_kernels_match_direct_sums(data, padding):
    h, n_fft, n_range, rng = data
    _, symbols, n_rx, n_sub = h.shape
    n_angle = n_rx + padding
    range_weights = rng.random(n_sub)
    taper = rng.random(n_rx)
    shift = np.exp(2j * np.pi * np.arange(n_rx) * (n_angle // 2) / n_angle)
    profiles = naive_range_profiles(h, range_weights, n_fft, n_range)  # (F, S, N, R)
    q = np.arange(n_angle) - n_angle // 2
    dft = np.exp(-2j * np.pi * np.outer(np.arange(n_rx), q) / n_angle) * taper[:, None]
    expected = (np.abs(np.einsum("fsnr,na->fsra", profiles, dft)) ** 2).mean(axis=1)
    got = beamform.fft_range_angle(
        h, range_weights=range_weights, angle_weights=taper * shift, n_range_fft=n_fft,
        n_range=n_range, n_angle_fft=n_angle, angle_slice=slice(None))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * expected.max())
    # Bartlett with the DFT's own steering vectors is the same map.
    got = beamform.bartlett_range_angle(h, range_weights=range_weights, beam_weights=dft,
                                        n_range_fft=n_fft, n_range=n_range)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * expected.max())


@settings(max_examples=20, deadline=None)
@given(cube(), st.integers(1, 3), st.booleans())
def test_covariance_capon_music_match_direct_formulas(data, n_subbands, backward):
    h, n_fft, n_range, rng = data
    frames, symbols, n_rx, n_sub = h.shape
    length = max(1, n_sub // 2)
    starts = np.round(np.linspace(0, n_sub - length, n_subbands)).astype(int)
    weights = rng.random(length)
    mirror = np.arange(n_rx)[::-1] if backward else None
    covariance = beamform.spatial_covariance(
        h, subband_weights=weights, subband_starts=starts, n_range_fft=n_fft, n_range=n_range,
        mirror=mirror)
    expected = np.zeros((frames, n_range, n_rx, n_rx), complex)
    for s in starts:
        snap = naive_range_profiles(h[..., s:s + length], weights, n_fft, n_range)
        expected += np.einsum("fsnr,fsmr->frnm", snap, snap.conj())
    expected /= symbols * len(starts)
    if backward:
        expected = 0.5 * (expected + expected[..., ::-1, ::-1].conj())
    np.testing.assert_allclose(covariance, expected, rtol=1e-3, atol=1e-4 * np.abs(expected).max())

    steering = np.exp(2j * np.pi * rng.random((n_rx, 5)))
    loaded = expected + (0.1 * np.trace(expected, axis1=-2, axis2=-1).real / n_rx + 1e-30)[
        ..., None, None] * np.eye(n_rx)
    capon = np.empty((frames, n_range, 5))
    for f in range(frames):
        for r in range(n_range):
            for a in range(5):
                v = steering[:, a]
                capon[f, r, a] = 1 / np.real(v.conj() @ np.linalg.solve(loaded[f, r], v))
    got = beamform.capon_spectrum(expected.astype(np.complex64), steering, loading=0.1)
    np.testing.assert_allclose(got, capon, rtol=2e-3)

    if n_rx > 2:
        got = beamform.music_spectrum(expected, steering, n_sources=1)
        values, vectors = np.linalg.eigh(expected[0, 0])
        pseudo = 1 / np.sum(np.abs(vectors[:, :-1].conj().T @ steering) ** 2, axis=0)
        signal = max(values[-1] - values[:-1].mean(), 0) / n_rx
        np.testing.assert_allclose(got[0, 0], pseudo / pseudo.max() * signal, rtol=1e-3,
                                   atol=1e-6 * max(signal, 1e-30))


@pytest.mark.parametrize("length", [2, 5, 16, 33, 512])
def test_windows_equal_scipy(length):
    from scipy.signal import windows as scipy_windows

    np.testing.assert_array_equal(window("none", length), np.ones(length))
    for name in ("hann", "hamming", "blackman"):
        np.testing.assert_allclose(window(name, length), scipy_windows.get_window(
            name, length, fftbins=False), atol=1e-12)
    for sll, nbar in ((30, 4), (40, 7), (20, 3)):
        np.testing.assert_allclose(window(f"taylor-{sll}", length), scipy_windows.taylor(
            length, nbar=nbar, sll=sll, sym=True), atol=1e-12)


# --- dask, dataset --------------------------------------------------------------------------


def scene_dataset(frames=6, symbols=4):
    rng = np.random.default_rng(5)
    truth = [(rng.uniform(5, 20), rng.uniform(-1, 1)) for _ in range(frames)]
    csi = point_csi([[(r, a, 1.0, 2.0)] for r, a in truth], n_sub=128, symbols=symbols,
                    noise=0.05)
    ds = csi.to_dataset(name="csi")
    ds.attrs = dict(csi.attrs)
    ds["target_range"] = ("frame", np.array([r for r, _ in truth]))
    ds["target_angle"] = ("frame", np.array([a for _, a in truth]))
    ds["image"] = (("frame", "image_row", "image_col", "rgb"),
                   rng.integers(0, 255, (frames, 4, 5, 3), dtype=np.uint8))
    ds["time"] = ("frame", np.arange(frames) * 0.1)
    return ds.set_coords("time")


@pytest.mark.parametrize("beamformer", ["fft", "capon"])
def test_dask_path_is_lazy_and_equals_eager(beamformer):
    ds = scene_dataset()
    eager = heatmap_dataset(ds, doppler=True, beamformer=beamformer, angle_bins=16)
    chunked = ds.chunk({"frame": 4})
    with dask.config.set(scheduler="sync"):
        lazy = heatmap_dataset(chunked, doppler=True, beamformer=beamformer, angle_bins=16)
        assert lazy["power"].chunks[0] == (4, 2)
        assert lazy["doppler_power"].chunks is not None
        xr.testing.assert_allclose(lazy.compute(), eager, rtol=1e-5, atol=1e-7)


def test_heatmap_dataset_contract():
    ds = scene_dataset()
    out = heatmap_dataset(ds, doppler=True, window=("hann", "taylor-35"), angle_bins=32,
                          max_range=40.0)
    validate(out, "heatmap-1")
    assert out.attrs["radarsp_schema"] == "heatmap-1"
    assert out.attrs["heatmap_beamformer"] == "fft"
    assert out.attrs["heatmap_angle_window"] == "taylor-35"
    assert out.attrs["carrier_frequency"] == CARRIER
    for name in ("target_range", "target_angle", "image"):
        xr.testing.assert_equal(out[name], ds[name])
        assert out[name].dtype == ds[name].dtype
    np.testing.assert_array_equal(out["time"], ds["time"])
    assert out["power"].attrs["units"] == "1" and "long_name" in out["doppler_power"].attrs
    assert set(out.dims) == {"frame", "range", "angle", "velocity", "image_row", "image_col",
                             "rgb"}
    # Every scene's scatterer is the brightest cell of its frame.
    for f in range(ds.sizes["frame"]):
        peak = out["power"].isel(frame=f).argmax(...)
        assert abs(float(out.range[peak["range"]]) - float(ds.target_range[f])) < 0.3
