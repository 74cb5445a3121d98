"""Mask sources: ground truth, the noise model and background subtraction on the camera."""

import numpy as np
import pytest
import torch
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from radarsp_learn.data import RadioVisualFrames
from radarsp_learn.masks import (
    background_boxes,
    box_iou,
    mask_boxes,
    noisy_boxes,
    truth_boxes,
    with_boxes,
)


@pytest.fixture(scope="module")
def parking_lot():
    from radarsp.simulate import simulate

    return simulate("parking-lot", frames=150, seed=7)


def iou_reference(a, b):
    """IoU by counting pixels of inclusive boxes."""
    canvas = np.zeros((2, 80, 80), bool)
    for k, (c0, r0, c1, r1) in enumerate((a, b)):
        canvas[k, int(r0):int(r1) + 1, int(c0):int(c1) + 1] = True
    return (canvas[0] & canvas[1]).sum() / (canvas[0] | canvas[1]).sum()


corner = st.integers(0, 70)


@settings(max_examples=40, deadline=None)
@given(corner, corner, st.integers(0, 9), st.integers(0, 9), corner, corner,
       st.integers(0, 9), st.integers(0, 9))
def test_box_iou_counts_pixels(c0, r0, w0, h0, c1, r1, w1, h1):
    a, b = (c0, r0, c0 + w0, r0 + h0), (c1, r1, c1 + w1, r1 + h1)
    assert box_iou(np.array([a], float), np.array([b], float))[0] == pytest.approx(
        iou_reference(a, b))


def test_background_subtraction_finds_the_moving_target(parking_lot):
    boxes = background_boxes(parking_lot["image"], parking_lot["sequence"].values)
    iou = box_iou(boxes, truth_boxes(parking_lot))
    assert np.mean(iou > 0.5) > 0.6  # most frames, on a real rendered parking lot
    assert np.median(iou) > 0.55


def test_bracketing_beats_the_median_background_on_a_slow_target(parking_lot):
    truth = truth_boxes(parking_lot)
    iou = {method: box_iou(mask_boxes(parking_lot, "background", method=method), truth)
           for method in ("bracket", "median")}
    assert np.mean(iou["bracket"] > 0.5) > np.mean(iou["median"] > 0.5)


def test_bracketing_recovers_a_rigid_mover_exactly():
    frames = np.full((15, 24, 40, 3), 30, np.uint8)
    for t in range(15):  # a 10-px car moving 1 px per frame: it covers its own middle throughout
        frames[t, 8:14, 5 + t:15 + t] = (200, 40, 40)
    image = xr.DataArray(frames, dims=("frame", "image_row", "image_col", "rgb"))
    boxes = background_boxes(image, np.zeros(15, int))
    expected = np.array([[5 + t, 8, 14 + t, 13] for t in range(15)], float)
    np.testing.assert_array_equal(boxes, expected)


def test_noise_model_rates_and_seed():
    truth = np.tile([[20.0, 10.0, 39.0, 29.0]], (4000, 1))
    boxes = noisy_boxes(truth, image_shape=(64, 64), jitter=0.1, scale=0.0, dropout=0.2, seed=3)
    dropped = np.isnan(boxes[:, 0])
    assert abs(dropped.mean() - 0.2) < 4 * np.sqrt(0.2 * 0.8 / 4000)
    centre = (boxes[~dropped, 0] + boxes[~dropped, 2]) / 2
    assert np.std(centre) == pytest.approx(0.1 * 20, rel=0.1)  # 10 % of the 20-px width
    np.testing.assert_array_equal(
        boxes, noisy_boxes(truth, image_shape=(64, 64), jitter=0.1, scale=0.0, dropout=0.2,
                           seed=3))
    sizes = noisy_boxes(truth, image_shape=(64, 64), jitter=0.0, scale=0.2, seed=4)
    width = sizes[:, 2] - sizes[:, 0] + 1
    assert np.std(np.log(width / 20)) == pytest.approx(0.2, rel=0.15)


def test_with_boxes_feeds_training_masks(scenes):
    boxes = truth_boxes(scenes)
    boxes[3] = np.nan
    boxes[5] = [0, 0, 11, 11]
    swapped = with_boxes(scenes, boxes, source="test")
    assert swapped["target_box"].attrs["mask_source"] == "test"
    masks = RadioVisualFrames(swapped, grid_shape=(16, 16), image_shape=(48, 48)).batch(
        torch.tensor([3, 5]))["mask"]
    assert float(masks[0].sum()) == 0  # no box: empty mask
    inside = float(masks[1, 0, :12, :12].sum())
    assert inside >= 100 and float(masks[1].sum()) == inside
    with pytest.raises(ValueError, match="shape"):
        with_boxes(scenes, boxes[:4], source="test")
