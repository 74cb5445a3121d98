"""RODNet-style teacher: radio CFAR peaks fused with the camera's target into pseudo-labels.

The paper's third baseline (section 5.1, after Y. Wang et al., "RODNet", IEEE JSTSP 2021) and
its pseudo-labelling pipeline for empirical data (section 5.2): the camera says *which way*
the target is, the radio says *how far*. Per frame,

1. the radio map is binarised by CFAR (:func:`radarsp.cfar.cfar`) and the detections grouped
   into clusters by DBSCAN (:func:`radarsp.cluster.cluster`) -- :func:`cfar_clusters`;
2. the centre of the camera's target box is back-projected through the pinhole model
   (intrinsics and pose from the ``image`` variable's attrs, :class:`CameraModel`) to a ray,
   and its horizontal part is carried into radar coordinates by the camera-to-radar
   calibration (:class:`Calibration`, a 2-D rigid transform);
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

from dataclasses import dataclass
from typing import Literal

import numpy as np
import xarray as xr

from radarsp.cfar import DEFAULT_GUARD, DEFAULT_METHOD, DEFAULT_PFA, DEFAULT_TRAIN
from radarsp.errors import RadarspFileError
from radarsp.geometry import cartesian_to_polar
from radarsp.metrics import PINHOLE_CAMERA

# CFAR and DBSCAN settings of the statistical baseline: the grid-search winners of
# benchmarks/bench_statistical.py on a separate labelled set of simulated parking-lot frames.
#: The teacher's CFAR: radarsp's one default (:data:`radarsp.cfar.DEFAULT_PFA` says why).
CFAR_OPTIONS = {"method": DEFAULT_METHOD, "guard": DEFAULT_GUARD, "train": DEFAULT_TRAIN,
                "pfa": DEFAULT_PFA}
CLUSTER_OPTIONS = {"eps": (1.0, 1.0), "min_samples": 5}


@dataclass(frozen=True)
class CameraModel:
    """Pinhole camera pose and intrinsics (:mod:`radarsp.simulate.camera`'s convention).

    Parameters
    ----------
    focal_length : float
        Pixels (square pixels).
    principal_point : tuple of float
        ``(c_x, c_y)``, pixels; pixel ``(row, col)`` is centred on integer coordinates.
    position : tuple of float
        ``(x, y, z)`` of the optical centre, m, in the camera installation's ground frame.
    tilt : float
        Downward pitch of the optical axis, rad.
    yaw : float
        Azimuth of the optical axis, rad from +y towards +x.

    Examples
    --------
    >>> camera = CameraModel(32.0, (31.5, 31.5), (0.0, 0.0, 6.0), 0.4, 0.0)
    >>> origin, direction = camera.ground_rays(np.array([31.5]), np.array([40.0]))
    >>> direction.round(6).tolist()
    [[0.0, 1.0]]
    """

    focal_length: float
    principal_point: tuple[float, float]
    position: tuple[float, float, float]
    tilt: float
    yaw: float = 0.0

    @classmethod
    def from_attrs(cls, attrs: dict, *, source=None) -> CameraModel:
        """Read ``focal_length_px``, ``principal_point_px``, ``camera_position_m``,
        ``camera_tilt_rad`` and ``camera_yaw_rad`` (optional) from ``image`` attrs."""
        needed = ("focal_length_px", "principal_point_px", "camera_position_m", "camera_tilt_rad")
        missing = [k for k in needed if k not in attrs]
        if missing:
            raise RadarspFileError(source, "image", f"camera attrs {', '.join(missing)} needed "
                                   "(intrinsics and pose of the pinhole model)")
        return cls(float(attrs["focal_length_px"]),
                   tuple(float(v) for v in np.ravel(attrs["principal_point_px"])),
                   tuple(float(v) for v in np.ravel(attrs["camera_position_m"])),
                   float(attrs["camera_tilt_rad"]), float(attrs.get("camera_yaw_rad", 0.0)))

    def axes(self) -> np.ndarray:
        """Rows: right, image-down and forward unit vectors in ground coordinates."""
        ct, st = np.cos(self.tilt), np.sin(self.tilt)
        cy, sy = np.cos(self.yaw), np.sin(self.yaw)
        return np.array([[cy, -sy, 0.0], [-sy * st, -cy * st, -ct], [sy * ct, cy * ct, -st]])

    def ground_rays(self, col, row) -> tuple[np.ndarray, np.ndarray]:
        """Horizontal part of the rays through pixels ``(col, row)``.

        Returns
        -------
        origin : ndarray, shape (n, 2)
            Camera ``(x, y)``, m.
        direction : ndarray, shape (n, 2)
            Unit x-y direction of ``forward + (col - c_x)/f right + (row - c_y)/f down``:
            every point the pixel sees lies above or below this half-line.
        """
        right, down, forward = self.axes()
        u = (np.asarray(col, dtype=np.float64) - self.principal_point[0]) / self.focal_length
        v = (np.asarray(row, dtype=np.float64) - self.principal_point[1]) / self.focal_length
        ray = forward + u[:, None] * right + v[:, None] * down
        direction = ray[:, :2] / np.linalg.norm(ray[:, :2], axis=1, keepdims=True)
        origin = np.broadcast_to(np.asarray(self.position[:2]), direction.shape)
        return np.array(origin), direction

    def ground_points(self, col, row) -> np.ndarray:
        """Where the rays through pixels ``(col, row)`` meet the ground ``z = 0``, shape (n, 2).

        ``(x, y)`` in m; NaN for pixels at or above the horizon.
        """
        right, down, forward = self.axes()
        u = (np.asarray(col, dtype=np.float64) - self.principal_point[0]) / self.focal_length
        v = (np.asarray(row, dtype=np.float64) - self.principal_point[1]) / self.focal_length
        ray = forward + u[:, None] * right + v[:, None] * down
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(ray[:, 2] < 0, -self.position[2] / ray[:, 2], np.nan)
        return np.asarray(self.position[:2]) + step[:, None] * ray[:, :2]


@dataclass(frozen=True)
class Calibration:
    """Camera-to-radar transform in the ground plane: ``p_radar = R(yaw) p_camera + (x, y)``.

    ``R(yaw)`` turns azimuths by ``yaw`` (rad, towards +x), ``(x, y)`` in m. The identity suits
    the simulator (camera straight above the radar, same boresight); on a real site it is
    what an extrinsic calibration measures.

    Examples
    --------
    >>> Calibration(yaw=np.pi / 2).apply(np.array([[0.0, 1.0]])).round(6).tolist()
    [[1.0, 0.0]]
    """

    yaw: float = 0.0
    x: float = 0.0
    y: float = 0.0

    def rotate(self, vectors: np.ndarray) -> np.ndarray:
        """Rotate x-y vectors (n, 2) by ``yaw``."""
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        return np.stack([c * vectors[:, 0] + s * vectors[:, 1],
                         -s * vectors[:, 0] + c * vectors[:, 1]], axis=1)

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Camera-frame points (n, 2) -> radar frame."""
        return self.rotate(points) + np.array([self.x, self.y])


def camera_of(ds: xr.Dataset, camera: CameraModel | None = None) -> CameraModel:
    """``camera``, or the pinhole model in the attrs of ``ds["image"]`` (clear error if absent)."""
    if camera is not None:
        return camera
    if "image" not in ds.variables:
        raise RadarspFileError(ds.encoding.get("source"), "image",
                               "camera frames (with the camera model in attrs) needed")
    return CameraModel.from_attrs(ds["image"].attrs, source=ds.encoding.get("source"))


def box_rays(camera: CameraModel, boxes: np.ndarray,
             calibration: Calibration = Calibration()) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal rays through the centres of camera boxes, in radar coordinates.

    Parameters
    ----------
    camera : CameraModel
    boxes : ndarray, shape (n, 4)
        ``(col0, row0, col1, row1)`` pixels; NaN rows give NaN rays.
    calibration : Calibration
        Camera-to-radar transform.

    Returns
    -------
    origin, direction : ndarray, shape (n, 2)
        As :meth:`CameraModel.ground_rays`, carried into the radar frame.
    """
    boxes = np.asarray(boxes, dtype=np.float64)
    origin, direction = camera.ground_rays((boxes[:, 0] + boxes[:, 2]) / 2.0,
                                           (boxes[:, 1] + boxes[:, 3]) / 2.0)
    return calibration.apply(origin), calibration.rotate(direction)


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


def ray_distance(points: np.ndarray, origin: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """x-y distance of ``points`` (n, 2) from half-lines ``origin + s direction``, ``s >= 0``.

    Examples
    --------
    >>> ray_distance(np.array([[3.0, 4.0], [0.0, -2.0]]), np.zeros((2, 2)),
    ...              np.array([[0.0, 1.0], [0.0, 1.0]])).tolist()
    [3.0, 2.0]
    """
    offset = points - origin
    along = np.clip(np.einsum("ij,ij->i", offset, direction), 0.0, None)
    return np.linalg.norm(offset - along[:, None] * direction, axis=1)


def point_at_range(origin: np.ndarray, direction: np.ndarray, range_m: np.ndarray) -> np.ndarray:
    """The point of each half-line at distance ``range_m`` from the radar origin, shape (n, 2).

    Solves ``|o + s d| = R`` for the larger root ``s``; where the ray never reaches range
    ``R`` (or only behind its origin), the ray point nearest the radar is returned.

    Examples
    --------
    >>> point_at_range(np.zeros((1, 2)), np.array([[0.6, 0.8]]), np.array([10.0])).tolist()
    [[6.0, 8.0]]
    """
    along = np.einsum("ij,ij->i", origin, direction)
    discriminant = along ** 2 - np.einsum("ij,ij->i", origin, origin) + range_m ** 2
    root = -along + np.sqrt(np.clip(discriminant, 0.0, None))
    step = np.where((discriminant >= 0) & (root >= 0), root, np.clip(-along, 0.0, None))
    return origin + step[:, None] * direction


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
    calibration: Calibration = Calibration(), camera: CameraModel | None = None,
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
                            calibration: Calibration = Calibration(),
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
