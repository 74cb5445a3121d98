"""Target self-labels from a trained MCL model (paper sections 4.1-4.2, equations 2-3).

Two attention maps, one peak finder, one rescaling:

* ``"conv"``: equation 2, ``h_n = conv2d(f^r_n(r), f^v_m(gamma ⊙ v))`` -- the masked image's
  spatial features, cropped to the mask's support on the feature grid, slid as a kernel over
  the radio features (:func:`attention_conv`). It only localises if radio and vision channels
  happen to align, which contrastive training through flattening projectors does not ask for.
* ``"attribution"`` (default): where on the heatmap the cross-modal similarity
  ``s = q^r . q^v`` comes from -- input x gradient on the heatmap, ``r ⊙ ds/dr``, on the
  model grid (:func:`attribution_maps`, ``kind="input_x_gradient"``), or gradient x
  activation on the radio features, ``relu(sum_c f_c ds/df_c)`` on the feature grid
  (``kind="gradient_x_activation"``).

The maximum (equation 3) is refined to sub-cell precision by a parabola through the peak and
its two neighbours along each axis (:func:`refine_peak`), rescaled from the map's grid to the
model grid and to range/angle by :class:`radarsp_learn.grid.Grid`.

``peak="heatmap"`` (default) then climbs the (smoothed) radar heatmap from that point to its
nearest local maximum (:func:`climb`) and refines it the same way. An attention map says
*which* return the camera's target is but is blurred along angle, where a 16-element array's
beam is wide; the heatmap's own peak says where that return is. This uses the radar input
only, no label. On development data (simulated parking lot, seeds 11 and 12, not the
benchmark's) it took the MCL localiser from 1.92 to 1.74 m at the median and from 4.2 to
2.9 m at the 90th percentile.

``angle="camera"`` keeps the label's range and moves it along that range circle onto the
camera's ray through the centre of the frame's target box (:func:`camera_ray_cells`; pinhole
model from the ``image`` attrs the heatmap-1 contract carries, camera-to-radar transform
:class:`radarsp_learn.teacher.Calibration`, identity by default as the contract mounts the
camera at the radar's position and boresight). Why: the radar sees a car's near side, so
*any* heatmap peak sits at its nearest corner, about half a car length towards boresight
from the centre the camera box is drawn around. On the development data, choosing the best
of all local maxima within 30 dB of each frame's strongest one *with the truth* still leaves
1.31 m at the median, while the attention labels' cross-range error is 1.67 m (median
absolute) and the camera ray's 0.18 m; the labels went from 1.91 to 0.98 m and the localiser
trained on them to 0.97 m (50th) / 1.35 m (90th). This uses sensor calibration, not labels;
the range (and its near-side bias, -0.9 m there) still comes from MCL.

``track=True`` (``--track``) replaces each frame's label by its sequence's constant-velocity
track (:func:`track_cells`, :func:`radarsp.tracking.fit_tracks`: MSAC over the contract's
``sequence`` and ``time`` coordinates), so a wrong return picked in a few frames of a sequence
gives way to the target the other frames agree on. ``prior="car"`` (``--prior car``) then reads
every label as the car's point nearest the radar -- what the peak is -- and moves it to the
centre of a 4.5 m x 1.8 m car along the track's heading
(:func:`radarsp.tracking.centre_behind_nearest_point`); ``prior="car-face"`` reads it as the
middle of the car's face turned to the radar instead (:func:`radarsp.tracking.centre_behind_face`).
Which one holds depends on how the scene scatters -- radarsp's point scatterers glint at a
car's near corner, Sionna RT's cars return from mid-face -- and nothing here can tell them
apart without labels. Both are label-free and need no camera model; a prior is an assumption
about the target class and its scattering, so its labels are named
``mcl-track-car-selflabel`` / ``mcl-track-car-face-selflabel`` and their localisers after
them, rows of their own beside the paper's MCL. On development data (the paper-scale study's
parking lot; suburban and street canyon, seeds 11 and 12) ``prior="car"`` took the self-labels
from 1.81 / 2.06 / 2.15 m to 0.95 / 0.56 / 0.74 m at the median, and the suburban and canyon
localisers trained on them to 0.66 and 1.27 m (genie CFAR: 2.20 and 2.41 m).

Label-free: nothing here reads ground truth. :func:`calibration_offset` (the paper's one-off
systematic-offset calibration) does need labelled frames; it is opt-in and its callers record
how many labels it used.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from radarsp.metrics import NO_CAMERA, PINHOLE_CAMERA
from radarsp_learn.data import (
    RadioVisualFrames,
    batch_order,
    estimates_dataset,
    progress_bar,
    to_device,
)
from radarsp_learn.grid import rescale_index

Method = Literal["attribution", "gradient_x_activation", "conv"]
Peak = Literal["attribution", "heatmap"]
Angle = Literal["attention", "camera"]


def feature_support(mask: torch.Tensor, feature_shape: tuple[int, int]) -> torch.Tensor:
    """Feature-grid cells that see any pixel of the mask: (B, 1, H, W) -> (B, h, w) bool.

    Feature cell ``j`` of a backbone with stride ``s`` covers pixels ``[j s, (j + 1) s)``,
    which is what an adaptive max pool over those pixels reports.
    """
    return F.adaptive_max_pool2d(mask.float(), feature_shape)[:, 0] > 0


def _support_box(support: torch.Tensor) -> tuple[int, int, int, int]:
    """(row0, row1, col0, col1), end-exclusive, of the True cells; the whole grid if none."""
    rows = torch.nonzero(support.any(dim=1)).flatten()
    cols = torch.nonzero(support.any(dim=0)).flatten()
    if len(rows) == 0:
        return 0, support.shape[0], 0, support.shape[1]
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def attention_conv(radio_features: torch.Tensor, vision_features: torch.Tensor,
                   support: torch.Tensor) -> torch.Tensor:
    """Equation 2 for a batch: each sample's cropped masked-vision features as its own kernel.

    Parameters
    ----------
    radio_features : Tensor, shape (B, C, h, w)
        f^r(r).
    vision_features : Tensor, shape (B, C, h, w)
        f^v(gamma ⊙ v) on the same h x w grid.
    support : Tensor of bool, shape (B, h, w)
        The mask's support on the feature grid (:func:`feature_support`); each sample's kernel
        is ``vision_features`` cropped to the bounding box of its support, (C, kh, kw).

    Returns
    -------
    Tensor, shape (B, h, w)
        ``h_n = sum_{c,i,j} f^r_c[n_row + i - p_row, n_col + j - p_col] kernel_c[i, j]``
        with zero padding and ``p_row = (kh - 1) // 2``, ``p_col = (kw - 1) // 2``: the
        kernel's centre cell (the upper-left of the two centres for even sizes) sits on
        ``n``, so the output grid is the input grid. This is ``torch.nn.functional.conv2d``
        (a cross-correlation) of the zero-padded radio map.

    Notes
    -----
    Kernels differ in size per sample; each is placed in a ``(2h - 1) x (2w - 1)`` canvas with
    its centre cell on the canvas centre, and all samples run as one grouped convolution with
    padding ``(h - 1, w - 1)`` -- identical to a per-sample loop, in one call.
    """
    batch, channels, rows, cols = radio_features.shape
    canvas = radio_features.new_zeros(batch, channels, 2 * rows - 1, 2 * cols - 1)
    for b in range(batch):
        row0, row1, col0, col1 = _support_box(support[b])
        kernel = vision_features[b, :, row0:row1, col0:col1]
        top = rows - 1 - (row1 - row0 - 1) // 2
        left = cols - 1 - (col1 - col0 - 1) // 2
        canvas[b, :, top:top + row1 - row0, left:left + col1 - col0] = kernel
    out = F.conv2d(radio_features.reshape(1, batch * channels, rows, cols), canvas,
                   padding=(rows - 1, cols - 1), groups=batch)
    return out.view(batch, rows, cols)


def attribution_maps(objective, batch: dict[str, torch.Tensor], *,
                     kind: Literal["input_x_gradient", "gradient_x_activation"]
                     = "input_x_gradient") -> torch.Tensor:
    """Where on the radio input the cross-modal similarity ``s = q^r . q^v`` comes from.

    Parameters
    ----------
    objective : MaskedContrastive
        Trained model (its live encoders are used).
    batch : dict
        ``heatmap``, ``image``, ``mask`` as from :meth:`RadioVisualFrames.batch`.
    kind : {"input_x_gradient", "gradient_x_activation"}
        ``r ⊙ ds/dr`` on the model grid, shape (B, H, W); or ``relu(sum_c f_c ds/df_c)`` on
        the radio feature grid, shape (B, h, w).

    Returns
    -------
    Tensor
        One map per sample. Samples do not interact (GroupNorm), so one backward pass of
        ``sum_b s_b`` gives every sample's own gradient.
    """
    with torch.no_grad():
        vision = objective.embed_vision(objective.masked_image(batch))
    with torch.enable_grad():
        heatmap = batch["heatmap"].detach().requires_grad_(kind == "input_x_gradient")
        features = objective.radio_backbone(heatmap)
        if kind == "gradient_x_activation":
            features.retain_grad()
        radio = F.normalize(objective.radio_projector(features), dim=1)
        (radio * vision).sum().backward()
    if kind == "input_x_gradient":
        return (heatmap * heatmap.grad)[:, 0].detach()
    if kind == "gradient_x_activation":
        return (features * features.grad).sum(dim=1).clamp_min(0).detach()
    raise ValueError(f"kind must be 'input_x_gradient' or 'gradient_x_activation', got {kind!r}")


def conv_attention_maps(objective, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Equation 2 maps on the radio feature grid, shape (B, h, w)."""
    with torch.no_grad():
        radio = objective.radio_backbone(batch["heatmap"])
        vision = objective.vision_backbone(objective.masked_image(batch))
        if vision.shape[-2:] != radio.shape[-2:]:
            vision = F.interpolate(vision, size=radio.shape[-2:], mode="bilinear",
                                   align_corners=False)
        support = feature_support(batch["mask"], radio.shape[-2:])
        return attention_conv(radio, vision, support)


def refine_peak(maps: torch.Tensor) -> torch.Tensor:
    """Equation 3 with sub-cell refinement: the argmax of each map and a parabolic offset.

    Parameters
    ----------
    maps : Tensor, shape (B, rows, cols)

    Returns
    -------
    Tensor, shape (B, 2)
        Fractional ``(row, col)``: along each axis the vertex of the parabola through the peak
        and its two neighbours, ``i + (y[i-1] - y[i+1]) / (2 (y[i-1] - 2 y[i] + y[i+1]))``,
        clipped to +-0.5; no refinement on the grid's border.

    Examples
    --------
    >>> m = torch.zeros(1, 5, 5); m[0, 2, 1:4] = torch.tensor([1.0, 3.0, 2.0])
    >>> refine_peak(m)
    tensor([[2.0000, 2.1667]])
    """
    rows, cols = maps.shape[1:]
    flat = maps.reshape(len(maps), -1).argmax(dim=1)
    return parabolic_refinement(maps, flat // cols, flat % cols)


def parabolic_refinement(maps: torch.Tensor, row: torch.Tensor, col: torch.Tensor
                         ) -> torch.Tensor:
    """Sub-cell ``(row, col)`` of integer cells ``row``, ``col`` (B,) of ``maps`` (B, rows,
    cols): the parabola vertex along each axis (see :func:`refine_peak`), shape (B, 2)."""
    batch, rows, cols = maps.shape
    idx = torch.arange(batch, device=maps.device)

    def offset(centre, lower, upper, valid):
        curvature = lower - 2 * centre + upper
        with torch.no_grad():
            shift = torch.where(curvature < 0, (lower - upper) / (2 * curvature),
                                torch.zeros_like(centre))
        return torch.where(valid, shift.clamp(-0.5, 0.5), torch.zeros_like(centre))

    centre = maps[idx, row, col]
    row_valid = (row > 0) & (row < rows - 1)
    col_valid = (col > 0) & (col < cols - 1)
    up = maps[idx, (row - 1).clamp(min=0), col]
    down = maps[idx, (row + 1).clamp(max=rows - 1), col]
    left = maps[idx, row, (col - 1).clamp(min=0)]
    right = maps[idx, row, (col + 1).clamp(max=cols - 1)]
    return torch.stack([row + offset(centre, up, down, row_valid),
                        col + offset(centre, left, right, col_valid)], dim=1).float()


#: the 3 x 3 neighbourhood as (row, col) offsets; the cell itself is entry 4
_NEIGHBOURS = torch.tensor([(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1)])


def climb(maps: torch.Tensor, start: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Hill-climb each map from ``start`` to a local maximum (8-neighbourhood, steepest step).

    Parameters
    ----------
    maps : Tensor, shape (B, rows, cols)
    start : Tensor, shape (B, 2)
        Fractional ``(row, col)`` cells; rounded and clipped to the grid.

    Returns
    -------
    row, col : Tensor of int64, shape (B,)
        A cell no neighbour of which is larger (ties stay put).

    Examples
    --------
    >>> m = torch.tensor([[[0.0, 1.0, 2.0, 3.0], [0.0, 0.0, 0.0, 4.0]]])
    >>> climb(m, torch.tensor([[0.0, 0.0]]))
    (tensor([1]), tensor([3]))
    """
    batch, rows, cols = maps.shape
    row = start[:, 0].round().long().clamp(0, rows - 1)
    col = start[:, 1].round().long().clamp(0, cols - 1)
    padded = F.pad(maps, (1, 1, 1, 1), value=float("-inf"))
    idx = torch.arange(batch, device=maps.device)[:, None]
    neighbours = _NEIGHBOURS.to(maps.device)
    for _ in range(rows * cols):
        values = padded[idx, row[:, None] + 1 + neighbours[:, 0],
                        col[:, None] + 1 + neighbours[:, 1]]
        best = values.argmax(dim=1)
        move = values.gather(1, best[:, None])[:, 0] > values[:, 4]
        if not move.any():
            break
        row = torch.where(move, row + neighbours[best, 0], row)
        col = torch.where(move, col + neighbours[best, 1], col)
    return row, col


def smooth(maps: torch.Tensor, size: int) -> torch.Tensor:
    """Box-average ``maps`` (B, rows, cols) over ``size`` x ``size`` cells (1: unchanged)."""
    if size <= 1:
        return maps
    return F.avg_pool2d(maps[:, None], size, stride=1, padding=size // 2,
                        count_include_pad=False)[:, 0, :maps.shape[1], :maps.shape[2]]


def camera_ray_cells(data: RadioVisualFrames, cells: np.ndarray, *, calibration=None,
                     camera=None) -> np.ndarray:
    """Move model-grid ``cells`` (n, 2) of ``data``'s frames onto their camera rays, same range.

    Each cell's range is kept; its angle becomes that of the point at this range on the
    horizontal ray through the centre of the frame's ``target_box``
    (:func:`radarsp_learn.teacher.box_rays`, :func:`radarsp_learn.teacher.point_at_range`).
    Frames whose box is missing (NaN) keep their cell.

    Parameters
    ----------
    data : RadioVisualFrames
        Frames with camera; the pinhole model is read from ``data.ds["image"].attrs`` unless
        ``camera`` (:class:`radarsp.camera.CameraModel`) is given.
    cells : ndarray, shape (len(data), 2)
    calibration : radarsp_learn.teacher.Calibration, optional
        Camera-to-radar transform; default identity.
    """
    from radarsp.camera import Calibration, box_rays, camera_of, point_at_range
    from radarsp.geometry import cartesian_to_polar
    from radarsp_learn.masks import truth_boxes

    camera = camera_of(data.ds, camera)
    origin, direction = box_rays(camera, truth_boxes(data.ds)[data.frames],
                                 calibration or Calibration())
    range_m, _ = data.grid.to_polar(cells[:, 0], cells[:, 1])
    point = point_at_range(origin, direction, range_m)
    row, col = data.grid.from_polar(*cartesian_to_polar(point[:, 0], point[:, 1]))
    moved = np.stack([row, col], axis=1)
    return np.where(np.isfinite(moved).all(axis=1, keepdims=True), moved, cells)


def self_label_cells(objective, data: RadioVisualFrames, *, method: Method = "attribution",
                     smoothing: int = 3, peak: Peak = "heatmap", angle: Angle = "attention",
                     calibration=None, track: bool = False, prior=None,
                     batch_size: int = 128, progress: bool = False) -> np.ndarray:
    """Self-labels of every frame of ``data`` as model-grid ``(row, col)``, shape (n, 2).

    Parameters
    ----------
    objective : MaskedContrastive
        Trained MCL model.
    data : RadioVisualFrames
        Frames with camera (image and target box) -- never ground truth.
    method : {"attribution", "gradient_x_activation", "conv"}
        Attention map (module docstring). ``"attribution"`` is input x gradient.
    smoothing : int
        Box size (cells of the map) averaged before the peak search; 1 disables it. The
        heatmap climbed by ``peak="heatmap"`` is smoothed the same way.
    peak : {"heatmap", "attribution"}
        ``"attribution"``: the attention map's refined maximum. ``"heatmap"``: from there,
        the nearest local maximum of the radar heatmap (module docstring).
    angle : {"attention", "camera"}
        ``"attention"``: the angle of that peak (the paper's self-label). ``"camera"``: the
        angle of the camera box's centre ray at that peak's range (:func:`camera_ray_cells`,
        with ``calibration``; module docstring).
    track : bool
        Replace each frame's label by its sequence's constant-velocity track
        (:func:`track_cells`; needs the ``sequence`` and ``time`` coordinates).
    prior : {"car", "car-face"} or radarsp.tracking.BoxPrior, optional
        With ``track``: read the labels as the target's point nearest the radar (``"car"``)
        or the middle of its face turned to the radar (``"car-face"``) and move them to the
        centre of a box of this size along the track's heading (:func:`track_cells`).
    """
    if prior is not None and not track:
        raise ValueError("a box prior needs track=True (the box's heading is the track's)")
    if peak not in ("heatmap", "attribution"):
        raise ValueError(f"peak must be 'heatmap' or 'attribution', got {peak!r}")
    if angle not in ("attention", "camera"):
        raise ValueError(f"angle must be 'attention' or 'camera', got {angle!r}")
    from radarsp.camera import camera_of

    camera = camera_of(data.ds) if angle == "camera" else None  # fail before the work

    objective.eval()
    grid_shape = data.grid.shape
    out = []
    for positions in progress_bar(batch_order(len(data), batch_size, seed=0, shuffle=False),
                                  enabled=progress, desc="self-label"):
        batch = to_device(data.batch(positions), objective)
        if method == "attribution":
            maps = attribution_maps(objective, batch, kind="input_x_gradient")
        elif method == "gradient_x_activation":
            maps = attribution_maps(objective, batch, kind="gradient_x_activation")
        elif method == "conv":
            maps = conv_attention_maps(objective, batch)
        else:
            raise ValueError(f"unknown self-label method {method!r}")
        peaks = refine_peak(smooth(maps, smoothing)).cpu().numpy()
        rows, cols = maps.shape[-2:]
        cells = np.stack([rescale_index(peaks[:, 0], rows, grid_shape[0]),
                          rescale_index(peaks[:, 1], cols, grid_shape[1])], axis=1)
        if peak == "heatmap":
            heatmap = smooth(batch["heatmap"][:, 0], smoothing)
            start = torch.as_tensor(cells, device=heatmap.device)
            cells = parabolic_refinement(heatmap, *climb(heatmap, start)).cpu().numpy()
        out.append(cells)
    cells = np.concatenate(out) if out else np.zeros((0, 2))
    if angle == "camera":
        cells = camera_ray_cells(data, cells, calibration=calibration, camera=camera)
    return track_cells(data, cells, prior=prior) if track else cells


def track_cells(data: RadioVisualFrames, cells: np.ndarray, *, prior=None,
                tol: float = 1.0) -> np.ndarray:
    """Replace model-grid ``cells`` (n, 2) of ``data``'s frames by their sequence's track.

    Temporal consistency (:func:`radarsp.tracking.fit_tracks`): a constant-velocity line
    through each sequence's labels (``sequence`` and ``time`` coordinates), MSAC with inlier
    distance ``tol`` (m); every frame gets the track's position. With ``prior`` (a
    :class:`radarsp.tracking.BoxPrior` or a name in :data:`radarsp.tracking.PRIORS`, e.g.
    ``"car"``) the labels are read as the target's point nearest the radar, moved to the
    centre of a box of that size along the track's heading, and tracked again
    (:func:`radarsp.tracking.track_positions`).

    Label-free and camera-geometry-free: it reads the frames' times and sequence labels only.
    """
    from radarsp.geometry import cartesian_to_polar, polar_to_cartesian
    from radarsp.tracking import track_coordinates, track_positions

    time, sequence = track_coordinates(data.ds)
    x, y = polar_to_cartesian(*data.grid.to_polar(cells[:, 0], cells[:, 1]))
    x, y = track_positions(x, y, time[data.frames], sequence[data.frames], prior=prior,
                           tol=tol)
    row, col = data.grid.from_polar(*cartesian_to_polar(x, y))
    return np.stack([row, col], axis=1)


def calibration_offset(self_labels: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The paper's one-off systematic-offset calibration: median (reference - self-label).

    Parameters
    ----------
    self_labels, reference : ndarray, shape (n, 2)
        Model-grid cells of the same frames. ``reference`` is ground truth, so this uses n
        labels and callers must report n; rows with NaN are ignored.

    Returns
    -------
    ndarray, shape (2,)
        Offset in cells to add to every self-label.
    """
    difference = np.asarray(reference, float) - np.asarray(self_labels, float)
    difference = difference[np.all(np.isfinite(difference), axis=1)]
    return np.median(difference, axis=0) if len(difference) else np.zeros(2)


def self_labels(objective, data: RadioVisualFrames, *, method: Method = "attribution",
                smoothing: int = 3, peak: Peak = "heatmap", angle: Angle = "attention",
                calibration=None, offset=(0.0, 0.0), batch_size: int = 128,
                progress: bool = False, name: str = "mcl-selflabel", attrs: dict | None = None,
                cells: np.ndarray | None = None, track: bool = False, prior=None):
    """Self-labels of every frame of ``data`` as an estimates-1 dataset (``method`` attr
    ``name``).

    ``offset`` (cells, from :func:`calibration_offset`) is added before conversion to range and
    angle; the default applies none, so the labels are label-free. ``cells``, the
    :func:`self_label_cells` of ``data`` with these options when already computed (e.g. to fit
    the offset on some of them), skips computing them again. ``track`` and ``prior``
    (:func:`self_label_cells`) rename the method ``<source>-track-selflabel`` and
    ``<source>-track-<prior>-selflabel`` (:func:`tracked_name`): each option is its own row.

    Examples
    --------
    See :func:`radarsp_learn.train.run_selflabel` for the end-to-end use on a run directory.
    """
    if cells is None:
        cells = self_label_cells(objective, data, method=method, smoothing=smoothing, peak=peak,
                                 angle=angle, calibration=calibration, track=track,
                                 prior=prior, batch_size=batch_size, progress=progress)
    elif len(cells) != len(data):
        raise ValueError(f"cells: expected one per frame ({len(data)}), got {len(cells)}")
    cells = np.asarray(cells, dtype=float) + np.asarray(offset, dtype=float)
    range_m, angle_rad = data.grid.to_polar(cells[:, 0], cells[:, 1])
    meta = {"selflabel_method": method, "selflabel_peak": peak, "selflabel_angle": angle,
            "calibration_offset_cells": list(map(float, offset)),
            "selflabel_track": int(bool(track))}
    if prior is not None:
        from radarsp.tracking import resolve_prior

        box = resolve_prior(prior)
        meta.update(selflabel_prior=box.name, prior_length_m=box.length,
                    prior_width_m=box.width)
    attrs = dict(attrs or {})
    labels_used = int(attrs.pop("labels_used", 0))
    camera = NO_CAMERA
    if angle == "camera":  # the bearing is the camera's: a camera-radar fusion, not MCL
        name, camera = camera_ray_fusion_name(name), PINHOLE_CAMERA
    name = tracked_name(name, track, prior)
    return estimates_dataset(data.frame_ids, range_m, angle_rad, method=name,
                             labels_used=labels_used, camera_geometry=camera,
                             attrs={**meta, **attrs})


def tracked_name(name: str, track: bool, prior=None) -> str:
    """The method name of self-labels ``name`` refined by tracks (and a box prior).

    Examples
    --------
    >>> tracked_name("mcl-selflabel", True), tracked_name("mcl-selflabel", True, "car")
    ('mcl-track-selflabel', 'mcl-track-car-selflabel')
    >>> tracked_name("mcl-selflabel", False)
    'mcl-selflabel'
    """
    if not track:
        return name
    from radarsp.tracking import track_suffix

    return name.removesuffix("-selflabel") + track_suffix(prior) + "-selflabel"


def camera_ray_fusion_name(name: str) -> str:
    """The honest name of self-labels ``name`` whose angle comes from the camera ray.

    Their range is the contrastive model's, their bearing the calibrated pinhole ray through
    the box centre: a camera-radar fusion, reported apart from the paper's MCL.

    Examples
    --------
    >>> camera_ray_fusion_name("mcl-selflabel"), camera_ray_fusion_name("cl-selflabel")
    ('camera-ray-fusion-selflabel', 'camera-ray-fusion-cl-selflabel')
    """
    source = name.removesuffix("-selflabel")
    prefix = "camera-ray-fusion" if source == "mcl" else f"camera-ray-fusion-{source}"
    return f"{prefix}-selflabel"


def label_span(estimates, heatmap, *, cells: float = 1.5) -> tuple[str, bool]:
    """Where self-labels lie (5th-95th %ile), and whether they have collapsed to one point.

    A contrastive model can satisfy its objective with an attention map that peaks at one
    fixed cell in every frame (a position-coded "global token"); every frame then gets the
    same label and a localiser trained on them learns a constant. That needs no truth to
    see: the labels' 5th-95th percentile span is checked against the heatmap's own extent.

    Parameters
    ----------
    estimates : xarray.Dataset
        Self-labels (estimates-1: ``range`` m, ``angle`` rad per frame).
    heatmap : xarray.Dataset
        The frames they label (heatmap-1; only its ``range`` and ``angle`` coordinates).
    cells : float
        Collapsed when both spans are under this many 64th parts of the heatmap's range and
        angle extents (about one cell of the default 64 x 64 model grid each).

    Returns
    -------
    text : str
        E.g. ``"range 7.7-23.5 m, angle -44 to +35 deg (5th-95th %ile)"``.
    collapsed : bool

    Examples
    --------
    >>> import xarray as xr
    >>> heatmap = xr.Dataset(coords={"range": np.linspace(0, 48, 64),
    ...                              "angle": np.linspace(-1.5, 1.5, 64)})
    >>> same = xr.Dataset({"range": ("frame", np.full(50, 38.8)),
    ...                    "angle": ("frame", np.full(50, 1.03))})
    >>> label_span(same, heatmap)
    ('range 38.8-38.8 m, angle +59 to +59 deg (5th-95th %ile)', True)
    """
    from radarsp.metrics import estimate_span

    span = estimate_span(estimates)
    (r0, r1), (a0, a1) = span["range"], np.degrees(span["angle"])
    text = f"range {r0:.1f}-{r1:.1f} m, angle {a0:+.0f} to {a1:+.0f} deg (5th-95th %ile)"
    extent = {name: float(np.ptp(np.asarray(heatmap[name].values, dtype=float)))
              for name in ("range", "angle")}
    collapsed = all(np.isfinite(hi - lo) and hi - lo < cells * extent[name] / 64
                    for name, (lo, hi) in span.items())
    return text, collapsed
