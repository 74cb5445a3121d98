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

import sys

import numpy as np
import xarray as xr

from radarsp.errors import RadarspFileError
from radarsp.frames import align, frame_labels, source, take
from radarsp.model import annotate

#: Attrs of an estimates-1 file saying what its method used (shared by every writer):
#: ``labels_used`` (ground-truth labels read), ``genie`` (1: the truth chose the estimate) and
#: ``camera_geometry`` (``"none"``, or e.g. ``"pinhole intrinsics + pose"``).
PROVENANCE_ATTRS = ("labels_used", "genie", "camera_geometry")

#: ``camera_geometry`` of a method that read no camera model (radar only, or the camera's
#: image and box only, as the paper's MCL).
NO_CAMERA = "none"
#: ``camera_geometry`` of a method that used the contract's calibrated pinhole camera (its
#: intrinsics and pose: box rays, ground-plane fixes): a camera-radar fusion.
PINHOLE_CAMERA = "pinhole intrinsics + pose"


def provenance_attrs(*, labels_used: int, camera_geometry: str, genie: bool = False) -> dict:
    """The :data:`PROVENANCE_ATTRS` every estimates-1 writer sets, as attrs.

    Examples
    --------
    >>> provenance_attrs(labels_used=0, camera_geometry=NO_CAMERA)
    {'labels_used': 0, 'genie': 0, 'camera_geometry': 'none'}
    """
    return {"labels_used": int(labels_used), "genie": int(bool(genie)),
            "camera_geometry": str(camera_geometry)}

# A bootstrap draws resamples this many values at a time (int64 draws, their ranks, a mask:
# ~10 MB), whatever n_boot is; its statistics are counted, not kept per resample.
_BOOT_BLOCK_VALUES = 2**19


def _frame_values(ds: xr.Dataset, name: str) -> np.ndarray:
    if name not in ds.variables or ds[name].dims != ("frame",):
        raise RadarspFileError(source(ds), name, "expected dims (frame,)")
    return ds[name].values.astype(float)


def _carried_attrs(attrs) -> dict:
    """The ``method`` and provenance attrs of an estimates table, as found."""
    return {k: attrs[k] for k in ("method",) + PROVENANCE_ATTRS if k in attrs}


def localisation_error(estimates: xr.Dataset, truth: xr.Dataset) -> xr.DataArray:
    """Euclidean x-y error of each truth frame's estimate, ``hypot(x - target_x, y - target_y)``.

    Estimates and truth are paired by frame label (:func:`radarsp.frames.align`), never by
    row position: the truth's frames are evaluated, a truth frame without an estimates row is
    a miss, and estimates for frames the truth lacks, a truth sharing no frame with the
    estimates, or a repeated frame label are refused.

    Parameters
    ----------
    estimates : xarray.Dataset
        estimates-1 table (``x``, ``y`` in m on dim ``frame``; NaN for a miss).
    truth : xarray.Dataset
        ``target_x`` and ``target_y`` (m) on dim ``frame``.

    Returns
    -------
    xarray.DataArray
        ``error`` (m) on the truth's ``frame`` labels, in its order; NaN where the estimate
        is missing. Attrs: the estimates' ``method`` and provenance attrs
        (:data:`PROVENANCE_ATTRS`), and ``frames_without_row`` (truth frames the table has
        no row for; they are misses too).

    Raises
    ------
    RadarspFileError
        One line naming the file and the frame label at fault.

    Examples
    --------
    >>> import xarray as xr
    >>> est = xr.Dataset({"x": ("frame", [3.0, np.nan]), "y": ("frame", [4.0, np.nan])},
    ...                  coords={"frame": [2, 0]})
    >>> truth = xr.Dataset({"target_x": ("frame", [0.0, 0.0, 0.0]),
    ...                     "target_y": ("frame", [0.0, 0.0, 0.0])})
    >>> localisation_error(est, truth).values.tolist()  # frame 1 has no row: a miss
    [nan, nan, 5.0]
    """
    rows = align(estimates, truth)
    x = take(_frame_values(estimates, "x"), rows)
    y = take(_frame_values(estimates, "y"), rows)
    target_x, target_y = _frame_values(truth, "target_x"), _frame_values(truth, "target_y")
    error = xr.DataArray(np.hypot(x - target_x, y - target_y), dims="frame", name="error",
                         coords={"frame": frame_labels(truth)})
    error.attrs.update(_carried_attrs(estimates.attrs))
    error.attrs.update(units="m", long_name="Euclidean x-y localisation error",
                       frames_without_row=int(np.sum(rows < 0)))
    return error


def _as_errors(errors) -> np.ndarray:
    """Errors as float64 with misses (NaN) turned into +inf."""
    values = np.asarray(errors, dtype=np.float64).ravel()
    if np.any(values < 0):
        raise ValueError("errors must be non-negative")
    return np.where(np.isnan(values), np.inf, values)


def _interpolate(low, high, fraction):
    """``low + (high - low) * fraction``, where ``high`` may be +inf (a miss).

    ``np.percentile`` evaluates this, which is NaN for ``high = inf`` even at ``fraction =
    0``; here the result is ``low`` exactly at ``fraction = 0``, and inf when it interpolates
    towards (or lands on) a miss.
    """
    with np.errstate(invalid="ignore"):
        between = np.where(np.isinf(high), np.inf, low + (high - low) * fraction)
    return np.where(fraction == 0, low, between)


def _ranks(n: int, q) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Order statistics (low, high) and weight of ``np.percentile``'s linear interpolation
    for percentiles ``q`` of ``n`` values: rank ``q / 100 * (n - 1)``."""
    rank = np.asarray(q, dtype=np.float64) / 100.0 * (n - 1)
    low = np.floor(rank).astype(np.int64)
    return low, np.minimum(low + 1, n - 1), rank - low


def _percentile(values: np.ndarray, q, axis: int = -1) -> np.ndarray:
    """Percentiles with ``np.percentile``'s linear interpolation, where misses are +inf.

    A percentile equals the order statistic it lands on exactly, and is inf only when it
    interpolates towards (or lands on) a miss (:func:`_interpolate`). Shape: ``q``'s shape
    followed by ``values``' shape without ``axis``.
    """
    ordered = np.sort(np.moveaxis(np.asarray(values, dtype=np.float64), axis, -1), axis=-1)
    low_index, high_index, fraction = _ranks(ordered.shape[-1], q)
    low = np.moveaxis(ordered[..., low_index], -1, 0) if np.ndim(q) else ordered[..., low_index]
    high = np.moveaxis(ordered[..., high_index], -1, 0) if np.ndim(q) else ordered[..., high_index]
    fraction = fraction.reshape(fraction.shape + (1,) * (low.ndim - fraction.ndim))
    return _interpolate(low, high, fraction)


def _weighted_percentile(values: np.ndarray, counts: np.ndarray, q) -> np.ndarray:
    """:func:`_percentile` of the sample holding ``values[i]`` ``counts[i]`` times."""
    order = np.argsort(values, kind="stable")
    values, ends = values[order], np.cumsum(counts[order])
    low_index, high_index, fraction = _ranks(int(ends[-1]), q)
    # The value at sorted position p is the first whose cumulative count exceeds p.
    low = values[np.searchsorted(ends, low_index, side="right")]
    high = values[np.searchsorted(ends, high_index, side="right")]
    return _interpolate(low, high, fraction)


def _merge_counts(values: np.ndarray, counts: np.ndarray, new: np.ndarray):
    """Distinct ``values`` with their ``counts``, after adding the samples ``new``."""
    merged, inverse = np.unique(np.concatenate([values, new]), return_inverse=True)
    weights = np.concatenate([counts, np.ones(new.size, dtype=np.int64)])
    return merged, np.bincount(inverse, weights=weights).astype(np.int64)


def _bootstrap(values: np.ndarray, q: np.ndarray, tails: np.ndarray, n_boot: int,
               seed: int, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Percentile-bootstrap bounds of the percentiles ``q`` and of the miss rate.

    Equal to resampling all ``n_boot`` x n frames at once and taking the ``tails``
    percentiles of the resamples' percentiles, but in bounded memory: resamples are drawn
    :data:`_BOOT_BLOCK_VALUES` values at a time (the same random stream as one draw), and
    each resample's statistics -- which can only take the finitely many values interpolated
    between order statistics of the frames -- are counted instead of stored.

    Returns
    -------
    bounds : ndarray, shape (2, percentile)
        Lower and upper bound of each percentile, m.
    miss_bounds : ndarray, shape (2,)
        Lower and upper bound of the miss rate.
    """
    from tqdm.auto import tqdm

    n = values.size
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)  # a resample sorted = ordered[its sorted ranks]
    hits = int(np.isfinite(ordered).sum())  # ranks >= hits are misses
    low_index, high_index, fraction = _ranks(n, q)
    kth = np.unique(np.concatenate([low_index, high_index]))
    stats = [(np.zeros(0), np.zeros(0, dtype=np.int64)) for _ in q]
    missed = np.zeros(n + 1, dtype=np.int64)  # resamples with k misses
    rng = np.random.default_rng(seed)
    per_block = max(1, _BOOT_BLOCK_VALUES // n)
    # disable=None: no bar when stderr is not a terminal (logs, pipes)
    bar = tqdm(total=n_boot, unit="resample", desc="bootstrap", file=sys.stderr,
               disable=None if progress else True, leave=False)
    for start in range(0, n_boot, per_block):
        count = min(per_block, n_boot - start)
        ranks = rank[rng.integers(0, n, size=(count, n))]
        missed += np.bincount((ranks >= hits).sum(axis=1), minlength=n + 1)
        ranks.partition(kth, axis=1)
        block = _interpolate(ordered[ranks[:, low_index]], ordered[ranks[:, high_index]],
                             fraction)
        stats = [_merge_counts(*stat, block[:, i]) for i, stat in enumerate(stats)]
        bar.update(count)
    bar.close()
    bounds = np.stack([_weighted_percentile(*stat, tails) for stat in stats], axis=1)
    miss_bounds = _weighted_percentile(np.arange(n + 1) / n, missed, tails)
    return bounds, miss_bounds


def error_summary(
    errors,
    *,
    percentiles=(50, 90),
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    progress: bool = False,
) -> xr.Dataset:
    """Percentiles of the localisation error with bootstrap confidence intervals, and miss rate.

    Parameters
    ----------
    errors : array_like or xarray.DataArray, shape (frame,)
        Errors in m; NaN marks a miss, which counts as an infinite error. The ``method`` and
        provenance attrs of a DataArray (from :func:`localisation_error`) are kept.
    percentiles : sequence of float
        Percentiles to report, in % (``np.percentile`` with linear interpolation).
    n_boot : int
        Bootstrap resamples of the frames (with replacement); 0 skips the intervals. Memory
        does not grow with it (tens of MB of work space); time grows linearly.
    confidence : float
        Coverage of the percentile-bootstrap interval, e.g. 0.95 for the 2.5 % and 97.5 %
        quantiles of the resampled statistic.
    seed : int
        Seed of the resampling, so the same errors give the same intervals.
    progress : bool
        Show a progress bar of the resampling on stderr (when it is a terminal).

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
    if int(n_boot) != n_boot or n_boot < 0:
        raise ValueError(f"n_boot must be an integer >= 0, got {n_boot!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
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
        tails = 100 * np.array([(1 - confidence) / 2, (1 + confidence) / 2])
        bounds, miss_bounds = _bootstrap(values, q, tails, int(n_boot), seed, progress)
        out["error_low"] = ("percentile", bounds[0])
        out["error_high"] = ("percentile", bounds[1])
        out["miss_rate_low"] = miss_bounds[0]
        out["miss_rate_high"] = miss_bounds[1]
    for name in ("error", "error_low", "error_high"):
        if name in out:
            out[name].attrs["units"] = "m"
    out.attrs.update(_carried_attrs(getattr(errors, "attrs", {})))
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
        ``target_range`` and ``target_angle`` per frame; paired with the estimates by frame
        label as in :func:`localisation_error` (truth frames without a row are left out).
    bins, alpha
        Histogram bins and smoothing of :func:`kl_divergence` / :func:`mutual_information`.

    Returns
    -------
    xarray.Dataset
        ``wasserstein`` (m for range, rad for angle), ``kl_divergence`` and
        ``mutual_information`` (nats) on dim ``quantity`` = ("range", "angle").
    """
    rows = align(estimates, truth)
    table = {"wasserstein": [], "kl_divergence": [], "mutual_information": []}
    for quantity in ("range", "angle"):
        gt = _frame_values(truth, f"target_{quantity}")
        est = take(_frame_values(estimates, quantity), rows)
        table["wasserstein"].append(wasserstein(gt, est))
        table["kl_divergence"].append(kl_divergence(gt, est, bins=bins, alpha=alpha))
        table["mutual_information"].append(mutual_information(gt, est, bins=bins))
    out = xr.Dataset({k: ("quantity", v) for k, v in table.items()},
                     coords={"quantity": ["range", "angle"]})
    out["kl_divergence"].attrs["units"] = "nat"
    out["mutual_information"].attrs["units"] = "nat"
    out.attrs.update(bins=bins, alpha=alpha)
    return out


def estimate_span(estimates: xr.Dataset, *, percentiles=(5.0, 95.0)) -> dict:
    """Where an estimates table's rows lie: the ``percentiles`` of ``range`` and ``angle``.

    Needs no truth, so it is the label-free check that a self-labeller has not collapsed: an
    attention map that peaks at one fixed cell for every frame gives every frame the same
    label, and a localiser trained on those labels learns a constant (the paper-scale SCL run
    of ``benchmarks/RESULTS.md``). NaN rows (no estimate) are left out.

    Returns
    -------
    dict
        ``{"range": (low, high), "angle": (low, high)}`` in the table's units (m, rad); NaN
        when no row has an estimate.

    Examples
    --------
    >>> ds = xr.Dataset({"range": ("frame", [5.0, 6.0, np.nan, 7.0]),
    ...                  "angle": ("frame", [0.1, 0.1, np.nan, 0.1])})
    >>> estimate_span(ds, percentiles=(0, 100))
    {'range': (5.0, 7.0), 'angle': (0.1, 0.1)}
    """
    out = {}
    for name in ("range", "angle"):
        values = _frame_values(estimates, name)
        values = values[np.isfinite(values)]
        low, high = (np.percentile(values, percentiles) if values.size
                     else (np.nan, np.nan))
        out[name] = (float(low), float(high))
    return out


def _ordinal(q: float) -> str:
    q = int(q) if float(q).is_integer() else q
    suffix = "th" if isinstance(q, float) or 10 <= q % 100 <= 20 else \
        {1: "st", 2: "nd", 3: "rd"}.get(q % 10, "th")
    return f"{q}{suffix}"


def _integer(value) -> int | None:
    """``value`` as an int when it is one (a number or a numeric string), else None."""
    try:
        number = float(np.asarray(value).item())
    except (TypeError, ValueError):
        return None
    return int(number) if np.isfinite(number) and number == int(number) else None


def provenance(attrs) -> tuple[str, str]:
    """What a method used, for the ``labels`` and ``camera`` columns of :func:`summary_table`.

    Parameters
    ----------
    attrs : mapping
        Attrs of an estimates-1 file (or of :func:`localisation_error` /
        :func:`error_summary` results, which keep them): see :data:`PROVENANCE_ATTRS`.

    Returns
    -------
    labels : str
        ``"genie"`` for a genie-aided selection (attr ``genie`` = 1), else the number of
        ground-truth labels used (attr ``labels_used``), else ``"unknown"``.
    camera : str
        The ``camera_geometry`` attr (``"none"``, ``"pinhole intrinsics + pose"``, ...), or
        ``"unknown"``.

    Examples
    --------
    >>> provenance({"genie": 1, "labels_used": 300, "camera_geometry": "none"})
    ('genie', 'none')
    >>> provenance({"labels_used": 0}), provenance({})
    (('0', 'unknown'), ('unknown', 'unknown'))
    """
    if _integer(attrs.get("genie")) == 1 or str(attrs.get("genie", "")).lower() == "true":
        labels = "genie"
    elif "labels_used" in attrs:
        used = _integer(attrs["labels_used"])
        labels = str(used) if used is not None else str(attrs["labels_used"])
    else:
        labels = "unknown"
    camera = str(attrs["camera_geometry"]) if "camera_geometry" in attrs else "unknown"
    return labels, camera


def summary_table(summaries: dict[str, xr.Dataset]) -> str:
    """Format :func:`error_summary` results as a plain-text table, one method per row.

    Columns: what the method used (:func:`provenance`: ``labels`` and ``camera``), frames,
    each percentile in m with its bootstrap interval ``[low, high]`` when computed, and the
    miss rate in %.

    Examples
    --------
    >>> print(summary_table({"genie": error_summary([1.0, 2.0, np.nan], n_boot=0)}))
    method  labels   camera  frames  50th %ile (m)  90th %ile (m)  miss rate
    genie   unknown  unknown      3           2.00            inf     33.3 %
    """
    header = ["method", "labels", "camera", "frames"]
    left = len(header) - 1  # text columns are left-aligned, numbers right-aligned
    rows = []
    for name, summary in summaries.items():
        row = [str(name), *provenance(summary.attrs), str(int(summary["frames"]))]
        for i, q in enumerate(summary["percentile"].values):
            if len(rows) == 0 and len(header) < 4 + summary.sizes["percentile"]:
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
        cells = [c.ljust(w) if i < left else c.rjust(w)
                 for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
