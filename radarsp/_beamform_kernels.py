"""numba kernels of :mod:`radarsp.beamform`: Hermitian inverses, covariances, mean power.

Imported lazily, inside the :mod:`radarsp.beamform` functions that use them
(:func:`~radarsp.beamform.capon_spectrum`, :func:`~radarsp.beamform.spatial_covariance`,
:func:`~radarsp.beamform.fft_range_angle`, :func:`~radarsp.beamform.bartlett_range_angle` and
:func:`~radarsp.beamform.range_doppler`), so ``import radarsp`` never loads numba.
:func:`numpy.linalg.inv` on a stack of 16 x 16 matrices spends most of its time in
per-matrix LAPACK overhead; an unrolled Cholesky inverse is about 3x faster.
"""

from __future__ import annotations

import numpy as np

from radarsp._numba import njit

# Absolute floor on loading and pivots: keeps all-zero cells (e.g. zero-padded frames)
# invertible without overflowing float32 (1 / 1e-30 is still finite).
_FLOOR = 1e-30


@njit(cache=True)
def hermitian_inverse(matrices: np.ndarray, loading: float) -> np.ndarray:
    """Inverse of every diagonally loaded Hermitian matrix of a stack, via Cholesky.

    Each ``R`` is first loaded, ``R + (δ tr(R) / n + ε) I`` with ``δ = loading`` and
    ``ε = 1e-30``; then ``R = L L^H`` (``L`` lower triangular) and
    ``R^{-1} = L^{-H} L^{-1}`` (Golub & Van Loan, *Matrix Computations*, 4th ed.,
    alg. 4.2.1). Only the lower triangle of each ``R`` is read. A non-positive pivot (a
    singular matrix with no loading) is raised to ``ε`` so the result stays finite.

    Parameters
    ----------
    matrices : ndarray, shape (batch, n, n), complex64 or complex128
        Hermitian positive-semidefinite matrices.
    loading : float
        Diagonal loading ``δ`` relative to the mean eigenvalue ``tr(R) / n``.

    Returns
    -------
    ndarray, shape (batch, n, n), same dtype
        Inverses of the loaded matrices (exactly Hermitian).
    """
    batch, n, _ = matrices.shape
    out = np.empty_like(matrices)
    lower = np.zeros((n, n), dtype=matrices.dtype)
    inverse_lower = np.zeros((n, n), dtype=matrices.dtype)
    for b in range(batch):
        matrix = matrices[b]
        trace = 0.0
        for j in range(n):
            trace += matrix[j, j].real
        level = loading * trace / n + _FLOOR
        for j in range(n):
            pivot = matrix[j, j].real + level
            for k in range(j):
                pivot -= lower[j, k].real ** 2 + lower[j, k].imag ** 2
            diagonal = np.sqrt(max(pivot, _FLOOR))
            lower[j, j] = diagonal
            for i in range(j + 1, n):
                total = matrix[i, j]
                for k in range(j):
                    total -= lower[i, k] * np.conj(lower[j, k])
                lower[i, j] = total / diagonal
        for j in range(n):
            inverse_lower[j, j] = 1.0 / lower[j, j].real
            for i in range(j + 1, n):
                total = 0j
                for k in range(j, i):
                    total -= lower[i, k] * inverse_lower[k, j]
                inverse_lower[i, j] = total / lower[i, i].real
        result = out[b]
        for i in range(n):
            for j in range(i, n):
                total = 0j
                for k in range(j, n):
                    total += np.conj(inverse_lower[k, i]) * inverse_lower[k, j]
                result[i, j] = total
                result[j, i] = np.conj(total)
    return out


@njit(cache=True)
def snapshot_covariance(profiles: np.ndarray, mirror: np.ndarray) -> np.ndarray:
    """Sample covariance across snapshots of every (frame, range bin), optionally FB-averaged.

    .. math:: R_{nm}(f, r) = \\frac{1}{P} \\sum_{p} h_{f,p,n}(r) \\, h^*_{f,p,m}(r)

    and with ``mirror`` the forward-backward average
    ``(R_{nm} + R^*_{\\mu(n) \\mu(m)}) / 2``.

    Parameters
    ----------
    profiles : ndarray, shape (frame, snapshot, rx, range), complex64 or complex128
        Range profiles of each snapshot (sub-band and symbol).
    mirror : ndarray of int, shape (rx,) or (0,)
        ``mirror[n]`` is the element at the mirror position of ``n``; empty for no
        forward-backward averaging.

    Returns
    -------
    ndarray, shape (frame, range, rx, rx), same dtype
        Hermitian covariance matrices.

    Notes
    -----
    The innermost loop runs along range, the contiguous axis, so it vectorises; only the
    lower triangle is accumulated and mirrored at the end.
    """
    frames, snapshots, n_rx, n_range = profiles.shape
    out = np.empty((frames, n_range, n_rx, n_rx), dtype=profiles.dtype)
    accumulator = np.zeros((n_rx, n_rx, n_range), dtype=profiles.dtype)
    scale = 1.0 / snapshots
    for f in range(frames):
        accumulator[:] = 0
        for p in range(snapshots):
            snapshot = profiles[f, p]
            for n in range(n_rx):
                for m in range(n + 1):
                    row = accumulator[n, m]
                    for r in range(n_range):
                        row[r] += snapshot[n, r] * np.conj(snapshot[m, r])
        for n in range(n_rx):
            for m in range(n + 1):
                if mirror.size:
                    # R[μn, μm] lives in the lower triangle, or is the conjugate of one there.
                    mn, mm = mirror[n], mirror[m]
                    for r in range(n_range):
                        backward = (np.conj(accumulator[mn, mm, r]) if mn >= mm
                                    else accumulator[mm, mn, r])
                        value = 0.5 * scale * (accumulator[n, m, r] + backward)
                        out[f, r, n, m] = value
                        out[f, r, m, n] = np.conj(value)
                else:
                    for r in range(n_range):
                        value = accumulator[n, m, r] * scale
                        out[f, r, n, m] = value
                        out[f, r, m, n] = np.conj(value)
    return out


@njit(cache=True)
def mean_power(spectra: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out[f, r, a] = mean_s |spectra[f, s, r, a]|²`` in one pass, float32.

    One fused loop instead of ``abs``, ``square`` and ``mean`` over temporaries: the power step
    of the FFT and Bartlett maps is memory-bound, so this halves its cost.

    Parameters
    ----------
    spectra : ndarray, shape (frame, symbol, range, angle), complex64
    out : ndarray, shape (frame, range, angle), float32
        Written in place and returned.
    """
    frames, symbols, n_range, n_angle = spectra.shape
    scale = np.float32(1.0 / symbols)
    for f in range(frames):
        for r in range(n_range):
            for a in range(n_angle):
                value = spectra[f, 0, r, a]
                out[f, r, a] = value.real * value.real + value.imag * value.imag
        for s in range(1, symbols):
            for r in range(n_range):
                for a in range(n_angle):
                    value = spectra[f, s, r, a]
                    out[f, r, a] += value.real * value.real + value.imag * value.imag
        if symbols > 1:
            for r in range(n_range):
                for a in range(n_angle):
                    out[f, r, a] *= scale
    return out
