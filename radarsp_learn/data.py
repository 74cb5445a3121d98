"""Paired radio-visual frames of a heatmap-1 file as network-ready tensors.

What a network sees of frame ``i`` (:class:`RadioVisualFrames`):

* ``heatmap`` (1, H, W): the range-angle power map resized to the model grid (linear power,
  antialiased bilinear) and log-normalised per frame,
  ``clip(10 log10 P - max 10 log10 P, -D, 0) / D + 1`` in [0, 1] for a dynamic range of D dB
  (per-frame, so no dataset statistics -- and no labels -- are needed);
* ``image`` (3, h, w): the camera frame resized to ``image_shape``, scaled to
  ``(v/255 - 0.5)/0.25``;
* ``mask`` (1, h, w): the visual target mask gamma of the paper's section 4.1, 1 on pixels of
  ``target_box`` grown by ``mask_padding`` pixels on every side (negative shrinks it);
* ``label`` (2,): a (row, col) model-grid position when labels are given (NaN: unlabelled).

Frames are read on demand in sorted batches (``cache=False``, files larger than memory work)
or preprocessed once chunk by chunk into memory (``cache=True``; ~30 kB per frame at 64 x 64).
Power that is NaN or infinite (as float32) is refused as it is read, naming the file and the
frame (:func:`require_finite_power`).
"""

from __future__ import annotations

import sys

import numpy as np
import torch
import torch.nn.functional as F
import xarray as xr

from radarsp.errors import RadarspFileError
from radarsp.geometry import polar_to_cartesian
from radarsp_learn.grid import Grid

IMAGE_MEAN, IMAGE_SCALE = 0.5, 0.25


def open_heatmap(path) -> xr.Dataset:
    """Open and validate a heatmap-1 file lazily (:func:`radarsp.io.open_heatmap`)."""
    from radarsp.io import open_heatmap as _open

    return _open(path)


def require_finite_power(power: np.ndarray, ds: xr.Dataset, frames: np.ndarray) -> None:
    """Refuse NaN or infinite ``power`` (frames first, float32 as the networks see it) read
    from ``ds`` at positions ``frames``.

    Raises
    ------
    RadarspFileError
        Naming the file, ``power`` and the label of the first bad frame: a NaN would turn
        the per-frame normalisation, and with it every loss and estimate, into NaN.
    """
    finite = np.isfinite(power).reshape(len(power), -1).all(axis=1)
    if not finite.all():
        label = frame_values(ds)[np.asarray(frames)[np.argmin(finite)]]
        raise RadarspFileError(ds.encoding.get("source"), "power", "NaN or infinite values "
                               f"(frame {label}); expected finite linear power")


def as_float32(values) -> np.ndarray:
    """``values`` as float32, what the networks see; values beyond its range become inf
    (silently: :func:`require_finite_power` then refuses them)."""
    with np.errstate(over="ignore"):
        return np.asarray(values, dtype=np.float32)


def check_power(ds: xr.Dataset, *, chunk: int = 256) -> None:
    """:func:`require_finite_power` on every frame of ``ds``, ``chunk`` frames at a time
    (a file larger than memory is read once, never whole)."""
    for start in range(0, ds.sizes["frame"], chunk):
        frames = np.arange(start, min(start + chunk, ds.sizes["frame"]))
        require_finite_power(as_float32(ds["power"].isel(frame=frames).values), ds, frames)


def progress_bar(iterable, *, enabled: bool, desc: str, unit: str = "batch", **options):
    """``iterable`` with a tqdm bar on stderr, shown only when ``enabled`` and stderr is a
    terminal (a log file or pipe gets no bars: callers write a summary line instead)."""
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, unit=unit, file=sys.stderr,
                disable=None if enabled else True, **options)


def normalise_power(power: torch.Tensor, *, dynamic_range_db: float = 40.0) -> torch.Tensor:
    """Per-frame log normalisation of linear power, working axes last.

    Parameters
    ----------
    power : Tensor, shape (..., rows, cols)
        Linear power (not dB), non-negative.
    dynamic_range_db : float
        D: powers more than D dB below the frame's peak are clipped to 0.

    Returns
    -------
    Tensor, same shape
        ``clip(10 log10 P - max 10 log10 P, -D, 0) / D + 1``, in [0, 1]; the peak is 1.

    Examples
    --------
    >>> normalise_power(torch.tensor([[1.0, 0.1, 1e-9]]), dynamic_range_db=20.0)
    tensor([[1.0000, 0.5000, 0.0000]])
    """
    db = 10.0 * torch.log10(power.clamp_min(torch.finfo(power.dtype).tiny))
    peak = db.amax(dim=(-2, -1), keepdim=True) if db.ndim >= 2 else db.amax()
    return (db - peak).clamp(-dynamic_range_db, 0.0) / dynamic_range_db + 1.0


def resize(images: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Resize ``(N, C, rows, cols)`` to ``(N, C, *shape)``: antialiased bilinear,
    ``align_corners=False`` (the cell convention of :mod:`radarsp_learn.grid`)."""
    if tuple(images.shape[-2:]) == tuple(shape):
        return images
    return F.interpolate(images, size=shape, mode="bilinear", align_corners=False, antialias=True)


def normalise_image(images: torch.Tensor) -> torch.Tensor:
    """uint8 (or 0-255 float) RGB -> float ``(v/255 - 0.5)/0.25``; masked-out pixels become 0."""
    return (images.float() / 255.0 - IMAGE_MEAN) / IMAGE_SCALE


def box_mask(
    boxes: np.ndarray, image_shape: tuple[int, int], mask_shape: tuple[int, int], *,
    padding: float = 0.0,
) -> np.ndarray:
    """The visual target mask gamma from bounding boxes.

    Parameters
    ----------
    boxes : ndarray, shape (n, 4)
        ``(col0, row0, col1, row1)``: the first and last pixel (inclusive) of the box in
        the original image, as ``target_box`` holds them; pixel ``i`` spans ``[i, i + 1)``.
    image_shape : tuple of int
        ``(rows, cols)`` of the original image.
    mask_shape : tuple of int
        ``(rows, cols)`` of the mask (the resized image the network sees).
    padding : float
        Grow (or, negative, shrink) the box by this many mask pixels on every side.

    Returns
    -------
    ndarray, shape (n, rows, cols), float32
        1 where the pixel centre lies inside the (padded) box. A box that shrinks below one
        pixel keeps the pixel under its centre; a box with NaN corners gives an empty mask.

    Examples
    --------
    >>> box_mask(np.array([[2.0, 2.0, 5.0, 3.0]]), (8, 8), (4, 4))[0]
    array([[0., 0., 0., 0.],
           [0., 1., 1., 0.],
           [0., 0., 0., 0.],
           [0., 0., 0., 0.]], dtype=float32)
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4) + [0, 0, 1, 1]  # -> pixel edges
    scale_col = mask_shape[1] / image_shape[1]
    scale_row = mask_shape[0] / image_shape[0]
    col0, row0, col1, row1 = (boxes * [scale_col, scale_row, scale_col, scale_row]).T
    centre_row = np.arange(mask_shape[0]) + 0.5
    centre_col = np.arange(mask_shape[1]) + 0.5
    with np.errstate(invalid="ignore"):
        in_rows = ((centre_row >= (row0 - padding)[:, None])
                   & (centre_row <= (row1 + padding)[:, None]))
        in_cols = ((centre_col >= (col0 - padding)[:, None])
                   & (centre_col <= (col1 + padding)[:, None]))
    mask = in_rows[:, :, None] & in_cols[:, None, :]
    valid = np.all(np.isfinite(boxes), axis=1)
    empty = valid & ~mask.any(axis=(1, 2))
    for i in np.flatnonzero(empty):
        r = int(np.clip((row0[i] + row1[i]) / 2, 0, mask_shape[0] - 1))
        c = int(np.clip((col0[i] + col1[i]) / 2, 0, mask_shape[1] - 1))
        mask[i, r, c] = True
    return mask.astype(np.float32)


def split_by_sequence(
    sequence: np.ndarray, *, val_fraction: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic train/validation split that never puts one sequence on both sides.

    Parameters
    ----------
    sequence : ndarray, shape (n_frame,)
        Sequence id of each frame (consecutive frames of one clip share an id).
    val_fraction : float
        Fraction of *sequences* that go to validation (at least one when there are two or more).
    seed : int
        Seed of the permutation of sequence ids.

    Returns
    -------
    train, val : ndarray of int
        Sorted frame positions.

    Examples
    --------
    >>> train, val = split_by_sequence(np.repeat(np.arange(5), 3), val_fraction=0.2, seed=0)
    >>> len(train), len(val)
    (12, 3)
    """
    sequence = np.asarray(sequence)
    ids = np.unique(sequence)
    n_val = int(round(val_fraction * len(ids)))
    if len(ids) >= 2:
        n_val = min(max(n_val, 1), len(ids) - 1)
    val_ids = np.random.default_rng(seed).permutation(ids)[:n_val]
    is_val = np.isin(sequence, val_ids)
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def frame_sequences(ds: xr.Dataset) -> np.ndarray:
    """The ``sequence`` coordinate, or one sequence per frame when a file has none."""
    if "sequence" in ds.variables:
        return np.asarray(ds["sequence"].values)
    return np.arange(ds.sizes["frame"])


def truth_cells(ds: xr.Dataset, grid: Grid) -> np.ndarray:
    """Ground-truth target positions as model-grid cells, shape (n_frame, 2) ``(row, col)``,
    one per frame of ``ds`` in its order (the truth ``ds`` carries, so no alignment)."""
    for name in ("target_range", "target_angle"):
        if name not in ds.variables or ds[name].dims != ("frame",):
            raise RadarspFileError(ds.encoding.get("source"), name,
                                   "ground truth with dims (frame,) needed for supervised "
                                   "training or calibration, not in file")
    row, col = grid.from_polar(ds["target_range"].values, ds["target_angle"].values)
    return np.stack([row, col], axis=-1).astype(np.float32)


def estimate_cells(estimates: xr.Dataset, ds: xr.Dataset, grid: Grid) -> np.ndarray:
    """Positions of an estimates-1 table as model-grid cells, one per frame of ``ds``.

    Rows meet frames by frame label (:func:`radarsp.frames.align`): frames of ``ds`` without
    a row (or with NaN) get NaN (unlabelled); rows for frames ``ds`` lacks are left out (a
    label file of a whole set may train on a subset of it); a table sharing no frame with
    ``ds``, or repeating a label, is refused.
    """
    from radarsp.frames import align, take

    for name in ("range", "angle"):
        if name not in estimates.variables or estimates[name].dims != ("frame",):
            raise RadarspFileError(estimates.encoding.get("source"), name,
                                   "expected a column with dims (frame,)")
    rows = align(estimates, ds, extra="ignore")
    row, col = grid.from_polar(take(estimates["range"].values, rows),
                               take(estimates["angle"].values, rows))
    return np.stack([row, col], axis=-1).astype(np.float32)


def frame_values(ds: xr.Dataset) -> np.ndarray:
    """The frame labels of ``ds`` (:func:`radarsp.frames.frame_labels`: its ``frame``
    coordinate, or 0..n-1 without one; repeated labels refused)."""
    from radarsp.frames import frame_labels

    return frame_labels(ds)


def estimates_dataset(
    frame: np.ndarray, range_m: np.ndarray, angle_rad: np.ndarray, *, method: str,
    labels_used: int, camera_geometry: str, power: np.ndarray | None = None,
    attrs: dict | None = None,
) -> xr.Dataset:
    """An estimates-1 table, one row per frame; x/y by :func:`radarsp.geometry.polar_to_cartesian`.

    ``method`` names what made it; ``labels_used`` (ground-truth labels read, training
    included) and ``camera_geometry`` (:data:`radarsp.metrics.NO_CAMERA` or
    :data:`~radarsp.metrics.PINHOLE_CAMERA`) say what it used, as every estimates writer
    must (:func:`radarsp.metrics.provenance_attrs`); ``evaluate`` prints them beside it.

    Examples
    --------
    >>> est = estimates_dataset(np.arange(2), np.array([10.0, 5.0]), np.zeros(2), method="demo",
    ...                         labels_used=0, camera_geometry="none")
    >>> est["y"].values.tolist(), est.attrs["method"], est.attrs["camera_geometry"]
    ([10.0, 5.0], 'demo', 'none')
    """
    from radarsp.metrics import provenance_attrs

    range_m = np.asarray(range_m, dtype=np.float64)
    angle_rad = np.asarray(angle_rad, dtype=np.float64)
    x, y = polar_to_cartesian(range_m, angle_rad)
    power = np.full(range_m.shape, np.nan) if power is None else np.asarray(power, dtype=float)
    columns = {"range": range_m, "angle": angle_rad, "x": x, "y": y, "power": power}
    return xr.Dataset(
        {name: ("frame", values) for name, values in columns.items()},
        coords={"frame": np.asarray(frame)},
        attrs={"method": method, **(attrs or {}),
               **provenance_attrs(labels_used=labels_used, camera_geometry=camera_geometry)},
    )


def to_device(batch: dict[str, torch.Tensor], device) -> dict[str, torch.Tensor]:
    """``batch`` with every tensor on ``device`` (a torch device, or a module's parameters'
    device when given the module)."""
    if isinstance(device, torch.nn.Module):
        device = next(device.parameters()).device
    return {key: value.to(device, non_blocking=True) for key, value in batch.items()}


def batch_order(
    n: int, batch_size: int, *, seed: int, epoch: int = 0, shuffle: bool = True,
    drop_last: bool = False, rank: int = 0, world_size: int = 1, groups=None,
) -> list[torch.Tensor]:
    """Batches of positions for one epoch; a pure function of ``(seed, epoch)``, so a resumed
    run visits frames in the same order as an uninterrupted one.

    With ``groups`` (a group id per position, e.g. the sequence), whole groups are shuffled
    and kept together, so a batch holds consecutive frames of a few clips: in-batch negatives
    then include the same target a few metres away, which a contrastive model can only reject
    by localising it precisely (hard negatives).

    With ``world_size > 1`` each rank takes every ``world_size``-th position of the same
    permutation, cut to a multiple of ``world_size`` so every rank gets as many batches of
    the same sizes (keys are gathered across ranks). ``drop_last`` drops a final partial
    batch when there is at least one full one (contrastive losses need negatives).
    """
    if shuffle and groups is not None:
        generator = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(epoch))
        groups = np.asarray(groups)
        ids = np.unique(groups)
        rank_of = np.empty(len(ids), dtype=np.int64)
        rank_of[torch.randperm(len(ids), generator=generator).numpy()] = np.arange(len(ids))
        key = rank_of[np.searchsorted(ids, groups)]
        order = torch.as_tensor(np.argsort(key, kind="stable"))
    elif shuffle:
        generator = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(epoch))
        order = torch.randperm(n, generator=generator)
    else:
        order = torch.arange(n)
    if world_size > 1:
        order = order[: len(order) - len(order) % world_size][rank::world_size]
    batches = list(torch.split(order, batch_size))
    if drop_last and len(batches) > 1 and len(batches[-1]) < batch_size:
        batches.pop()
    return batches


class RadioVisualFrames(torch.utils.data.Dataset):
    """Frames of a heatmap-1 dataset as tensors for the networks of :mod:`radarsp_learn.models`.

    Parameters
    ----------
    ds : xarray.Dataset
        heatmap-1 dataset (lazy is fine); ``image`` and ``target_box`` are needed when
        ``with_camera``.
    frames : array_like of int, optional
        Positions (along ``frame``) to use; all frames by default.
    grid_shape : tuple of int
        Model grid (rows over range, cols over angle) the heatmap is resized to.
    image_shape : tuple of int
        Size the camera image (and mask) is resized to.
    mask_padding : float
        Pixels (at ``image_shape``) the target box grows by on every side (paper's Fig. 7).
    dynamic_range_db : float
        Dynamic range of :func:`normalise_power`.
    labels : ndarray, shape (n_frame, 2), optional
        Model-grid ``(row, col)`` per frame of ``ds`` (all frames, not just ``frames``).
    with_camera : bool
        Read ``image`` and ``target_box`` (contrastive objectives) or not (localisers).
    cache : bool
        Preprocess all frames into memory once (chunked), or read each batch from ``ds``.
    chunk : int
        Frames per read while caching.

    Examples
    --------
    >>> from radarsp_learn.data import RadioVisualFrames
    >>> ds = xr.Dataset({"power": (("frame", "range", "angle"), np.ones((3, 16, 8), "f4"))},
    ...                 coords={"range": np.arange(16.0), "angle": np.linspace(-1, 1, 8)})
    >>> data = RadioVisualFrames(ds, grid_shape=(32, 32), with_camera=False)
    >>> data.batch(torch.tensor([2, 0]))["heatmap"].shape
    torch.Size([2, 1, 32, 32])
    """

    def __init__(
        self, ds: xr.Dataset, *, frames=None, grid_shape=(64, 64), image_shape=(64, 64),
        mask_padding: float = 0.0, dynamic_range_db: float = 40.0,
        labels: np.ndarray | None = None, with_camera: bool = True, cache: bool = True,
        chunk: int = 256,
    ):
        self.ds = ds
        self.frames = np.arange(ds.sizes["frame"]) if frames is None else np.asarray(frames)
        self.grid = Grid.from_dataset(ds, grid_shape)
        self.image_shape = tuple(image_shape)
        self.mask_padding = float(mask_padding)
        self.dynamic_range_db = float(dynamic_range_db)
        self.with_camera = with_camera
        if with_camera:
            for name in ("image", "target_box"):
                if name not in ds.variables:
                    raise RadarspFileError(ds.encoding.get("source"), name,
                                           "camera frames and target boxes needed, not in file")
        self.labels = None
        if labels is not None:
            self.labels = torch.as_tensor(np.asarray(labels, dtype=np.float32)[self.frames])
        self._cache = None
        if cache and len(self.frames):
            parts = [self._read(np.arange(start, min(start + chunk, len(self.frames))))
                     for start in range(0, len(self.frames), chunk)]
            self._cache = {key: torch.cat([p[key] for p in parts]) for key in parts[0]}

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def sequences(self) -> np.ndarray:
        """Sequence id of each frame used, in order."""
        return frame_sequences(self.ds)[self.frames]

    @property
    def frame_ids(self) -> np.ndarray:
        """File frame ids (``frame`` coordinate) of the frames used, in order."""
        return frame_values(self.ds)[self.frames]

    def _read(self, positions: np.ndarray) -> dict[str, torch.Tensor]:
        """Read and preprocess ``positions`` (into :attr:`frames`), returned in that order."""
        order = np.argsort(self.frames[positions], kind="stable")
        sorted_frames = self.frames[positions][order]
        part = self.ds.isel(frame=sorted_frames)
        values = as_float32(part["power"].transpose("frame", "range", "angle").values)
        require_finite_power(values, self.ds, sorted_frames)
        power = torch.as_tensor(values)
        heatmap = normalise_power(resize(power[:, None], self.grid.shape),
                                  dynamic_range_db=self.dynamic_range_db)
        out = {"heatmap": heatmap}
        if self.with_camera:
            image = np.asarray(part["image"].transpose("frame", "rgb", "image_row", "image_col")
                               .values)
            image = resize(torch.as_tensor(image).float(), self.image_shape)
            out["image"] = image.round().clamp(0, 255).to(torch.uint8)
            original = (part.sizes["image_row"], part.sizes["image_col"])
            mask = box_mask(part["target_box"].values, original, self.image_shape,
                            padding=self.mask_padding)
            out["mask"] = torch.as_tensor(mask)[:, None]
        inverse = torch.as_tensor(np.argsort(order, kind="stable"))
        return {key: value[inverse] for key, value in out.items()}

    def batch(self, positions) -> dict[str, torch.Tensor]:
        """A batch of frames at ``positions`` (into :attr:`frames`), as float tensors.

        Keys: ``heatmap`` (B, 1, H, W); with camera ``image`` (B, 3, h, w) and ``mask``
        (B, 1, h, w); with labels ``label`` (B, 2); always ``position`` (B,).
        """
        positions = torch.as_tensor(positions, dtype=torch.long)
        if self._cache is not None:
            out = {key: value[positions] for key, value in self._cache.items()}
        else:
            out = self._read(positions.numpy())
        if "image" in out:
            out["image"] = normalise_image(out["image"])
        if self.labels is not None:
            out["label"] = self.labels[positions]
        out["position"] = positions
        return out

    def __getitem__(self, position: int) -> dict[str, torch.Tensor]:
        return {key: value[0] for key, value in self.batch([position]).items()}
