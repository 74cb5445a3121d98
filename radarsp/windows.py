"""Tapers for the range, angle and Doppler transforms of :mod:`radarsp.heatmap`.

A window is named by a string: ``"none"`` (rectangular), ``"hann"``, ``"hamming"``,
``"blackman"``, or ``"taylor"`` / ``"taylor-<sll>"`` (a Taylor taper whose near sidelobes sit
``sll`` dB below the peak; 30 dB when omitted). Every window is the symmetric form, scaled to a
peak of 1; :mod:`radarsp.heatmap` divides by its sum so a unit-amplitude point scatterer centred
on a bin has unit power whatever the taper.
"""

from __future__ import annotations

import math

import numpy as np

#: Peak sidelobe level (dB relative to the main lobe) of each named taper on a long aperture
#: (Harris, "On the use of windows for harmonic analysis with the DFT", Proc. IEEE 66(1), 1978).
#: Short apertures deviate: a 16-element Hamming taper reaches only about -39.4 dB.
PEAK_SIDELOBE_DB = {
    "none": -13.26,
    "hann": -31.47,
    "hamming": -42.68,
    "blackman": -58.11,
}

WINDOW_NAMES = ("none", "hann", "hamming", "blackman", "taylor")
# Cosine-sum coefficients a_k of the symmetric windows (Harris 1978, table 1).
_COSINE_COEFFICIENTS = {
    "hann": (0.5, 0.5),
    "hamming": (0.54, 0.46),
    "blackman": (0.42, 0.5, 0.08),
}
_TAYLOR_DEFAULT_SLL = 30.0
# |weight| at or below this counts as zero in normalise (tapers peak at 1)
_ZERO_WEIGHT = 1e-12


def parse_window(spec: str) -> tuple[str, float | None]:
    """Split a window name into its family and, for Taylor, the sidelobe level in dB.

    Parameters
    ----------
    spec : str
        ``"none"``, ``"hann"``, ``"hamming"``, ``"blackman"``, ``"taylor"`` or
        ``"taylor-<sll>"`` (e.g. ``"taylor-40"``).

    Returns
    -------
    family : str
        One of :data:`WINDOW_NAMES`.
    sll : float or None
        Taylor sidelobe level in dB (positive number), ``None`` for the other families.

    Examples
    --------
    >>> parse_window("taylor-40")
    ('taylor', 40.0)
    >>> parse_window("hann")
    ('hann', None)
    """
    if not isinstance(spec, str):
        raise ValueError(f"window must be a name such as 'hann' or 'taylor-40', got {spec!r}")
    family, _, level = spec.strip().lower().partition("-")
    if family not in WINDOW_NAMES or (level and family != "taylor"):
        raise ValueError(
            f"unknown window {spec!r}; expected one of none, hann, hamming, blackman, "
            "taylor or taylor-<sidelobe dB> (e.g. taylor-40)"
        )
    if family != "taylor":
        return family, None
    try:
        sll = float(level) if level else _TAYLOR_DEFAULT_SLL
    except ValueError:
        raise ValueError(f"window {spec!r}: expected taylor-<sidelobe level in dB>") from None
    if not 13.3 <= sll <= 120.0:
        raise ValueError(f"window {spec!r}: Taylor sidelobe level must lie in [13.3, 120] dB")
    return family, sll


def taylor_nbar(sll: float) -> int:
    """Smallest number of near sidelobes ``n̄`` that keeps a Taylor taper monotonic.

    ``n̄ >= 2 A² + 1/2`` with ``A = arccosh(10^(sll/20)) / π`` (Carrara, Goodman & Majewski,
    *Spotlight Synthetic Aperture Radar*, 1995, eq. D.12); with fewer terms the sidelobes
    overshoot the requested level.

    Examples
    --------
    >>> taylor_nbar(30.0), taylor_nbar(40.0)
    (4, 7)
    """
    a = math.acosh(10.0 ** (sll / 20.0)) / math.pi
    return max(2, math.ceil(2.0 * a * a + 0.5))


def _cosine_sum(coefficients, length: int) -> np.ndarray:
    """Symmetric generalised cosine window ``Σ_k (-1)^k a_k cos(2π k n / (M - 1))``."""
    phase = 2.0 * np.pi * np.arange(length) / (length - 1)
    return sum((-1) ** k * a * np.cos(k * phase) for k, a in enumerate(coefficients))


def _taylor(length: int, sll: float) -> np.ndarray:
    r"""Symmetric Taylor taper with ``n̄ = taylor_nbar(sll)``, peak 1.

    .. math::

        w[n] = 1 + 2 \sum_{m=1}^{\bar n - 1} F_m \cos\big(2\pi m (n - M/2 + 1/2) / M\big)

    with the coefficients ``F_m`` of Carrara, Goodman & Majewski (1995), eqs. D.12-D.14
    (the same construction as :func:`scipy.signal.windows.taylor`).
    """
    nbar = taylor_nbar(sll)
    a = math.acosh(10.0 ** (sll / 20.0)) / math.pi
    sigma2 = nbar**2 / (a**2 + (nbar - 0.5) ** 2)
    orders = np.arange(1, nbar)
    squared = orders.astype(float) ** 2
    coefficients = np.empty(nbar - 1)
    for i, m2 in enumerate(squared):
        numerator = (-1) ** i * np.prod(1 - m2 / sigma2 / (a**2 + (orders - 0.5) ** 2))
        others = np.delete(squared, i)
        coefficients[i] = numerator / (2 * np.prod(1 - m2 / others))

    def taper(n):
        phase = 2 * np.pi * orders[:, None] * (np.asarray(n, float) - length / 2 + 0.5) / length
        return 1 + 2 * coefficients @ np.cos(phase)

    return taper(np.arange(length)) / taper([(length - 1) / 2])[0]


def window(spec: str, length: int) -> np.ndarray:
    """Return the symmetric taper ``spec`` of ``length`` samples, peak 1, float64.

    Implemented with numpy alone (importing :mod:`scipy.signal` costs more than a second);
    the tests check every taper against :mod:`scipy.signal.windows`.

    Parameters
    ----------
    spec : str
        Window name (see :func:`parse_window`).
    length : int
        Number of samples (subcarriers, elements or symbols).

    Returns
    -------
    ndarray, shape (length,)

    Examples
    --------
    >>> window("hann", 5).round(3).tolist()
    [0.0, 0.5, 1.0, 0.5, 0.0]
    >>> float(window("none", 4).sum())
    4.0
    """
    family, sll = parse_window(spec)
    if family == "none" or length == 1:
        return np.ones(length)
    if family == "taylor":
        return _taylor(length, sll)
    return _cosine_sum(_COSINE_COEFFICIENTS[family], length)


def normalise(taper: np.ndarray, spec: str, over: str) -> np.ndarray:
    """Divide a taper by its sum (unit coherent gain), refusing a taper that keeps too little.

    Parameters
    ----------
    taper : ndarray, shape (n,)
        Weights of the window ``spec`` (peak 1), e.g. from :func:`window`.
    spec : str
        Window name, for the error message.
    over : str
        What the taper runs over, plural (``"subcarriers"``, ``"receive elements"``,
        ``"symbols"``), for the error message.

    Returns
    -------
    ndarray, shape (n,)
        ``taper / taper.sum()``, float64.

    Raises
    ------
    ValueError
        If fewer than 2 weights exceed 1e-12 (1 for a single sample): a Hann or Blackman
        taper over 2 or 3 samples zeroes all but the centre, which leaves nothing (NaN
        everywhere) or a single sample (no resolution) to transform.

    Examples
    --------
    >>> normalise(window("hann", 4), "hann", "symbols").round(3).tolist()
    [0.0, 0.5, 0.5, 0.0]
    """
    taper = np.asarray(taper, dtype=float)
    # Tapers peak at 1, so rounding residue (Blackman's ends are -1.4e-17) counts as zero.
    if np.count_nonzero(np.abs(taper) > _ZERO_WEIGHT) < min(2, taper.size):
        raise ValueError(
            f"window {spec!r} over {taper.size} {over} leaves fewer than 2 non-zero weights; "
            f"use window 'none' for so short an aperture"
        )
    return taper / taper.sum()


def normalised_window(spec: str, length: int, over: str = "samples") -> np.ndarray:
    """The taper ``spec`` of ``length`` samples divided by its sum (unit coherent gain).

    Parameters
    ----------
    spec : str
        Window name (see :func:`parse_window`).
    length : int
        Number of samples.
    over : str
        What the samples are (plural), named in the error message.

    Returns
    -------
    ndarray, shape (length,)
        float64, summing to 1.

    Raises
    ------
    ValueError
        If the taper leaves fewer than 2 non-zero weights (see :func:`normalise`).

    Examples
    --------
    >>> normalised_window("hann", 5).round(3).tolist()
    [0.0, 0.25, 0.5, 0.25, 0.0]
    >>> normalised_window("hann", 2, "receive elements")
    Traceback (most recent call last):
    ...
    ValueError: window 'hann' over 2 receive elements leaves fewer than 2 non-zero weights; ...
    """
    return normalise(window(spec, length), spec, over)


def window_pair(spec) -> tuple[str, str]:
    """``"hann"`` -> ``("hann", "hann")``; a pair of names is checked and returned as a tuple.

    Examples
    --------
    >>> window_pair(["hann", "taylor-40"])
    ('hann', 'taylor-40')
    """
    pair = (spec, spec) if isinstance(spec, str) else tuple(spec)
    if len(pair) != 2:
        raise ValueError(f"window must be a name or a pair of names, got {spec!r}")
    for name in pair:
        parse_window(name)
    return pair


def peak_sidelobe_db(spec: str) -> float:
    """Theoretical peak sidelobe level (dB, negative) of the window ``spec``.

    Examples
    --------
    >>> peak_sidelobe_db("hann"), peak_sidelobe_db("taylor-35")
    (-31.47, -35.0)
    """
    family, sll = parse_window(spec)
    return -sll if family == "taylor" else PEAK_SIDELOBE_DB[family]
