"""Choosing one target estimate per frame from DBSCAN clusters.

Three rules of the paper's statistical baseline (section 5.1):

* :func:`genie_match` -- "the peak closest to groundtruth is assigned as a target": an upper
  bound on what the CFAR + DBSCAN chain can do, since it peeks at the answer;
* :func:`strongest` -- the non-genie rule: the cluster with the most power;
* :func:`cross_domain_match` -- range-angle clusters paired with range-Doppler clusters "over
  the same and hopefully unique range", so the estimate gains a radial velocity and static
  clutter (parked cars, walls) can be told from a moving target.

Every function returns an estimates-1 table with one row per frame. A frame without any
candidate gets a row of NaN (and ``cluster = -1``): it is a miss, never dropped.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from radarsp.errors import RadarspFileError
from radarsp.model import CARRIED_VARIABLES, ESTIMATES, SCHEMA_ATTR, annotate

# Columns of an estimates-1 row that come from the chosen cluster, in file order.
_POSITION = ("range", "angle", "x", "y")


def _source(ds: xr.Dataset):
    return ds.encoding.get("source")


def _table_column(ds: xr.Dataset, name: str, dim: str = "cluster") -> np.ndarray:
    if name not in ds.variables or ds[name].dims != (dim,):
        raise RadarspFileError(_source(ds), name, f"expected a column with dims ({dim},)")
    return ds[name].values


def _frames(clusters: xr.Dataset, frames=None, truth: xr.Dataset | None = None) -> np.ndarray:
    """Frame labels of the result's rows, in order.

    A table's ``frame`` column holds the CSI file's frame coordinate (0, 1, ... unless the
    frames were simulated from a ``start``). The rows are: the truth's ``frame`` coordinate
    (or ``arange`` of its length); else ``frames`` (a count, or the labels themselves); else
    ``arange`` of the per-frame dim the table carries, of its ``frame_count`` attr (frames
    CFAR searched), or of the largest label + 1.
    """
    if truth is not None:
        if "frame" in truth.coords:
            return np.asarray(truth["frame"].values)
        return np.arange(truth.sizes["frame"])
    if frames is not None:
        return np.arange(int(frames)) if np.ndim(frames) == 0 else np.asarray(frames)
    if "frame" in clusters.dims:
        return np.arange(clusters.sizes["frame"])
    if "frame_count" in clusters.attrs:
        return np.arange(int(clusters.attrs["frame_count"]))
    cluster_frame = _table_column(clusters, "frame")
    return np.arange(int(cluster_frame.max()) + 1 if cluster_frame.size else 0)


def _truth_xy(truth: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    for name in ("target_x", "target_y"):
        if name not in truth.variables or truth[name].dims != ("frame",):
            raise RadarspFileError(_source(truth), name, "expected ground truth with dims (frame,)")
    return truth["target_x"].values.astype(float), truth["target_y"].values.astype(float)


def _first_per_frame(frame: np.ndarray, key, n_frames: int) -> np.ndarray:
    """Index of the row with the smallest ``key`` in each frame (-1 where a frame has none).

    ``key`` is one array or a tuple ``(primary, secondary, ...)`` compared in that order.
    Rows with a NaN key never win.
    """
    keys = tuple(np.asarray(k, dtype=float) for k in (key if isinstance(key, tuple) else (key,)))
    best = np.full(n_frames, -1, dtype=np.int64)
    valid = np.flatnonzero(~np.any(np.isnan(np.stack(keys)), axis=0))
    if valid.size == 0:
        return best
    order = valid[np.lexsort(tuple(k[valid] for k in reversed(keys)) + (frame[valid],))]
    sorted_frame = frame[order]
    first = np.r_[True, sorted_frame[1:] != sorted_frame[:-1]]
    best[sorted_frame[first]] = order[first]
    return best


def _positions(clusters: xr.Dataset, labels: np.ndarray) -> np.ndarray:
    """Row of every cluster's frame among ``labels``; a frame outside them is a file error."""
    cluster_frame = _table_column(clusters, "frame").astype(np.int64)
    if labels.size == 0:
        position, found = cluster_frame, np.zeros(cluster_frame.size, dtype=bool)
    elif np.array_equal(labels, np.arange(labels.size)):
        position = cluster_frame
        found = (cluster_frame >= 0) & (cluster_frame < labels.size)
    else:
        sorter = np.argsort(labels, kind="stable")
        index = np.searchsorted(labels, cluster_frame, sorter=sorter).clip(0, labels.size - 1)
        position = sorter[index]
        found = labels[position] == cluster_frame
    if not found.all():
        bad = cluster_frame[~found][0]
        known = f" ({labels.min()}..{labels.max()})" if labels.size else ""
        raise RadarspFileError(
            _source(clusters), "frame",
            f"frame {bad} is not among the {labels.size} frames of the truth or frame "
            f"count{known}; pass the truth file the table came from",
        )
    return position


def _estimates(clusters: xr.Dataset, chosen: np.ndarray, labels: np.ndarray, *, method: str,
               truth=None, extra: dict | None = None) -> xr.Dataset:
    """Build the estimates-1 table of the clusters ``chosen`` per frame (-1: a miss)."""
    hit = chosen >= 0
    columns = {}
    for name, var in clusters.data_vars.items():
        if var.dims != ("cluster",) or name == "frame":
            continue
        values = np.full(chosen.size, np.nan)
        values[hit] = var.values[chosen[hit]]
        columns[name] = ("frame", values)
    columns["cluster"] = ("frame", chosen)
    columns.update(extra or {})
    out = xr.Dataset(columns)
    ordered = [c for c in _POSITION + ("power",) if c in out] + [
        c for c in out.data_vars if c not in _POSITION + ("power",)
    ]
    out = out[ordered]
    for source, names in ((clusters, None),
                          (truth, CARRIED_VARIABLES + ("frame", "time", "sequence"))):
        if source is None:
            continue
        for name, var in source.variables.items():
            # From a truth file (maybe a whole csi-1) only the carried per-frame variables.
            wanted = names is None or name in names
            if wanted and "frame" in var.dims and not {"cluster", "detection"} & set(var.dims) \
                    and name not in out.variables and var.sizes["frame"] == chosen.size:
                out[name] = var
    if "frame" not in out.coords:
        out = out.assign_coords(frame=labels)
    out.attrs = {
        **{k: v for k, v in clusters.attrs.items() if k != SCHEMA_ATTR},
        SCHEMA_ATTR: ESTIMATES,
        "method": method,
    }
    return annotate(out)


def genie_match(clusters: xr.Dataset, truth: xr.Dataset) -> xr.Dataset:
    """Genie-aided estimates: in every frame, the cluster centroid closest to the truth.

    Parameters
    ----------
    clusters : xarray.Dataset
        clusters-1 table (dim ``cluster``; columns ``frame``, ``x``, ``y``, ...).
    truth : xarray.Dataset
        Any dataset with ``target_x`` and ``target_y`` (m) on dim ``frame``; its frame count
        sets the number of rows.

    Returns
    -------
    xarray.Dataset
        estimates-1 table (dim ``frame``): the chosen cluster's columns, ``cluster`` (its
        index, -1 for a miss) and attr ``method="genie"``. The choice minimises the x-y
        distance ``hypot(x - target_x, y - target_y)``; a frame with no cluster, or with
        NaN truth, is a miss (NaN row).

    Examples
    --------
    >>> import xarray as xr
    >>> clusters = xr.Dataset({
    ...     "frame": ("cluster", [0, 0, 2]), "range": ("cluster", [5.0, 9.0, 4.0]),
    ...     "angle": ("cluster", [0.0, 0.0, 0.0]), "x": ("cluster", [0.0, 0.0, 0.0]),
    ...     "y": ("cluster", [5.0, 9.0, 4.0]), "power": ("cluster", [1.0, 2.0, 1.0]),
    ... })
    >>> truth = xr.Dataset({"target_x": ("frame", [0.0, 0.0, 0.0]),
    ...                     "target_y": ("frame", [8.0, 1.0, 1.0])})
    >>> genie_match(clusters, truth)["cluster"].values.tolist()
    [1, -1, 2]
    """
    target_x, target_y = _truth_xy(truth)
    labels = _frames(clusters, truth=truth)
    position = _positions(clusters, labels)
    distance = np.hypot(_table_column(clusters, "x") - target_x[position],
                        _table_column(clusters, "y") - target_y[position])
    chosen = _first_per_frame(position, distance, labels.size)
    return _estimates(clusters, chosen, labels, method="genie", truth=truth)


def strongest(clusters: xr.Dataset, frames=None, *, by: str = "power") -> xr.Dataset:
    """Non-genie estimates: in every frame, the cluster with the largest ``by`` column.

    Parameters
    ----------
    clusters : xarray.Dataset
        clusters-1 table.
    frames : int or array_like of int, optional
        Rows of the result: a frame count (frames 0, 1, ...) or the frame labels (the CSI
        file's ``frame`` coordinate, which the table's ``frame`` column refers to). By
        default ``range`` of the ``frame`` dimension the table carries (truth, camera),
        else of its ``frame_count`` attr (set by :func:`radarsp.cfar.detections`), else of
        the largest frame + 1.
    by : str
        Column to maximise: ``"power"`` (summed linear power of the cluster),
        ``"peak_power"`` or ``"size"``.

    Returns
    -------
    xarray.Dataset
        estimates-1 table with attr ``method="strongest"``; a frame without clusters is a
        NaN row with ``cluster = -1``.

    Examples
    --------
    >>> import xarray as xr
    >>> clusters = xr.Dataset({
    ...     "frame": ("cluster", [0, 0, 2]), "range": ("cluster", [5.0, 9.0, 4.0]),
    ...     "angle": ("cluster", [0.0, 0.0, 0.0]), "x": ("cluster", [0.0, 0.0, 0.0]),
    ...     "y": ("cluster", [5.0, 9.0, 4.0]), "power": ("cluster", [1.0, 2.0, 1.0]),
    ... })
    >>> strongest(clusters, 3)["y"].values.tolist()
    [9.0, nan, 4.0]
    """
    labels = _frames(clusters, frames)
    position = _positions(clusters, labels)
    score = _table_column(clusters, by).astype(float)
    chosen = _first_per_frame(position, -score, labels.size)
    return _estimates(clusters, chosen, labels, method="strongest")


def _pairs(ra_frame: np.ndarray, rd_frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All (range-angle, range-Doppler) row pairs that share a frame, without Python loops."""
    rd_order = np.argsort(rd_frame, kind="stable")
    lo = np.searchsorted(rd_frame[rd_order], ra_frame, side="left")
    hi = np.searchsorted(rd_frame[rd_order], ra_frame, side="right")
    count = hi - lo
    ra_index = np.repeat(np.arange(ra_frame.size), count)
    # Position of each pair within its range-angle row's block of partners.
    within = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    rd_index = rd_order[np.repeat(lo, count) + within]
    return ra_index, rd_index


def cross_domain_match(
    ra_clusters: xr.Dataset,
    rd_clusters: xr.Dataset,
    *,
    range_tol: float,
    min_speed: float = 0.0,
    truth: xr.Dataset | None = None,
    frames=None,
) -> xr.Dataset:
    """Pair range-angle with range-Doppler clusters at the same range; one estimate per frame.

    A range-angle cluster ``i`` and a range-Doppler cluster ``j`` of the same frame pair when
    ``|range_i - range_j| <= range_tol`` and the Doppler cluster moves,
    ``|velocity_j| >= min_speed`` (so static clutter drops out). Among the pairs of a frame
    the estimate is the one with the most range-Doppler power (the strongest mover), ties
    broken by range-angle power; or, when ``truth`` is given, the one whose range-angle
    centroid is closest to it (genie-aided).

    Parameters
    ----------
    ra_clusters : xarray.Dataset
        clusters-1 of range-angle detections (``frame``, ``range``, ``x``, ``y``, ``power``).
    rd_clusters : xarray.Dataset
        clusters-1 of range-Doppler detections (``frame``, ``range``, ``velocity`` in m/s,
        ``power``), e.g. ``cluster(..., space="range-velocity")``.
    range_tol : float
        Largest range difference of a pair, m (about one range resolution ``c / 2B``).
    min_speed : float
        Smallest |radial velocity| of a Doppler cluster that may pair, m/s.
    truth : xarray.Dataset, optional
        ``target_x``/``target_y`` per frame for the genie-aided choice among pairs.
    frames : int or array_like of int, optional
        Frame count or labels, as in :func:`strongest`; the truth's frames when given.

    Returns
    -------
    xarray.Dataset
        estimates-1 table with the range-angle cluster's columns plus ``velocity`` (m/s,
        the Doppler centroid) and ``doppler_cluster``; attr ``method`` is
        ``"cross-domain"`` or ``"cross-domain-genie"``. Frames without a pair are misses.

    Examples
    --------
    >>> import xarray as xr
    >>> ra = xr.Dataset({
    ...     "frame": ("cluster", [0, 0]), "range": ("cluster", [5.0, 9.0]),
    ...     "angle": ("cluster", [0.0, 0.0]), "x": ("cluster", [0.0, 0.0]),
    ...     "y": ("cluster", [5.0, 9.0]), "power": ("cluster", [3.0, 1.0]),
    ... })
    >>> rd = xr.Dataset({"frame": ("cluster", [0, 0]), "range": ("cluster", [5.1, 9.1]),
    ...                  "velocity": ("cluster", [0.0, 2.5]), "power": ("cluster", [5.0, 1.0])})
    >>> est = cross_domain_match(ra, rd, range_tol=0.3, min_speed=0.5)
    >>> float(est["y"][0]), float(est["velocity"][0])
    (9.0, 2.5)
    """
    if not range_tol >= 0:
        raise ValueError(f"range_tol must be >= 0 m, got {range_tol!r}")
    if truth is not None:
        target_x, target_y = _truth_xy(truth)
    labels = _frames(ra_clusters, frames, truth)
    n_frames = labels.size
    ra_frame = _positions(ra_clusters, labels)
    rd_frame = _positions(rd_clusters, labels)
    ra_index, rd_index = _pairs(ra_frame, rd_frame)
    velocity = _table_column(rd_clusters, "velocity").astype(float)
    keep = (np.abs(_table_column(ra_clusters, "range")[ra_index]
                   - _table_column(rd_clusters, "range")[rd_index]) <= range_tol) & (
        np.abs(velocity[rd_index]) >= min_speed)
    ra_index, rd_index = ra_index[keep], rd_index[keep]
    pair_frame = ra_frame[ra_index]
    if truth is not None:
        key = np.hypot(_table_column(ra_clusters, "x")[ra_index] - target_x[pair_frame],
                       _table_column(ra_clusters, "y")[ra_index] - target_y[pair_frame])
        method = "cross-domain-genie"
    else:
        # The strongest moving Doppler return is the likeliest target; among the range-angle
        # clusters at its range, the strongest.
        key = (-_table_column(rd_clusters, "power")[rd_index].astype(float),
               -_table_column(ra_clusters, "power")[ra_index].astype(float))
        method = "cross-domain"
    best = _first_per_frame(pair_frame, key, n_frames)
    hit = best >= 0
    chosen = np.full(n_frames, -1, dtype=np.int64)
    chosen[hit] = ra_index[best[hit]]
    doppler = np.full(n_frames, -1, dtype=np.int64)
    doppler[hit] = rd_index[best[hit]]
    pair_velocity = np.full(n_frames, np.nan)
    pair_velocity[hit] = velocity[doppler[hit]]
    extra = {"velocity": ("frame", pair_velocity), "doppler_cluster": ("frame", doppler)}
    return _estimates(ra_clusters, chosen, labels, method=method, truth=truth, extra=extra)
