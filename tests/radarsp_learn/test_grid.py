"""The model-grid <-> range/angle mapping: round trips, conventions, argmax -> coordinates."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from radarsp_learn.data import resize
from radarsp_learn.grid import Grid, rescale_index
from radarsp_learn.selflabel import refine_peak


def nonuniform_grid(shape=(64, 64)):
    # angle bins uniform in sin(angle), as an FFT beamformer gives them
    return Grid(np.linspace(2.0, 40.0, 96), np.arcsin(np.linspace(-0.9, 0.9, 33)), shape)


@settings(max_examples=50, deadline=None)
@given(st.floats(-5, 70), st.integers(1, 64), st.integers(1, 256))
def test_rescale_index_round_trips(index, n_from, n_to):
    assert rescale_index(rescale_index(index, n_from, n_to), n_to, n_from) == pytest.approx(index)


def test_rescale_index_matches_pooling_convention():
    # a stride-8 feature cell j covers pixels [8j, 8j + 8): its centre is pixel 8j + 3.5
    assert rescale_index(np.arange(8.0), 8, 64) == pytest.approx(8 * np.arange(8) + 3.5)


def test_rescale_index_matches_torch_interpolate():
    # a one-hot on a 16-cell grid, upsampled to 64 cells, peaks at rescale_index(i, 16, 64)
    signal = torch.zeros(1, 1, 1, 16)
    signal[..., 5] = 1.0
    up = torch.nn.functional.interpolate(signal, size=(1, 64), mode="bilinear",
                                         align_corners=False)[0, 0, 0]
    centroid = float((up * torch.arange(64)).sum() / up.sum())
    assert centroid == pytest.approx(rescale_index(5.0, 16, 64), abs=1e-4)


@settings(max_examples=50, deadline=None)
@given(st.floats(2.0, 40.0), st.floats(-1.1, 1.1))
def test_polar_cells_round_trip(range_m, angle):
    grid = nonuniform_grid()
    row, col = grid.from_polar(range_m, angle)
    back = grid.to_polar(row, col)
    assert back[0] == pytest.approx(range_m, abs=1e-9)
    assert back[1] == pytest.approx(angle, abs=1e-9)


def test_bin_centres_map_to_their_cells():
    grid = Grid(np.arange(32.0) + 0.5, np.linspace(-1, 1, 16), (64, 64))
    rows, cols = grid.from_polar(grid.range, np.zeros(32))
    assert rows == pytest.approx(rescale_index(np.arange(32.0), 32, 64))
    assert grid.to_polar(0.0, 0.0, from_shape=(32, 16))[0] == pytest.approx(0.5)
    assert grid.to_polar(0.0, 0.0, from_shape=(32, 16))[1] == pytest.approx(-1.0)


def test_argmax_to_coordinates_round_trips():
    """A target drawn on the heatmap at (r, theta), resized to the model grid, found by the
    peak finder and mapped back through the grid, lands at (r, theta)."""
    grid = nonuniform_grid(shape=(64, 48))
    rng = np.random.default_rng(1)
    for range_m, angle in zip(rng.uniform(5, 35, 10), rng.uniform(-0.9, 0.9, 10), strict=True):
        # Gaussian blob in *bin-index* space at the target's fractional bin
        r_idx = np.interp(range_m, grid.range, np.arange(96))
        a_idx = np.interp(angle, grid.angle, np.arange(33))
        rr, aa = np.meshgrid(np.arange(96), np.arange(33), indexing="ij")
        blob = np.exp(-((rr - r_idx) ** 2) / 8.0 - ((aa - a_idx) ** 2) / 3.0)
        model = resize(torch.tensor(blob, dtype=torch.float32)[None, None], grid.shape)[:, 0]
        row, col = refine_peak(model)[0].numpy()
        back_range, back_angle = grid.to_polar(row, col)
        assert back_range == pytest.approx(range_m, abs=0.25 * np.diff(grid.range)[0])
        assert back_angle == pytest.approx(angle, abs=0.3 * np.diff(grid.angle).max())


def test_symmetry_and_validation():
    assert Grid(np.arange(4.0), np.linspace(-1, 1, 5)).symmetric_in_angle
    assert not Grid(np.arange(4.0), np.linspace(-1, 2, 5)).symmetric_in_angle
    with pytest.raises(ValueError, match="strictly increasing"):
        Grid(np.arange(4.0), np.linspace(1, -1, 5))
