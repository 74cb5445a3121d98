"""Frame labels, and the one alignment of a table to truth by frame label.

Every per-frame file names its frames by the ``frame`` coordinate it inherits from the CSI
file (0, 1, ... unless the frames were simulated from a ``start``, split by sequence or
reordered by another tool); a dataset without that coordinate has the labels 0, 1, ...
Tables and truth meet only through these labels, never through row positions, so the same
estimates in any row order score the same, and a truth file of other frames is refused.

The rules, used by evaluation (:mod:`radarsp.metrics`), matching (:mod:`radarsp.match`),
plotting (:mod:`radarsp.plot`) and learning (``radarsp_learn.data``):

* labels must be unique and not NaN (a repeated label would silently merge two frames);
* the truth decides which frames are evaluated: a truth frame without a row in the table
  gets NaN (a miss);
* a table row for a frame the truth lacks is an error (``extra="refuse"``: the truth is the
  wrong file or a subset of the frames scored) or is left out (``extra="ignore"``: e.g.
  self-labels of a whole file used to train on a subset of its frames);
* a table and a truth that share no frame at all are always an error.

Detections and clusters tables say which frames were searched in their ``searched_frame``
coordinate (:func:`searched_frames`), so a frame without any row is told apart from a frame
that was never processed.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import xarray as xr

from radarsp.errors import RadarspFileError

Extra = Literal["refuse", "ignore"]


def source(ds: xr.Dataset):
    """The file ``ds`` was read from (None for an in-memory dataset)."""
    return ds.encoding.get("source")


def describe(labels: np.ndarray) -> str:
    """A short description of a set of frame labels for messages, e.g. ``"30 frames, 0..29"``.

    Examples
    --------
    >>> describe(np.array([4, 2, 3])), describe(np.array([], dtype=int))
    ('3 frames, 2..4', 'no frames')
    """
    labels = np.asarray(labels)
    if labels.size == 0:
        return "no frames"
    try:
        span = f"{np.min(labels)}..{np.max(labels)}"
    except TypeError:  # labels of mixed types have no order
        span = f"{labels[0]}, ..."
    return f"{labels.size} frame{'s' if labels.size != 1 else ''}, {span}"


def check_labels(labels, path, variable: str = "frame") -> np.ndarray:
    """Refuse repeated or NaN frame labels; return them as an array.

    Parameters
    ----------
    labels : array_like, shape (n,)
        Frame labels of one dataset, in row order.
    path : path-like or None
        The file they came from (for the message).
    variable : str
        The variable that holds them.

    Raises
    ------
    RadarspFileError
        ``<file>: variable 'frame': frame label 7 appears 2 times; expected unique labels``.

    Examples
    --------
    >>> check_labels([3, 1, 2], None).tolist()
    [3, 1, 2]
    >>> check_labels([3, 1, 3], "est.nc")
    Traceback (most recent call last):
    ...
    radarsp.errors.RadarspFileError: est.nc: variable 'frame': frame label 3 appears 2 times; ...
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise RadarspFileError(path, variable, f"expected one label per frame, got shape "
                                               f"{labels.shape}")
    if labels.dtype.kind == "f" and np.isnan(labels).any():
        raise RadarspFileError(path, variable, "frame label NaN; expected a label per frame")
    try:
        unique, counts = np.unique(labels, return_counts=True)
    except TypeError:  # an object column of mixed types has no order
        raise RadarspFileError(path, variable, "expected frame labels of one type") from None
    if unique.size != labels.size:
        repeated = int(np.argmax(counts > 1))
        raise RadarspFileError(
            path, variable, f"frame label {unique[repeated]} appears {counts[repeated]} times; "
                            "expected unique labels (two rows would be merged into one frame)")
    return labels


def frame_labels(ds: xr.Dataset) -> np.ndarray:
    """Labels of the frames of ``ds``: its ``frame`` coordinate, or 0, 1, ... without one.

    Parameters
    ----------
    ds : xarray.Dataset
        Any dataset with a ``frame`` dimension (csi-1, heatmap-1, estimates-1, a truth).

    Returns
    -------
    ndarray, shape (frame,)
        Unique labels in row order.

    Raises
    ------
    RadarspFileError
        If ``ds`` has no ``frame`` dimension, or repeats a label (:func:`check_labels`).

    Examples
    --------
    >>> frame_labels(xr.Dataset({"x": ("frame", [1.0, 2.0])}, coords={"frame": [7, 3]})).tolist()
    [7, 3]
    >>> frame_labels(xr.Dataset({"x": ("frame", [1.0, 2.0])})).tolist()
    [0, 1]
    """
    if "frame" not in ds.dims:
        raise RadarspFileError(source(ds), "frame", "expected a frame dimension")
    if "frame" in ds.coords and ds["frame"].dims == ("frame",):
        return check_labels(ds["frame"].values, source(ds))
    return np.arange(ds.sizes["frame"])


def locate(values, labels) -> np.ndarray:
    """Position of each of ``values`` among the unique ``labels``; -1 where it is absent.

    Labels of different kinds (numbers and strings) never match; integer and float labels
    match when equal (a frame ``3.0`` from another tool is frame ``3``).

    Examples
    --------
    >>> locate([30, 5, 31], [31, 30]).tolist()
    [1, -1, 0]
    """
    values, labels = np.asarray(values), np.asarray(labels)
    out = np.full(values.shape, -1, dtype=np.int64)
    numeric = "biuf"
    if labels.size == 0 or values.size == 0 or (
            (values.dtype.kind in numeric) != (labels.dtype.kind in numeric)):
        return out
    sorter = np.argsort(labels, kind="stable")
    try:
        index = np.searchsorted(labels, values, sorter=sorter).clip(0, labels.size - 1)
    except TypeError:  # e.g. datetimes against strings: nothing matches
        return out
    position = sorter[index]
    found = labels[position] == values
    out[found] = position[found]
    return out


def align(table: xr.Dataset, truth: xr.Dataset, *, extra: Extra = "refuse") -> np.ndarray:
    """Row of ``table`` that holds each frame of ``truth``, matched by frame label.

    This is the one place a table (estimates, self-labels) meets truth (or the frames of a
    dataset it describes); see the module docstring for the rules.

    Parameters
    ----------
    table : xarray.Dataset
        A table with one row per frame on dim ``frame`` (estimates-1).
    truth : xarray.Dataset
        The frames to align to (a truth, a heatmap): its ``frame`` labels decide the rows.
    extra : {"refuse", "ignore"}
        What a table row for a frame ``truth`` lacks is: an error, or left out.

    Returns
    -------
    ndarray of int, shape (truth frame,)
        Row of ``table`` for each truth frame, in the truth's order; -1 where the table has
        none (a miss).

    Raises
    ------
    RadarspFileError
        One line naming the file: repeated labels in either, no frame in common, or (with
        ``extra="refuse"``) rows for frames the truth lacks.

    Examples
    --------
    >>> est = xr.Dataset({"x": ("frame", [1.0, 2.0])}, coords={"frame": [2, 0]})
    >>> truth = xr.Dataset({"target_x": ("frame", [0.0, 0.0, 0.0])})
    >>> align(est, truth).tolist()  # truth frames 0, 1, 2: rows 1, none, 0
    [1, -1, 0]
    """
    if extra not in ("refuse", "ignore"):
        raise ValueError(f"extra must be 'refuse' or 'ignore', got {extra!r}")
    table_labels, truth_labels = frame_labels(table), frame_labels(truth)
    rows = locate(truth_labels, table_labels)
    if truth_labels.size == 0:
        raise RadarspFileError(source(truth), "frame", "has no frames; expected the frames "
                                                       "the table describes")
    if table_labels.size and not (rows >= 0).any():
        raise RadarspFileError(
            source(table), "frame",
            f"shares no frame with {source(truth) or 'the truth'} ({describe(table_labels)}; "
            f"the truth has {describe(truth_labels)}); expected the truth of these frames")
    if extra == "refuse":
        outside = locate(table_labels, truth_labels) < 0
        if outside.any():
            raise RadarspFileError(
                source(table), "frame",
                f"{int(outside.sum())} of its {table_labels.size} frames are not in "
                f"{source(truth) or 'the truth'} (e.g. frame {table_labels[outside][0]}; the "
                f"truth has {describe(truth_labels)}); expected rows only for frames the "
                "truth has")
    return rows


def take(values, rows: np.ndarray) -> np.ndarray:
    """``values[rows]`` along the first (frame) axis as float, NaN where ``rows`` is -1 (a
    frame without a row).

    Examples
    --------
    >>> take([5.0, 6.0], np.array([1, -1, 0])).tolist()
    [6.0, nan, 5.0]
    """
    values = np.asarray(values, dtype=np.float64)
    out = np.full(rows.shape + values.shape[1:], np.nan)
    found = rows >= 0
    out[found] = values[rows[found]]
    return out


def table_frames(table: xr.Dataset) -> tuple[np.ndarray, str]:
    """The ``frame`` column of a detections-1 or clusters-1 table and the table's row dim."""
    dims = table["frame"].dims if "frame" in table.variables else ()
    if len(dims) != 1 or dims == ("frame",):
        raise RadarspFileError(source(table), "frame",
                               "expected a frame column with dims (detection,) or (cluster,)")
    frame = np.asarray(table["frame"].values)
    if frame.dtype.kind == "f" and not np.isfinite(frame).all():
        raise RadarspFileError(source(table), "frame", f"frame {frame[~np.isfinite(frame)][0]} "
                                                       "in a row; expected a frame label per row")
    return frame, dims[0]


def searched_frames(table: xr.Dataset) -> tuple[np.ndarray | None, int | None]:
    """Which frames a detections-1 or clusters-1 table covers: searched, with or without rows.

    A table lists only the frames where something was detected; the frames searched are
    read from, in order of trust:

    1. the ``searched_frame`` coordinate (labels; :func:`radarsp.cfar.detections` writes it);
    2. the ``frame_count`` attr (or the length of a per-frame variable the table carries),
       which names labels 0 .. n-1 only when every row's frame lies among them -- otherwise
       the count is known and the labels are not.

    Parameters
    ----------
    table : xarray.Dataset
        detections-1 or clusters-1 table.

    Returns
    -------
    labels : ndarray or None
        Labels of the searched frames, or None when the table does not say.
    count : int or None
        How many frames were searched, or None when the table does not say.

    Raises
    ------
    RadarspFileError
        If the record contradicts itself or the table: repeated labels, a ``frame_count``
        that is not the number of labels, or a row in a frame that was not searched.

    Examples
    --------
    >>> table = xr.Dataset({"frame": ("detection", [30, 32])},
    ...                    coords={"searched_frame": [30, 31, 32]})
    >>> searched_frames(table)[0].tolist()
    [30, 31, 32]
    >>> searched_frames(table.drop_vars("searched_frame").assign_attrs(frame_count=3))
    (None, 3)
    """
    frame, _ = table_frames(table)
    count = None
    if "frame_count" in table.attrs:
        raw = np.asarray(table.attrs["frame_count"])
        if raw.size != 1 or raw.dtype.kind not in "iuf" or not np.isfinite(raw).all() \
                or raw.item() < 0 or raw.item() != int(raw.item()):
            raise RadarspFileError(source(table), None, f"global attr frame_count="
                                   f"{table.attrs['frame_count']!r}; expected the number of "
                                   "frames searched (an integer >= 0)")
        count = int(raw.item())
    elif "frame" in table.dims:
        count = table.sizes["frame"]
    if "searched_frame" in table.variables:
        labels = check_labels(table["searched_frame"].values, source(table), "searched_frame")
        if count is not None and "frame_count" in table.attrs and count != labels.size:
            raise RadarspFileError(source(table), "searched_frame",
                                   f"{labels.size} labels, but global attr frame_count says "
                                   f"{count} frames were searched")
        count = labels.size
    elif count is not None and np.all(locate(frame, np.arange(count)) >= 0):
        labels = np.arange(count)
    else:
        return None, count
    outside = locate(frame, labels) < 0
    if outside.any():
        raise RadarspFileError(source(table), "frame",
                               f"a row in frame {frame[outside][0]}, which is not among the "
                               f"frames searched ({describe(labels)})")
    return labels, count
