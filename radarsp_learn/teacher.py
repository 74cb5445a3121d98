"""RODNet-style teacher: radio CFAR peaks fused with the camera's target into pseudo-labels.

The paper's third baseline (section 5.1, after Y. Wang et al., "RODNet", IEEE JSTSP 2021) and
its pseudo-labelling pipeline for empirical data (section 5.2): the camera says *which way*
the target is, the radio says *how far*. Per frame,

1. the radio map is binarised by CFAR (:func:`radarsp.cfar.cfar`) and the detections grouped
   into clusters by DBSCAN (:func:`radarsp.cluster.cluster`) -- :func:`cfar_clusters`;
2. the centre of the camera's target box is back-projected through the pinhole model
   (intrinsics and pose from the ``image`` variable's attrs,
   :class:`radarsp.camera.CameraModel`) to a ray, and its horizontal part is carried into
   radar coordinates by the camera-to-radar calibration
   (:class:`radarsp.camera.Calibration`, a 2-D rigid transform);
3. the bottom centre of the box, back-projected onto the ground plane, is the camera's own
   (coarse: about a metre per pixel row at 15 m) x-y fix of the target -- the paper's
   "intrinsic camera calibration to convert camera objects into x-y coordinates"; among the
   clusters within a gate of the ray the one nearest that fix gives the range ``R``
   (:func:`fuse`); the label is the point of the ray at range ``R`` from the radar, so its
   angle comes from the camera and its range from the radio.

The labels (an estimates-1 table, method ``rodnet-teacher``) train the radio-only student
with the same localiser as MCL: ``radarsp-learn train --objective localiser --labels
teacher.nc``. No ground truth is read; the camera box may come from ground truth or any
:mod:`radarsp_learn.masks` source.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import xarray as xr

from radarsp.camera import (
    IDENTITY,
    Calibration,
    CameraModel,
    box_rays,
    camera_of,
    point_at_range,
    ray_distance,
)
from radarsp.cfar import DEFAULT_GUARD, DEFAULT_METHOD, DEFAULT_PFA, DEFAULT_TRAIN
from radarsp.geometry import cartesian_to_polar
from radarsp.metrics import PINHOLE_CAMERA

# CFAR and DBSCAN settings of the statistical baseline: the grid-search winners of
# benchmarks/bench_statistical.py on a separate labelled set of simulated parking-lot frames.
#: The teacher's CFAR: radarsp's one default (:data:`radarsp.cfar.DEFAULT_PFA` says why).
CFAR_OPTIONS = {"method": DEFAULT_METHOD, "guard": DEFAULT_GUARD, "train": DEFAULT_TRAIN,
                "pfa": DEFAULT_PFA}
CLUSTER_OPTIONS = {"eps": (1.0, 1.0), "min_samples": 5}


def cfar_clusters(power: xr.DataArray, *, cfar_options: dict | None = None,
                  cluster_options: dict | None = None) -> xr.Dataset:
    """CFAR detections of every frame of ``power`` grouped by DBSCAN: a clusters-1 table.

    Defaults are :data:`CFAR_OPTIONS` and :data:`CLUSTER_OPTIONS` (the statistical baseline's).
    """
    from radarsp.cfar import DETECTION_OUTPUTS, cfar, detections
    from radarsp.cluster import cluster

    options = {**CFAR_OPTIONS, **(cfar_options or {}), "outputs": DETECTION_OUTPUTS}
    found = detections(cfar(power, **options), power)
    return cluster(found, **{**CLUSTER_OPTIONS, **(cluster_options or {})})


def fuse(clusters: xr.Dataset, frames: np.ndarray, origin: np.ndarray, direction: np.ndarray,
         ground: np.ndarray | None = None, *, gate: float = 2.0) -> dict[str, np.ndarray]:
    """Pick per frame the radio cluster of the camera's target; range from it, angle from the ray.

    Parameters
    ----------
    clusters : xarray.Dataset
        clusters-1 table (``frame`` ids, ``x``, ``y``, ``range``, ``power``).
    frames : ndarray, shape (n,)
        Frame ids, in the order of the rays.
    origin, direction : ndarray, shape (n, 2)
        Rays through the box centres, radar coordinates (NaN where the camera saw nothing).
    ground : ndarray, shape (n, 2), optional
        The camera's own ground-plane fix of the target (bottom of its box), radar
        coordinates. With it, the clusters within ``gate`` of the ray compete on distance to
        this point (RODNet's camera-radar fusion); without it, on distance to the ray.
    gate : float
        Largest cluster-to-ray distance, m, with ``ground``.

    Returns
    -------
    dict of ndarray, shape (n,)
        ``range`` (m), ``angle`` (rad), ``power`` and ``ray_distance`` (m) of the chosen
        cluster; NaN where no cluster qualifies.

    Notes
    -----
    Rays start at the camera, above the radar, so without ``ground`` every cluster close to
    the radar is close to every ray: nearest-to-the-ray alone picks near clutter.
    """
    n = len(frames)
    lookup = {int(f): i for i, f in enumerate(frames)}
    position = np.array([lookup.get(int(f), -1) for f in np.asarray(clusters["frame"].values)],
                        dtype=np.int64)
    keep = position >= 0
    position = position[keep]
    points = np.stack([clusters["x"].values, clusters["y"].values], axis=1)[keep]
    distance = ray_distance(points, origin[position], direction[position])
    if ground is None:
        cost = distance
    else:
        cost = np.linalg.norm(points - ground[position], axis=1)
        cost = np.where(distance <= gate, cost, np.inf)
    cost = np.where(np.isfinite(cost), cost, np.inf)
    order = np.lexsort((cost, position))  # by frame, then cost: the first of a frame wins
    sorted_frames = position[order]
    first = order[np.diff(sorted_frames, prepend=-1) != 0]
    first = first[np.isfinite(cost[first])]
    chosen = np.full(n, -1, dtype=np.int64)
    chosen[position[first]] = first
    hit = chosen >= 0
    range_m, power, off_ray = (np.full(n, np.nan) for _ in range(3))
    range_m[hit] = np.asarray(clusters["range"].values)[keep][chosen[hit]]
    power[hit] = np.asarray(clusters["power"].values)[keep][chosen[hit]]
    off_ray[hit] = distance[chosen[hit]]
    point = np.full((n, 2), np.nan)
    point[hit] = point_at_range(origin[hit], direction[hit], range_m[hit])
    _, angle = cartesian_to_polar(point[:, 0], point[:, 1])
    return {"range": range_m, "angle": np.where(hit, angle, np.nan), "power": power,
            "ray_distance": off_ray}


def teacher_labels(
    ds: xr.Dataset, *, boxes: np.ndarray | None = None,
    calibration: Calibration = IDENTITY, camera: CameraModel | None = None,
    cfar_options: dict | None = None, cluster_options: dict | None = None,
    select: Literal["ground", "ray"] = "ground", gate: float = 2.0,
    clusters: xr.Dataset | None = None,
) -> xr.Dataset:
    """RODNet-style pseudo-labels of every frame of a heatmap-1 dataset.

    Parameters
    ----------
    ds : xarray.Dataset
        heatmap-1 with ``power``, ``image`` (camera attrs) and, unless ``boxes`` is given,
        ``target_box``.
    boxes : ndarray, shape (frame, 4), optional
        Camera target boxes ``(col0, row0, col1, row1)`` (e.g. from
        :func:`radarsp_learn.masks.mask_boxes`); default ``target_box``. NaN: no target seen.
    calibration : Calibration
        Camera-to-radar transform.
    camera : CameraModel, optional
        Default :meth:`CameraModel.from_attrs` of ``ds["image"].attrs``.
    cfar_options, cluster_options : dict, optional
        Override :data:`CFAR_OPTIONS` / :data:`CLUSTER_OPTIONS`.
    select : {"ground", "ray"}
        ``"ground"``: among the clusters within ``gate`` m of the ray, the one nearest the
        camera's ground-plane fix of the box's bottom centre; ``"ray"``: the cluster nearest
        the ray (see :func:`fuse`'s notes for why that alone picks near clutter).
    gate : float
        m, for ``select="ground"``.
    clusters : xarray.Dataset, optional
        Precomputed :func:`cfar_clusters` of ``ds["power"]`` (skips CFAR and DBSCAN).

    Returns
    -------
    xarray.Dataset
        estimates-1 table (method ``rodnet-teacher``, ``labels_used = 0``): ``range`` (m),
        ``angle`` (rad), ``x``, ``y`` (m), ``power`` and ``ray_distance`` (m) per frame.

    Examples
    --------
    See ``tests/radarsp_learn/test_teacher.py`` for a simulated frame end to end.
    """
    from radarsp_learn.data import estimates_dataset, frame_values
    from radarsp_learn.masks import truth_boxes

    camera = camera_of(ds, camera)
    boxes = truth_boxes(ds) if boxes is None else np.asarray(boxes, dtype=np.float64)
    origin, direction = box_rays(camera, boxes, calibration)
    ground = None
    if select == "ground":
        col = (boxes[:, 0] + boxes[:, 2]) / 2.0
        ground = calibration.apply(camera.ground_points(col, boxes[:, 3] + 0.5))
    elif select != "ray":
        raise ValueError(f"select must be 'ground' or 'ray', got {select!r}")
    if clusters is None:
        clusters = cfar_clusters(ds["power"].load(), cfar_options=cfar_options,
                                 cluster_options=cluster_options)
    frames = frame_values(ds)
    fused = fuse(clusters, frames, origin, direction, ground, gate=gate)
    out = estimates_dataset(frames, fused["range"], fused["angle"], method="rodnet-teacher",
                            power=fused["power"],
                            labels_used=0, camera_geometry=PINHOLE_CAMERA,
                            attrs={"calibration_yaw_rad": calibration.yaw,
                                   "calibration_x_m": calibration.x,
                                   "calibration_y_m": calibration.y})
    out["ray_distance"] = ("frame", fused["ray_distance"])
    return out


def camera_ground_estimates(ds: xr.Dataset, *, boxes: np.ndarray | None = None,
                            calibration: Calibration = IDENTITY,
                            camera: CameraModel | None = None) -> xr.Dataset:
    """Camera-only position estimates: each box's bottom centre projected onto the ground.

    The baseline for what the camera geometry alone gives (no radar, no labels): the pixel
    under the middle of the box's bottom edge, on the ground plane of the pinhole model in
    ``ds["image"].attrs``, carried into the radar frame.

    Returns
    -------
    xarray.Dataset
        estimates-1, method ``camera-ground``, ``labels_used = 0``, ``camera_geometry`` the
        pinhole camera; NaN where a frame has no box (or its ray never meets the ground).
    """
    from radarsp_learn.data import estimates_dataset, frame_values
    from radarsp_learn.masks import truth_boxes

    camera = camera_of(ds, camera)
    boxes = truth_boxes(ds) if boxes is None else np.asarray(boxes, dtype=np.float64)
    col = (boxes[:, 0] + boxes[:, 2]) / 2.0
    point = calibration.apply(camera.ground_points(col, boxes[:, 3] + 0.5))
    range_m, angle = cartesian_to_polar(point[:, 0], point[:, 1])
    return estimates_dataset(frame_values(ds), range_m, angle, method="camera-ground",
                             labels_used=0, camera_geometry=PINHOLE_CAMERA)
