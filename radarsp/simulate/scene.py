"""Scene geometry of the three presets: target lane, parked cars, buildings and point clutter.

A scene is drawn per *sequence* of consecutive frames (the paper's data points come in
sequences of 15). Everything is an oriented box (target car, parked cars, buildings) or a
point scatterer (lamp posts, kerb stones, ground roughness, rain drops), held in arrays whose
leading axis is the frame, so scattering, channel synthesis and rendering are vectorised over
frames.

Coordinates: ground plane ``z = 0``; the radar (and above it the camera) stands at
``x = y = 0`` looking along +y; azimuth is positive towards +x (``docs/contract.md``). A box's
``heading`` is the direction of its length axis, measured from +x towards +y.

Each sequence draws from its own generator ``numpy.random.default_rng([seed, sequence])``,
so a frame's content depends only on ``(seed, sequence)``: generating frames in blocks gives
the same scenes as generating them all at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SCENARIOS = ("parking-lot", "suburban", "street-canyon")
WEATHERS = ("clear", "rain", "fog")

TARGET, CAR, BUILDING = 0, 1, 2
GROUND, POST, KERB, WINDOW, RAIN = 0, 1, 2, 3, 4

# Paper section 3.1: car locations randomised with a 10 cm standard deviation.
POSITION_JITTER = 0.10  # m
PARKED_HEADING_JITTER = np.deg2rad(2.0)  # rad, frame-to-frame pose change of parked cars
TARGET_HEADING_JITTER = np.deg2rad(0.5)  # rad


def canonical_scenario(name: str) -> str:
    """Return the hyphenated preset name; ``parking_lot`` and ``parking-lot`` both work."""
    canonical = str(name).strip().lower().replace("_", "-")
    if canonical not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; expected one of {', '.join(SCENARIOS)}")
    return canonical


@dataclass(frozen=True)
class Scene:
    """Geometry of ``F`` frames: ``B`` box slots and ``P`` point scatterers per frame.

    Attributes
    ----------
    box_x, box_y : ndarray, shape (F, B)
        Footprint centres, m. Slot 0 is always the target car.
    box_heading : ndarray, shape (F, B)
        Length-axis direction, rad from +x towards +y.
    box_length, box_width, box_height : ndarray, shape (F, B)
        Box dimensions, m (length along ``heading``).
    box_kind : ndarray of int8, shape (B,)
        ``TARGET``, ``CAR`` or ``BUILDING``.
    box_active : ndarray of bool, shape (F, B)
        Whether the slot holds a box in that frame (empty parking slots are inactive).
    box_colour : ndarray of uint8, shape (F, B, 3)
        Paint colour for the camera.
    point_xyz : ndarray, shape (F, P, 3)
        Point-scatterer positions, m (``z`` above ground).
    point_rcs : ndarray, shape (F, P)
        Radar cross-section of each point, m^2 (0 for unused points).
    point_kind : ndarray of int8, shape (P,)
        ``GROUND``, ``POST``, ``KERB``, ``WINDOW`` or ``RAIN``.
    target_velocity : ndarray, shape (F, 2)
        Target ground velocity (vx, vy), m/s.
    lane_axis : ndarray of int8, shape (F,)
        0 when the lane runs along x (parking lot), 1 along y (suburban, street canyon).
    lane_offset : ndarray, shape (F,)
        Lane centre line: its y (axis 0) or x (axis 1), m.
    walls : ndarray, shape (F, 2)
        x of the left and right facade planes facing the road (NaN where there is none), m;
        mirrors for wall multipath.
    weather : ndarray of int8, shape (F,)
        Index into ``WEATHERS``.
    sequence : ndarray of int64, shape (F,)
        Sequence index of each frame.
    time : ndarray, shape (F,)
        Frame time, s.
    """

    scenario: str
    box_x: np.ndarray
    box_y: np.ndarray
    box_heading: np.ndarray
    box_length: np.ndarray
    box_width: np.ndarray
    box_height: np.ndarray
    box_kind: np.ndarray
    box_active: np.ndarray
    box_colour: np.ndarray
    point_xyz: np.ndarray
    point_rcs: np.ndarray
    point_kind: np.ndarray
    target_velocity: np.ndarray
    lane_axis: np.ndarray
    lane_offset: np.ndarray
    walls: np.ndarray
    weather: np.ndarray
    sequence: np.ndarray
    time: np.ndarray

    @property
    def n_frames(self) -> int:
        return self.box_x.shape[0]

    def select(self, frames: slice) -> Scene:
        """The scene restricted to ``frames`` (a slice of the frame axis)."""
        fixed = ("scenario", "box_kind", "point_kind")
        return Scene(**{name: value if name in fixed else value[frames]
                        for name, value in vars(self).items()})


class _Draws:
    """Per-sequence random numbers, handed out column by column.

    ``uniform`` has shape (S, n) (one row per sequence, fixed for its frames) and ``normal``
    (S, L, m) (per frame). Taking columns in a fixed order keeps every preset deterministic.
    """

    def __init__(self, seed: int, sequences: np.ndarray, length: int, n_uniform: int,
                 n_normal: int):
        self.uniform = np.empty((len(sequences), n_uniform))
        self.normal = np.empty((len(sequences), length, n_normal))
        for i, sequence in enumerate(sequences):
            rng = np.random.default_rng([seed, int(sequence)])
            self.uniform[i] = rng.random(n_uniform)
            self.normal[i] = rng.standard_normal((length, n_normal))
        self._u = 0
        self._n = 0

    def u(self, n: int | None = None, low: float = 0.0, high: float = 1.0) -> np.ndarray:
        """Uniform draws per sequence: shape (S,) or (S, n)."""
        width = 1 if n is None else n
        if self._u + width > self.uniform.shape[1]:
            raise RuntimeError("scene preset needs more uniform draws than _N_UNIFORM")
        out = self.uniform[:, self._u:self._u + width]
        self._u += width
        out = low + (high - low) * out
        return out[:, 0] if n is None else out

    def z(self, n: int | None = None) -> np.ndarray:
        """Standard-normal draws per frame: shape (S, L) or (S, L, n)."""
        width = 1 if n is None else n
        if self._n + width > self.normal.shape[2]:
            raise RuntimeError("scene preset needs more normal draws than _N_NORMAL")
        out = self.normal[:, :, self._n:self._n + width]
        self._n += width
        return out[..., 0] if n is None else out


_N_UNIFORM = 512
_N_NORMAL = 288


def _colours(draws: _Draws, n: int) -> np.ndarray:
    """Random car paints (S, n, 3): saturated hues and greys, as a car park has."""
    hue = draws.u(n)
    grey = draws.u(n) < 0.35
    value = draws.u(n, 0.25, 0.95)
    sector = np.floor(hue * 6).astype(int) % 6
    frac = hue * 6 - np.floor(hue * 6)
    one, rise, fall, zero = np.ones_like(hue), frac, 1 - frac, np.zeros_like(hue)
    table = np.stack([
        np.stack([one, rise, zero], -1), np.stack([fall, one, zero], -1),
        np.stack([zero, one, rise], -1), np.stack([zero, fall, one], -1),
        np.stack([rise, zero, one], -1), np.stack([one, zero, fall], -1),
    ], -2)
    rgb = np.take_along_axis(table, sector[..., None, None], -2)[..., 0, :]
    rgb = np.where(grey[..., None], 0.6, rgb) * value[..., None]
    return np.round(255 * rgb).astype(np.uint8)


def _car_dims(draws: _Draws, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Length, width, height (S, n) of passenger cars, m."""
    return draws.u(n, 3.9, 5.0), draws.u(n, 1.70, 1.95), draws.u(n, 1.40, 1.75)


def _target(draws: _Draws, t: np.ndarray, along: str, lane: np.ndarray, near: float,
            far: float, speed: tuple[float, float]):
    """Target-car trajectory along a lane; returns per-frame arrays (S, L)."""
    direction = np.where(draws.u() < 0.5, 1.0, -1.0)
    speed = draws.u(None, *speed)
    travel = speed * t[-1]
    start = draws.u() * np.maximum(far - near - travel, 0.0)
    start = np.where(direction > 0, near + start, far - start)
    along_pos = start[:, None] + (direction * speed)[:, None] * t[None, :]
    along_pos = along_pos + POSITION_JITTER * draws.z()
    across_pos = lane[:, None] + POSITION_JITTER * draws.z()
    base = 0.0 if along == "x" else np.pi / 2
    heading = (base + np.where(direction > 0, 0.0, np.pi)[:, None]
               + TARGET_HEADING_JITTER * draws.z())
    velocity = (direction * speed)[:, None] * np.ones_like(t)[None, :]
    if along == "x":
        return along_pos, across_pos, heading, velocity, np.zeros_like(velocity)
    return across_pos, along_pos, heading, np.zeros_like(velocity), velocity


def _row(draws: _Draws, n: int, centre_x, centre_y, step, along: str, occupancy: float):
    """A row of ``n`` parking slots along ``along`` with per-frame pose jitter; (S, L, n).

    Cars stand with their length along y: perpendicular to an aisle running along x
    (parking lot), parallel to a street running along y (kerbside parking).
    """
    length, width, height = _car_dims(draws, n)
    offset = draws.u(None, -0.5, 0.5) * step
    index = np.arange(n) - (n - 1) / 2
    along_pos = offset[:, None] + index[None, :] * step
    occupied = draws.u(n) < occupancy
    flip = np.where(draws.u(n) < 0.5, 0.0, np.pi)
    skew = np.deg2rad(4.0) * (draws.u(n) - 0.5)
    heading = np.pi / 2 + flip + skew
    jitter_a, jitter_b = POSITION_JITTER * draws.z(n), POSITION_JITTER * draws.z(n)
    jitter_h = PARKED_HEADING_JITTER * draws.z(n)
    if along == "x":
        x = centre_x[:, None, None] + along_pos[:, None, :] + jitter_a
        y = centre_y[:, None, None] + jitter_b + np.zeros_like(along_pos)[:, None, :]
    else:
        x = centre_x[:, None, None] + jitter_a + np.zeros_like(along_pos)[:, None, :]
        y = centre_y[:, None, None] + along_pos[:, None, :] + jitter_b
    shape = x.shape
    return dict(
        x=x, y=y, heading=heading[:, None, :] + jitter_h,
        length=np.broadcast_to(length[:, None, :], shape),
        width=np.broadcast_to(width[:, None, :], shape),
        height=np.broadcast_to(height[:, None, :], shape),
        active=np.broadcast_to(occupied[:, None, :], shape),
        colour=np.broadcast_to(_colours(draws, n)[:, None], shape + (3,)),
        kind=np.full(n, CAR, np.int8),
    )


def _buildings(x, y, length, depth, height, present, colour, heading=np.pi / 2):
    """Static buildings from per-sequence arrays (S, n); ``length`` runs along ``heading``."""
    n = x.shape[1]
    return dict(
        x=x[:, None], y=y[:, None], heading=np.full_like(x, heading)[:, None],
        length=length[:, None], width=depth[:, None], height=height[:, None],
        active=present[:, None], colour=colour[:, None], kind=np.full(n, BUILDING, np.int8),
    )


def _ground_points(draws: _Draws, n: int, max_range: float):
    """Ground roughness: weak static points uniformly over the field of view (S, n)."""
    radius = np.sqrt(draws.u(n, 5.0**2, max_range**2))
    angle = draws.u(n, -np.deg2rad(70), np.deg2rad(70))
    return radius * np.sin(angle), radius * np.cos(angle), np.zeros_like(radius)


def _parking_lot(draws: _Draws, t: np.ndarray):
    lane = draws.u(None, 8.0, 20.0)
    span = np.minimum(12.0, lane * np.tan(np.deg2rad(45)))
    tx, ty, th, vx, vy = _target(draws, t, "x", lane, -span, span, (2.0, 6.0))
    tl, tw, tht = _car_dims(draws, 1)
    row1_y = lane + 3.0 + 2.5
    rows = [
        _row(draws, 12, np.zeros_like(lane), row1_y, 2.7, "x", 0.75),
        _row(draws, 12, np.zeros_like(lane), row1_y + 5.4, 2.7, "x", 0.6),
    ]
    near = _row(draws, 12, np.zeros_like(lane), lane - 3.0 - 2.5, 2.7, "x", 0.5)
    # Only the outer slots of the near row are used, so the target lane stays in view.
    slot_x = near["x"].mean(axis=1, keepdims=True)
    slot_y = near["y"].mean(axis=1, keepdims=True)
    near["active"] = near["active"] & (np.abs(slot_x) > 8.0) & (slot_y > 3.0)
    rows.append(near)
    wall_y = draws.u(None, 38.0, 42.0)
    wall_len = draws.u(None, 40.0, 60.0)
    building = _buildings(
        draws.u(None, -8, 8)[:, None], (wall_y + 4.0)[:, None], wall_len[:, None],
        np.full((len(lane), 1), 8.0), draws.u(None, 6.0, 10.0)[:, None],
        np.ones((len(lane), 1), bool), _facade_colours(draws, 1), heading=0.0,
    )
    gx, gy, gz = _ground_points(draws, 40, 45.0)
    post_x = draws.u(4, -20.0, 20.0)
    post_y = draws.u(4, 5.0, 35.0)
    kerb_x = np.linspace(-20, 20, 16)[None, :] + draws.u(16, -0.5, 0.5)
    kerb_side = np.where(np.arange(16) % 2 == 0, -3.5, 3.5)[None, :]
    points = (
        (gx, gy, gz, np.full_like(gx, 0.005), GROUND),
        (post_x, post_y, np.full_like(post_x, 3.0), np.full_like(post_x, 1.0), POST),
        (kerb_x, lane[:, None] + kerb_side, np.full_like(kerb_x, 0.1),
         np.full_like(kerb_x, 0.05), KERB),
    )
    target = _target_dict(tx, ty, th, tl, tw, tht, _colours(draws, 1))
    walls = np.full((len(lane), 2), np.nan)
    return target, rows + [building], points, (vx, vy), 0, lane, walls


def _facade_colours(draws: _Draws, n: int) -> np.ndarray:
    """Brick, render and concrete tones (S, n, 3)."""
    base = np.array([[150, 90, 70], [200, 185, 160], [160, 160, 155], [180, 140, 100]])
    pick = np.minimum((draws.u(n) * len(base)).astype(int), len(base) - 1)
    shade = draws.u(n, 0.8, 1.1)[..., None]
    return np.clip(base[pick] * shade, 0, 255).astype(np.uint8)


def _street(draws: _Draws, t: np.ndarray, canyon: bool):
    """Suburban street (houses with gardens) or street canyon (continuous tall facades)."""
    n_seq = draws.uniform.shape[0]
    side = np.where(draws.u() < 0.5, -1.0, 1.0)
    lane = side * (draws.u(None, 1.2, 2.6) if canyon else draws.u(None, 1.5, 3.5))
    tx, ty, th, vx, vy = _target(draws, t, "y", lane, 6.0, 32.0, (3.0, 8.0))
    tl, tw, tht = _car_dims(draws, 1)
    kerb = 4.5 if canyon else 4.8
    rows = [
        _row(draws, 6, np.full(n_seq, side_x), np.full(n_seq, 27.0), 6.0, "y",
             0.5 if canyon else 0.3)
        for side_x in (-kerb, kerb)
    ]
    n_side = 4
    sides = np.repeat([-1.0, 1.0], n_side)[None, :]
    slot = np.tile(np.arange(n_side), 2)[None, :]
    if canyon:
        front = np.repeat(draws.u(2, 6.5, 8.0), n_side, axis=1)
        length = draws.u(2 * n_side, 9.0, 11.5)
        depth = np.full_like(length, 12.0)
        height = draws.u(2 * n_side, 12.0, 25.0)
        present = np.ones_like(length, bool)
        centre_y = 1.0 + 11.5 * slot + length / 2
    else:
        front = draws.u(2 * n_side, 9.0, 13.0)
        length = draws.u(2 * n_side, 8.0, 11.0)
        depth = draws.u(2 * n_side, 8.0, 10.0)
        height = draws.u(2 * n_side, 5.0, 7.0)
        present = draws.u(2 * n_side) < 0.9
        centre_y = 1.0 + 12.0 * slot + 1.0 + length / 2
    building = _buildings(sides * (front + depth / 2), centre_y, length, depth, height, present,
                          _facade_colours(draws, 2 * n_side))
    gx, gy, gz = _ground_points(draws, 40, 45.0)
    n_posts = 8
    post_side = np.repeat([-1.0, 1.0], n_posts // 2)[None, :]
    post_x = np.broadcast_to(post_side * (kerb + 1.0), (n_seq, n_posts))
    post_y = draws.u(n_posts, 3.0, 42.0)
    kerb_y = np.linspace(3, 43, 16)[None, :] + draws.u(16, -0.5, 0.5)
    kerb_x = np.broadcast_to(np.where(np.arange(16) % 2 == 0, -kerb + 0.6, kerb - 0.6),
                             kerb_y.shape)
    points = [
        (gx, gy, gz, np.full_like(gx, 0.005), GROUND),
        (post_x, post_y, np.full_like(post_x, 2.5), np.full_like(post_x, 0.5), POST),
        (kerb_x, kerb_y, np.full_like(kerb_x, 0.1), np.full_like(kerb_x, 0.05), KERB),
    ]
    if canyon:
        # Window reveals act as small corner reflectors on the facades.
        n_win = 16
        win_side = np.repeat([-1.0, 1.0], n_win // 2)[None, :]
        win_front = np.where(win_side < 0, front[:, :1], front[:, -1:])
        # 5 cm proud of the facade, so the wall itself does not hide them.
        points.append((win_side * (win_front - 0.05), draws.u(n_win, 3.0, 45.0),
                       draws.u(n_win, 3.0, 12.0), np.full((n_seq, n_win), 1.0), WINDOW))
        walls = np.stack([-front[:, 0], front[:, -1]], axis=-1)
    else:
        walls = np.full((n_seq, 2), np.nan)
    target = _target_dict(tx, ty, th, tl, tw, tht, _colours(draws, 1))
    return target, rows + [building], points, (vx, vy), 1, lane, walls


def _target_dict(x, y, heading, length, width, height, colour):
    shape = x.shape + (1,)
    return dict(
        x=x[..., None], y=y[..., None], heading=heading[..., None],
        length=np.broadcast_to(length[:, None, :], shape),
        width=np.broadcast_to(width[:, None, :], shape),
        height=np.broadcast_to(height[:, None, :], shape),
        active=np.ones(shape, bool), colour=np.broadcast_to(colour[:, None], shape + (3,)),
        kind=np.full(1, TARGET, np.int8),
    )


def _rain_points(draws: _Draws, n: int):
    """Rain drops in the beam: fresh positions every frame, (S, L, n)."""
    radius = 3.0 + 40.0 * np.abs(draws.z(n)) / 3.0
    angle = np.deg2rad(40) * draws.z(n)
    height = 1.0 + 0.5 * draws.z(n)
    return radius * np.sin(angle), radius * np.cos(angle), height


def make_scene(scenario: str, sequences, *, seed: int = 0, sequence_length: int = 15,
               frame_interval: float = 0.1, weather: str | None = None) -> Scene:
    """Draw the scenes of whole sequences.

    Parameters
    ----------
    scenario : {"parking-lot", "suburban", "street-canyon"}
        Preset (underscores accepted). Parking lot: the target drives left-to-right or
        right-to-left along an aisle 8-20 m ahead, between rows of parked cars whose poses
        change a little every frame, with a building at ~40 m. Suburban: the target drives
        towards or away from the radar past houses with gardens and kerbside parking.
        Street canyon: the same between continuous tall facades with windows.
    sequences : array_like of int, shape (S,)
        Sequence indices to draw; frames are ``sequence * sequence_length + k``.
    seed : int
        Seed; sequence ``s`` uses ``numpy.random.default_rng([seed, s])``.
    sequence_length : int
        Consecutive frames per sequence (the paper uses 15).
    frame_interval : float
        Time between consecutive frames, s.
    weather : {None, "clear", "rain", "fog"}
        Weather of every frame (rain adds drops as point scatterers).

    Returns
    -------
    Scene
        ``F = S * sequence_length`` frames.

    Examples
    --------
    >>> scene = make_scene("parking-lot", [0, 1], seed=3)
    >>> scene.n_frames, int(scene.box_kind[0])
    (30, 0)
    """
    scenario = canonical_scenario(scenario)
    weather_index = WEATHERS.index(weather or "clear")
    sequences = np.asarray(sequences, dtype=np.int64).reshape(-1)
    length = int(sequence_length)
    draws = _Draws(seed, sequences, length, _N_UNIFORM, _N_NORMAL)
    t = np.arange(length) * frame_interval
    if scenario == "parking-lot":
        target, groups, points, velocity, axis, lane, walls = _parking_lot(draws, t)
    else:
        target, groups, points, velocity, axis, lane, walls = _street(
            draws, t, scenario == "street-canyon")
    if weather == "rain":
        rx, ry, rz = _rain_points(draws, 48)
        points = list(points) + [(rx, ry, rz, np.full_like(rx, 2e-3), RAIN)]
    n_seq = len(sequences)
    n_frames = n_seq * length

    def frames(value, tail=()):
        value = np.broadcast_to(value, (n_seq, length) + np.shape(value)[2:])
        return np.ascontiguousarray(value).reshape((n_frames,) + value.shape[2:])

    all_boxes = [target] + list(groups)
    boxes = {key: np.concatenate([frames(b[key]) for b in all_boxes], axis=1)
             for key in ("x", "y", "heading", "length", "width", "height", "active", "colour")}
    xyz, rcs, kinds = [], [], []
    for px, py, pz, prcs, kind in points:
        px, py, pz, prcs = (frames(np.asarray(v)[:, None] if np.ndim(v) == 2 else v)
                            for v in (px, py, pz, prcs))
        xyz.append(np.stack([px, py, pz], -1))
        rcs.append(prcs)
        kinds.append(np.full(px.shape[1], kind, np.int8))
    return Scene(
        scenario=scenario,
        box_x=boxes["x"], box_y=boxes["y"], box_heading=boxes["heading"],
        box_length=boxes["length"], box_width=boxes["width"], box_height=boxes["height"],
        box_kind=np.concatenate([b["kind"] for b in all_boxes]),
        box_active=boxes["active"], box_colour=boxes["colour"],
        point_xyz=np.concatenate(xyz, axis=1), point_rcs=np.concatenate(rcs, axis=1),
        point_kind=np.concatenate(kinds),
        target_velocity=np.stack([frames(velocity[0]), frames(velocity[1])], -1),
        lane_axis=np.full(n_frames, axis, np.int8),
        lane_offset=frames(lane[:, None]),
        walls=frames(walls[:, None]),
        weather=np.full(n_frames, weather_index, np.int8),
        sequence=np.repeat(sequences, length),
        time=(sequences[:, None] * length + np.arange(length)[None, :]).reshape(-1)
        * frame_interval,
    )
