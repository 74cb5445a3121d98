"""Plain-array kernels behind :mod:`radarsp.heatmap`: range transform, beamformers, Doppler.

Every kernel takes CSI as a complex64 array of shape ``(frame, symbol, rx, subcarrier)`` (a
missing ``symbol`` dimension is passed as length 1) and returns float32 linear power with the
working axes last. Frames are processed in blocks of a few megabytes so the intermediate
spectra stay in cache and the peak memory is independent of the number of frames.

Signal model (monostatic OFDM radar, Sturm & Wiesbeck, Proc. IEEE 99(7), 2011): a point
scatterer at range ``r``, azimuth ``θ`` and radial velocity ``v`` (positive receding) gives

.. math::

    H[s, n, k] = \\alpha \\, e^{-j 2\\pi f_k 2 r / c} \\,
                 e^{+j 2\\pi (x_n \\sin\\theta + y_n \\cos\\theta) / \\lambda} \\,
                 e^{-j 2\\pi f_c 2 v t_s / c}

for subcarrier frequency ``f_k``, element position ``(x_n, y_n)``, carrier wavelength
``λ = c / f_c`` and symbol instant ``t_s``. Range is an inverse DFT over ``k``, angle a
beamformer over ``n``, velocity an inverse DFT over ``s``. The array response uses the carrier
wavelength for all subcarriers (narrowband approximation, exact to the fractional bandwidth).
"""

from __future__ import annotations

import numpy as np

from radarsp.windows import window

# Bytes of complex CSI handled per block: small enough that a block and its spectra stay in a
# core's private cache; measured 1.3x faster than 4 MB blocks on a machine whose shared L3 is
# busy with other processes, at no cost when it is idle.
_BLOCK_BYTES = 1 << 20


def _block_frames(csi: np.ndarray) -> int:
    """Frames per block so one block of ``csi`` is about :data:`_BLOCK_BYTES`."""
    per_frame = max(1, csi[:1].nbytes)
    return max(1, _BLOCK_BYTES // per_frame)


def steering_matrix(x, y, angles, wavelength: float) -> np.ndarray:
    """Azimuth steering vectors of an array in the x-y plane.

    .. math:: a_n(\\theta) = e^{+j 2\\pi (x_n \\sin\\theta + y_n \\cos\\theta) / \\lambda}

    Parameters
    ----------
    x, y : array_like, shape (rx,)
        Element positions in metres (boresight +y, positive angle towards +x).
    angles : array_like, shape (angle,)
        Azimuth in radians.
    wavelength : float
        Carrier wavelength in metres.

    Returns
    -------
    ndarray, shape (rx, angle), complex128

    Examples
    --------
    >>> a = steering_matrix([0.0, 0.5], [0.0, 0.0], [0.0, np.pi / 2], wavelength=1.0)
    >>> np.round(a, 6).tolist()
    [[(1+0j), (1+0j)], [(1+0j), (-1+0j)]]
    """
    x = np.asarray(x, dtype=float)[:, None]
    y = np.asarray(y, dtype=float)[:, None]
    angles = np.asarray(angles, dtype=float)[None, :]
    return np.exp(2j * np.pi * (x * np.sin(angles) + y * np.cos(angles)) / wavelength)


def uniform_linear_spacing(x, y, z, *, rtol: float = 1e-6) -> tuple[np.ndarray, float] | None:
    """Order along x and spacing ``d`` of a uniform linear array, or None for other arrays.

    Parameters
    ----------
    x, y, z : ndarray, shape (rx,)
        Element positions, metres.
    rtol : float
        Tolerance on equal spacing, and (times the aperture) on common y and z.

    Returns
    -------
    (order, spacing) or None
        ``x[order]`` increases in steps of ``spacing`` metres.

    Examples
    --------
    >>> order, d = uniform_linear_spacing(np.array([0.1, 0.0, 0.2]), np.zeros(3), np.zeros(3))
    >>> order.tolist(), round(d, 9)
    ([1, 0, 2], 0.1)
    >>> uniform_linear_spacing(np.array([0.0, 0.1, 0.3]), np.zeros(3), np.zeros(3)) is None
    True
    """
    order = np.argsort(x, kind="stable")
    steps = np.diff(x[order])
    if steps.size == 0 or steps[0] <= 0:
        return None
    aperture = float(np.ptp(x))
    uniform = (
        np.allclose(steps, steps[0], rtol=rtol, atol=0)
        and np.ptp(y) <= rtol * aperture
        and np.ptp(z) <= rtol * aperture
    )
    return (order, float(steps[0])) if uniform else None


def mirror_permutation(positions: np.ndarray, *, tolerance: float) -> np.ndarray | None:
    """Index of each element's mirror image through the array centroid, or None.

    Parameters
    ----------
    positions : ndarray, shape (rx, 3)
        Element positions, metres.
    tolerance : float
        Largest distance, metres, between a mirrored position and the element matched to it.

    Returns
    -------
    ndarray of int, shape (rx,), or None
        ``mirror[n]`` sits at ``2 c - p_n`` (``c`` the centroid); None when the array is not
        centro-symmetric.

    Examples
    --------
    >>> mirror_permutation(np.array([[0.0, 0, 0], [1, 0, 0], [2, 0, 0]]), tolerance=1e-9).tolist()
    [2, 1, 0]
    """
    mirrored = 2 * positions.mean(axis=0) - positions
    distance = np.linalg.norm(positions[None, :, :] - mirrored[:, None, :], axis=-1)
    match = distance.argmin(axis=1)
    found = distance[np.arange(len(match)), match] <= tolerance
    if not found.all() or len(set(match.tolist())) != len(match):
        return None
    return match


def column_taper(spec: str, x: np.ndarray, *, resolution: float) -> np.ndarray:
    """Element weights of an azimuth taper for any geometry: one taper value per x column.

    Elements are grouped by x position (rounded to ``resolution`` metres), the azimuth
    aperture, and the taper ``spec`` runs over the distinct columns in increasing x. For a
    linear array this is the usual element taper; a planar array has its columns tapered, as
    an azimuth cut sees them.

    Parameters
    ----------
    spec : str
        Window name (see :func:`radarsp.windows.window`).
    x : ndarray, shape (rx,)
        Element x positions, metres.
    resolution : float
        Positions closer than this are the same column, metres.

    Returns
    -------
    ndarray, shape (rx,)

    Examples
    --------
    >>> column_taper("hann", np.array([0.0, 0.1, 0.2, 0.0, 0.1, 0.2]), resolution=1e-6)
    array([0., 1., 0., 0., 1., 0.])
    """
    columns, index = np.unique(np.round(x / resolution), return_inverse=True)
    return window(spec, len(columns))[index.ravel()]


def _range_transform(block, weights, n_fft: int, n_range: int, workers: int) -> np.ndarray:
    """Weighted inverse DFT over the last axis (subcarriers), keeping the first ``n_range`` bins.

    ``weights`` broadcasts against ``block`` and already holds the taper, the normalisation and
    any angle weights, so the data is touched once before the transform. The inverse DFT is
    unscaled (``norm="forward"``): the normalisation lives in ``weights``.
    """
    import scipy.fft

    shape = np.broadcast_shapes(block.shape, np.shape(weights))
    # Taper straight into the zero-padded buffer: no separate padding copy inside scipy.
    allocate = np.zeros if n_fft > shape[-1] else np.empty
    padded = allocate(shape[:-1] + (n_fft,), dtype=np.complex64)
    np.multiply(block, weights, out=padded[..., : shape[-1]])
    spectrum = scipy.fft.ifft(padded, axis=-1, norm="forward", overwrite_x=True, workers=workers)
    return spectrum[..., :n_range]


def fft_range_angle(
    csi: np.ndarray,
    *,
    range_weights: np.ndarray,
    angle_weights: np.ndarray,
    n_range_fft: int,
    n_range: int,
    n_angle_fft: int,
    angle_slice: slice,
    workers: int = 1,
) -> np.ndarray:
    """Range-angle power by a 2-D DFT: inverse DFT over subcarriers, zero-padded DFT over rx.

    Parameters
    ----------
    csi : ndarray, shape (frame, symbol, rx, subcarrier), complex64
        Elements in ascending x order of a uniform linear array.
    range_weights : ndarray, shape (subcarrier,)
        Range taper divided by its sum.
    angle_weights : ndarray, shape (rx,), complex
        Angle taper divided by its sum, times ``exp(+j 2π n ⌊Q/2⌋ / Q)`` so the DFT output
        comes out centred (fftshifted) without a copy.
    n_range_fft, n_range : int
        Inverse DFT length (``>=`` subcarriers; zero-padded) and number of bins kept.
    n_angle_fft : int
        Angle DFT length ``Q``; output bin ``q`` holds spatial frequency ``q - ⌊Q/2⌋``.
    angle_slice : slice
        Angle bins kept (those in the visible region and the requested span).
    workers : int
        Threads for :mod:`scipy.fft` (``-1``: all cores).

    Returns
    -------
    ndarray, shape (frame, n_range, angle), float32
        ``|Y|²`` averaged over symbols.
    """
    import scipy.fft

    from radarsp._beamform_kernels import mean_power

    frames = csi.shape[0]
    weights = (angle_weights[:, None] * range_weights[None, :]).astype(np.complex64)
    n_angle = len(range(n_angle_fft)[angle_slice])
    out = np.empty((frames, n_range, n_angle), dtype=np.float32)
    step = _block_frames(csi)
    for start in range(0, frames, step):
        stop = min(frames, start + step)
        profile = _range_transform(csi[start:stop], weights, n_range_fft, n_range, workers)
        # Transposing the short (rx, range) block first lets the angle DFT write the
        # (range, angle) layout directly, instead of transposing the 4x larger spectrum.
        by_range = np.ascontiguousarray(profile.swapaxes(-1, -2))
        spectrum = scipy.fft.fft(
            by_range, n=n_angle_fft, axis=-1, overwrite_x=True, workers=workers
        )[..., angle_slice]
        mean_power(spectrum, out[start:stop])
    return out


def bartlett_range_angle(
    csi: np.ndarray,
    *,
    range_weights: np.ndarray,
    beam_weights: np.ndarray,
    n_range_fft: int,
    n_range: int,
    workers: int = 1,
) -> np.ndarray:
    """Range-angle power by delay-and-sum (Bartlett) beamforming of each range bin.

    .. math:: P(r, \\theta) = \\big| \\textstyle\\sum_n w_n a_n^*(\\theta) h_n(r) \\big|^2

    with ``h_n(r)`` the range profile of element ``n``: one matrix product per block.

    Parameters
    ----------
    csi : ndarray, shape (frame, symbol, rx, subcarrier), complex64
    range_weights : ndarray, shape (subcarrier,)
        Range taper divided by its sum.
    beam_weights : ndarray, shape (rx, angle), complex
        ``w_n a_n^*(θ) / Σ w``: taper times conjugate steering vectors.
    n_range_fft, n_range : int
        Inverse DFT length and number of range bins kept.
    workers : int
        Threads for :mod:`scipy.fft`.

    Returns
    -------
    ndarray, shape (frame, n_range, angle), float32
        Power averaged over symbols.
    """
    from radarsp._beamform_kernels import mean_power

    frames, symbols, _, _ = csi.shape
    beam_weights = beam_weights.astype(np.complex64)
    out = np.empty((frames, n_range, beam_weights.shape[1]), dtype=np.float32)
    weights = range_weights.astype(np.float32)
    step = _block_frames(csi)
    for start in range(0, frames, step):
        stop = min(frames, start + step)
        profile = _range_transform(csi[start:stop], weights, n_range_fft, n_range, workers)
        # One (frames*symbols*range, rx) x (rx, angle) GEMM; a stacked matmul on the strided
        # view would fall back to a slow non-BLAS loop.
        by_range = np.ascontiguousarray(profile.swapaxes(-1, -2))
        beams = by_range.reshape(-1, by_range.shape[-1]) @ beam_weights
        mean_power(beams.reshape(stop - start, symbols, n_range, -1), out[start:stop])
    return out


def spatial_covariance(
    csi: np.ndarray,
    *,
    subband_weights: np.ndarray,
    subband_starts: np.ndarray,
    n_range_fft: int,
    n_range: int,
    mirror: np.ndarray | None,
    workers: int = 1,
) -> np.ndarray:
    """Spatial covariance of every range bin from sub-band (and symbol) snapshots.

    The band of ``K`` subcarriers is cut into ``L`` overlapping sub-bands of ``M`` subcarriers
    starting at ``subband_starts``; each sub-band gives a range profile on the same range grid
    (zero-padded to ``n_range_fft``) at the coarser resolution ``c / (2 M Δf)``. A scatterer at
    delay ``τ`` appears in sub-band ``l`` with the extra phase ``exp(-j 2π s_l Δf τ)``, so
    scatterers in the same range cell but at different delays decorrelate across sub-bands
    (frequency-domain smoothing). With ``S`` symbols the ``S L`` snapshots give

    .. math:: \\hat R(r) = \\frac{1}{S L} \\sum_{s, l} h_{s,l}(r) \\, h_{s,l}(r)^H

    and, for a centro-symmetric array, forward-backward averaging
    ``(R + J R^* J) / 2`` with ``J`` the permutation that mirrors each element through the
    array centre (Pillai & Kwon, IEEE Trans. ASSP 37(1), 1989), which decorrelates coherent
    pairs further and doubles the effective snapshot count.

    Parameters
    ----------
    csi : ndarray, shape (frame, symbol, rx, subcarrier), complex64
    subband_weights : ndarray, shape (M,)
        Range taper of one sub-band divided by its sum.
    subband_starts : ndarray of int, shape (L,)
        First subcarrier of each sub-band.
    n_range_fft, n_range : int
        Inverse DFT length and number of range bins kept.
    mirror : ndarray of int, shape (rx,), or None
        ``mirror[n]`` is the element at the mirror position of ``n``; ``None`` skips
        forward-backward averaging.
    workers : int
        Threads for :mod:`scipy.fft`.

    Returns
    -------
    ndarray, shape (frame, n_range, rx, rx), complex64
        Hermitian covariance matrices.
    """
    from radarsp._beamform_kernels import snapshot_covariance

    frames, _, n_rx, _ = csi.shape
    length = len(subband_weights)
    out = np.empty((frames, n_range, n_rx, n_rx), dtype=np.complex64)
    # Sub-band axis next to symbols: the profiles then read as (frame, snapshot, rx, range).
    starts = np.asarray(subband_starts)[:, None] + np.arange(length)
    weights = subband_weights.astype(np.float32)
    fb_mirror = np.zeros(0, np.int64) if mirror is None else np.asarray(mirror, np.int64)
    step = max(1, _block_frames(csi) // len(subband_starts))
    for start in range(0, frames, step):
        stop = min(frames, start + step)
        subbands = csi[start:stop][..., starts].swapaxes(2, 3)  # (b, S, L, N, M)
        profile = _range_transform(subbands, weights, n_range_fft, n_range, workers)
        snapshots = np.ascontiguousarray(profile).reshape(stop - start, -1, n_rx, n_range)
        out[start:stop] = snapshot_covariance(snapshots, fb_mirror)
    return out


def _quadratic_forms(matrices: np.ndarray, steering: np.ndarray) -> np.ndarray:
    """``Re(a^H X a)`` for every matrix ``X`` of ``matrices`` and every column ``a``.

    Written as one GEMM, ``vec(X) · (a^* ⊗ a)``, instead of a stacked matrix product per
    matrix: the batch of small matrices then runs at BLAS speed.
    """
    n_rx = matrices.shape[-1]
    steering = steering.astype(matrices.dtype)
    outer = (steering.conj()[:, None, :] * steering[None, :, :]).reshape(n_rx * n_rx, -1)
    flat = np.ascontiguousarray(matrices).reshape(-1, n_rx * n_rx)
    return (flat @ outer).real.reshape(matrices.shape[:-2] + (steering.shape[1],))


def capon_spectrum(covariance: np.ndarray, steering: np.ndarray, *, loading: float) -> np.ndarray:
    """Capon / MVDR power (Capon, Proc. IEEE 57(8), 1969).

    .. math:: P(\\theta) = \\frac{1}{a^H(\\theta) (R + \\delta \\bar\\lambda I)^{-1} a(\\theta)}

    with ``λ̄ = tr R / N``. With unit-modulus steering vectors a unit-amplitude source alone in
    its cell has ``P ≈ 1``, the same scale as the Bartlett and FFT maps.

    Parameters
    ----------
    covariance : ndarray, shape (..., rx, rx), complex
    steering : ndarray, shape (rx, angle), complex
    loading : float
        Diagonal loading ``δ`` relative to the mean eigenvalue.

    Returns
    -------
    ndarray, shape (..., angle), float32
    """
    from radarsp._beamform_kernels import hermitian_inverse

    n_rx = covariance.shape[-1]
    stack = np.ascontiguousarray(covariance).reshape(-1, n_rx, n_rx)
    inverse = hermitian_inverse(stack, float(loading)).reshape(covariance.shape)
    quadratic = _quadratic_forms(inverse, steering)
    return (1.0 / np.maximum(quadratic, 1e-30)).astype(np.float32)


def music_spectrum(covariance: np.ndarray, steering: np.ndarray, *, n_sources: int) -> np.ndarray:
    """MUSIC spectrum scaled to power (Schmidt, IEEE Trans. AP 34(3), 1986).

    The pseudo-spectrum ``1 / ‖E_n^H a(θ)‖²`` (``E_n``: eigenvectors of the ``N - K``
    smallest eigenvalues) has no power scale, so each range bin's pseudo-spectrum is divided by
    its maximum and multiplied by that bin's signal power estimate
    ``(Σ_{i ≤ K} λ_i - K σ̂²) / N`` (``λ_i``: the ``K`` largest eigenvalues, ``σ̂²``: mean of
    the others). Bins holding only noise then stay dark and a unit-amplitude source has
    power ≈ 1, as in the other maps.

    Parameters
    ----------
    covariance : ndarray, shape (..., rx, rx), complex
    steering : ndarray, shape (rx, angle), complex
    n_sources : int
        Number of sources ``K`` (``1 <= K < rx``).

    Returns
    -------
    ndarray, shape (..., angle), float32
    """
    n_rx = covariance.shape[-1]
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    noise = eigenvectors[..., : n_rx - n_sources]
    projector = np.matmul(noise, noise.conj().swapaxes(-1, -2))
    pseudo = 1.0 / np.maximum(_quadratic_forms(projector, steering), 1e-30)
    noise_power = eigenvalues[..., : n_rx - n_sources].mean(axis=-1)
    signal = eigenvalues[..., n_rx - n_sources :].sum(axis=-1) - n_sources * noise_power
    scale = np.maximum(signal, 0.0) / n_rx / pseudo.max(axis=-1)
    return (pseudo * scale[..., None]).astype(np.float32)


def range_doppler(
    csi: np.ndarray,
    *,
    range_weights: np.ndarray,
    doppler_weights: np.ndarray,
    n_range_fft: int,
    n_range: int,
    n_velocity_fft: int,
    workers: int = 1,
) -> np.ndarray:
    """Range-Doppler power: inverse DFTs over subcarriers and symbols, power averaged over rx.

    Parameters
    ----------
    csi : ndarray, shape (frame, symbol, rx, subcarrier), complex64
    range_weights : ndarray, shape (subcarrier,)
        Range taper divided by its sum.
    doppler_weights : ndarray, shape (symbol,), complex
        Doppler taper divided by its sum, times ``exp(-j 2π s ⌊V/2⌋ / V)`` so that output bin
        ``l`` holds Doppler bin ``l - ⌊V/2⌋`` (negative to positive velocity).
    n_range_fft, n_range : int
        Inverse DFT length and number of range bins kept.
    n_velocity_fft : int
        Slow-time inverse DFT length ``V`` (``>=`` symbols; zero-padded).
    workers : int
        Threads for :mod:`scipy.fft`.

    Returns
    -------
    ndarray, shape (frame, n_range, velocity), float32
        Power averaged over the receive elements (non-coherent integration).
    """
    import scipy.fft

    from radarsp._beamform_kernels import mean_power

    frames = csi.shape[0]
    weights = (doppler_weights[:, None, None] * range_weights[None, None, :]).astype(np.complex64)
    out = np.empty((frames, n_range, n_velocity_fft), dtype=np.float32)
    step = _block_frames(csi)
    for start in range(0, frames, step):
        stop = min(frames, start + step)
        profile = _range_transform(csi[start:stop], weights, n_range_fft, n_range, workers)
        # Symbols last: the slow-time DFT then writes (rx, range, velocity) directly, and
        # mean_power averages over rx (its second axis) into the (range, velocity) layout.
        by_symbol = np.ascontiguousarray(profile.transpose(0, 2, 3, 1))
        spectrum = scipy.fft.ifft(
            by_symbol, n=n_velocity_fft, axis=-1, norm="forward", overwrite_x=True,
            workers=workers,
        )  # (b, N, R, V)
        mean_power(spectrum, out[start:stop])
    return out
