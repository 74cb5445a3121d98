"""radarsp.cfar.threshold: threshold factors against closed forms, textbook GO/SO and sampling."""

from __future__ import annotations

from math import comb

import numpy as np
import pytest

from radarsp.cfar.threshold import (
    go_pfa,
    halves_threshold_factor,
    os_pfa,
    so_pfa,
    threshold_factor,
)


@pytest.mark.parametrize("n", [1, 8, 32, 416])
@pytest.mark.parametrize("pfa", [1e-2, 1e-4, 1e-7])
def test_ca_closed_form(n, pfa):
    alpha = threshold_factor("ca", n, pfa)
    assert alpha == pytest.approx(n * (pfa ** (-1 / n) - 1), rel=1e-12)
    assert (1 + alpha / n) ** -n == pytest.approx(pfa, rel=1e-10)


@pytest.mark.parametrize("n,rank", [(16, 12), (24, 1), (24, 24), (416, 312)])
def test_os_solves_the_product_equation(n, rank):
    alpha = threshold_factor("os", n, 1e-4, rank=rank)
    product = np.prod([(n - i) / (n - i + alpha) for i in range(rank)])
    assert product == pytest.approx(1e-4, rel=1e-9)


def gandhi_kassam(total_factor: float, n: int) -> tuple[float, float]:
    """GO and SO Pfa of Gandhi & Kassam (1988) for two halves of n cells, T on the half sums."""
    series = sum(comb(n - 1 + k, k) * (2 + total_factor) ** -(n + k) for k in range(n))
    return 2 * (1 + total_factor) ** -n - 2 * series, 2 * series


@pytest.mark.parametrize("n", [2, 8, 16])
@pytest.mark.parametrize("total_factor", [0.3, 1.0, 2.5])
def test_go_so_equal_halves_match_gandhi_kassam(n, total_factor):
    go, so = gandhi_kassam(total_factor, n)
    # our factor multiplies the half *mean*: alpha = T n
    assert go_pfa(total_factor * n, n, n) == pytest.approx(go, rel=1e-10)
    assert so_pfa(total_factor * n, n, n) == pytest.approx(so, rel=1e-10)
    alpha = threshold_factor("go", 2 * n, 1e-3)
    assert gandhi_kassam(alpha / n, n)[0] == pytest.approx(1e-3, rel=1e-8)


@pytest.mark.parametrize("method", ["go", "so"])
@pytest.mark.parametrize("n_lead,n_lag", [(3, 9), (12, 5)])
def test_unequal_halves_match_sampling(method, n_lead, n_lag):
    # Pfa = E[exp(-alpha Z)] for Z the max/min of the half means of unit exponentials
    alpha = halves_threshold_factor(method, n_lead, n_lag, 1e-2)
    rng = np.random.default_rng(11)
    lead = rng.gamma(n_lead, size=400_000) / n_lead
    lag = rng.gamma(n_lag, size=400_000) / n_lag
    z = np.maximum(lead, lag) if method == "go" else np.minimum(lead, lag)
    assert np.mean(np.exp(-alpha * z)) == pytest.approx(1e-2, rel=0.03)


def test_empty_half_falls_back_to_cell_averaging():
    assert halves_threshold_factor("so", 0, 7, 1e-3) == pytest.approx(
        threshold_factor("ca", 7, 1e-3))


def test_os_pfa_is_the_exponential_order_statistic_expectation():
    alpha = threshold_factor("os", 10, 1e-2, rank=7)
    samples = np.sort(np.random.default_rng(2).exponential(size=(200_000, 10)), axis=1)[:, 6]
    assert np.mean(np.exp(-alpha * samples)) == pytest.approx(os_pfa(alpha, 10, 7), rel=0.03)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: threshold_factor("ca", 8, 0.0), "pfa"),
        (lambda: threshold_factor("ca", 8, 1.5), "pfa"),
        (lambda: threshold_factor("os", 8, 1e-3, rank=9), "rank"),
        (lambda: threshold_factor("ca", 8, 1e-3, rank=2), "rank"),
        (lambda: threshold_factor("ca", 0, 1e-3), "n_train"),
        (lambda: threshold_factor("xx", 8, 1e-3), "method"),
        (lambda: halves_threshold_factor("ca", 4, 4, 1e-3), "go"),
        (lambda: halves_threshold_factor("go", -1, 4, 1e-3), "n_lead"),
    ],
)
def test_invalid_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()
