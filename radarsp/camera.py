"""The pinhole camera of the contract: model, camera-to-radar calibration and box rays.

One home for camera geometry, numpy only: the simulators write the model as the ``image``
variable's attrs (:meth:`radarsp.simulate.camera.Camera.attrs`), and everything that reads a
camera -- MCL's camera-ray fusion self-labels, the RODNet-style teacher, the camera-only
ground projection -- reads it back with :meth:`CameraModel.from_attrs`. Units: m, rad, pixels
(pixel ``(row, col)`` centred on integer coordinates).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from radarsp.errors import RadarspFileError


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


#: The identity camera-to-radar transform: the simulators' camera sits above the radar with
#: the same boresight.
IDENTITY = Calibration()
