"""FMCW radar ADC cubes (TI mmWave and similar) -> radarsp heatmaps and csi-like datasets.

An FMCW radar sweeps ``f(t) = f_0 + S t`` over each chirp and mixes the echo with the sweep.
The complex baseband beat signal of a point target at round-trip delay ``τ`` is

.. math::

    b(t) = \\exp\\bigl(+j 2\\pi (f_0 + S t)\\, \\tau\\bigr),

a tone at the beat frequency ``S τ`` (the range) whose phase, ``2π f_0 τ``, varies across
the receive array (the angle) and from chirp to chirp (the Doppler). Sample ``k`` of the
fast time is taken at ``t_k = k / f_s``, i.e. at RF frequency ``f_0 + k S / f_s``: so
``conj(b)`` *is* the channel frequency response ``exp(-j 2π f τ)`` of a radar with
subcarriers ``f_k = f_0 + k S / f_s``. :func:`fmcw_to_csi` turns a cube into that ``csi-1``
dataset, and :func:`from_fmcw` runs the OFDM heatmap code (:mod:`radarsp.heatmap`) on it, so
FMCW and OFDM maps share grids, beamformers and normalisation: range bin ``c / (2 B)`` with
``B = S N / f_s``, velocity bin ``λ / (2 N_c T_c)``, power 1 for a unit point target.

Antenna-order convention
------------------------
Element positions ``rx_positions`` are physical: ``x`` in metres, positive towards positive
angle (``docs/contract.md``). A target at azimuth ``θ`` is closer to elements at larger ``x`` by
``x sin θ``, so with the beat-signal sign above the phase across the array is
``-2π x sin θ / λ``. TI's mmWave SDK and OpenRadar instead read the angle FFT of the
virtual array as ``sin θ = +2 k / N`` (spatial frequency of the antenna *index*), which is
this module's convention with ``rx_positions = -n λ / 2``. The two differ only in the sign
of the angle; choose the positions that match your board (``radarsp convert fmcw
--rx-spacing -0.5`` reproduces the TI/OpenRadar sign).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from radarsp.heatmap import heatmap_dataset
from radarsp.memory import check_memory
from radarsp.model import CSI, SCHEMA_ATTR, annotate


def uniform_array(n_elements: int, spacing: float) -> np.ndarray:
    """Positions of a uniform linear array along x, element ``n`` at ``n * spacing``.

    Parameters
    ----------
    n_elements : int
        Number of (virtual) receive elements.
    spacing : float
        Element spacing in metres; negative when the element index grows towards -x
        (the TI/OpenRadar angle sign, see the module notes).

    Returns
    -------
    ndarray, shape (n_elements,)
        x positions in metres, centred on zero.

    Examples
    --------
    >>> uniform_array(4, 0.5)
    array([-0.75, -0.25,  0.25,  0.75])
    """
    index = np.arange(n_elements, dtype=float)
    return (index - index.mean()) * spacing


def _positions(rx_positions, n_rx: int) -> np.ndarray:
    """Validate ``rx_positions`` and return them as an ``(n_rx, 3)`` array of x, y, z (m)."""
    positions = np.asarray(rx_positions, dtype=float)
    if positions.ndim == 1:
        positions = positions[:, None]
    if positions.ndim != 2 or positions.shape[1] not in (1, 2, 3):
        raise ValueError(
            f"rx_positions: expected shape (n_rx,) of x or (n_rx, 2|3) of x, y[, z] in metres, "
            f"got {np.shape(rx_positions)}"
        )
    positions = np.pad(positions, ((0, 0), (0, 3 - positions.shape[1])))
    if len(positions) != n_rx:
        raise ValueError(f"rx_positions: {len(positions)} elements for an ADC cube with {n_rx} rx")
    if not np.isfinite(positions).all():
        raise ValueError("rx_positions: expected finite positions in metres")
    return positions


def _cube(adc) -> np.ndarray:
    """Return ``adc`` as a ``(frame, chirp, rx, sample)`` numeric array."""
    cube = np.asarray(adc)
    if cube.ndim == 3:
        cube = cube[np.newaxis]
    if cube.ndim != 4:
        raise ValueError(
            "adc: expected (chirp, rx, sample) or (frame, chirp, rx, sample), "
            f"got shape {cube.shape}"
        )
    if cube.dtype.kind not in "fciu":
        raise ValueError(f"adc: expected numeric samples, got dtype {cube.dtype}")
    if cube.shape[-1] < 2:
        raise ValueError(f"adc: expected at least 2 samples per chirp, got {cube.shape[-1]}")
    if cube.dtype.kind in "fc":
        # frame by frame, so a memory-mapped cube larger than memory is only streamed
        bad = sum(int(np.count_nonzero(~np.isfinite(frame))) for frame in cube)
        if bad:
            raise ValueError(f"adc: {bad} of {cube.size} samples are NaN or infinite; expected "
                             "finite ADC samples")
    return cube


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if not np.isfinite(value) or value <= 0:
            raise ValueError(f"{name}: expected a positive number, got {value!r}")


def fmcw_to_csi(
    adc,
    *,
    slope: float,
    sample_rate: float,
    carrier: float,
    chirp_period: float,
    rx_positions,
) -> xr.Dataset:
    """An FMCW ADC cube as a ``csi-1`` dataset (fast-time sample = subcarrier, chirp = symbol).

    Sample ``k`` becomes subcarrier ``k`` at RF frequency ``f_0 + k S / f_s``; chirps become
    slow-time symbols ``T_c`` apart; the values are ``conj(b)``, the channel frequency
    response ``exp(-j 2π f τ)`` the csi-1 contract expects (module notes).

    Parameters
    ----------
    adc : array_like, shape (n_chirps, n_rx, n_samples) or (n_frames, n_chirps, n_rx, n_samples)
        Complex baseband beat signal (real samples are accepted), virtual array already
        de-interleaved for TDM-MIMO.
    slope : float
        Chirp slope ``S`` in Hz/s (60 MHz/µs = 60e12).
    sample_rate : float
        ADC sample rate ``f_s`` in samples/s.
    carrier : float
        Start frequency of the chirp ``f_0`` in Hz; its wavelength ``λ = c / f_0`` is used
        for beam steering and Doppler.
    chirp_period : float
        Time between consecutive chirps of one virtual element ``T_c`` in s (for TDM-MIMO:
        one full loop over the transmitters).
    rx_positions : array_like, shape (n_rx,) or (n_rx, 2|3)
        Virtual element x (or x, y[, z]) positions in metres, x positive towards positive
        angle; see the module notes for the TI/OpenRadar sign. :func:`uniform_array` builds
        the usual half-wavelength line.

    Returns
    -------
    xarray.Dataset
        ``csi-1``: ``csi`` (frame, symbol, rx, subcarrier), complex64; ``frequency``,
        ``symbol_time``, ``rx_x/rx_y/rx_z``; attrs ``carrier_frequency`` (``f_0``),
        ``bandwidth`` ``S N / f_s`` and ``subcarrier_spacing`` ``S / f_s``.

    Notes
    -----
    A range transform over all ``N`` subcarriers maps beat frequency ``m f_s / N`` to bin
    ``m``, so complex (I/Q) samples resolve ``N`` bins up to ``c f_s / (2 S)``; real-valued
    samples have a mirrored spectrum, and :func:`from_fmcw` keeps their first ``N/2`` bins.

    Examples
    --------
    >>> csi = fmcw_to_csi(np.ones((2, 4, 8)), slope=60e12, sample_rate=2.5e6, carrier=77e9,
    ...                   chirp_period=1e-4, rx_positions=uniform_array(4, 0.002))
    >>> csi.csi.dims, float(csi.attrs["subcarrier_spacing"])
    (('frame', 'symbol', 'rx', 'subcarrier'), 24000000.0)
    """
    cube = _cube(adc)
    n_frames, n_chirps, n_rx, n_samples = cube.shape
    _check_positive(slope=slope, sample_rate=sample_rate, carrier=carrier,
                    chirp_period=chirp_period)
    # the conjugate in the cube's own precision, then its complex64 copy
    check_memory(cube.size * (cube.dtype.itemsize + 8),
                 f"converting a {' x '.join(map(str, cube.shape))} ADC cube")
    positions = _positions(rx_positions, n_rx)
    spacing = slope / sample_rate
    csi = xr.Dataset(
        {"csi": (("frame", "symbol", "rx", "subcarrier"), np.conj(cube).astype(np.complex64))},
        coords={
            "frame": np.arange(n_frames),
            "symbol": np.arange(n_chirps),
            "rx": np.arange(n_rx),
            "subcarrier": np.arange(n_samples),
            "frequency": ("subcarrier", carrier + spacing * np.arange(n_samples)),
            "symbol_time": ("symbol", chirp_period * np.arange(n_chirps)),
            "rx_x": ("rx", positions[:, 0]),
            "rx_y": ("rx", positions[:, 1]),
            "rx_z": ("rx", positions[:, 2]),
        },
        attrs={
            SCHEMA_ATTR: CSI,
            "source": "FMCW ADC cube (radarsp.fmcw.fmcw_to_csi)",
            "carrier_frequency": float(carrier),
            "bandwidth": float(spacing * n_samples),
            "subcarrier_spacing": float(spacing),
            "chirp_slope": float(slope),
            "sample_rate": float(sample_rate),
            "chirp_period": float(chirp_period),
        },
    )
    return annotate(csi)


def from_fmcw(
    adc,
    *,
    slope: float,
    sample_rate: float,
    carrier: float,
    chirp_period: float,
    rx_positions,
    beamformer: str = "fft",
    angle_bins: int = 64,
    window: str = "hann",
    angle_window: str = "none",
    remove_static: bool = True,
    doppler: bool = True,
    **angle_options,
) -> xr.Dataset:
    """Range-angle and range-Doppler power maps (``heatmap-1``) from an FMCW ADC cube.

    Parameters
    ----------
    adc, slope, sample_rate, carrier, chirp_period, rx_positions
        The cube and its radio configuration, as in :func:`fmcw_to_csi`.
    beamformer : {"fft", "bartlett", "capon", "music"}
        Angle estimator of :func:`radarsp.heatmap.range_angle`; ``fft`` (zero-padded FFT
        across the array, angles on its ``arcsin`` grid) needs a uniform linear array.
    angle_bins : int
        ``fft``: FFT length across the array; otherwise uniform angle bins over ±90°.
    window : str
        Taper over fast time (range) and slow time (Doppler): a :mod:`radarsp.windows` name.
    angle_window : str
        Taper across the array (``fft``/``bartlett``); none by default, because a small
        virtual array (8 elements) cannot spare the aperture.
    remove_static : bool
        Subtract the mean over the chirps of each frame (static clutter removal), which
        empties the zero-velocity bin and leaves moving targets.
    doppler : bool
        Also compute the range-Doppler map ``doppler_power``.
    **angle_options
        Further options of :func:`radarsp.heatmap.range_angle` (``angle_span``,
        ``n_sources``, ``diagonal_loading``, ...).

    Returns
    -------
    xarray.Dataset
        ``heatmap-1``: ``power`` (frame, range, angle), float32, averaged over chirps; with
        ``doppler``, ``doppler_power`` (frame, range, velocity), averaged over elements.
        ``range`` ``r_m = m c / (2 B)``, ``B = S N / f_s``, for ``m = 0 .. N-1`` with complex
        (I/Q) samples (up to ``c f_s / (2 S)``), ``m = 0 .. N/2-1`` with real samples;
        ``angle`` (rad, increasing); ``velocity``
        ``v_l = l λ / (2 N_c T_c)``, ``l = -N_c/2 .. N_c/2-1``, positive receding. A
        unit-amplitude point target on a bin has power 1 in both maps.

    Notes
    -----
    Range is the FFT over fast time, angle the beamformer across the virtual array on the
    chirp-averaged data, Doppler the FFT over chirps: the processing of
    :mod:`radarsp.heatmap` on :func:`fmcw_to_csi`'s cube. The beat phase ``2π f_0 τ(t)``
    grows as a receding target's delay grows, so positive Doppler frequency is positive
    velocity.

    Examples
    --------
    >>> n = np.arange(64)
    >>> adc = np.exp(2j * np.pi * 10 * n / 64)[None, None, :].repeat(4, 1).repeat(8, 0)
    >>> heat = from_fmcw(adc, slope=60e12, sample_rate=2.5e6, carrier=77e9, chirp_period=1e-4,
    ...                  rx_positions=uniform_array(4, 0.5 * 3e8 / 77e9), remove_static=False)
    >>> peak = heat.power.isel(frame=0).argmax(...)
    >>> round(float(heat.range[peak["range"]]), 3), float(heat.angle[peak["angle"]])
    (0.976, 0.0)
    """
    csi = fmcw_to_csi(adc, slope=slope, sample_rate=sample_rate, carrier=carrier,
                      chirp_period=chirp_period, rx_positions=rx_positions)
    n_chirps, n_samples = csi.sizes["symbol"], csi.sizes["subcarrier"]
    # I/Q samples resolve beat frequencies 0 .. f_s; a real signal's upper half is its mirror
    range_bins = n_samples if np.iscomplexobj(adc) else n_samples // 2
    if n_chirps < 2 and (remove_static or doppler):
        raise ValueError("adc: static clutter removal and Doppler need at least 2 chirps")
    if remove_static:
        csi["csi"] = csi["csi"] - csi["csi"].mean("symbol")
    heat = heatmap_dataset(
        csi, doppler=doppler, window=(window, angle_window), doppler_window=window,
        range_bins=range_bins, beamformer=beamformer, angle_bins=angle_bins,
        **angle_options,
    )
    heat.attrs.update(
        {key: csi.attrs[key] for key in ("chirp_slope", "sample_rate", "chirp_period")},
        source="FMCW ADC cube (radarsp.fmcw.from_fmcw)",
        static_clutter_removed=int(remove_static),
    )
    return heat
