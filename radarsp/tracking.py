"""Per-sequence tracks of point estimates and the extent prior of a box-shaped target.

Two label-free refinements of frame-by-frame position estimates (e.g. MCL self-labels):

* :func:`fit_tracks` -- temporal consistency: within each sequence (the contract's
  ``sequence`` coordinate, frames ordered by ``time``) a constant-velocity line through the
  estimates, fitted by MSAC (the pair of frames whose line has the least truncated residual
  sum, then least squares on its inliers). A wrong return picked in a few frames of a
  sequence is replaced by the track, and the track's direction is the target's heading.
* :func:`centre_behind_nearest_point` -- an extent prior: a radar sees a car's near side,
  so a return sits at the point of the car nearest the radar, not at its centre. Given that
  point, the heading and a box size (a named prior such as :data:`CAR`), the centre is the one
  whose box has that nearest point; :func:`centre_behind_face` reads it as the middle of the
  face turned to the radar instead (:data:`CAR_FACE`). :func:`track_positions` chains them.

Neither reads ground truth, camera intrinsics or pose.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from radarsp.errors import RadarspFileError


@dataclass(frozen=True)
class BoxPrior:
    """Footprint of a target class, metres: ``length`` along its heading, ``width`` across;
    and where on it an estimate sits (``seen``): ``"nearest"``, the box's point nearest the
    radar (:func:`centre_behind_nearest_point`: a corner when seen obliquely), or ``"face"``,
    the middle of the face that looks most directly at the radar
    (:func:`centre_behind_face`)."""

    name: str
    length: float
    width: float
    seen: str = "nearest"

    def __post_init__(self):
        if not (np.isfinite(self.length) and np.isfinite(self.width)
                and self.length > 0 and self.width > 0):
            raise ValueError(f"box prior {self.name!r}: length and width must be finite numbers "
                             f"> 0 m, got {self.length!r} x {self.width!r}")
        if self.seen not in ("nearest", "face"):
            raise ValueError(f"box prior {self.name!r}: seen must be 'nearest' or 'face', got "
                             f"{self.seen!r}")


#: a typical passenger car (mid-size saloon, 4.5 m x 1.8 m) whose returns sit at its point
#: nearest the radar -- the corner glints of radarsp's point-scatterer simulator
CAR = BoxPrior("car", 4.5, 1.8)
#: the same car, its returns in the middle of the face turned to the radar -- as Sionna RT's
#: diffuse and specular returns from the car mesh put them
CAR_FACE = BoxPrior("car-face", 4.5, 1.8, seen="face")
PRIORS = {"car": CAR, "car-face": CAR_FACE}

#: a track moving less than this over its sequence (m) has no usable heading
MIN_TRAVEL = 1.0


def resolve_prior(prior: BoxPrior | str | None) -> BoxPrior | None:
    """A :class:`BoxPrior`, or the one :data:`PRIORS` names, or None.

    Examples
    --------
    >>> resolve_prior("car-face").seen, resolve_prior(None)
    ('face', None)
    """
    if prior is None or isinstance(prior, BoxPrior):
        return prior
    if prior not in PRIORS:
        raise ValueError(f"prior must be one of {sorted(PRIORS)}, got {prior!r}")
    return PRIORS[prior]


def track_suffix(prior: BoxPrior | str | None) -> str:
    """What tracking (with ``prior``) adds to a method name: ``-track`` or ``-track-<prior>``.

    Examples
    --------
    >>> track_suffix(None), track_suffix("car")
    ('-track', '-track-car')
    """
    prior = resolve_prior(prior)
    return "-track" + (f"-{prior.name}" if prior is not None else "")


def track_coordinates(ds) -> tuple[np.ndarray, np.ndarray]:
    """The ``time`` (s) and ``sequence`` (frame) coordinates of ``ds``, every frame's.

    Raises
    ------
    RadarspFileError
        One line naming the file and the variable: missing, not on dim ``frame``, or a time
        that is not finite. A ``datetime64`` / ``timedelta64`` time is converted to seconds.
    """
    from radarsp.frames import source

    def refuse(name, problem):
        raise RadarspFileError(source(ds), name, problem)

    for name in ("sequence", "time"):
        if name not in ds.coords or ds[name].dims != ("frame",):
            refuse(name, "missing; expected the (frame) coordinate that groups frames into "
                         "tracks ('sequence') and their times in s ('time')")
    time = np.asarray(ds["time"].values)
    if np.issubdtype(time.dtype, np.datetime64) or np.issubdtype(time.dtype, np.timedelta64):
        time = (time - time.min()) / np.timedelta64(1, "s")
    time = time.astype(float)
    if not np.isfinite(time).all():
        refuse("time", f"{int((~np.isfinite(time)).sum())} frames have no finite time; "
                       "expected one per frame to fit tracks")
    return time, np.asarray(ds["sequence"].values)


def _sequence_line(t: np.ndarray, x: np.ndarray, y: np.ndarray, tol: float):
    """MSAC constant-velocity line of one sequence: (x0, vx, y0, vy, inliers)."""
    n = len(t)
    finite = np.isfinite(x) & np.isfinite(y)
    if finite.sum() < 2:
        keep = finite if finite.any() else np.zeros(n, bool)
        x0 = float(np.nanmean(x)) if finite.any() else np.nan
        y0 = float(np.nanmean(y)) if finite.any() else np.nan
        return x0, 0.0, y0, 0.0, keep
    pairs = np.array([(i, j) for i, j in combinations(np.flatnonzero(finite), 2)
                      if t[j] != t[i]])
    if len(pairs) == 0:  # every frame at one time: a point, no velocity
        return float(np.nanmean(x)), 0.0, float(np.nanmean(y)), 0.0, finite
    i, j = pairs[:, 0], pairs[:, 1]
    vx = (x[j] - x[i]) / (t[j] - t[i])
    vy = (y[j] - y[i]) / (t[j] - t[i])
    dt = t[None, :] - t[i][:, None]
    residual = np.hypot(x[i][:, None] + vx[:, None] * dt - x[None, :],
                        y[i][:, None] + vy[:, None] * dt - y[None, :])
    residual = np.where(finite[None, :], residual, np.inf)
    best = np.argmin(np.minimum(residual, tol).sum(axis=1))
    inliers = residual[best] < tol
    design = np.stack([np.ones(inliers.sum()), t[inliers]], axis=1)
    (x0, vx), *_ = np.linalg.lstsq(design, x[inliers], rcond=None)
    (y0, vy), *_ = np.linalg.lstsq(design, y[inliers], rcond=None)
    return x0, vx, y0, vy, inliers


def fit_tracks(x, y, time, sequence, *, tol: float = 1.0, window: int = 30):
    """Constant-velocity tracks of estimates ``(x, y)`` per sequence (MSAC, module docstring).

    Parameters
    ----------
    x, y : array_like, shape (n,)
        Estimates, m (NaN: no estimate in that frame).
    time : array_like, shape (n,)
        Frame times, s.
    sequence : array_like, shape (n,)
        Sequence label of each frame; frames of one label are one target's track.
    tol : float
        Inlier distance, m, from the line.
    window : int
        Longest stretch of frames one line is fitted to: a longer sequence (a whole recording
        under one label) is cut, in time order, into near-equal consecutive pieces of at most
        this many frames, each with its own line (a track of constant-velocity pieces; the
        cost stays ``O(window^3)`` per piece).

    Returns
    -------
    x_fit, y_fit : ndarray, shape (n,)
        The track's position at each frame.
    heading : ndarray, shape (n,)
        Direction of motion, radians from +x towards +y (``atan2(vy, vx)``); NaN where the
        track travels less than :data:`MIN_TRAVEL` over its sequence.
    inlier : ndarray of bool, shape (n,)
        Frames within ``tol`` of their track.

    Examples
    --------
    >>> t = np.arange(6) * 0.1
    >>> x, y = 2.0 * t, 10.0 + 0 * t
    >>> x[3] = 7.0                                      # one wrong return
    >>> fx, fy, h, inlier = fit_tracks(x, y, t, np.zeros(6), tol=0.5)
    >>> (np.round(fx, 2) + 0.0).tolist(), bool(inlier[3]), round(float(h[0]), 3)
    ([0.0, 0.2, 0.4, 0.6, 0.8, 1.0], False, 0.0)
    """
    x, y, time = (np.asarray(v, dtype=float) for v in (x, y, time))
    sequence = np.asarray(sequence)
    if not (x.shape == y.shape == time.shape == sequence.shape) or x.ndim != 1:
        raise ValueError("x, y, time and sequence must be 1-D arrays of one length, got shapes "
                         f"{x.shape}, {y.shape}, {time.shape}, {sequence.shape}")
    if not np.isfinite(time).all():
        raise ValueError("time must be finite in every frame")
    if window < 2:
        raise ValueError(f"window must be at least 2 frames, got {window}")
    x_fit, y_fit = np.full_like(x, np.nan), np.full_like(y, np.nan)
    heading, inlier = np.full_like(x, np.nan), np.zeros(len(x), bool)
    for label in np.unique(sequence):
        frames = np.flatnonzero(sequence == label)
        frames = frames[np.argsort(time[frames], kind="stable")]
        for rows in np.array_split(frames, -(-len(frames) // window)):
            t = time[rows] - time[rows].mean()
            x0, vx, y0, vy, keep = _sequence_line(t, x[rows], y[rows], tol)
            x_fit[rows], y_fit[rows] = x0 + vx * t, y0 + vy * t
            inlier[rows] = keep
            if np.hypot(vx, vy) * np.ptp(t) >= MIN_TRAVEL:
                heading[rows] = np.arctan2(vy, vx)
    return x_fit, y_fit, heading, inlier


def track_positions(x, y, time, sequence, *, prior: BoxPrior | str | None = None,
                    tol: float = 1.0):
    """Estimates ``(x, y)`` replaced by their sequence's track; with ``prior``, by the track of
    the box centres behind them.

    Without a prior: :func:`fit_tracks`. With one (a :class:`BoxPrior` or a name in
    :data:`PRIORS`): the first track gives each sequence's heading, every estimate is read as
    the box's point nearest the radar (or its face's middle, ``prior.seen``) and moved to its
    centre (:func:`centre_behind_nearest_point`, :func:`centre_behind_face`), and a second
    track is fitted through the centres.
    (Moving the first track's points instead would not do: the nearest point of a car
    passing the radar stalls on its side while the centre moves on.)

    Returns
    -------
    x, y : ndarray, shape (n,)
    """
    prior = resolve_prior(prior)
    fx, fy, heading, _ = fit_tracks(x, y, time, sequence, tol=tol)
    if prior is None:
        return fx, fy
    centre = centre_behind_face if prior.seen == "face" else centre_behind_nearest_point
    cx, cy = centre(x, y, heading, prior)
    fx, fy, _, _ = fit_tracks(cx, cy, time, sequence, tol=tol)
    return fx, fy


def centre_behind_nearest_point(x, y, heading, prior: BoxPrior = CAR, *, iterations: int = 30):
    """Centre of a ``prior``-sized box with heading ``heading`` whose point nearest the radar
    (the origin) is ``(x, y)``.

    A fixed-point iteration: from ``c = p``, the box's nearest point to the origin is
    ``c + R clip(R^T (0 - c), +-L/2, +-W/2)``; move ``c`` so that it lands on ``p``. Seen at a
    corner the centre is unique; seen face-on any centre sliding along that face has the same
    nearest point, and the one returned has the radar looking at the middle of the face. Each
    step moves the centre by at most the nearest point's offset from that face-on case, so
    within ``L / (2 iterations)`` (8 cm for a car) of it the result blends the face-on and
    corner answers instead of jumping between them. Where
    ``heading`` is NaN (the target did not move) the box's orientation is unknown and the
    centre is placed ``W / 2`` behind ``p`` along the line of sight (the least a box of that
    width can extend behind its nearest point). A point at the origin (the radar inside the
    box) stays.

    Parameters
    ----------
    x, y : array_like
        Nearest-point estimates, m (radar at the origin, boresight +y).
    heading : array_like
        Box heading, radians from +x towards +y (e.g. from :func:`fit_tracks`).
    prior : BoxPrior
        Box length (along the heading) and width, m.

    Returns
    -------
    cx, cy : ndarray

    Examples
    --------
    A car driving along x at (6, 10): its nearest point is the corner (3.75, 9.1).

    >>> cx, cy = centre_behind_nearest_point(3.75, 9.1, 0.0)
    >>> round(float(cx), 6), round(float(cy), 6)
    (6.0, 10.0)
    """
    x, y, heading = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, y, heading)))
    half_l, half_w = prior.length / 2, prior.width / 2
    known = np.isfinite(heading)
    c, s = np.cos(np.where(known, heading, 0.0)), np.sin(np.where(known, heading, 0.0))
    cx, cy = x.copy(), y.copy()
    for _ in range(iterations):
        u = np.clip(-cx * c - cy * s, -half_l, half_l)   # origin in the box frame, clipped
        v = np.clip(cx * s - cy * c, -half_w, half_w)
        cx, cy = x - (u * c - v * s), y - (u * s + v * c)
    return _line_of_sight_fallback(x, y, cx, cy, known, half_w)


def _line_of_sight_fallback(x, y, cx, cy, known, half_width):
    """``(cx, cy)`` where the heading is ``known``; elsewhere ``half_width`` behind ``(x, y)``
    along the line of sight; a point at the origin stays."""
    distance = np.hypot(x, y)
    along = np.where(distance > 0, half_width / np.where(distance > 0, distance, 1.0), 0.0)
    return np.where(known, cx, x * (1 + along)), np.where(known, cy, y * (1 + along))


def centre_behind_face(x, y, heading, prior: BoxPrior = CAR_FACE):
    """Centre of a ``prior``-sized box with heading ``heading`` whose face turned most directly
    to the radar (the origin) has its middle at ``(x, y)``.

    The face is the end (normal along the heading) when the line of sight is closer to the
    heading than to its perpendicular, else the side; the centre is half the box's extent
    behind ``(x, y)`` along that face's normal. NaN headings: ``W / 2`` along the line of
    sight, as :func:`centre_behind_nearest_point`.

    Examples
    --------
    A car driving along x at (6, 10) shows the radar its side, whose middle is (6, 9.1).

    >>> cx, cy = centre_behind_face(6.0, 9.1, 0.0)
    >>> round(float(cx), 6), round(float(cy), 6)
    (6.0, 10.0)
    """
    x, y, heading = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, y, heading)))
    known = np.isfinite(heading)
    ax, ay = np.cos(np.where(known, heading, 0.0)), np.sin(np.where(known, heading, 0.0))
    along = x * ax + y * ay      # line of sight (unnormalised) on the heading ...
    across = -x * ay + y * ax    # ... and on its perpendicular
    end = np.abs(along) > np.abs(across)
    cx = np.where(end, x + prior.length / 2 * np.sign(along) * ax,
                  x - prior.width / 2 * np.sign(across) * ay)
    cy = np.where(end, y + prior.length / 2 * np.sign(along) * ay,
                  y + prior.width / 2 * np.sign(across) * ax)
    return _line_of_sight_fallback(x, y, cx, cy, known, prior.width / 2)


def track_estimates(estimates, frames, *, prior: BoxPrior | str | None = None,
                    tol: float = 1.0):
    """Any estimates-1 table, replaced frame by frame by its sequence's track (and box prior).

    Parameters
    ----------
    estimates : xarray.Dataset
        estimates-1 (``x``, ``y`` per frame label).
    frames : xarray.Dataset
        The frames the table describes, with ``time`` and ``sequence`` coordinates (a
        heatmap-1 or csi-1 file, opened lazily: only its coordinates are read;
        :func:`track_coordinates`); rows are matched by frame label (:func:`radarsp.frames.align`),
        frames without a row count as missing estimates.
    prior : BoxPrior or str, optional
        Track the box centres behind the estimates instead (:func:`track_positions`, e.g.
        ``"car"``).
    tol : float
        Inlier distance of :func:`fit_tracks`, m.

    Returns
    -------
    xarray.Dataset
        estimates-1 on ``frames``' labels, ``method`` ``<method>-track[-<prior>]``, the
        table's other attrs kept (what it used, e.g. a genie, still applies).
    """
    import xarray as xr

    from radarsp.frames import align, frame_labels, take
    from radarsp.geometry import cartesian_to_polar

    time, sequence = track_coordinates(frames)
    prior = resolve_prior(prior)
    rows = align(estimates, frames)
    x, y = track_positions(take(estimates["x"].values, rows), take(estimates["y"].values, rows),
                           time, sequence, prior=prior, tol=tol)
    range_m, angle = cartesian_to_polar(x, y)
    method = estimates.attrs.get("method", "estimates") + track_suffix(prior)
    attrs = {**estimates.attrs, "method": method, "track_tol_m": tol}
    if prior is not None:
        attrs.update(prior=prior.name, prior_length_m=prior.length, prior_width_m=prior.width)
    columns = {"range": range_m, "angle": angle, "x": x, "y": y,
               "power": np.full(len(x), np.nan)}
    return xr.Dataset({name: ("frame", values) for name, values in columns.items()},
                      coords={"frame": frame_labels(frames)}, attrs=attrs)
