"""Localisation errors, their percentiles and CDFs, and distances between label distributions.

Errors follow the paper (section 5.3): the Euclidean x-y distance between estimate and truth,
in metres, summarised by its 50th and 90th percentiles. A frame a method gives no estimate for
(a miss) counts as an **infinite error**: it stays in the denominator of every percentile and
CDF, so a miss can never improve a figure, and a percentile that reaches into the misses is
``inf``.

The self-label deviation metrics (paper section 6.2, Table 7) compare the distribution of
estimated and true ranges (or angles): the 1-D Wasserstein distance, the Kullback-Leibler
divergence over shared histogram bins, and the histogram mutual information, all in the units
given below.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from radarsp.errors import RadarspFileError
from radarsp.model import annotate


def _frame_values(ds: xr.Dataset, name: str) -> np.ndarray:
    if name not in ds.variables or ds[name].dims != ("frame",):
        raise RadarspFileError(ds.encoding.get("source"), name, "expected dims (frame,)")
    return ds[name].values.astype(float)


def localisation_error(estimates: xr.Dataset, truth: xr.Dataset) -> xr.DataArray:
    """Euclidean x-y error of each frame's estimate, ``hypot(x - target_x, y - target_y)``.

    Parameters
    ----------
    estimates : xarray.Dataset
        estimates-1 table (``x``, ``y`` in m on dim ``frame``; NaN for a miss).
    truth : xarray.Dataset
        ``target_x`` and ``target_y`` (m) on dim ``frame``, same frame count.

    Returns
    -------
    xarray.DataArray
        ``error`` (m) on dim ``frame``; NaN where the estimate is missing.

    Examples
    --------
    >>> import xarray as xr
    >>> est = xr.Dataset({"x": ("frame", [3.0, np.nan]), "y": ("frame", [4.0, np.nan])})
    >>> truth = xr.Dataset({"target_x": ("frame", [0.0, 0.0]), "target_y": ("frame", [0.0, 0.0])})
    >>> localisation_error(est, truth).values.tolist()
    [5.0, nan]
    """
    x, y = _frame_values(estimates, "x"), _frame_values(estimates, "y")
    target_x, target_y = _frame_values(truth, "target_x"), _frame_values(truth, "target_y")
    if x.size != target_x.size:
        raise RadarspFileError(
            truth.encoding.get("source"), "target_x",
            f"expected {x.size} frames (as in the estimates), got {target_x.size}",
        )
    error = xr.DataArray(np.hypot(x - target_x, y - target_y), dims="frame", name="error")
    if "method" in estimates.attrs:
        error.attrs["method"] = estimates.attrs["method"]
    error.attrs.update(units="m", long_name="Euclidean x-y localisation error")
    return error


def _as_errors(errors) -> np.ndarray:
    """Errors as float64 with misses (NaN) turned into +inf."""
    values = np.asarray(errors, dtype=np.float64).ravel()
    if np.any(values < 0):
        raise ValueError("errors must be non-negative")
    return np.where(np.isnan(values), np.inf, values)


def _percentile(values: np.ndarray, q, axis: int = -1) -> np.ndarray:
    """Percentiles with ``np.percentile``'s linear interpolation, where misses are +inf.

    ``np.percentile`` evaluates ``a + (b - a) * t``, which is NaN for ``b = inf`` even at
    ``t = 0``; here a percentile equals the order statistic it lands on exactly, and is inf
    only when it interpolates towards (or lands on) a miss. Shape: ``q``'s shape followed by
    ``values``' shape without ``axis``.
    """
    ordered = np.sort(np.moveaxis(np.asarray(values, dtype=np.float64), axis, -1), axis=-1)
    n = ordered.shape[-1]
    rank = np.asarray(q, dtype=np.float64) / 100.0 * (n - 1)
    low_index = np.floor(rank).astype(np.int64)
    high_index = np.minimum(low_index + 1, n - 1)
    fraction = rank - low_index
    low = np.moveaxis(ordered[..., low_index], -1, 0) if rank.ndim else ordered[..., low_index]
    high = np.moveaxis(ordered[..., high_index], -1, 0) if rank.ndim else ordered[..., high_index]
    fraction = fraction.reshape(fraction.shape + (1,) * (low.ndim - fraction.ndim))
    with np.errstate(invalid="ignore"):
        between = np.where(np.isinf(high), np.inf, low + (high - low) * fraction)
    return np.where(fraction == 0, low, between)


def error_summary(
    errors,
    *,
    percentiles=(50, 90),
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> xr.Dataset:
    """Percentiles of the localisation error with bootstrap confidence intervals, and miss rate.

    Parameters
    ----------
    errors : array_like or xarray.DataArray, shape (frame,)
        Errors in m; NaN marks a miss, which counts as an infinite error.
    percentiles : sequence of float
        Percentiles to report, in % (``np.percentile`` with linear interpolation).
    n_boot : int
        Bootstrap resamples of the frames (with replacement); 0 skips the intervals.
    confidence : float
        Coverage of the percentile-bootstrap interval, e.g. 0.95 for the 2.5 % and 97.5 %
        quantiles of the resampled statistic.
    seed : int
        Seed of the resampling, so the same errors give the same intervals.

    Returns
    -------
    xarray.Dataset
        ``error``, ``error_low``, ``error_high`` (m) on dim ``percentile``; scalars
        ``miss_rate`` (fraction of frames without an estimate) with ``miss_rate_low`` /
        ``miss_rate_high``, ``frames`` and ``misses``.

    Examples
    --------
    >>> s = error_summary([1.0, 2.0, 3.0, np.nan], percentiles=(50,), n_boot=0)
    >>> float(s["error"][0]), float(s["miss_rate"])
    (2.5, 0.25)
    """
    values = _as_errors(errors)
    q = np.asarray(percentiles, dtype=float)
    missed = np.isinf(values)
    out = xr.Dataset(
        {
            "error": ("percentile", _percentile(values, q) if values.size else q * np.nan),
            "miss_rate": missed.mean() if values.size else np.nan,
            "frames": values.size,
            "misses": int(missed.sum()),
        },
        coords={"percentile": q},
    )
    if n_boot > 0 and values.size:
        rng = np.random.default_rng(seed)
        sample = values[rng.integers(0, values.size, size=(int(n_boot), values.size))]
        tails = 100 * np.array([(1 - confidence) / 2, (1 + confidence) / 2])
        boot = _percentile(sample, q, axis=1)  # (percentile, n_boot)
        bounds = _percentile(boot, tails, axis=1)  # (2, percentile)
        out["error_low"] = ("percentile", bounds[0])
        out["error_high"] = ("percentile", bounds[1])
        miss_bounds = np.percentile(np.isinf(sample).mean(axis=1), tails)
        out["miss_rate_low"] = miss_bounds[0]
        out["miss_rate_high"] = miss_bounds[1]
    for name in ("error", "error_low", "error_high"):
        if name in out:
            out[name].attrs["units"] = "m"
    out.attrs.update(n_boot=int(n_boot), confidence=float(confidence), seed=int(seed))
    return annotate(out)


def ecdf(errors) -> xr.DataArray:
    """Empirical CDF of the errors, ``F(e) = #{e_i <= e} / n`` over all n frames.

    Misses stay in ``n`` but never in the numerator, so the curve tops out at
    ``1 - miss_rate`` (the paper's Fig. 5 reads the same way).

    Parameters
    ----------
    errors : array_like, shape (frame,)
        Errors in m; NaN marks a miss.

    Returns
    -------
    xarray.DataArray
        Cumulative probability on dim ``error`` (the sorted finite errors, m).

    Examples
    --------
    >>> ecdf([2.0, 1.0, np.nan, 4.0]).values.tolist()
    [0.25, 0.5, 0.75]
    """
    values = _as_errors(errors)
    finite = np.sort(values[np.isfinite(values)])
    probability = np.arange(1, finite.size + 1) / max(values.size, 1)
    return xr.DataArray(
        probability, dims="error", name="probability",
        coords={"error": ("error", finite, {"units": "m", "long_name": "localisation error"})},
        attrs={"units": "1", "long_name": "fraction of frames with error <= e"},
    )


def _paired(truth_values, estimate_values) -> tuple[np.ndarray, np.ndarray]:
    """Drop the pairs where either value is missing (NaN)."""
    a = np.asarray(truth_values, dtype=float).ravel()
    b = np.asarray(estimate_values, dtype=float).ravel()
    if a.size != b.size:
        raise ValueError(f"need paired samples, got {a.size} and {b.size} values")
    keep = np.isfinite(a) & np.isfinite(b)
    return a[keep], b[keep]


def wasserstein(truth_values, estimate_values) -> float:
    """1-D Wasserstein distance ``W1 = ∫ |F_gt(u) - F_est(u)| du`` between two samples.

    Computed with :func:`scipy.stats.wasserstein_distance` (first order, in the units of the
    values: m for range, rad for angle) on the frames where both values exist. The paper
    writes the distance with a general cost ``c``; this is the ``c(d) = d`` member.

    Examples
    --------
    >>> wasserstein([0.0, 1.0], [2.0, 3.0])
    2.0
    """
    from scipy.stats import wasserstein_distance

    a, b = _paired(truth_values, estimate_values)
    return float(wasserstein_distance(a, b))


def shared_bins(truth_values, estimate_values, bins: int | np.ndarray = 32) -> np.ndarray:
    """Histogram bin edges covering both samples (``bins`` equal-width bins, or given edges)."""
    if np.ndim(bins):
        return np.asarray(bins, dtype=float)
    a, b = _paired(truth_values, estimate_values)
    return np.histogram_bin_edges(np.concatenate([a, b]), bins=int(bins))


def kl_divergence(truth_values, estimate_values, *, bins: int | np.ndarray = 32,
                  alpha: float = 0.5) -> float:
    """Kullback-Leibler divergence ``D_KL(p_gt || p_est) = Σ_k p_k ln(p_k / q_k)``, in nats.

    Both samples are histogrammed over the same bins (:func:`shared_bins`); ``alpha`` is a
    pseudo-count added to every bin of both histograms before normalising (additive
    smoothing; 0.5 is the Krichevsky-Trofimov/Jeffreys choice), which keeps the divergence
    finite when the estimates leave a truth bin empty.

    Examples
    --------
    >>> round(kl_divergence([0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0], bins=2), 6)
    0.0
    """
    a, b = _paired(truth_values, estimate_values)
    edges = shared_bins(a, b, bins)
    p = np.histogram(a, edges)[0] + alpha
    q = np.histogram(b, edges)[0] + alpha
    p, q = p / p.sum(), q / q.sum()
    nonzero = p > 0
    return float(np.sum(p[nonzero] * np.log(p[nonzero] / q[nonzero])))


def mutual_information(truth_values, estimate_values, *, bins: int | np.ndarray = 32) -> float:
    """Histogram mutual information ``I(y; ŷ) = Σ p(a,b) ln(p(a,b) / (p(a) p(b)))``, in nats.

    The joint histogram of the paired samples uses :func:`shared_bins` on both axes; empty
    cells contribute zero (no smoothing), which is the plug-in estimate (biased upwards by
    about ``(K-1)^2 / 2n`` nats for K occupied bins and n frames).

    Examples
    --------
    >>> round(mutual_information([0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0], bins=2), 4)
    0.6931
    """
    a, b = _paired(truth_values, estimate_values)
    edges = shared_bins(a, b, bins)
    joint = np.histogram2d(a, b, bins=(edges, edges))[0]
    if joint.sum() == 0:
        return 0.0
    joint /= joint.sum()
    outer = joint.sum(axis=1, keepdims=True) * joint.sum(axis=0, keepdims=True)
    nonzero = joint > 0
    return float(np.sum(joint[nonzero] * np.log(joint[nonzero] / outer[nonzero])))


def label_deviation(estimates: xr.Dataset, truth: xr.Dataset, *, bins: int = 32,
                    alpha: float = 0.5) -> xr.Dataset:
    """The paper's self-label deviation table for range and angle separately.

    Parameters
    ----------
    estimates : xarray.Dataset
        ``range`` (m) and ``angle`` (rad) per frame (NaN rows are left out).
    truth : xarray.Dataset
        ``target_range`` and ``target_angle`` per frame.
    bins, alpha
        Histogram bins and smoothing of :func:`kl_divergence` / :func:`mutual_information`.

    Returns
    -------
    xarray.Dataset
        ``wasserstein`` (m for range, rad for angle), ``kl_divergence`` and
        ``mutual_information`` (nats) on dim ``quantity`` = ("range", "angle").
    """
    rows = {"wasserstein": [], "kl_divergence": [], "mutual_information": []}
    for quantity in ("range", "angle"):
        gt = _frame_values(truth, f"target_{quantity}")
        est = _frame_values(estimates, quantity)
        rows["wasserstein"].append(wasserstein(gt, est))
        rows["kl_divergence"].append(kl_divergence(gt, est, bins=bins, alpha=alpha))
        rows["mutual_information"].append(mutual_information(gt, est, bins=bins))
    out = xr.Dataset({k: ("quantity", v) for k, v in rows.items()},
                     coords={"quantity": ["range", "angle"]})
    out["kl_divergence"].attrs["units"] = "nat"
    out["mutual_information"].attrs["units"] = "nat"
    out.attrs.update(bins=bins, alpha=alpha)
    return out


def _ordinal(q: float) -> str:
    q = int(q) if float(q).is_integer() else q
    suffix = "th" if isinstance(q, float) or 10 <= q % 100 <= 20 else \
        {1: "st", 2: "nd", 3: "rd"}.get(q % 10, "th")
    return f"{q}{suffix}"


def summary_table(summaries: dict[str, xr.Dataset]) -> str:
    """Format :func:`error_summary` results as a plain-text table, one method per row.

    Columns: frames, each percentile in m with its bootstrap interval ``[low, high]`` when
    computed, and the miss rate in %.

    Examples
    --------
    >>> print(summary_table({"genie": error_summary([1.0, 2.0, np.nan], n_boot=0)}))
    method  frames  50th %ile (m)  90th %ile (m)  miss rate
    genie        3           2.00            inf     33.3 %
    """
    header = ["method", "frames"]
    rows = []
    for name, summary in summaries.items():
        row = [str(name), str(int(summary["frames"]))]
        for i, q in enumerate(summary["percentile"].values):
            if len(rows) == 0 and len(header) < 2 + summary.sizes["percentile"]:
                header.append(f"{_ordinal(q)} %ile (m)")
            cell = f"{float(summary['error'][i]):.2f}"
            if "error_low" in summary:
                cell += (f" [{float(summary['error_low'][i]):.2f}, "
                         f"{float(summary['error_high'][i]):.2f}]")
            row.append(cell)
        row.append(f"{100 * float(summary['miss_rate']):.1f} %")
        rows.append(row)
    header.append("miss rate")
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    lines = []
    for row in [header] + rows:
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:],
                                                                          strict=True)]
        lines.append("  ".join(cells))
    return "\n".join(lines)
