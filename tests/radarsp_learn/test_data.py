"""Frames as tensors: normalisation, masks, splits, lazy vs cached reading, estimates tables."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from radarsp_learn.data import (
    RadioVisualFrames,
    batch_order,
    box_mask,
    estimate_cells,
    estimates_dataset,
    normalise_power,
    split_by_sequence,
    truth_cells,
)


def box_mask_reference(box, image_shape, mask_shape, padding):
    """Pixel by pixel: a mask pixel is on when its centre, in original pixels, is in the box.

    The box holds inclusive pixel indices: its last pixel ``i`` covers ``[i, i + 1)``.
    """
    mask = np.zeros(mask_shape, dtype=np.float32)
    sr, sc = image_shape[0] / mask_shape[0], image_shape[1] / mask_shape[1]
    col0, row0, col1, row1 = box
    col1, row1 = col1 + 1, row1 + 1
    for r in range(mask_shape[0]):
        for c in range(mask_shape[1]):
            centre_r, centre_c = (r + 0.5) * sr, (c + 0.5) * sc
            if (row0 - padding * sr <= centre_r <= row1 + padding * sr
                    and col0 - padding * sc <= centre_c <= col1 + padding * sc):
                mask[r, c] = 1
    return mask


@settings(max_examples=40, deadline=None)
@given(st.floats(0, 60), st.floats(0, 40), st.floats(1, 30), st.floats(1, 20),
       st.integers(-2, 3))
def test_box_mask_matches_reference(col0, row0, width, height, padding):
    box = np.array([col0, row0, min(col0 + width, 64), min(row0 + height, 48)])
    got = box_mask(box[None], (48, 64), (24, 32), padding=padding)[0]
    want = box_mask_reference(box, (48, 64), (24, 32), padding)
    if want.any():
        np.testing.assert_array_equal(got, want)
    else:  # a box thinner than a pixel keeps the pixel under its centre
        assert got.sum() == 1


def test_box_mask_nan_box_is_empty():
    assert box_mask(np.full((1, 4), np.nan), (8, 8), (8, 8)).sum() == 0


def test_normalise_power_peak_and_clip():
    power = torch.rand(3, 10, 12) * 10 + 1e-6
    out = normalise_power(power, dynamic_range_db=30.0)
    assert torch.allclose(out.amax(dim=(-2, -1)), torch.ones(3))
    assert out.min() >= 0 and out.max() <= 1
    # scale invariance: a gain change does not change what the network sees
    assert torch.allclose(normalise_power(power * 1e3, dynamic_range_db=30.0), out, atol=1e-5)


def test_split_by_sequence_is_disjoint_deterministic_and_whole():
    sequence = np.repeat(np.arange(20), 7)
    train, val = split_by_sequence(sequence, val_fraction=0.25, seed=3)
    assert set(sequence[train]).isdisjoint(sequence[val])
    assert len(train) + len(val) == len(sequence)
    assert len(set(sequence[val])) == 5
    again = split_by_sequence(sequence, val_fraction=0.25, seed=3)
    np.testing.assert_array_equal(again[1], val)
    assert not np.array_equal(split_by_sequence(sequence, val_fraction=0.25, seed=4)[1], val)


def test_batch_order_is_a_permutation_and_shards_evenly():
    batches = batch_order(50, 8, seed=1, epoch=2)
    assert sorted(torch.cat(batches).tolist()) == list(range(50))
    assert torch.equal(torch.cat(batches), torch.cat(batch_order(50, 8, seed=1, epoch=2)))
    shards = [batch_order(50, 8, seed=1, epoch=2, rank=r, world_size=3) for r in range(3)]
    assert len({tuple(len(b) for b in s) for s in shards}) == 1
    assert len(set(torch.cat([torch.cat(s) for s in shards]).tolist())) == 48
    assert all(len(b) == 8 for b in batch_order(50, 8, seed=1, drop_last=True))


def test_cached_and_lazy_frames_agree(scenes):
    frames = np.array([5, 1, 30, 2])
    kwargs = dict(frames=frames, grid_shape=(32, 32), image_shape=(24, 24), mask_padding=1)
    cached = RadioVisualFrames(scenes, cache=True, chunk=3, **kwargs)
    lazy = RadioVisualFrames(scenes, cache=False, **kwargs)
    a, b = cached.batch([3, 0, 2]), lazy.batch([3, 0, 2])
    for key in ("heatmap", "image", "mask"):
        torch.testing.assert_close(a[key], b[key])
    assert a["heatmap"].shape == (3, 1, 32, 32)
    assert a["image"].shape == (3, 3, 24, 24) and a["mask"].shape == (3, 1, 24, 24)
    np.testing.assert_array_equal(cached.frame_ids, frames)


def test_heatmap_peak_sits_at_the_target_cell(scenes):
    data = RadioVisualFrames(scenes, grid_shape=(48, 40), with_camera=False,
                             labels=truth_cells(scenes, RadioVisualFrames(
                                 scenes, grid_shape=(48, 40), with_camera=False).grid))
    batch = data.batch(torch.arange(10))
    flat = batch["heatmap"][:, 0].reshape(10, -1).argmax(1)
    peak = torch.stack([flat // 40, flat % 40], 1).float()
    assert (peak - batch["label"]).abs().max() <= 1.0


def test_estimates_round_trip_through_cells(scenes):
    data = RadioVisualFrames(scenes, grid_shape=(32, 32), with_camera=False)
    cells = truth_cells(scenes, data.grid)
    r, a = data.grid.to_polar(cells[:, 0], cells[:, 1])
    table = estimates_dataset(scenes["frame"].values, r, a, method="truth",
                              labels_used=len(r), camera_geometry="none")
    np.testing.assert_allclose(table["x"], scenes["target_x"], atol=1e-4)
    np.testing.assert_allclose(estimate_cells(table, scenes, data.grid), cells, atol=1e-4)
    partial = table.isel(frame=slice(0, 5))
    assert np.isnan(estimate_cells(partial, scenes, data.grid)[5:]).all()


def test_missing_camera_is_one_clear_error(scenes):
    from radarsp.errors import RadarspFileError

    with pytest.raises(RadarspFileError, match="variable 'image'"):
        RadioVisualFrames(scenes.drop_vars("image"))


def test_batch_order_by_group_keeps_groups_together():
    groups = np.repeat([7, 3, 9, 1], 5)
    batches = batch_order(20, 10, seed=2, epoch=1, groups=groups)
    order = torch.cat(batches).numpy()
    assert sorted(order.tolist()) == list(range(20))
    runs = groups[order].reshape(4, 5)
    assert (runs == runs[:, :1]).all()  # each group's frames are consecutive
    again = torch.cat(batch_order(20, 10, seed=2, epoch=1, groups=groups))
    assert torch.equal(again, torch.as_tensor(order))
