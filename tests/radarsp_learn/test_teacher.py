"""RODNet-style teacher: camera rays, calibration, fusion with CFAR clusters, pseudo-labels."""

import numpy as np
import pytest
import xarray as xr

from radarsp.camera import Calibration, CameraModel, point_at_range, ray_distance
from radarsp.geometry import polar_to_cartesian
from radarsp_learn.teacher import fuse, teacher_labels


@pytest.fixture(scope="module")
def heatmaps():
    from radarsp.heatmap import heatmap_dataset
    from radarsp.simulate import simulate

    return heatmap_dataset(simulate("parking-lot", frames=60, seed=4)).load()


def clusters_at(frame, range_m, angle):
    x, y = polar_to_cartesian(np.asarray(range_m, float), np.asarray(angle, float))
    return xr.Dataset({"frame": ("cluster", np.asarray(frame)), "range": ("cluster", range_m),
                       "angle": ("cluster", angle), "x": ("cluster", x), "y": ("cluster", y),
                       "power": ("cluster", np.ones(len(frame)))})


def test_camera_rays_point_at_the_projected_target(heatmaps):
    from radarsp.simulate import Camera

    model = CameraModel.from_attrs(heatmaps["image"].attrs)
    x, y = heatmaps["target_x"].values, heatmaps["target_y"].values
    points = np.stack([x, y, np.full_like(x, 0.7)], axis=1)
    col, row, _ = Camera().project(points)
    _, direction = model.ground_rays(col, row)
    np.testing.assert_allclose(np.arctan2(direction[:, 0], direction[:, 1]),
                               heatmaps["target_angle"].values, atol=1e-9)
    ground = np.stack([x, y, np.zeros_like(x)], axis=1)
    col, row, _ = Camera().project(ground)
    np.testing.assert_allclose(model.ground_points(col, row), ground[:, :2], atol=1e-9)


def test_calibration_is_a_rigid_transform():
    calibration = Calibration(yaw=0.3, x=1.0, y=-2.0)
    points = np.array([[0.0, 10.0], [3.0, 4.0]])
    moved = calibration.apply(points)
    np.testing.assert_allclose(np.linalg.norm(moved - [1.0, -2.0], axis=1), [10.0, 5.0])
    np.testing.assert_allclose(np.arctan2(*(moved - [1.0, -2.0]).T), np.arctan2(*points.T) + 0.3)
    back = Calibration(yaw=-0.3).apply(moved - [1.0, -2.0])
    np.testing.assert_allclose(back, points, atol=1e-12)


def test_fusion_takes_range_from_radio_and_angle_from_camera():
    theta = 0.3
    # near clutter on the bearing, the target (centroid slightly off the ray), a parked car
    # behind it on the same bearing, and a strong return elsewhere
    clusters = clusters_at([0, 0, 0, 0], np.array([2.0, 15.0, 22.0, 12.0]),
                           np.array([theta, theta + 0.02, theta, -0.4]))
    origin = np.zeros((1, 2))
    direction = np.array([[np.sin(theta), np.cos(theta)]])
    ground = np.array(polar_to_cartesian(13.8, theta))[None]  # the camera's coarse fix
    fused = fuse(clusters, np.array([0]), origin, direction, ground, gate=2.0)
    assert fused["range"][0] == pytest.approx(15.0)
    assert fused["angle"][0] == pytest.approx(theta)
    # without the camera's ground fix the nearest-to-ray cluster is the clutter at 2 m
    assert fuse(clusters, np.array([0]), origin, direction)["range"][0] == pytest.approx(2.0)
    # nothing within the gate: no label
    far = fuse(clusters_at([0], np.array([15.0]), np.array([-0.5])), np.array([0]), origin,
               direction, ground)
    assert np.isnan(far["range"][0]) and np.isnan(far["angle"][0])


def test_fusion_respects_the_calibration():
    yaw = 0.1
    clusters = clusters_at([0, 0], np.array([15.0, 15.0]), np.array([0.2, 0.2 + yaw]))
    calibration = Calibration(yaw=yaw)
    origin = calibration.apply(np.zeros((1, 2)))
    direction = calibration.rotate(np.array([[np.sin(0.2), np.cos(0.2)]]))
    ground = calibration.apply(np.array(polar_to_cartesian(15.0, 0.2))[None])
    fused = fuse(clusters, np.array([0]), origin, direction, ground)
    assert fused["angle"][0] == pytest.approx(0.2 + yaw)
    assert fused["ray_distance"][0] == pytest.approx(0.0, abs=1e-9)


def test_ray_geometry_helpers():
    origin = np.array([[1.0, 0.0]])
    direction = np.array([[0.0, 1.0]])
    point = point_at_range(origin, direction, np.array([5.0]))
    assert np.linalg.norm(point) == pytest.approx(5.0) and point[0, 1] > 0
    assert ray_distance(point, origin, direction)[0] == pytest.approx(0.0, abs=1e-12)


def test_teacher_labels_a_simulated_sequence(heatmaps, tmp_path):
    from radarsp.io import open_estimates, save
    from radarsp_learn.data import estimate_cells
    from radarsp_learn.grid import Grid

    labels = teacher_labels(heatmaps)
    assert labels.attrs["method"] == "rodnet-teacher" and labels.attrs["labels_used"] == 0
    angle_error = np.abs(labels["angle"].values - heatmaps["target_angle"].values)
    range_error = np.abs(labels["range"].values - heatmaps["target_range"].values)
    assert np.nanmedian(angle_error) < 0.02  # rad: the camera's bearing
    assert np.nanmedian(range_error) < 2.0   # m: a car returns from its near side
    assert np.mean(np.isfinite(labels["range"].values)) > 0.9
    path = save(labels, tmp_path / "teacher.nc", schema="estimates-1")
    cells = estimate_cells(open_estimates(path), heatmaps, Grid.from_dataset(heatmaps))
    assert cells.shape == (60, 2)
