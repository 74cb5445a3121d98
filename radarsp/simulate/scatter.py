"""Ray-tracer-like scattering: which points of a scene return energy, and how much.

A ray tracer such as the paper's MaxRay sees a car as surfaces that return only where they
face the radar and are not hidden behind other objects. This module reproduces that with a
handful of scattering centres per box:

* **specular glints**, one per vertical face, at the point of the face closest to the foot
  of the perpendicular from the radar, with a lobe ``exp(-(θ_i / θ_w)^2)`` in the incidence
  angle ``θ_i`` (strong only when the face normal points at the radar);
* **diffuse points** spread over each face, ``σ ∝ cos θ_i``;
* **corner-like points**: vertical edges, wheel houses and bumpers (cars), visible from
  any direction their faces are.

A point is kept when its face looks at the radar (self-occlusion) and the line of sight is
not blocked by another box (occlusion); :func:`radarsp.simulate._kernels.scatter_boxes`
places the points and tests both, frame by frame. Its
amplitude is ``a = sqrt(σ) / r^2`` (a 1 m^2 scatterer at 1 m has unit amplitude), times the
element pattern ``cos(azimuth)`` and the two-way weather attenuation. The radar therefore
sees the near side of a car, not its centre.

Optional ground-bounce (and, in the street canyon, facade-bounce) multipath adds for every
direct path the two mixed paths ``(d + d')/2`` with reflection coefficient ``Γ`` and the
double-bounce path ``d'`` with ``Γ^2``, where ``d'`` is the distance to the mirror image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from radarsp.simulate.scene import BUILDING, CAR, TARGET, WEATHERS, Scene

# Point types: template rows carry the first four; the kernel adds one GLINT per face.
DIFFUSE, CORNER, WHEEL, BUMPER, GLINT = range(5)

# Box template in the box frame: u along the length (units of L/2), v across (units of
# W/2), w height (fraction of H); (nu, nv) outward normal (corners: diagonal).
_FACES = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])


def _template() -> np.ndarray:
    rows = []
    for nu, nv in _FACES:
        spots = (-0.6, -0.2, 0.2, 0.6) if nu == 0 else (-0.5, 0.5)
        for a in spots:
            u, v = (a, nv) if nu == 0 else (nu, a)
            rows.append((u, v, 0.55, nu, nv, DIFFUSE))
    for su in (-1.0, 1.0):
        for sv in (-1.0, 1.0):
            rows.append((su, sv, 0.5, su / np.sqrt(2), sv / np.sqrt(2), CORNER))
    for su in (-0.62, 0.62):
        for sv in (-1.0, 1.0):
            rows.append((su, sv, 0.25, 0.0, sv, WHEEL))
    for su in (-1.0, 1.0):
        rows.append((su, 0.0, 0.35, su, 0.0, BUMPER))
    return np.array(rows)


TEMPLATE = _template()

# RCS of each point type, m^2, per box kind (rows: TARGET, CAR, BUILDING). Glints are per
# metre of face length; diffuse points per metre of face length covered by the point.
RCS = np.array([
    # diffuse, corner, wheel, bumper, glint
    [0.6, 1.5, 2.0, 3.0, 6.0],
    [0.6, 1.5, 2.0, 3.0, 6.0],
    [1.5, 20.0, 0.0, 0.0, 4.0],
])
GLINT_WIDTH = {TARGET: np.deg2rad(8.0), CAR: np.deg2rad(8.0), BUILDING: np.deg2rad(3.0)}
# One-way specific attenuation at 28 GHz, dB/km: heavy rain (~25 mm/h) and dense fog.
ATTENUATION_DB_PER_KM = {"clear": 0.0, "rain": 6.0, "fog": 0.4}
GROUND_REFLECTION = -0.5  # asphalt at grazing incidence
WALL_REFLECTION = 0.6


@dataclass(frozen=True)
class Paths:
    """Propagation paths of ``F`` frames, padded to ``K`` paths per frame.

    Attributes
    ----------
    path_range : ndarray, shape (F, K)
        Half the round-trip path length (the range the radar measures), m.
    direction : ndarray, shape (F, K, 3)
        Unit vector from the radar towards where the echo arrives from.
    amplitude : ndarray of complex128, shape (F, K)
        Path amplitude (0 for padding).
    radial_velocity : ndarray, shape (F, K)
        Rate of change of ``path_range``, m/s (positive receding).
    owner : ndarray of int32, shape (F, K)
        Box slot the path returns from (0 is the target), -1 for point clutter, -2 padding.
    position : ndarray, shape (F, K, 3)
        Scattering point (for multipath: the point that bounced), m.
    multipath : ndarray of bool, shape (F, K)
    """

    path_range: np.ndarray
    direction: np.ndarray
    amplitude: np.ndarray
    radial_velocity: np.ndarray
    owner: np.ndarray
    position: np.ndarray
    multipath: np.ndarray


def scatterers(scene: Scene, *, radar_height: float = 1.2, multipath: bool = False) -> Paths:
    """Visible scattering centres and their echo amplitudes (see the module docstring).

    Parameters
    ----------
    scene : Scene
        Frames to scatter from.
    radar_height : float
        Height of the radar phase centre above ground, m.
    multipath : bool
        Add ground-bounce paths (and facade-bounce paths where the scene has walls).

    Returns
    -------
    Paths
        Paths per frame, padded with zero-amplitude entries to the largest count.

    Examples
    --------
    >>> from radarsp.simulate.scene import make_scene
    >>> paths = scatterers(make_scene("parking-lot", [0]))
    >>> paths.amplitude.shape[0]
    15
    """
    from radarsp.simulate._kernels import scatter_boxes

    widths = np.array([GLINT_WIDTH[k] for k in (TARGET, CAR, BUILDING)])
    position, sigma, owner, count = scatter_boxes(
        scene.box_x, scene.box_y, scene.box_heading, scene.box_length, scene.box_width,
        scene.box_height, scene.box_active, scene.box_kind.astype(np.int64), TEMPLATE, RCS,
        widths, np.ascontiguousarray(scene.point_xyz, dtype=float),
        np.ascontiguousarray(scene.point_rcs, dtype=float), float(radar_height))
    n_paths = max(int(count.max()) if len(count) else 0, 1)
    valid = np.arange(n_paths) < count[:, None]
    position = np.where(valid[..., None], position[:, :n_paths], 0.0)
    sigma = np.where(valid, sigma[:, :n_paths], 0.0)
    owner = np.where(valid, owner[:, :n_paths], -2).astype(np.int32)

    relative = position - np.array([0.0, 0.0, radar_height])
    distance = np.sqrt(np.einsum("fkc,fkc->fk", relative, relative))
    distance[~valid] = 1.0
    direction = relative / distance[..., None]
    # element pattern: cos(azimuth) in front of the array, nothing behind it
    element = np.clip(direction[..., 1] / np.maximum(np.hypot(direction[..., 0],
                                                              direction[..., 1]), 1e-12), 0, 1)
    amplitude = np.sqrt(sigma) / distance**2 * element
    weather = np.array([ATTENUATION_DB_PER_KM[w] for w in WEATHERS])[scene.weather]
    if weather.any():
        amplitude *= 10 ** (-weather[:, None] * 2 * distance / 1000 / 20)
    amplitude = amplitude.astype(np.complex128)
    horizontal = np.broadcast_to(scene.target_velocity[:, None, :], direction[..., :2].shape)
    velocity = np.where(owner == 0, np.einsum("fkc,fkc->fk", direction[..., :2], horizontal),
                        0.0)
    paths = Paths(distance, direction, amplitude, velocity, owner, position,
                  np.zeros_like(valid))
    if multipath:
        paths = _with_multipath(paths, scene, radar_height)
    return paths


def _mirror_paths(paths: Paths, image: np.ndarray, radar: np.ndarray, gamma: np.ndarray):
    """The three extra paths of one mirror: two mixed (Γ) and one double bounce (Γ^2)."""
    relative = image - radar
    bounce = np.linalg.norm(relative, axis=-1)
    bounce_direction = relative / np.maximum(bounce, 1e-9)[..., None]
    direct = paths.path_range
    mixed_range = 0.5 * (direct + bounce)
    ranges = [mixed_range, mixed_range, bounce]
    directions = [paths.direction, bounce_direction, bounce_direction]
    scale = [gamma * direct**2 / mixed_range**2] * 2 + [gamma**2 * direct**2 / bounce**2]
    amplitudes = [paths.amplitude * s for s in scale]
    return ranges, directions, amplitudes


def _with_multipath(paths: Paths, scene: Scene, radar_height: float) -> Paths:
    """Append the mirror paths of the ground and of street-canyon facades (module docstring)."""
    radar = np.array([0.0, 0.0, radar_height])
    real = paths.owner > -2
    mirrors = [(paths.position * np.array([1.0, 1.0, -1.0]), GROUND_REFLECTION * real)]
    for side in range(2):
        wall = scene.walls[:, side][:, None]
        has_wall = np.isfinite(wall)
        if not has_wall.any():
            continue
        wall = np.where(has_wall, wall, 0.0)
        # only points on the road side of a facade see it as a mirror
        inside = has_wall & (np.sign(paths.position[..., 0] - wall) == -np.sign(wall))
        image = paths.position.copy()
        image[..., 0] = 2 * wall - paths.position[..., 0]
        mirrors.append((image, np.where(inside & real, WALL_REFLECTION, 0.0)))
    ranges, directions, amplitudes = [paths.path_range], [paths.direction], [paths.amplitude]
    for image, gamma in mirrors:
        extra_ranges, extra_directions, extra_amplitudes = _mirror_paths(paths, image, radar,
                                                                         gamma)
        ranges += extra_ranges
        directions += extra_directions
        amplitudes += extra_amplitudes
    copies = len(ranges)
    flags = [np.zeros_like(paths.multipath)] + [np.ones_like(paths.multipath)] * (copies - 1)
    return Paths(
        path_range=np.concatenate(ranges, axis=1),
        direction=np.concatenate(directions, axis=1),
        amplitude=np.concatenate(amplitudes, axis=1),
        radial_velocity=np.concatenate([paths.radial_velocity] * copies, axis=1),
        owner=np.concatenate([paths.owner] * copies, axis=1),
        position=np.concatenate([paths.position] * copies, axis=1),
        multipath=np.concatenate(flags, axis=1),
    )
