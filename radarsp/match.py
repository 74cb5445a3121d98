"""Choosing one target estimate per frame from DBSCAN clusters.

Three rules of the paper's statistical baseline (section 5.1):

* :func:`genie_match` -- "the peak closest to groundtruth is assigned as a target": an upper
  bound on what the CFAR + DBSCAN chain can do, since it peeks at the answer;
* :func:`strongest` -- the non-genie rule: the cluster with the most power;
* :func:`cross_domain_match` -- range-angle clusters paired with range-Doppler clusters "over
  the same and hopefully unique range", so the estimate gains a radial velocity and static
  clutter (parked cars, walls) can be told from a moving target.

Every function returns an estimates-1 table with one row per frame it reports, labelled by
the CSI file's ``frame`` coordinate (which the tables' ``frame`` column holds). A reported frame
without any candidate gets a row of NaN (and ``cluster = -1``): it is a miss, never dropped.

Which frames are reported: the truth (or the ``frames`` asked for) decides which frames are
evaluated, and the tables say which frames were processed (their ``searched_frame``
coordinate, see :func:`radarsp.frames.searched_frames`). The rows are the frames in both, in
the truth's order:

* a truth frame the detector never searched is not reported -- it is not the method's miss
  (a truth longer than the processed frames invents no misses);
* a searched frame the truth lacks is not reported -- there is nothing to evaluate it with;
* no frame in common, or a table that searched fewer frames than the truth has without
  saying which, is refused in one line (:class:`radarsp.errors.RadarspFileError`).

Every table also records what the selection used, in the provenance attrs all estimates-1
writers share: ``labels_used`` (frames whose ground truth was read), ``genie`` (1 when the
truth chose the estimate) and ``camera_geometry`` (``"none"``).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from radarsp.errors import RadarspFileError
from radarsp.frames import describe, frame_labels, locate, searched_frames, source, table_frames
from radarsp.metrics import NO_CAMERA, provenance_attrs
from radarsp.model import CARRIED_VARIABLES, ESTIMATES, SCHEMA_ATTR, annotate

# Columns of an estimates-1 row that come from the chosen cluster, in file order.
_POSITION = ("range", "angle", "x", "y")
# Per-frame variables of a truth file that ride along into the estimates.
_TRUTH_CARRIED = CARRIED_VARIABLES + ("time", "sequence")


def _table_column(ds: xr.Dataset, name: str, dim: str = "cluster") -> np.ndarray:
    if name not in ds.variables or ds[name].dims != (dim,):
        raise RadarspFileError(source(ds), name, f"expected a column with dims ({dim},)")
    return ds[name].values


def _reported_frames(tables, *, truth: xr.Dataset | None = None, frames=None) -> np.ndarray:
    """Labels of the frames an estimates table reports: requested and searched by every table.

    The requested frames -- the truth's, else ``frames`` (a count n for labels 0 .. n-1, or
    the labels) -- decide which frames are evaluated; each table's
    :func:`radarsp.frames.searched_frames` says which were processed. A frame asked for that
    a table never searched is left out (it is not the method's miss), and so is a searched
    frame nobody asked for. Refused: no frame left, a table that does not say which frames it
    searched when nothing else does, and a table that searched fewer frames than are asked
    for without saying which.
    """
    if truth is not None:
        requested, asked = frame_labels(truth), "truth's frames"
        if requested.size == 0:
            raise RadarspFileError(source(truth), "frame", "has no frames; expected the truth "
                                                           "of the frames searched")
    elif frames is not None:
        requested = np.arange(int(frames)) if np.ndim(frames) == 0 else np.asarray(frames)
        asked = "frames asked for"
        if requested.size == 0:
            raise ValueError("frames: none asked for; expected a count >= 1 or labels")
    else:
        requested, asked = None, ""
    frames = requested
    for table in tables:
        searched, count = searched_frames(table)
        if searched is not None:
            kept = searched if frames is None else frames[locate(frames, searched) >= 0]
            if frames is not None and kept.size == 0:
                raise RadarspFileError(
                    source(table), "frame",
                    f"searched {describe(searched)}, none of them among the {asked}: "
                    f"{describe(frames)}")
            frames = kept
            continue
        rows, _ = table_frames(table)
        if frames is None:
            raise RadarspFileError(
                source(table), "frame",
                "the table does not say which frames were searched (no searched_frame "
                "coordinate or frame_count attr); pass the truth or the frames")
        if count is not None and frames.size > count:
            raise RadarspFileError(
                source(table), "frame",
                f"{count} frames were searched (global attr frame_count) but the table does "
                f"not say which (its rows are in {describe(np.unique(rows))}); the {asked} "
                f"are {describe(frames)}: pass just the frames searched")
        if rows.size and frames.size and not (locate(rows, frames) >= 0).any():
            raise RadarspFileError(
                source(table), "frame",
                f"its rows are in {describe(np.unique(rows))}, none of them among the {asked}: "
                f"{describe(frames)}; pass the truth of the frames the table came from")
    return frames


def _truth_xy(truth: xr.Dataset, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``target_x``, ``target_y`` (m) of the truth frames labelled ``labels``."""
    for name in ("target_x", "target_y"):
        if name not in truth.variables or truth[name].dims != ("frame",):
            raise RadarspFileError(source(truth), name, "expected ground truth with dims (frame,)")
    rows = locate(labels, frame_labels(truth))
    return (truth["target_x"].values[rows].astype(float),
            truth["target_y"].values[rows].astype(float))


def _first_per_frame(frame: np.ndarray, key, n_frames: int) -> np.ndarray:
    """Index of the row with the smallest ``key`` in each frame (-1 where a frame has none).

    ``frame`` is each row's position among the reported frames (-1: a frame not reported,
    whose rows never win). ``key`` is one array or a tuple ``(primary, secondary, ...)``
    compared in that order. Rows with a NaN key never win.
    """
    keys = tuple(np.asarray(k, dtype=float) for k in (key if isinstance(key, tuple) else (key,)))
    best = np.full(n_frames, -1, dtype=np.int64)
    valid = np.flatnonzero(~np.any(np.isnan(np.stack(keys)), axis=0) & (frame >= 0))
    if valid.size == 0:
        return best
    order = valid[np.lexsort(tuple(k[valid] for k in reversed(keys)) + (frame[valid],))]
    sorted_frame = frame[order]
    first = np.r_[True, sorted_frame[1:] != sorted_frame[:-1]]
    best[sorted_frame[first]] = order[first]
    return best


def _positions(clusters: xr.Dataset, labels: np.ndarray) -> np.ndarray:
    """Position of every cluster's frame among the reported ``labels`` (-1: not reported)."""
    return locate(_table_column(clusters, "frame"), labels)


def carry_truth(estimates: xr.Dataset, truth: xr.Dataset, names=_TRUTH_CARRIED) -> xr.Dataset:
    """Copy into ``estimates`` the per-frame ``names`` of ``truth`` it lacks, by frame label.

    Parameters
    ----------
    estimates : xarray.Dataset
        estimates-1 table; every one of its frames must be in ``truth``.
    truth : xarray.Dataset
        Truth (or any per-frame dataset) with a ``frame`` dimension.
    names : sequence of str
        Variables to copy (the truth, camera and time variables by default).

    Returns
    -------
    xarray.Dataset
        ``estimates``, with the truth of its own frames in its own row order.

    Examples
    --------
    >>> est = xr.Dataset({"x": ("frame", [1.0, 2.0])}, coords={"frame": [2, 0]})
    >>> truth = xr.Dataset({"target_x": ("frame", [10.0, 11.0, 12.0])})
    >>> carry_truth(est, truth)["target_x"].values.tolist()
    [12.0, 10.0]
    """
    rows = locate(frame_labels(estimates), frame_labels(truth))
    if (rows < 0).any():
        raise RadarspFileError(source(truth), "frame",
                               f"has no truth for frame {frame_labels(estimates)[rows < 0][0]} "
                               "of the estimates")
    picked = truth.isel(frame=rows)
    for name in names:
        if name in picked.variables and "frame" in picked[name].dims \
                and name not in estimates.variables:
            estimates[name] = picked[name].variable
    return estimates


def _estimates(clusters: xr.Dataset, chosen: np.ndarray, labels: np.ndarray, *, method: str,
               provenance: dict, truth=None, extra: dict | None = None) -> xr.Dataset:
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
    out = xr.Dataset(columns, coords={"frame": labels})
    ordered = [c for c in _POSITION + ("power",) if c in out] + [
        c for c in out.data_vars if c not in _POSITION + ("power",)
    ]
    out = out[ordered]
    searched, _ = searched_frames(clusters)
    carried = [name for name, var in clusters.variables.items()
               if "frame" in var.dims and not {"cluster", "detection"} & set(var.dims)]
    if carried and searched is not None and clusters.sizes["frame"] == searched.size:
        # Per-frame variables a table carries describe its searched frames, in order.
        labelled = clusters[carried].drop_vars("frame", errors="ignore").assign_coords(
            frame=searched)
        carry_truth(out, labelled, carried)
    if truth is not None:
        carry_truth(out, truth)
    out.attrs = {
        **{k: v for k, v in clusters.attrs.items() if k != SCHEMA_ATTR},
        SCHEMA_ATTR: ESTIMATES,
        "method": method,
        **provenance,
    }
    return annotate(out)


def _provenance(*, genie: bool, labels_used: int = 0) -> dict:
    """What a selection used (:func:`radarsp.metrics.provenance_attrs`): ``labels_used``
    (frames whose ground truth it read), ``genie`` (1: it chose with the truth at test time)
    and ``camera_geometry`` (``"none"``: clusters are radar-only)."""
    return provenance_attrs(labels_used=labels_used, genie=genie, camera_geometry=NO_CAMERA)


def genie_match(clusters: xr.Dataset, truth: xr.Dataset) -> xr.Dataset:
    """Genie-aided estimates: in every frame, the cluster centroid closest to the truth.

    Parameters
    ----------
    clusters : xarray.Dataset
        clusters-1 table (dim ``cluster``; columns ``frame``, ``x``, ``y``, ...).
    truth : xarray.Dataset
        Any dataset with ``target_x`` and ``target_y`` (m) on dim ``frame``; its frames that
        the clusters' detector searched are the rows (module docstring).

    Returns
    -------
    xarray.Dataset
        estimates-1 table (dim ``frame``): the chosen cluster's columns, ``cluster`` (its
        index, -1 for a miss), the truth's per-frame variables, and attrs
        ``method="genie"``, ``genie=1``, ``labels_used`` (frames with finite truth) and
        ``camera_geometry="none"``. The choice minimises the x-y distance
        ``hypot(x - target_x, y - target_y)``; a frame with no cluster, or with NaN truth,
        is a miss (NaN row).

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
    labels = _reported_frames([clusters], truth=truth)
    target_x, target_y = _truth_xy(truth, labels)
    position = _positions(clusters, labels)
    valid = position >= 0
    distance = np.full(position.size, np.nan)
    distance[valid] = np.hypot(_table_column(clusters, "x")[valid] - target_x[position[valid]],
                               _table_column(clusters, "y")[valid] - target_y[position[valid]])
    chosen = _first_per_frame(position, distance, labels.size)
    used = int(np.sum(np.isfinite(target_x) & np.isfinite(target_y)))
    return _estimates(clusters, chosen, labels, method="genie", truth=truth,
                      provenance=_provenance(genie=True, labels_used=used))


def strongest(clusters: xr.Dataset, frames=None, *, by: str = "power") -> xr.Dataset:
    """Non-genie estimates: in every frame, the cluster with the largest ``by`` column.

    Parameters
    ----------
    clusters : xarray.Dataset
        clusters-1 table.
    frames : int or array_like of int, optional
        Frames to report: a count (labels 0, 1, ...) or the labels (the CSI file's ``frame``
        coordinate, which the table's ``frame`` column refers to); only those the table
        searched are rows. By default the frames the table searched
        (:func:`radarsp.frames.searched_frames`); a table that does not say is refused.
    by : str
        Column to maximise: ``"power"`` (summed linear power of the cluster),
        ``"peak_power"`` or ``"size"``.

    Returns
    -------
    xarray.Dataset
        estimates-1 table with attrs ``method="strongest"``, ``genie=0``, ``labels_used=0``
        and ``camera_geometry="none"``; a frame without clusters is a NaN row with
        ``cluster = -1``.

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
    labels = _reported_frames([clusters], frames=frames)
    position = _positions(clusters, labels)
    score = _table_column(clusters, by).astype(float)
    chosen = _first_per_frame(position, -score, labels.size)
    return _estimates(clusters, chosen, labels, method="strongest",
                      provenance=_provenance(genie=False))


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
        ``target_x``/``target_y`` per frame for the genie-aided choice among pairs; its
        frames are the ones reported.
    frames : int or array_like of int, optional
        Frame count or labels, as in :func:`strongest` (without ``truth``). Only frames both
        tables searched are reported: a frame the Doppler detector never saw cannot pair.

    Returns
    -------
    xarray.Dataset
        estimates-1 table with the range-angle cluster's columns plus ``velocity`` (m/s,
        the Doppler centroid) and ``doppler_cluster``; attr ``method`` is
        ``"cross-domain"`` or ``"cross-domain-genie"`` (with the provenance attrs of
        :func:`strongest` or :func:`genie_match`). Frames without a pair are misses.

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
    >>> est = cross_domain_match(ra, rd, range_tol=0.3, min_speed=0.5, frames=1)
    >>> float(est["y"][0]), float(est["velocity"][0])
    (9.0, 2.5)
    """
    if not range_tol >= 0:
        raise ValueError(f"range_tol must be >= 0 m, got {range_tol!r}")
    labels = _reported_frames([ra_clusters, rd_clusters], truth=truth, frames=frames)
    if truth is not None:
        target_x, target_y = _truth_xy(truth, labels)
    n_frames = labels.size
    ra_frame = _positions(ra_clusters, labels)
    rd_frame = _positions(rd_clusters, labels)
    rd_frame[rd_frame < 0] = -2  # rows of frames not reported (-1 on both sides) never pair
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
    used = int(np.sum(np.isfinite(target_x) & np.isfinite(target_y))) if truth is not None else 0
    return _estimates(ra_clusters, chosen, labels, method=method, truth=truth, extra=extra,
                      provenance=_provenance(genie=truth is not None, labels_used=used))
