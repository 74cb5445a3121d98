"""Tracks of point estimates and the box-extent prior: against slow references and by property."""

from itertools import combinations

import numpy as np
import pytest
import xarray as xr
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from radarsp.errors import RadarspFileError
from radarsp.tracking import (
    CAR,
    CAR_FACE,
    BoxPrior,
    centre_behind_face,
    centre_behind_nearest_point,
    fit_tracks,
    track_estimates,
)


def msac_loop(t, x, y, tol):
    """One sequence's MSAC line, one pair at a time: the pair whose line has the least sum of
    truncated residuals (first such pair on ties), least squares on its inliers."""
    best = None
    for i, j in combinations(range(len(t)), 2):
        if t[i] == t[j]:
            continue
        vx, vy = (x[j] - x[i]) / (t[j] - t[i]), (y[j] - y[i]) / (t[j] - t[i])
        residual = [np.hypot(x[i] + vx * (t[k] - t[i]) - x[k], y[i] + vy * (t[k] - t[i]) - y[k])
                    for k in range(len(t))]
        score = sum(min(r, tol) for r in residual)
        if best is None or score < best[0]:
            best = (score, [r < tol for r in residual])
    inliers = np.array(best[1])
    px = np.polyfit(t[inliers], x[inliers], 1)
    py = np.polyfit(t[inliers], y[inliers], 1)
    return np.polyval(px, t), np.polyval(py, t), inliers


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(3, 15), outliers=st.integers(0, 5))
def test_fit_tracks_equals_a_pair_by_pair_loop(seed, n, outliers):
    rng = np.random.default_rng(seed)
    t = np.arange(n) * 0.1
    x = rng.uniform(-10, 10) + rng.uniform(-6, 6) * t + rng.normal(0, 0.3, n)
    y = rng.uniform(5, 30) + rng.uniform(-6, 6) * t + rng.normal(0, 0.3, n)
    wrong = rng.choice(n, size=min(outliers, n - 2), replace=False)
    x[wrong] += rng.uniform(-8, 8, len(wrong))
    fx, fy, _, inlier = fit_tracks(x, y, t, np.zeros(n), tol=1.0)
    centred = t - t.mean()
    ex, ey, einlier = msac_loop(centred, x, y, 1.0)
    np.testing.assert_array_equal(inlier, einlier)
    np.testing.assert_allclose(fx, ex, atol=1e-9)
    np.testing.assert_allclose(fy, ey, atol=1e-9)


def test_a_track_rejects_wrong_returns_and_gives_the_heading():
    """Sequences of a car driving at 4 m/s with 4 of 15 frames on a static clutter point:
    the track follows the car, flags the clutter frames, and heads where the car drives."""
    rng = np.random.default_rng(3)
    t = np.tile(np.arange(15) * 0.1, 3)
    sequence = np.repeat([7, 2, 9], 15)  # labels, not positions
    heading = np.repeat([0.0, np.pi / 2, -2.5], 15)
    x0, y0 = np.repeat([-6.0, 2.0, 4.0], 15), np.repeat([12.0, 8.0, 25.0], 15)
    tx, ty = x0 + 4 * np.cos(heading) * t, y0 + 4 * np.sin(heading) * t
    x, y = tx + rng.normal(0, 0.2, 45), ty + rng.normal(0, 0.2, 45)
    clutter = np.zeros(45, bool)
    clutter[[1, 5, 6, 12, 16, 20, 21, 33, 35, 36, 40]] = True
    x[clutter], y[clutter] = 9.0, 30.0
    fx, fy, fitted_heading, inlier = fit_tracks(x, y, t, sequence)
    assert np.hypot(fx - tx, fy - ty).max() < 0.3
    np.testing.assert_array_equal(inlier, ~clutter)
    np.testing.assert_allclose(np.angle(np.exp(1j * (fitted_heading - heading))), 0, atol=0.1)
    # a target that stands still has no heading; frames without an estimate get the track
    x[:15], y[:15] = -6.0 + rng.normal(0, 0.05, 15), 12.0
    x[3] = np.nan
    fx, fy, fitted_heading, inlier = fit_tracks(x, y, t, sequence)
    assert np.isnan(fitted_heading[:15]).all() and np.isfinite(fitted_heading[15:]).all()
    assert abs(fx[3] + 6.0) < 0.1 and not inlier[3]


def test_a_whole_recording_under_one_label_is_tracked_in_pieces():
    """2,000 frames of one sequence label, out of time order, driving a square: tracked piece
    by piece (bounded memory), each piece on the path."""
    t = np.arange(2000) * 0.1
    side = (t // 50) % 4  # 50 s per side of a 200 m square, at 4 m/s
    s = (t % 50) * 4.0
    x = np.select([side == 0, side == 1, side == 2], [s, 200.0 + 0 * s, 200.0 - s], 0 * s)
    y = np.select([side == 0, side == 1, side == 2], [0 * s, s, 200.0 + 0 * s], 200.0 - s)
    order = np.random.default_rng(1).permutation(2000)
    fx, fy, _, inlier = fit_tracks(x[order], y[order], t[order], np.zeros(2000))
    # pieces that straddle a corner cut it; all others lie on the path
    error = np.hypot(fx - x[order], fy - y[order])
    assert np.median(error) < 1e-6 and np.mean(error < 1e-6) > 0.9
    with pytest.raises(ValueError, match="window"):
        fit_tracks(x, y, t, np.zeros(2000), window=1)


def test_fit_tracks_refuses_mismatched_inputs_and_missing_times():
    with pytest.raises(ValueError, match="one length"):
        fit_tracks(np.zeros(3), np.zeros(3), np.zeros(2), np.zeros(3))
    with pytest.raises(ValueError, match="time must be finite"):
        fit_tracks(np.zeros(2), np.zeros(2), np.array([0.0, np.nan]), np.zeros(2))


def nearest_point_loop(cx, cy, heading, length, width):
    """The point of the box (centre, heading, size) nearest the origin, by brute force over a
    dense grid of its footprint."""
    u, v = np.meshgrid(np.linspace(-length / 2, length / 2, 901),
                       np.linspace(-width / 2, width / 2, 361))
    px = cx + u * np.cos(heading) - v * np.sin(heading)
    py = cy + u * np.sin(heading) + v * np.cos(heading)
    k = np.argmin(np.hypot(px, py))
    return px.flat[k], py.flat[k]


@settings(max_examples=40, deadline=None)
@given(x=st.floats(-20, 20), y=st.floats(3, 40), heading=st.floats(-np.pi, np.pi),
       length=st.floats(3.5, 5.5), width=st.floats(1.5, 2.2))
def test_the_centre_behind_a_nearest_point_has_that_nearest_point(x, y, heading, length,
                                                                  width):
    prior = BoxPrior("box", length, width)
    px, py = nearest_point_loop(x, y, heading, length, width)
    # within half/iterations (< 8 cm) of face-on along an axis the iteration blends the
    # face-on and corner answers (docstring); the property is asserted outside that band
    along = abs(px * np.cos(heading) + py * np.sin(heading))
    across = abs(-px * np.sin(heading) + py * np.cos(heading))
    assume(min(along, across) > 0.1 or min(along, across) < 1e-3)
    cx, cy = centre_behind_nearest_point(px, py, heading, prior)
    # the dense grid places a nearest point within ~6 mm
    assert np.hypot(*np.subtract(nearest_point_loop(cx, cy, heading, length, width),
                                 (px, py))) < 0.03
    # seen at a corner the centre is unique: the box's own; seen face-on it may slide along
    # the face, and the one returned has the radar looking at the middle of that face
    u = np.abs(-x * np.cos(heading) - y * np.sin(heading))
    v = np.abs(x * np.sin(heading) - y * np.cos(heading))
    if u > length / 2 + 0.05 and v > width / 2 + 0.05:
        assert np.hypot(cx - x, cy - y) < 0.03


@settings(max_examples=40, deadline=None)
@given(x=st.floats(-20, 20), y=st.floats(3, 40), heading=st.floats(-np.pi, np.pi))
def test_the_centre_behind_the_middle_of_the_face_turned_to_the_radar(x, y, heading):
    """Of the end and the side turned to the radar, the one whose middle looks along its own
    normal more than along the other face's gives the box's centre back exactly."""
    a = np.array([np.cos(heading), np.sin(heading)])
    b = np.array([-a[1], a[0]])
    centre = np.array([x, y])
    found = 0
    for axis, other, half in ((a, b, CAR_FACE.length / 2), (b, a, CAR_FACE.width / 2)):
        middle = centre - half * np.sign(centre @ axis) * axis
        if abs(middle @ axis) > abs(middle @ other):  # this face is the one turned to it
            cx, cy = centre_behind_face(*middle, heading, CAR_FACE)
            np.testing.assert_allclose([cx, cy], centre, atol=1e-9)
            found += 1
    assert found >= 1 or np.isclose(abs(x * a[0] + y * a[1]), abs(x * b[0] + y * b[1]),
                                    atol=2.5)


def test_without_a_heading_the_centre_is_half_a_width_behind_along_the_line_of_sight():
    cx, cy = centre_behind_nearest_point([3.0, 0.0], [4.0, 0.0], [np.nan, 0.3], CAR)
    # 5 m away -> 5.9 m; a point at the radar (inside the box) stays
    np.testing.assert_allclose([cx[0], cy[0]], [3.0 * 5.9 / 5, 4.0 * 5.9 / 5])
    assert (cx[1], cy[1]) == (0.0, 0.0)
    fx, fy = centre_behind_face([3.0], [4.0], [np.nan], CAR_FACE)
    np.testing.assert_allclose([fx[0], fy[0]], [cx[0], cy[0]])
    with pytest.raises(ValueError, match="length and width"):
        BoxPrior("bad", 0.0, 1.8)
    with pytest.raises(ValueError, match="seen"):
        BoxPrior("bad", 4.0, 1.8, seen="roof")


def frames_with_sequences():
    t = np.tile(np.arange(10) * 0.1, 2)
    x = np.concatenate([-8 + 3 * t[:10], 5 + 0 * t[10:]])
    y = np.concatenate([12 + 0 * t[:10], 10 + 5 * t[10:]])
    return xr.Dataset({"target_x": ("frame", x), "target_y": ("frame", y)},
                      coords={"frame": np.arange(100, 120), "time": ("frame", t),
                              "sequence": ("frame", np.repeat([4, 3], 10))})


def estimates_of(frames, x, y, order):
    return xr.Dataset({"x": ("frame", x[order]), "y": ("frame", y[order]),
                       "range": ("frame", np.hypot(x, y)[order]),
                       "angle": ("frame", np.arctan2(x, y)[order])},
                      coords={"frame": frames["frame"].values[order]},
                      attrs={"method": "genie-cfar", "genie": 1, "labels_used": 0})


def test_track_estimates_aligns_by_frame_label_and_keeps_what_the_table_used():
    frames = frames_with_sequences()
    tx, ty = frames["target_x"].values, frames["target_y"].values
    # the nearest point of a car driving along each track, then a wrong frame
    heading = np.repeat([0.0, np.pi / 2], 10)
    near = np.array([nearest_point_loop(a, b, h, CAR.length, CAR.width)
                     for a, b, h in zip(tx, ty, heading, strict=True)])
    x, y = near[:, 0].copy(), near[:, 1].copy()
    x[4] += 6.0
    forward = track_estimates(estimates_of(frames, x, y, np.arange(20)), frames, prior="car")
    shuffled = np.random.default_rng(0).permutation(20)
    backward = track_estimates(estimates_of(frames, x, y, shuffled), frames, prior="car")
    xr.testing.assert_identical(forward, backward)
    assert forward.attrs["method"] == "genie-cfar-track-car" and forward.attrs["genie"] == 1
    np.testing.assert_array_equal(forward["frame"], frames["frame"])
    assert np.hypot(forward["x"] - tx, forward["y"] - ty).max() < 0.05
    # a missing frame is filled by its track; a table without sequences is refused
    part = track_estimates(estimates_of(frames, x, y, np.arange(1, 20)), frames)
    assert np.isfinite(part["x"].values).all()
    with pytest.raises(RadarspFileError, match="'sequence': missing"):
        track_estimates(estimates_of(frames, x, y, np.arange(20)),
                        frames.drop_vars("sequence"))
    # times as datetimes are seconds to the tracker: the same tracks
    stamped = frames.assign_coords(time=("frame", np.datetime64("2026-12-04T05:00")
                                         + (frames["time"].values * 1e9).astype("timedelta64[ns]")))
    xr.testing.assert_allclose(
        track_estimates(estimates_of(frames, x, y, np.arange(20)), stamped, prior="car"),
        forward)
