"""Where the visual target mask comes from: ground truth, a noise model, or the camera alone.

MCL needs a box around the target in every camera frame (the mask gamma of the paper's
section 4.1). The paper takes it from the synthesiser or from a pretrained Yolov5 detector
(Table 6); no detector weights can be loaded here, so three pluggable sources stand in, all
returning boxes shaped like ``target_box`` -- ``(frame, box)``, ``box = (col0, row0, col1,
row1)`` inclusive pixel bounds, NaN where a source gives no box:

* :func:`truth_boxes` -- the ``target_box`` the simulator drew;
* :func:`noisy_boxes` -- ground truth through a seeded noise model (centre jitter, scale
  error, dropped boxes), a controllable stand-in for a detector's errors;
* :func:`background_boxes` -- a label-free estimator on the camera stream. The camera at a
  base station is static, so what changes between frames of one sequence is the moving
  target. ``method="bracket"`` (default) differences frame ``t`` against the sequence's first
  and last frames: a car moving rigidly from extent ``[a_s, b_s]`` (frame ``s``) to
  ``[a_t, b_t]`` changes the pixels of both extents, so each difference spans the union of
  two extents and the *intersection* of the two spans is the car's extent in frame ``t``.
  At the ends of a sequence only one side exists; the box keeps the end the car moves away
  from and the size measured on the bracketed frames. ``method="median"`` is the textbook
  per-sequence median background, threshold and largest connected component; it fails when
  the target moves less than its own length in a sequence (the median then still contains
  the car's middle), which is the case in the simulated parking lot (IoU > 0.5 on about a
  quarter of the frames, against about 70 % for bracketing).

:func:`with_boxes` swaps a source's boxes into a heatmap-1 dataset's ``target_box`` so any
training run uses them unchanged.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import xarray as xr

from radarsp.errors import RadarspFileError


def _require(ds: xr.Dataset, name: str, problem: str) -> xr.DataArray:
    if name not in ds.variables:
        raise RadarspFileError(ds.encoding.get("source"), name, problem)
    return ds[name]


def truth_boxes(ds: xr.Dataset) -> np.ndarray:
    """The simulator's ``target_box`` as float boxes, shape (frame, 4)."""
    box = _require(ds, "target_box", "ground-truth target boxes needed, not in file")
    return np.asarray(box.transpose("frame", "box").values, dtype=np.float64)


def noisy_boxes(
    boxes: np.ndarray, *, image_shape: tuple[int, int], jitter: float = 0.1,
    scale: float = 0.1, dropout: float = 0.0, seed: int = 0,
) -> np.ndarray:
    """Ground-truth boxes through a detector-like noise model.

    Parameters
    ----------
    boxes : ndarray, shape (n, 4)
        ``(col0, row0, col1, row1)`` inclusive pixel bounds.
    image_shape : tuple of int
        ``(rows, cols)``; noisy boxes are clipped to the image.
    jitter : float
        Standard deviation of the centre shift, as a fraction of the box's width (columns)
        and height (rows).
    scale : float
        Standard deviation of the log of the size factor: width and height are each
        multiplied by ``exp(N(0, scale^2))``.
    dropout : float
        Probability that a frame's box is missing (NaN: the detector found nothing).
    seed : int
        Seed of :func:`numpy.random.default_rng`; the same seed gives the same boxes.

    Returns
    -------
    ndarray, shape (n, 4), float
        Rounded to whole pixels, at least one pixel wide and high.

    Examples
    --------
    >>> box = np.array([[10.0, 20.0, 19.0, 29.0]])
    >>> noisy_boxes(box, image_shape=(64, 64), jitter=0, scale=0).tolist()
    [[10.0, 20.0, 19.0, 29.0]]
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    rng = np.random.default_rng(seed)
    n = len(boxes)
    size = boxes[:, 2:] - boxes[:, :2] + 1.0
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2.0
    centre = centre + rng.normal(0.0, 1.0, (n, 2)) * jitter * size
    size = size * np.exp(rng.normal(0.0, 1.0, (n, 2)) * scale)
    low = np.round(centre - (size - 1.0) / 2.0)
    high = np.maximum(np.round(centre + (size - 1.0) / 2.0), low)
    limit = np.array([image_shape[1] - 1, image_shape[0] - 1], dtype=np.float64)
    out = np.concatenate([np.clip(low, 0, limit), np.clip(high, 0, limit)], axis=1)
    out[rng.random(n) < dropout] = np.nan
    return out


def _bbox(mask: np.ndarray) -> np.ndarray | None:
    rows, cols = np.nonzero(mask)
    if len(rows) == 0:
        return None
    return np.array([cols.min(), rows.min(), cols.max(), rows.max()], dtype=np.float64)


def _changed(a: np.ndarray, b: np.ndarray, threshold: float) -> np.ndarray:
    """Pixels whose largest colour-channel difference exceeds ``threshold``, cleaned of
    isolated pixels and one-pixel lines (a parked car's pose jitter) by a 2 x 2 opening, which
    keeps the two-pixel slivers a slow distant target leaves."""
    from scipy import ndimage

    return ndimage.binary_opening(np.abs(a - b).max(axis=-1) > threshold,
                                  structure=np.ones((2, 2), dtype=bool))


def _bracket_sequence(frames: np.ndarray, *, threshold: float, min_gap: int) -> np.ndarray:
    """Boxes of one sequence, ``frames`` (n, rows, cols, 3) float, by bracketing differences
    against the sequence's first and last frames (the largest displacements)."""
    n = len(frames)
    out = np.full((n, 4), np.nan)
    bracketed = np.zeros(n, dtype=bool)
    for t in range(n):
        spans = []
        for s in (0, n - 1):
            if abs(s - t) >= min_gap:
                span = _bbox(_changed(frames[t], frames[s], threshold))
                if span is not None:
                    spans.append(span)
        if len(spans) == 2:
            box = np.concatenate([np.maximum(spans[0][:2], spans[1][:2]),
                                  np.minimum(spans[0][2:], spans[1][2:])])
            if np.all(box[2:] >= box[:2]):
                out[t], bracketed[t] = box, True
        elif len(spans) == 1:
            out[t] = spans[0]
    # One-sided frames (sequence ends) span the car at two times: keep the end it moves away
    # from, with the width and height measured where both sides bracket the frame.
    times = np.flatnonzero(bracketed)
    one_sided = np.flatnonzero(~bracketed & np.isfinite(out[:, 0]))
    if len(times) >= 2 and len(one_sided):
        size = np.median(out[times, 2:] - out[times, :2], axis=0)
        centre = (out[times, :2] + out[times, 2:]) / 2.0
        velocity = np.array([np.polyfit(times, centre[:, k], 1)[0] for k in range(2)])
        for t in one_sided:
            early = t < times.mean()
            for k in range(2):
                low, high = out[t, k], out[t, k + 2]
                if (velocity[k] < 0) == early:
                    low = max(low, high - size[k])
                else:
                    high = min(high, low + size[k])
                out[t, k], out[t, k + 2] = low, high
    return out


def _median_sequence(frames: np.ndarray, *, threshold: float) -> np.ndarray:
    """Boxes of one sequence: median background, threshold, largest connected component."""
    from scipy import ndimage

    background = np.median(frames, axis=0)
    out = np.full((len(frames), 4), np.nan)
    for t, frame in enumerate(frames):
        labels, count = ndimage.label(_changed(frame, background, threshold))
        if count:
            sizes = ndimage.sum_labels(np.ones_like(labels), labels, np.arange(1, count + 1))
            box = _bbox(labels == 1 + int(np.argmax(sizes)))
            out[t] = box
    return out


def background_boxes(
    image: xr.DataArray, sequence: np.ndarray, *, method: Literal["bracket", "median"] = "bracket",
    threshold: float = 20.0, min_gap: int = 2,
) -> np.ndarray:
    """Label-free target boxes from a static camera by background subtraction per sequence.

    Parameters
    ----------
    image : xarray.DataArray, dims (frame, image_row, image_col, rgb)
        Camera frames (uint8) of a heatmap-1 or csi-1 dataset.
    sequence : ndarray, shape (frame,)
        Sequence id of every frame; a sequence is one static scene watched over time.
    method : {"bracket", "median"}
        Bracketing differences (module docstring) or median background + largest component.
    threshold : float
        A pixel has changed when one colour channel differs by more than this (0-255 units).
    min_gap : int
        A bracketing frame (the sequence's first or last) closer than this to ``t`` is not
        used; the frame is then one-sided.

    Returns
    -------
    ndarray, shape (frame, 4), float
        ``(col0, row0, col1, row1)`` inclusive pixel bounds, NaN where nothing moved.

    Examples
    --------
    >>> frames = np.zeros((9, 16, 16, 3), np.uint8)
    >>> for t in range(9):
    ...     frames[t, 6:10, 2 + t:6 + t] = 200
    >>> image = xr.DataArray(frames, dims=("frame", "image_row", "image_col", "rgb"))
    >>> background_boxes(image, np.zeros(9, int))[4].tolist()
    [6.0, 6.0, 9.0, 9.0]
    """
    dims = ("frame", "image_row", "image_col", "rgb")
    if set(image.dims) != set(dims):
        raise RadarspFileError(image.encoding.get("source"), image.name or "image",
                               f"expected dims {dims}, got {image.dims}")
    if method not in ("bracket", "median"):
        raise ValueError(f"method must be 'bracket' or 'median', got {method!r}")
    sequence = np.asarray(sequence)
    out = np.full((image.sizes["frame"], 4), np.nan)
    for seq in np.unique(sequence):
        positions = np.flatnonzero(sequence == seq)
        frames = np.asarray(image.isel(frame=positions).transpose(*dims).values,
                            dtype=np.float32)
        if method == "median":
            out[positions] = _median_sequence(frames, threshold=threshold)
        else:
            out[positions] = _bracket_sequence(frames, threshold=threshold, min_gap=min_gap)
    return out


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of inclusive-pixel boxes, row by row; NaN boxes give 0.

    Examples
    --------
    >>> box_iou(np.array([[0.0, 0, 3, 3]]), np.array([[2.0, 0, 5, 3]])).tolist()
    [0.3333333333333333]
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    width = np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]) + 1
    height = np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]) + 1
    inter = np.clip(width, 0, None) * np.clip(height, 0, None)
    area_a = (a[:, 2] - a[:, 0] + 1) * (a[:, 3] - a[:, 1] + 1)
    area_b = (b[:, 2] - b[:, 0] + 1) * (b[:, 3] - b[:, 1] + 1)
    with np.errstate(invalid="ignore"):
        iou = inter / (area_a + area_b - inter)
    return np.nan_to_num(iou, nan=0.0)


MaskSource = Literal["truth", "noise", "background"]


def mask_boxes(ds: xr.Dataset, source: MaskSource, **options) -> np.ndarray:
    """Boxes of every frame of ``ds`` from the named source (the pluggable entry point).

    ``options`` go to :func:`noisy_boxes` (``jitter``, ``scale``, ``dropout``, ``seed``) or
    :func:`background_boxes` (``method``, ``threshold``, ``min_gap``).
    """
    if source == "truth":
        return truth_boxes(ds)
    if source == "noise":
        image = _require(ds, "image", "camera frames needed, not in file")
        return noisy_boxes(truth_boxes(ds), image_shape=(image.sizes["image_row"],
                                                         image.sizes["image_col"]), **options)
    if source == "background":
        from radarsp_learn.data import frame_sequences

        image = _require(ds, "image", "camera frames needed, not in file")
        return background_boxes(image, frame_sequences(ds), **options)
    raise ValueError(f"unknown mask source {source!r}; expected truth, noise or background")


def with_boxes(ds: xr.Dataset, boxes: np.ndarray, *, source: str) -> xr.Dataset:
    """``ds`` with ``target_box`` replaced by ``boxes`` (float, NaN allowed), attr ``mask_source``.

    The returned dataset trains exactly like the original: :class:`radarsp_learn.data.
    RadioVisualFrames` builds the mask gamma from ``target_box`` (a NaN box is an empty mask).
    """
    boxes = np.asarray(boxes, dtype=np.float32)
    if boxes.shape != (ds.sizes["frame"], 4):
        raise ValueError(f"boxes must have shape ({ds.sizes['frame']}, 4), got {boxes.shape}")
    attrs = dict(ds["target_box"].attrs) if "target_box" in ds.variables else {}
    attrs["mask_source"] = source
    out = ds.copy()
    out["target_box"] = xr.Variable(("frame", "box"), boxes, attrs)
    return out
