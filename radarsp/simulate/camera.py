"""Pinhole camera: renders scene frames to small RGB images with the target's bounding box.

The camera stands at the radar's x-y position, ``height`` metres above ground, looking along
the radar boresight (+y) and tilted down by ``tilt`` so the road fills the frame (at radar
height a lane would cover a couple of pixel rows). Projection of a world point ``P``:

.. math::

    q = P - C, \\quad x_c = q \\cdot \\hat r, \\; y_c = q \\cdot \\hat d,
    \\; z_c = q \\cdot \\hat f, \\quad
    \\text{col} = c_x + f_x x_c / z_c, \\; \\text{row} = c_y + f_y y_c / z_c

with right ``r = (1, 0, 0)``, forward ``f = (0, cos t, -sin t)`` and image-down
``d = (0, -sin t, -cos t)``; pixel ``i`` is centred on coordinate ``i``.
Ground and sky are shaded per pixel; cars (body plus cabin) and buildings are boxes whose
camera-facing faces are filled far to near (painter's algorithm), clipped at a near plane.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from radarsp.simulate.scene import BUILDING, WEATHERS, Scene

SKY = np.array([150, 190, 235])
ASPHALT = np.array([85, 85, 90])
PAVEMENT = np.array([150, 148, 140])
GRASS = np.array([70, 125, 60])
MARKING = np.array([235, 235, 225])
GLASS = np.array([40, 50, 60])
FOG = np.array([200, 202, 206])
NEAR = 0.2  # m, near clipping plane
RENDER_CHUNK = 128  # frames rendered together


@dataclass(frozen=True)
class Camera:
    """Pinhole camera geometry.

    Parameters
    ----------
    image_size : (int, int)
        (rows, columns) in pixels.
    height : float
        Height above ground, m.
    tilt : float
        Downward pitch of the optical axis, rad.
    horizontal_fov : float
        Horizontal field of view, rad; square pixels.
    """

    image_size: tuple[int, int] = (64, 64)
    height: float = 6.0
    tilt: float = float(np.deg2rad(28.0))
    horizontal_fov: float = float(np.deg2rad(90.0))

    @property
    def focal_length(self) -> float:
        """Focal length in pixels (``f_x = f_y``)."""
        return 0.5 * self.image_size[1] / np.tan(0.5 * self.horizontal_fov)

    @property
    def principal_point(self) -> tuple[float, float]:
        """(c_x, c_y) in pixels."""
        return 0.5 * (self.image_size[1] - 1), 0.5 * (self.image_size[0] - 1)

    def axes(self) -> np.ndarray:
        """Rows: right, image-down and forward unit vectors in world coordinates."""
        c, s = np.cos(self.tilt), np.sin(self.tilt)
        return np.array([[1.0, 0.0, 0.0], [0.0, -s, -c], [0.0, c, -s]])

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """World points (..., 3) -> camera coordinates (..., 3) = (x_c, y_c, z_c)."""
        return (points - np.array([0.0, 0.0, self.height])) @ self.axes().T

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """World points (..., 3) -> (col, row, depth z_c); only meaningful where z_c > 0."""
        cam = self.to_camera(points)
        depth = cam[..., 2]
        safe = np.where(depth > 1e-9, depth, 1e-9)
        cx, cy = self.principal_point
        return cx + self.focal_length * cam[..., 0] / safe, \
            cy + self.focal_length * cam[..., 1] / safe, depth

    def attrs(self) -> dict:
        """Intrinsics and pose as netCDF attributes of the ``image`` variable."""
        cx, cy = self.principal_point
        return {
            "camera_model": "pinhole",
            "focal_length_px": float(self.focal_length),
            "principal_point_px": np.array([cx, cy]),
            "camera_position_m": np.array([0.0, 0.0, self.height]),
            "camera_tilt_rad": float(self.tilt),
            "camera_yaw_rad": 0.0,
            "horizontal_fov_rad": float(self.horizontal_fov),
            "pixel_convention": "pixel (row, col) centred on integer coordinates",
        }

    def model(self):
        """This camera as readers see it: :class:`radarsp.camera.CameraModel` from its attrs."""
        from radarsp.camera import CameraModel

        return CameraModel.from_attrs(self.attrs())

    def pixel_rays(self) -> np.ndarray:
        """World direction of the ray through each pixel centre, shape (rows, cols, 3)."""
        rows, cols = self.image_size
        cx, cy = self.principal_point
        col, row = np.meshgrid(np.arange(cols), np.arange(rows))
        right, down, forward = self.axes()
        return (forward + ((col - cx) / self.focal_length)[..., None] * right
                + ((row - cy) / self.focal_length)[..., None] * down)


def _background(scene: Scene, camera: Camera) -> tuple[np.ndarray, np.ndarray]:
    """Ground and sky per pixel: (F, rows, cols, 3) float colours and distance (rows, cols)."""
    rays = camera.pixel_rays()
    down = rays[..., 2] < -1e-6
    t = np.where(down, camera.height / np.where(down, -rays[..., 2], 1.0), np.inf)
    gx, gy = np.where(down, t * rays[..., 0], 0.0), np.where(down, t * rays[..., 1], 0.0)
    distance = np.where(down, t * np.linalg.norm(rays, axis=-1), np.inf)
    n_frames = scene.n_frames
    colour = np.broadcast_to(ASPHALT.astype(float), (n_frames,) + rays.shape).copy()
    along_x = (scene.lane_axis == 0)[:, None, None]
    offset = scene.lane_offset[:, None, None]
    across = np.where(along_x, gy[None] - offset, gx[None] - offset)
    along = np.where(along_x, gx[None], gy[None])
    dashes = (np.abs(across) < 0.12) & (np.mod(along, 4.0) < 2.0)
    if scene.scenario != "parking-lot":
        kerb = 4.5 if scene.scenario == "street-canyon" else 4.8
        side = np.abs(gx)[None] > kerb + 0.3
        colour[np.broadcast_to(side, colour.shape[:3])] = PAVEMENT
        if scene.scenario == "suburban":
            garden = np.abs(gx) > kerb + 3.0
            colour[np.broadcast_to(garden, colour.shape[:3])] = GRASS
        dashes = (np.abs(gx)[None] < 0.1) & (np.mod(gy, 6.0)[None] < 3.0)
    else:
        # parking-bay lines on both sides of the aisle
        bays = (np.abs(np.abs(across) - 5.5) < 2.5) & (np.abs(np.mod(gx, 2.7)[None] - 1.35) > 1.25)
        colour[bays] = MARKING * 0.8
    colour[np.broadcast_to(dashes, colour.shape[:3])] = MARKING
    # a little ground texture (fixed per pixel) so the surface is not flat colour
    colour += 6.0 * np.sin(0.9 * gx + 2.3 * np.sin(0.7 * gy))[None, ..., None]
    sky = np.clip(SKY + 40 * rays[..., 2:3] / np.linalg.norm(rays, axis=-1)[..., None], 0, 255)
    colour[:, ~down] = sky[~down]
    return colour, distance


def _box_faces(x, y, heading, length, width, z0, z1):
    """Five faces (4 sides, roof) of boxes: vertices (..., 5, 4, 3) and normals (..., 5, 3)."""
    c, s = np.cos(heading)[..., None], np.sin(heading)[..., None]
    corner_u = np.array([1, -1, -1, 1]) * 0.5
    corner_v = np.array([1, 1, -1, -1]) * 0.5
    lu, lv = corner_u * length[..., None], corner_v * width[..., None]
    cx = x[..., None] + lu * c - lv * s
    cy = y[..., None] + lu * s + lv * c
    bottom = np.stack([cx, cy, np.broadcast_to(z0[..., None], cx.shape)], -1)
    top = np.stack([cx, cy, np.broadcast_to(z1[..., None], cx.shape)], -1)
    sides = []
    for i in range(4):
        j = (i + 1) % 4
        sides.append(np.stack([bottom[..., i, :], bottom[..., j, :], top[..., j, :],
                               top[..., i, :]], -2))
    faces = np.stack(sides + [top], -3)
    centre = faces.mean(-2)
    edge_a = faces[..., 1, :] - faces[..., 0, :]
    edge_b = faces[..., 3, :] - faces[..., 0, :]
    normal = np.cross(edge_a, edge_b)
    # orient outwards: away from the box centre
    middle = np.stack([x, y, 0.5 * (z0 + z1)], -1)[..., None, :]
    normal *= np.sign(np.einsum("...c,...c->...", normal, centre - middle))[..., None]
    return faces, normal


def _clip_near(cam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Clip quads (Q, 4, 3) in camera coordinates to ``z_c >= NEAR`` (Sutherland-Hodgman).

    Returns polygons (Q, 8, 3) and their vertex counts (Q,).
    """
    n_faces = cam.shape[0]
    out = np.zeros((n_faces, 8, 3))
    count = np.zeros(n_faces, dtype=np.int64)
    rows = np.arange(n_faces)
    for i in range(4):
        a, b = cam[:, i], cam[:, (i + 1) % 4]
        a_in, b_in = a[:, 2] >= NEAR, b[:, 2] >= NEAR
        out[rows[a_in], count[a_in]] = a[a_in]
        count += a_in
        cross = a_in != b_in
        t = (NEAR - a[:, 2]) / np.where(cross, b[:, 2] - a[:, 2], 1.0)
        point = a + t[:, None] * (b - a)
        out[rows[cross], count[cross]] = point[cross]
        count += cross
    return out, count


def render(scene: Scene, camera: Camera | None = None, *, seed: int = 0
           ) -> tuple[np.ndarray, np.ndarray]:
    """Render every frame and the target's bounding box.

    Parameters
    ----------
    scene : Scene
        Frames to render.
    camera : Camera, optional
        Defaults to ``Camera()`` (64 x 64, 6 m high, tilted 28 degrees down, 90 degree FOV).
    seed : int
        Seed of the rain streaks (frame ``k`` of sequence ``s`` draws from
        ``default_rng([seed, s, 2, k])``).

    Returns
    -------
    image : ndarray of uint8, shape (F, rows, cols, 3)
    target_box : ndarray of int16, shape (F, 4)
        ``(col0, row0, col1, row1)``: inclusive pixel bounds of the target car's projected
        box (clipped to the image; the full box even where another car hides part of it).

    Examples
    --------
    >>> from radarsp.simulate.scene import make_scene
    >>> image, box = render(make_scene("parking-lot", [0]))
    >>> image.shape, image.dtype.name, box.shape
    ((15, 64, 64, 3), 'uint8', (15, 4))
    """
    camera = camera or Camera()
    rows, cols = camera.image_size
    images = np.empty((scene.n_frames, rows, cols, 3), dtype=np.uint8)
    # Chunks of frames bound the float temporaries (background, faces) for long runs.
    for start in range(0, scene.n_frames, RENDER_CHUNK):
        chunk = slice(start, start + RENDER_CHUNK)
        images[chunk] = _render(scene.select(chunk), camera)
    rain = np.asarray(WEATHERS)[scene.weather] == "rain"
    if rain.any():
        _rain(images, scene, rain, seed)
    return images, _target_box(scene, camera)


def _render(scene: Scene, camera: Camera) -> np.ndarray:
    """Images (F, rows, cols, 3) of ground, sky and boxes, fog included, rain not."""
    from radarsp.simulate._kernels import fill_polygons

    rows, cols = camera.image_size
    background, ground_distance = _background(scene, camera)
    weather = np.asarray(WEATHERS)[scene.weather]
    fog = (weather == "fog")[:, None, None, None]
    haze = 1 - np.exp(-ground_distance / 25.0)
    haze = np.where(np.isfinite(haze), haze, 1.0)[None, ..., None]
    background = np.where(fog, background * (1 - haze) + FOG * haze, background)

    # Cars are drawn as a body and a glass cabin; buildings as one box.
    is_car = scene.box_kind != BUILDING
    height = scene.box_height
    body_top = np.where(is_car, 0.55 * height, height)
    body, body_n = _box_faces(scene.box_x, scene.box_y, scene.box_heading, scene.box_length,
                              scene.box_width, np.zeros_like(height), body_top)
    shift = -0.08 * scene.box_length
    cabin, cabin_n = _box_faces(scene.box_x + shift * np.cos(scene.box_heading),
                                scene.box_y + shift * np.sin(scene.box_heading),
                                scene.box_heading, 0.55 * scene.box_length,
                                0.9 * scene.box_width, body_top, height)
    faces = np.concatenate([body, cabin], axis=2)  # (F, B, 10, 4, 3)
    normals = np.concatenate([body_n, cabin_n], axis=2)
    paint = scene.box_colour.astype(float)[:, :, None, :]
    glass = np.broadcast_to(GLASS.astype(float), paint.shape)
    colour = np.concatenate([np.repeat(paint, 5, axis=2),
                             np.where(is_car[None, :, None, None], glass, paint).repeat(5, 2)],
                            axis=2)
    unit = normals / np.maximum(np.linalg.norm(normals, axis=-1, keepdims=True), 1e-12)
    light = np.array([0.35, -0.45, 0.82])
    colour = colour * (0.55 + 0.45 * np.clip(unit @ light, 0, 1))[..., None]
    eye = np.array([0.0, 0.0, camera.height])
    centre = faces.mean(-2)
    facing = np.einsum("...c,...c->...", normals, eye - centre) > 0
    present = scene.box_active[:, :, None] & facing
    present &= is_car[None, :, None] | (np.arange(10) < 5)[None, None, :]
    distance = np.linalg.norm(centre - eye, axis=-1)
    fade = np.exp(-distance / 25.0)[..., None]
    colour = np.where(fog, colour * fade + FOG * (1 - fade), colour)

    n_frames = scene.n_frames
    flat = faces.reshape(n_frames, -1, 4, 3)
    images = np.empty((n_frames, rows, cols, 3), dtype=np.uint8)
    cx, cy = camera.principal_point
    for f in range(n_frames):
        polygons, count = _clip_near(camera.to_camera(flat[f]))
        depth = np.maximum(polygons[..., 2], 1e-9)
        pixels = np.stack([cx + camera.focal_length * polygons[..., 0] / depth,
                           cy + camera.focal_length * polygons[..., 1] / depth], -1)
        count = np.where(present[f].reshape(-1), count, 0)
        order = np.argsort(-distance[f].reshape(-1), kind="stable")
        canvas = np.clip(background[f], 0, 255).astype(np.uint8)
        fill_polygons(canvas, pixels, count,
                      np.clip(colour[f].reshape(-1, 3), 0, 255).astype(np.uint8), order)
        images[f] = canvas
    return images


def _rain(images: np.ndarray, scene: Scene, rain: np.ndarray, seed: int) -> None:
    """Darken rainy frames and draw short light streaks (in place)."""
    rows, cols = images.shape[1:3]
    images[rain] = (images[rain] * 0.75).astype(np.uint8)
    for f in np.flatnonzero(rain):
        # streaks depend on (seed, sequence, frame within the sequence) only
        within = f - int(np.searchsorted(scene.sequence, scene.sequence[f]))
        rng = np.random.default_rng([seed, int(scene.sequence[f]), 2, within])
        n = rows * cols // 40
        r = rng.integers(0, rows - 2, n)
        c = rng.integers(0, cols, n)
        for d in range(3):
            images[f, r + d, c] = np.maximum(images[f, r + d, c], 170)


def _target_box(scene: Scene, camera: Camera) -> np.ndarray:
    faces, _ = _box_faces(scene.box_x[:, 0], scene.box_y[:, 0], scene.box_heading[:, 0],
                          scene.box_length[:, 0], scene.box_width[:, 0],
                          np.zeros(scene.n_frames), scene.box_height[:, 0])
    col, row, depth = camera.project(faces.reshape(scene.n_frames, -1, 3))
    ok = depth > NEAR
    rows, cols = camera.image_size
    box = np.stack([
        np.where(ok, col, np.inf).min(1), np.where(ok, row, np.inf).min(1),
        np.where(ok, col, -np.inf).max(1), np.where(ok, row, -np.inf).max(1),
    ], -1)
    limit = np.array([cols - 1, rows - 1, cols - 1, rows - 1])
    return np.clip(np.round(box), 0, limit).astype(np.int16)
