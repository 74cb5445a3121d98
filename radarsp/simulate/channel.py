"""OFDM channel synthesis: propagation paths -> channel state information (CSI) per subcarrier.

Monostatic model (one transmitter at the array's phase centre, ``R`` receive elements):
each path ``k`` with half round-trip length ``r_k``, arrival direction ``u_k`` and complex
amplitude ``a_k`` contributes

.. math::

    H_{r,n} = \\sum_k a_k \\, e^{-j 2 \\pi f_n 2 r_k / c}
              \\, e^{+j 2 \\pi f_c \\, p_r \\cdot u_k / c}

on subcarrier ``n`` (frequency ``f_n``) and element ``r`` (position ``p_r``): the round-trip
delay on every subcarrier times the narrowband receive steering vector at the carrier
``f_c`` (beam squint across the 2.9 % fractional bandwidth is neglected, as the OFDM radar
literature does, e.g. Braun et al. 2011). With slow-time symbols at instants ``t_s`` a path
moving at radial velocity ``v_k`` gains the Doppler phase ``exp(-j 4 π f_c v_k t_s / c)``
(range migration within a frame is neglected). Complex white Gaussian noise is added at a
per-sample SNR referred to a 10 m^2 scatterer at 10 m.
"""

from __future__ import annotations

import numpy as np

from radarsp.geometry import wavelength
from radarsp.model import SPEED_OF_LIGHT

REFERENCE_RCS = 10.0  # m^2: a car seen broadside is of order 10 dBsm
REFERENCE_RANGE = 10.0  # m


def subcarrier_frequencies(carrier: float, bandwidth: float, n_subcarriers: int) -> np.ndarray:
    """Absolute RF frequencies ``f_n = f_c + (n - N/2) Δf``, ``Δf = B / N``, in Hz.

    Examples
    --------
    >>> f = subcarrier_frequencies(28e9, 800e6, 256)
    >>> float(f[1] - f[0]), float(f[128])
    (3125000.0, 28000000000.0)
    """
    spacing = bandwidth / n_subcarriers
    return carrier + (np.arange(n_subcarriers) - n_subcarriers // 2) * spacing


def ula_positions(n_elements: int = 16, *, carrier: float = 28e9,
                  spacing: float = 0.5) -> np.ndarray:
    """Uniform linear array along x, centred on the origin, ``spacing`` in wavelengths.

    Returns
    -------
    ndarray, shape (n_elements, 3)
        Element positions (x, y, z), m.

    Examples
    --------
    >>> rx = ula_positions(16)
    >>> rx.shape, round(float(rx[1, 0] - rx[0, 0]) * 1e3, 3)  # λ/2 at 28 GHz, mm
    ((16, 3), 5.353)
    """
    x = (np.arange(n_elements) - (n_elements - 1) / 2) * spacing * wavelength(carrier)
    return np.stack([x, np.zeros_like(x), np.zeros_like(x)], axis=-1)


def planar_positions(n_x: int = 16, n_z: int = 16, *, carrier: float = 28e9,
                     spacing: float = 0.5) -> np.ndarray:
    """Uniform planar array in the x-z plane (facing +y), row-major over (z, x).

    Returns
    -------
    ndarray, shape (n_x * n_z, 3)
        Element positions, m.

    Examples
    --------
    >>> planar_positions(16, 16).shape
    (256, 3)
    """
    step = spacing * wavelength(carrier)
    x = (np.arange(n_x) - (n_x - 1) / 2) * step
    z = (np.arange(n_z) - (n_z - 1) / 2) * step
    zz, xx = np.meshgrid(z, x, indexing="ij")
    return np.stack([xx.ravel(), np.zeros(xx.size), zz.ravel()], axis=-1)


def steering_vector(angle, *, rx_positions, carrier: float, elevation=0.0) -> np.ndarray:
    """Receive steering vector ``exp(+j 2 π f_c p_r · u / c)`` for azimuth ``angle``.

    Parameters
    ----------
    angle : array_like, shape (...)
        Azimuth, rad (positive towards +x).
    rx_positions : array_like, shape (R, 3)
        Element positions, m.
    carrier : float
        Carrier frequency, Hz.
    elevation : array_like, shape (...)
        Elevation above the x-y plane, rad.

    Returns
    -------
    ndarray of complex128, shape (..., R)
        ``u = (sin θ cos φ, cos θ cos φ, sin φ)``.

    Examples
    --------
    >>> a = steering_vector(np.pi / 6, rx_positions=ula_positions(4), carrier=28e9)
    >>> np.round(np.angle(a[1] / a[0]), 4)  # π d sin θ / (λ/2) = π / 2
    np.float64(1.5708)
    """
    angle = np.asarray(angle, dtype=float)[..., None]
    elevation = np.asarray(elevation, dtype=float)[..., None]
    rx = np.asarray(rx_positions, dtype=float)
    projection = (rx[:, 0] * np.sin(angle) * np.cos(elevation)
                  + rx[:, 1] * np.cos(angle) * np.cos(elevation) + rx[:, 2] * np.sin(elevation))
    return np.exp(2j * np.pi * carrier / SPEED_OF_LIGHT * projection)


def point_scatterer_csi(range_m, angle, *, frequency, rx_positions, amplitude=1.0,
                        carrier: float | None = None) -> np.ndarray:
    """CSI of one or more point scatterers in the x-y plane, straight from the model.

    Parameters
    ----------
    range_m, angle : array_like, shape (K,) or scalar
        Scatterer ranges (m) and azimuths (rad).
    frequency : array_like, shape (N,)
        Subcarrier frequencies, Hz.
    rx_positions : array_like, shape (R, 3)
        Element positions, m.
    amplitude : array_like, shape (K,) or scalar
        Complex amplitudes ``a_k``.
    carrier : float, optional
        Frequency of the steering vector; the mean of ``frequency`` by default.

    Returns
    -------
    ndarray of complex128, shape (R, N)
        ``sum_k a_k exp(-j 2 π f_n 2 r_k / c) steering_r(θ_k)``.

    Examples
    --------
    >>> f = subcarrier_frequencies(28e9, 800e6, 256)
    >>> h = point_scatterer_csi(10.0, 0.0, frequency=f, rx_positions=ula_positions(16))
    >>> h.shape, bool(np.allclose(abs(h), 1.0))
    ((16, 256), True)
    """
    frequency = np.asarray(frequency, dtype=float)
    carrier = float(np.mean(frequency)) if carrier is None else float(carrier)
    range_m = np.atleast_1d(np.asarray(range_m, dtype=float))
    angle = np.broadcast_to(np.atleast_1d(np.asarray(angle, dtype=float)), range_m.shape)
    amplitude = np.broadcast_to(np.atleast_1d(np.asarray(amplitude)), range_m.shape)
    delay = np.exp(-2j * np.pi * frequency[None, :] * 2 * range_m[:, None] / SPEED_OF_LIGHT)
    steer = steering_vector(angle, rx_positions=rx_positions, carrier=carrier)
    return np.einsum("k,kr,kn->rn", amplitude, steer, delay)


def _uniform_grid(frequency: np.ndarray) -> tuple[float, float]:
    spacing = (frequency[-1] - frequency[0]) / max(len(frequency) - 1, 1)
    if len(frequency) > 1 and not np.allclose(np.diff(frequency), spacing, rtol=1e-9, atol=1e-3):
        raise ValueError("subcarrier frequencies must be uniformly spaced")
    return float(frequency[0]), float(spacing)


def synthesise(path_range, direction, amplitude, *, frequency, rx_positions, carrier: float,
               radial_velocity=None, symbol_time=None, dtype=np.complex64) -> np.ndarray:
    """Noiseless CSI of ``F`` frames of paths (the equation in the module docstring).

    Parameters
    ----------
    path_range : ndarray, shape (F, K)
        Half round-trip path lengths, m.
    direction : ndarray, shape (F, K, 3)
        Unit arrival directions.
    amplitude : ndarray of complex, shape (F, K)
    frequency : ndarray, shape (N,)
        Uniformly spaced subcarrier frequencies, Hz.
    rx_positions : ndarray, shape (R, 3)
    carrier : float
        Hz; sets the steering vectors and the Doppler phase.
    radial_velocity : ndarray, shape (F, K), optional
        m/s, used with ``symbol_time``.
    symbol_time : ndarray, shape (S,), optional
        Slow-time instants, s; adds a ``symbol`` axis.
    dtype : numpy dtype
        Output dtype; the sum is accumulated in single precision either way.

    Returns
    -------
    ndarray, shape (F, R, N) or (F, S, R, N)

    Examples
    --------
    >>> f = subcarrier_frequencies(28e9, 800e6, 256)
    >>> h = synthesise(np.array([[10.0]]), np.array([[[0.0, 1.0, 0.0]]]), np.array([[1.0]]),
    ...                frequency=f, rx_positions=ula_positions(16), carrier=28e9)
    >>> h.shape, h.dtype.name
    ((1, 16, 256), 'complex64')

    Notes
    -----
    The sum runs in the numba kernel :func:`radarsp.simulate._kernels.channel_sum`
    (a per-frame ``(R x K) @ (K x N)`` product of steering and range-phasor tables).
    """
    from radarsp.simulate._kernels import channel_sum

    frequency = np.asarray(frequency, dtype=float)
    first, spacing = _uniform_grid(frequency)
    rx = np.ascontiguousarray(rx_positions, dtype=float)
    wavenumber = 2 * np.pi * carrier / SPEED_OF_LIGHT
    path_range = np.ascontiguousarray(path_range, dtype=float)
    direction = np.ascontiguousarray(direction, dtype=float)
    amplitude = np.asarray(amplitude, dtype=np.complex128)
    n_frames, n_rx = path_range.shape[0], rx.shape[0]
    if symbol_time is None:
        out = np.empty((n_frames, n_rx, len(frequency)), dtype=np.complex64)
        channel_sum(path_range, direction, np.ascontiguousarray(amplitude), rx, wavenumber,
                    first, spacing, out)
        return out.astype(dtype, copy=False)
    symbol_time = np.asarray(symbol_time, dtype=float)
    out = np.empty((n_frames, len(symbol_time), n_rx, len(frequency)), dtype=dtype)
    doppler = np.exp(-2j * wavenumber * np.asarray(radial_velocity)[:, None, :]
                     * symbol_time[None, :, None])
    block = np.empty((n_frames, n_rx, len(frequency)), dtype=np.complex64)
    for s in range(len(symbol_time)):
        channel_sum(path_range, direction, np.ascontiguousarray(amplitude * doppler[:, s]), rx,
                    wavenumber, first, spacing, block)
        out[:, s] = block
    return out


def noise_power(snr_db: float) -> float:
    """Noise power per complex CSI sample for a per-sample SNR of ``snr_db``.

    The SNR refers to the echo of a ``REFERENCE_RCS`` scatterer at ``REFERENCE_RANGE``,
    whose amplitude is ``sqrt(σ) / r^2`` (see :mod:`radarsp.simulate.scatter`).
    """
    return REFERENCE_RCS / REFERENCE_RANGE**4 / 10 ** (snr_db / 10)


def add_noise(csi: np.ndarray, power, *, seed: int, sequences, sequence_length: int) -> None:
    """Add circular complex Gaussian noise of ``power`` (per frame) to ``csi`` in place.

    Each sequence draws from ``numpy.random.default_rng([seed, sequence, 1])``, so noise
    depends only on the seed and the sequence, not on how frames are batched.

    Parameters
    ----------
    csi : ndarray of complex, shape (F, ...)
        ``F = len(sequences) * sequence_length``.
    power : array_like, shape (F,) or scalar
        Noise variance ``E|n|^2`` per sample.
    """
    frame_shape = csi.shape[1:]
    real = np.float32 if csi.dtype == np.complex64 else np.float64
    scale = np.sqrt(np.broadcast_to(np.asarray(power, float), csi.shape[:1]) / 2)
    for i, sequence in enumerate(sequences):
        rng = np.random.default_rng([seed, int(sequence), 1])
        draw = rng.standard_normal((sequence_length,) + frame_shape + (2,), dtype=real)
        block = slice(i * sequence_length, (i + 1) * sequence_length)
        noise = draw.view(csi.dtype)[..., 0]
        noise *= scale[block].reshape((-1,) + (1,) * len(frame_shape)).astype(real)
        csi[block] += noise
