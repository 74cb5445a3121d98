"""DBSCAN clustering of CFAR detections into one point cloud per target.

The statistical localiser of the paper (section 5.1) binarises a heatmap with CFAR and groups
the detections with DBSCAN (Ester et al., KDD 1996) "to form one point cloud per target"; the
cluster centroids are the target candidates that :mod:`radarsp.match` chooses from.

Each frame is clustered on its own, but all frames go through a handful of scikit-learn calls:
features are divided by the per-dimension ``eps`` (so one DBSCAN radius of 1 with the built-in
euclidean metric applies an elliptical neighbourhood), and a third feature ``frame * 2`` puts
frames at least 2 apart, so no neighbourhood of radius 1 ever spans two frames.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import xarray as xr

from radarsp._callable import make_callable
from radarsp.errors import RadarspFileError
from radarsp.geometry import cartesian_to_polar, polar_to_cartesian
from radarsp.model import CLUSTERS, SCHEMA_ATTR, annotate

Space = Literal["xy", "polar", "range-velocity"]

# Features each clustering space uses, in the order of ``eps``.
SPACES: dict[str, tuple[str, str]] = {
    "xy": ("x", "y"),
    "polar": ("range", "angle"),
    "range-velocity": ("range", "velocity"),
}

# Defaults of :func:`cluster`. The x-y eps and min_samples won the grid search of
# benchmarks/bench_statistical.py on simulated parking-lot frames (28 GHz, 800 MHz, 16-element
# ULA); the polar and range-velocity eps keep 1 m in range, with 0.05 rad (1.6 bins of the
# 64-point angle FFT at broadside) and less than one velocity bin (1.67 m/s for 32 symbols),
# so a mover never merges with the static clutter of the zero-velocity bin.
# Units per space: (m, m), (m, rad), (m, m/s).
DEFAULT_EPS = {"xy": (1.0, 1.0), "polar": (1.0, 0.05), "range-velocity": (1.0, 0.5)}
DEFAULT_MIN_SAMPLES = 5

# Frames are this far apart in the frame feature: more than the radius 1 of scaled features.
_FRAME_GAP = 2.0
# Points per scikit-learn call: bounds the memory of DBSCAN's neighbourhood lists.
_BATCH_POINTS = 200_000


def dbscan_labels(frame, features, *, min_samples: int, use_dask: bool = False) -> np.ndarray:
    """Label points of many frames with DBSCAN, each frame clustered independently.

    Parameters
    ----------
    frame : ndarray of int, shape (n,)
        Frame index of every point.
    features : ndarray of float, shape (n, d)
        Point features already divided by their ``eps``; neighbours are points within
        euclidean distance 1 in the same frame.
    min_samples : int
        Points (the point itself included) within distance 1 that make a core point.
    use_dask : bool
        Fit the batches (about 200k points each, split between frames) as dask tasks on the
        active scheduler, e.g. a dask.distributed cluster; the labels are the same.

    Returns
    -------
    ndarray of int64, shape (n,)
        Cluster label, -1 for noise. Labels run 0, 1, ... ordered by frame, and within a
        frame in the order scikit-learn numbers them when run on that frame alone.

    Examples
    --------
    >>> frame = np.array([0, 0, 0, 1, 1])
    >>> features = np.array([[0.0, 0], [0.5, 0], [9, 9], [0, 0], [0.5, 0]])
    >>> dbscan_labels(frame, features, min_samples=2).tolist()
    [0, 0, -1, 1, 1]
    """
    frame = np.asarray(frame, dtype=np.int64)
    features = np.asarray(features, dtype=np.float64)
    labels = np.full(frame.shape[0], -1, dtype=np.int64)
    if frame.size == 0:
        return labels
    # A stable sort keeps each frame's points in their original order, which is what decides
    # which cluster claims a border point, so the result equals a per-frame run.
    order = np.argsort(frame, kind="stable")
    sorted_frame = frame[order]
    # Batch boundaries fall on frame boundaries only.
    starts = np.flatnonzero(np.r_[True, sorted_frame[1:] != sorted_frame[:-1]])
    cuts = [0]
    for start in starts[1:]:
        if start - cuts[-1] >= _BATCH_POINTS:
            cuts.append(int(start))
    cuts.append(frame.size)
    batches = []
    for lo, hi in zip(cuts[:-1], cuts[1:], strict=True):
        index = order[lo:hi]
        # The frame offset is relative to the batch so it stays small and exactly representable.
        offset = (sorted_frame[lo:hi] - sorted_frame[lo]).astype(np.float64) * _FRAME_GAP
        batches.append((index, np.column_stack([features[index], offset])))
    if use_dask:
        import dask

        fitted = dask.compute(*[dask.delayed(_fit)(points, min_samples) for _, points in batches])
    else:
        fitted = [_fit(points, min_samples) for _, points in batches]
    next_label = 0
    for (index, _), batch in zip(batches, fitted, strict=True):
        clustered = batch >= 0
        labels[index[clustered]] = batch[clustered] + next_label
        next_label += int(batch.max()) + 1 if clustered.any() else 0
    return labels


def _fit(points: np.ndarray, min_samples: int) -> np.ndarray:
    """DBSCAN labels of one batch of frames (features scaled so eps = 1)."""
    from sklearn.cluster import DBSCAN

    # A tree computes differences coordinate by coordinate (the brute-force path's
    # |a|^2 - 2ab + |b|^2 expansion would lose precision on the large frame offsets); on
    # CFAR detections a ball tree is ~1.8x faster than a k-d tree, which keeps splitting
    # on the frame feature.
    return DBSCAN(eps=1.0, min_samples=min_samples, algorithm="ball_tree").fit_predict(points)


def _pair(value, name: str) -> tuple[float, float]:
    values = np.broadcast_to(np.asarray(value, dtype=float), (2,))
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(f"{name} must be one or two positive numbers, got {value!r}")
    return float(values[0]), float(values[1])


def _column(ds: xr.Dataset, name: str, dim: str) -> np.ndarray:
    if name not in ds.variables:
        raise RadarspFileError(ds.encoding.get("source"), name, f"missing column (dim '{dim}')")
    column = ds[name]
    if column.dims != (dim,):
        raise RadarspFileError(
            ds.encoding.get("source"), name, f"expected dims ({dim},), got {column.dims}"
        )
    return column.values


def _carried_variables(ds: xr.Dataset, table_dim: str) -> dict[str, xr.Variable]:
    """Return the variables of a table that do not use its row dimension.

    These are the per-frame truth and camera variables (and their coordinates) that every
    radarsp file carries unchanged from the CSI file it was derived from.

    Parameters
    ----------
    ds : xarray.Dataset
        A detections-1, clusters-1 or estimates-1 table.
    table_dim : str
        Its row dimension (``"detection"``, ``"cluster"`` or ``"frame"``).
    """
    return {
        str(name): var
        for name, var in ds.variables.items()
        if table_dim not in var.dims and var.dims != ()
    }


def cluster(
    detections: xr.Dataset,
    *,
    eps: float | tuple[float, float] | None = None,
    min_samples: int = DEFAULT_MIN_SAMPLES,
    space: Space = "xy",
    weights: Literal["power"] | None = "power",
    use_dask: bool = False,
) -> xr.Dataset:
    """Group each frame's CFAR detections into clusters with DBSCAN.

    Parameters
    ----------
    detections : xarray.Dataset
        A detections-1 table (dim ``detection``; columns ``frame``, ``range``, ``angle``,
        ``x``, ``y``, ``power``). With ``space="range-velocity"`` the table needs a
        ``velocity`` column (m/s) instead of ``angle``/``x``/``y``.
    eps : float or (float, float), optional
        DBSCAN neighbourhood half-axes, in the units of the space's features: metres for
        ``"xy"`` (x, y); (m, rad) for ``"polar"`` (range, angle); (m, m/s) for
        ``"range-velocity"``. Two detections are neighbours when
        ``(Δu / eps_u)^2 + (Δv / eps_v)^2 <= 1``. Default: ``DEFAULT_EPS[space]``.
    min_samples : int
        Detections (itself included) in a neighbourhood that make a core point.
    space : {"xy", "polar", "range-velocity"}
        Features DBSCAN measures distance in.
    weights : {"power"} or None
        ``"power"``: centroids are power-weighted means, ``Σ p_i u_i / Σ p_i``;
        ``None``: plain means. The mean is taken in the clustering space and converted
        with :mod:`radarsp.geometry` (e.g. ``"xy"`` averages x and y, then derives range
        and angle from the mean point).
    use_dask : bool
        Run DBSCAN on batches of frames as dask tasks on the active scheduler (threads, or a
        dask.distributed cluster); see :func:`dbscan_labels`.

    Returns
    -------
    xarray.Dataset
        clusters-1 table, dim ``cluster`` (ordered by frame), columns ``frame``, centroid
        ``range``, ``angle``, ``x``, ``y`` (or ``range``, ``velocity``), ``power`` (sum of
        member powers, linear), ``peak_power``, ``size`` and ``<feature>_extent``
        (max - min over members); plus ``label`` (dim ``detection``: the cluster of each
        input detection, -1 for noise) and every per-frame variable of ``detections``.
        The settings are recorded in attrs ``dbscan_eps``, ``dbscan_min_samples``,
        ``dbscan_space`` and ``centroid_weights``.

    Examples
    --------
    >>> import xarray as xr
    >>> det = xr.Dataset({
    ...     "frame": ("detection", [0, 0, 0, 1]),
    ...     "range": ("detection", [10.0, 10.2, 30.0, 5.0]),
    ...     "angle": ("detection", [0.0, 0.0, 0.0, 0.0]),
    ...     "x": ("detection", [0.0, 0.0, 0.0, 0.0]),
    ...     "y": ("detection", [10.0, 10.2, 30.0, 5.0]),
    ...     "power": ("detection", [1.0, 3.0, 1.0, 1.0]),
    ... })
    >>> out = cluster(det, eps=0.5, min_samples=2)
    >>> out.sizes["cluster"], round(float(out["y"][0]), 3), out["label"].values.tolist()
    (1, 10.15, [0, 0, -1, -1])
    """
    if space not in SPACES:
        raise ValueError(f"space must be one of {sorted(SPACES)}, got {space!r}")
    if weights not in ("power", None):
        raise ValueError(f"weights must be 'power' or None, got {weights!r}")
    if int(min_samples) < 1:
        raise ValueError(f"min_samples must be >= 1, got {min_samples!r}")
    scale = _pair(DEFAULT_EPS[space] if eps is None else eps, "eps")
    first, second = SPACES[space]
    dim = "detection"
    frame = _column(detections, "frame", dim).astype(np.int64)
    u = _column(detections, first, dim).astype(np.float64)
    v = _column(detections, second, dim).astype(np.float64)
    power = _column(detections, "power", dim).astype(np.float64)
    if not (np.all(np.isfinite(u)) and np.all(np.isfinite(v))):
        raise RadarspFileError(
            detections.encoding.get("source"), f"{first}/{second}", "expected finite values"
        )

    labels = dbscan_labels(frame, np.column_stack([u / scale[0], v / scale[1]]),
                           min_samples=int(min_samples), use_dask=use_dask)
    table = _summarise(labels, frame, u, v, power, weights=weights)

    columns: dict[str, tuple] = {}
    if space == "xy":
        centroid_range, centroid_angle = cartesian_to_polar(table["u"], table["v"])
        centre = {"range": centroid_range, "angle": centroid_angle,
                  "x": table["u"], "y": table["v"]}
    elif space == "polar":
        centroid_x, centroid_y = polar_to_cartesian(table["u"], table["v"])
        centre = {"range": table["u"], "angle": table["v"], "x": centroid_x, "y": centroid_y}
    else:
        centre = {"range": table["u"], "velocity": table["v"]}
    columns.update({name: ("cluster", values) for name, values in centre.items()})
    # Range-Doppler clusters have no azimuth; NaN columns keep the table a valid clusters-1.
    for name in ("angle", "x", "y"):
        columns.setdefault(name, ("cluster", np.full(table["frame"].size, np.nan)))
    columns["power"] = ("cluster", table["power"])
    columns["peak_power"] = ("cluster", table["peak_power"])
    columns["size"] = ("cluster", table["size"])
    for name in centre:
        member = _column(detections, name, dim).astype(np.float64)
        columns[f"{name}_extent"] = ("cluster", _extent(labels, member, table["frame"].size))

    # ``frame`` is a coordinate: xarray requires it once the table carries a ``frame`` dim.
    out = xr.Dataset(columns, coords={"cluster": np.arange(table["frame"].size),
                                      "frame": ("cluster", table["frame"])})
    out["label"] = (dim, labels)
    for name, var in _carried_variables(detections, dim).items():
        if name not in out.variables:
            out[name] = var
    out.attrs = {
        **{k: v for k, v in detections.attrs.items() if k != SCHEMA_ATTR},
        SCHEMA_ATTR: CLUSTERS,
        "dbscan_eps": np.asarray(scale),
        "dbscan_min_samples": int(min_samples),
        "dbscan_space": space,
        "centroid_weights": weights or "none",
    }
    return annotate(out)


def _summarise(labels, frame, u, v, power, *, weights):
    """Per-cluster frame, centroid (u, v), summed and peak power and size, vectorised."""
    clustered = labels >= 0
    n_clusters = int(labels.max()) + 1 if clustered.any() else 0
    lab = labels[clustered]
    size = np.bincount(lab, minlength=n_clusters)
    total = np.bincount(lab, weights=power[clustered], minlength=n_clusters)
    weight = power[clustered] if weights == "power" else np.ones(lab.size)
    norm = np.bincount(lab, weights=weight, minlength=n_clusters)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_u = np.bincount(lab, weights=weight * u[clustered], minlength=n_clusters) / norm
        mean_v = np.bincount(lab, weights=weight * v[clustered], minlength=n_clusters) / norm
    peak = np.full(n_clusters, -np.inf)
    np.maximum.at(peak, lab, power[clustered])
    cluster_frame = np.zeros(n_clusters, dtype=np.int64)
    cluster_frame[lab] = frame[clustered]
    return {"frame": cluster_frame, "u": mean_u, "v": mean_v, "power": total,
            "peak_power": peak, "size": size.astype(np.int64)}


def _extent(labels, values, n_clusters) -> np.ndarray:
    """``max - min`` of ``values`` over the members of each cluster."""
    clustered = labels >= 0
    high = np.full(n_clusters, -np.inf)
    low = np.full(n_clusters, np.inf)
    np.maximum.at(high, labels[clustered], values[clustered])
    np.minimum.at(low, labels[clustered], values[clustered])
    return high - low


make_callable(__name__)  # radarsp.cluster(...) calls cluster(); see radarsp/_callable.py
