"""radarsp.camera: the one pinhole model the simulators write and every reader reads back."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from radarsp.camera import Calibration, CameraModel
from radarsp.simulate.camera import Camera


@pytest.mark.parametrize("camera", [Camera(), Camera(image_size=(48, 96), height=4.0,
                                                     tilt=0.3, horizontal_fov=1.2)])
def test_ground_points_the_simulator_projects_come_back_through_the_model(camera):
    model = camera.model()
    assert isinstance(model, CameraModel)
    np.testing.assert_allclose(model.axes(), camera.axes(), atol=1e-12)
    rng = np.random.default_rng(0)
    ground = np.c_[rng.uniform(-8, 8, 50), rng.uniform(6, 30, 50), np.zeros(50)]
    col, row, depth = camera.project(ground)
    seen = depth > 0
    back = model.ground_points(col[seen], row[seen])
    np.testing.assert_allclose(back, ground[seen, :2], atol=1e-6)


def test_calibration_moves_points_into_the_radar_frame():
    turned = Calibration(yaw=np.pi / 2, x=1.0).apply(np.array([[0.0, 2.0]]))
    np.testing.assert_allclose(turned, [[3.0, 0.0]], atol=1e-12)


def test_camera_geometry_needs_neither_torch_nor_the_learn_package():
    code = ("import sys, radarsp.camera, radarsp.simulate.camera; "
            "print('torch' in sys.modules, 'radarsp_learn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.split() == ["False", "False"], out.stderr
