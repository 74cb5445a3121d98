"""Exact CFAR threshold factors for square-law detected (exponential) noise.

A cell under test ``X`` and ``N`` training cells are i.i.d. exponential with unknown mean
``mu`` under the noise-only hypothesis. Every detector here declares a detection when
``X > alpha * Z`` where ``Z`` is a noise estimate with the scale of ``mu``; the false-alarm
probability is then ``Pfa = E[exp(-alpha Z / mu)]``, independent of ``mu`` (that is what makes
the rate constant). For each estimator ``Z``:

``ca`` (cell averaging), ``Z`` = mean of the ``N`` cells::

    Pfa = (1 + alpha / N) ** -N            =>   alpha = N (Pfa ** (-1/N) - 1)

``os`` (ordered statistic), ``Z`` = the ``k``-th smallest of the ``N`` cells (Rohling 1983)::

    Pfa = prod_{i=0}^{k-1} (N - i) / (N - i + alpha)

``go`` / ``so`` (greatest-of / smallest-of), ``Z`` = max / min of the means ``U`` and ``V`` of a
leading half with ``m`` cells and a lagging half with ``n`` cells (Gandhi and Kassam, "Analysis
of CFAR processors in nonhomogeneous background", IEEE TAES 24(4), 1988, generalised here to
``m != n``, which truncated edges produce). Integrating the gamma densities of ``m U`` and ``n V``
term by term gives the finite positive series::

    Pfa_SO = sum_{j=0}^{n-1} C(m-1+j, j) m^m n^j / (alpha+m+n)^(m+j)
           + sum_{i=0}^{m-1} C(n-1+i, i) n^n m^i / (alpha+m+n)^(n+i)
    Pfa_GO = (1 + alpha/m)^-m + (1 + alpha/n)^-n - Pfa_SO

For ``m = n`` these are Gandhi and Kassam's expressions with their factor ``T = alpha / n`` on
the half sums. ``os``, ``go`` and ``so`` are solved for ``alpha`` numerically (``Pfa`` is
strictly decreasing in ``alpha``), once per configuration: results are cached.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Literal

import numpy as np

Method = Literal["ca", "go", "so", "os"]
METHODS: tuple[str, ...] = ("ca", "go", "so", "os")


def check_pfa(pfa: float) -> float:
    """Return ``pfa`` as a float, or raise ValueError unless ``0 < pfa < 1``."""
    pfa = float(pfa)
    if not 0.0 < pfa < 1.0:
        raise ValueError(f"pfa must lie strictly between 0 and 1, got {pfa!r}")
    return pfa


def default_rank(n_train: int) -> int:
    """Default OS rank: ``round(3 N / 4)`` (at least 1), 1-based."""
    return max(1, int(math.floor(0.75 * n_train + 0.5)))


def scaled_rank(rank: int, n_full: int, n_train: int) -> int:
    """Rank used where truncation leaves ``n_train`` of the ``n_full`` training cells.

    The same quantile of the smaller sample: ``round(rank * n_train / n_full)`` clipped to
    ``[1, n_train]``, so the estimator keeps its robustness to interfering targets.
    """
    return min(n_train, max(1, int(math.floor(rank * n_train / n_full + 0.5))))


def ca_pfa(alpha: float, n_train: int) -> float:
    """False-alarm probability of CA-CFAR: ``(1 + alpha / N) ** -N``."""
    return (1.0 + alpha / n_train) ** (-n_train)


def os_pfa(alpha: float, n_train: int, rank: int) -> float:
    """False-alarm probability of OS-CFAR: ``prod_{i<k} (N - i) / (N - i + alpha)``."""
    i = np.arange(rank, dtype=float)
    return float(np.exp(np.sum(np.log(n_train - i) - np.log(n_train - i + alpha))))


def _log_terms(alpha: float, m: int, n: int) -> np.ndarray:
    """Logs of the terms of ``Pfa_SO`` (see the module docstring)."""
    from scipy.special import gammaln

    s = math.log(alpha + m + n)
    out = []
    for a, b in ((m, n), (n, m)):
        j = np.arange(b, dtype=float)
        log_binom = gammaln(a + j) - gammaln(a) - gammaln(j + 1.0)
        out.append(log_binom + a * math.log(a) + j * math.log(b) - (a + j) * s)
    return np.concatenate(out)


def so_pfa(alpha: float, n_lead: int, n_lag: int) -> float:
    """False-alarm probability of SO-CFAR with half sizes ``m = n_lead``, ``n = n_lag``."""
    if n_lead == 0 or n_lag == 0:
        return ca_pfa(alpha, n_lead + n_lag)
    return float(np.sum(np.exp(_log_terms(alpha, n_lead, n_lag))))


def go_pfa(alpha: float, n_lead: int, n_lag: int) -> float:
    """False-alarm probability of GO-CFAR with half sizes ``m = n_lead``, ``n = n_lag``."""
    if n_lead == 0 or n_lag == 0:
        return ca_pfa(alpha, n_lead + n_lag)
    return ca_pfa(alpha, n_lead) + ca_pfa(alpha, n_lag) - so_pfa(alpha, n_lead, n_lag)


def _solve(pfa_of_alpha, pfa: float) -> float:
    """Root of ``log pfa_of_alpha(alpha) = log pfa`` for a strictly decreasing ``pfa_of_alpha``."""
    from scipy.optimize import brentq

    target = math.log(pfa)

    def f(log_alpha):
        return math.log(pfa_of_alpha(math.exp(log_alpha))) - target

    lo, hi = -30.0, 1.0
    while f(hi) > 0:
        lo, hi = hi, hi + 2.0
    while f(lo) < 0:
        lo -= 10.0
    return math.exp(brentq(f, lo, hi, xtol=1e-14, rtol=1e-13, maxiter=200))


@lru_cache(maxsize=4096)
def _factor(method: str, n_lead: int, n_lag: int, pfa: float, rank: int) -> float:
    n_train = n_lead + n_lag
    if method == "ca" or (method in ("go", "so") and (n_lead == 0 or n_lag == 0)):
        return n_train * (pfa ** (-1.0 / n_train) - 1.0)
    if method == "os":
        return _solve(lambda a: os_pfa(a, n_train, rank), pfa)
    if method == "go":
        return _solve(lambda a: go_pfa(a, n_lead, n_lag), pfa)
    return _solve(lambda a: so_pfa(a, n_lead, n_lag), pfa)


def threshold_factor(
    method: Method, n_train: int, pfa: float, rank: int | None = None
) -> float:
    """Threshold factor ``alpha`` giving false-alarm probability ``pfa`` in exponential noise.

    Parameters
    ----------
    method : {"ca", "go", "so", "os"}
        Noise estimator (see the module docstring for each ``Pfa(alpha)``).
    n_train : int
        Number of training cells ``N``. For ``go``/``so`` they are split into halves of
        ``N // 2`` (leading) and ``N - N // 2`` (lagging) cells; use
        :func:`halves_threshold_factor` for any other split.
    pfa : float
        Design false-alarm probability, ``0 < pfa < 1``.
    rank : int, optional
        1-based rank ``k`` of the OS estimator (``1 <= k <= N``); default ``round(3N/4)``.
        Only for ``method="os"``.

    Returns
    -------
    float
        ``alpha``: a cell is detected when its power exceeds ``alpha`` times the noise estimate.

    Examples
    --------
    >>> round(threshold_factor("ca", 16, 1e-3), 4)
    8.6388
    >>> a = threshold_factor("os", 24, 1e-4, rank=18)
    >>> round(os_pfa(a, 24, 18) / 1e-4, 9)
    1.0
    """
    method = _check_method(method)
    n_train = _check_count(n_train, "n_train")
    pfa = check_pfa(pfa)
    if method == "os":
        rank = default_rank(n_train) if rank is None else int(rank)
        if not 1 <= rank <= n_train:
            raise ValueError(f"rank must lie in [1, {n_train}] (the training cells), got {rank}")
        return _factor("os", 0, n_train, pfa, rank)
    if rank is not None:
        raise ValueError(f"rank applies only to method='os', not {method!r}")
    return _factor(method, n_train // 2, n_train - n_train // 2, pfa, 0)


def halves_threshold_factor(method: Method, n_lead: int, n_lag: int, pfa: float) -> float:
    """Threshold factor of ``go``/``so`` CFAR for halves of ``n_lead`` and ``n_lag`` cells.

    The noise estimate is the greater (``go``) or smaller (``so``) of the two half *means*; if
    one half is empty (a truncated edge) it is the mean of the other, with the CA factor.

    Examples
    --------
    >>> a = halves_threshold_factor("go", 8, 5, 1e-3)
    >>> round(go_pfa(a, 8, 5) / 1e-3, 9)
    1.0
    """
    method = _check_method(method)
    if method not in ("go", "so"):
        raise ValueError(f"halves_threshold_factor is for 'go' and 'so', not {method!r}")
    n_lead = _check_count(n_lead, "n_lead", allow_zero=True)
    n_lag = _check_count(n_lag, "n_lag", allow_zero=True)
    if n_lead + n_lag == 0:
        raise ValueError("n_lead + n_lag must be positive")
    return _factor(method, n_lead, n_lag, check_pfa(pfa), 0)


def _check_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return method


def _check_count(value, name: str, *, allow_zero: bool = False) -> int:
    if int(value) != value or value < (0 if allow_zero else 1):
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be a {kind} integer, got {value!r}")
    return int(value)
