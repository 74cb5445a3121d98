"""Self-labelling: equation 2 batched == per-sample loop, peak refinement, attribution maps."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from radarsp_learn.data import RadioVisualFrames
from radarsp_learn.objectives import build_objective
from radarsp_learn.selflabel import (
    attention_conv,
    attribution_maps,
    calibration_offset,
    climb,
    feature_support,
    label_span,
    refine_peak,
    self_label_cells,
    self_labels,
    smooth,
)
from radarsp_learn.train import TrainConfig

SMALL = dict(grid_shape=(32, 32), image_shape=(32, 32), radio_widths=(16, 32),
             vision_widths=(16, 32), feature_dim=16, projector_hidden=64, embed_dim=32)


def attention_loop(radio, vision, support):
    """Equation 2 one sample at a time: crop the kernel, zero-pad, F.conv2d."""
    out = []
    for b in range(radio.shape[0]):
        rows = torch.nonzero(support[b].any(1)).flatten()
        cols = torch.nonzero(support[b].any(0)).flatten()
        kernel = vision[b, :, rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        kh, kw = kernel.shape[-2:]
        top, left = (kh - 1) // 2, (kw - 1) // 2
        padded = F.pad(radio[b:b + 1], (left, kw - 1 - left, top, kh - 1 - top))
        out.append(F.conv2d(padded, kernel[None])[0, 0])
    return torch.stack(out)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 4), st.integers(2, 9), st.integers(2, 9), st.integers(0, 2**31 - 1))
def test_attention_conv_equals_per_sample_loop(batch, rows, cols, seed):
    g = torch.Generator().manual_seed(seed)
    radio = torch.randn(batch, 5, rows, cols, generator=g, dtype=torch.float64)
    vision = torch.randn(batch, 5, rows, cols, generator=g, dtype=torch.float64)
    support = torch.zeros(batch, rows, cols, dtype=torch.bool)
    for b in range(batch):
        r0, c0 = torch.randint(rows, (1,), generator=g), torch.randint(cols, (1,), generator=g)
        r1 = r0 + torch.randint(rows - r0.item(), (1,), generator=g) + 1
        c1 = c0 + torch.randint(cols - c0.item(), (1,), generator=g) + 1
        support[b, r0:r1, c0:c1] = True
    torch.testing.assert_close(attention_conv(radio, vision, support),
                               attention_loop(radio, vision, support))


def test_attention_conv_peaks_where_the_pattern_is():
    radio = torch.zeros(1, 2, 8, 8)
    pattern = torch.tensor([[1.0, -1.0], [2.0, 0.5]])
    radio[0, 0, 5:7, 2:4] = pattern
    vision = torch.zeros(1, 2, 8, 8)
    vision[0, 0, 1:3, 4:6] = pattern
    support = feature_support(torch.nn.functional.interpolate(
        (vision[:, :1] != 0).float(), scale_factor=4), (8, 8))
    out = attention_conv(radio, vision, support)
    # a 2 x 2 kernel's centre is its upper-left cell
    assert divmod(int(out.flatten().argmax()), 8) == (5, 2)


@settings(max_examples=40, deadline=None)
@given(st.floats(1.0, 14.0), st.floats(1.0, 14.0), st.floats(0.3, 3.0))
def test_refine_peak_recovers_a_parabola_vertex(row, col, width):
    r = torch.arange(16.0).view(-1, 1)
    c = torch.arange(16.0).view(1, -1)
    surface = 100 - ((r - row) ** 2) / width - ((c - col) ** 2) / width
    got = refine_peak(surface[None])[0]
    assert got[0] == pytest.approx(row, abs=1e-3)
    assert got[1] == pytest.approx(col, abs=1e-3)


def test_refine_peak_on_the_border_is_the_argmax():
    maps = torch.zeros(1, 4, 5)
    maps[0, 0, 4] = 1
    assert refine_peak(maps).tolist() == [[0.0, 4.0]]


def test_attribution_maps_shapes_and_independence(scenes):
    torch.manual_seed(0)
    objective = build_objective(TrainConfig(**SMALL)).eval()
    data = RadioVisualFrames(scenes, frames=np.arange(4), grid_shape=(32, 32),
                             image_shape=(32, 32))
    batch = data.batch(torch.arange(4))
    maps = attribution_maps(objective, batch, kind="input_x_gradient")
    assert maps.shape == (4, 32, 32)
    single = attribution_maps(objective, data.batch(torch.tensor([2])), kind="input_x_gradient")
    torch.testing.assert_close(maps[2], single[0], rtol=1e-4, atol=1e-6)
    assert attribution_maps(objective, batch, kind="gradient_x_activation").shape == (4, 8, 8)
    assert (attribution_maps(objective, batch, kind="gradient_x_activation") >= 0).all()


@pytest.mark.parametrize("method", ["attribution", "gradient_x_activation", "conv"])
def test_self_labels_table(scenes, method):
    objective = build_objective(TrainConfig(**SMALL))
    data = RadioVisualFrames(scenes, frames=np.arange(6), grid_shape=(32, 32),
                             image_shape=(32, 32))
    table = self_labels(objective, data, method=method, batch_size=4)
    assert table.sizes["frame"] == 6 and table.attrs["method"] == "mcl-selflabel"
    assert np.isfinite(table["range"]).all()
    assert (table["range"] >= scenes["range"][0] - 1).all()
    assert (table["range"] <= scenes["range"][-1] + 1).all()


def climb_loop(image, row, col):
    """Steepest ascent one sample at a time: obviously correct loops."""
    rows, cols = image.shape
    while True:
        best = (image[row, col], row, col)
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                r, c = row + dr, col + dc
                if 0 <= r < rows and 0 <= c < cols and image[r, c] > best[0]:
                    best = (image[r, c], r, c)
        if best[1:] == (row, col):
            return row, col
        row, col = best[1:]


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 5), st.integers(1, 12), st.integers(1, 12), st.integers(0, 2**31 - 1))
def test_climb_equals_a_loop_and_ends_on_a_local_maximum(batch, rows, cols, seed):
    generator = torch.Generator().manual_seed(seed)
    maps = smooth(torch.rand(batch, rows, cols, generator=generator), 3)
    start = torch.rand(batch, 2, generator=generator) * torch.tensor([rows - 1, cols - 1])
    row, col = climb(maps, start)
    for b in range(batch):
        want = climb_loop(maps[b].numpy(), int(start[b, 0].round()), int(start[b, 1].round()))
        assert (int(row[b]), int(col[b])) == want
        window = maps[b, max(want[0] - 1, 0):want[0] + 2, max(want[1] - 1, 0):want[1] + 2]
        assert maps[b, want[0], want[1]] == window.max()


def test_heatmap_peak_self_labels_sit_on_local_maxima_of_the_heatmap(scenes):
    objective = build_objective(TrainConfig(**SMALL))
    data = RadioVisualFrames(scenes, frames=np.arange(6), grid_shape=(32, 32),
                             image_shape=(32, 32))
    cells = self_label_cells(objective, data, peak="heatmap", batch_size=4)
    heatmap = smooth(data.batch(np.arange(6))["heatmap"][:, 0], 3)
    for b, (row, col) in enumerate(np.round(cells).astype(int)):
        window = heatmap[b, max(row - 1, 0):row + 2, max(col - 1, 0):col + 2]
        assert heatmap[b, row, col] == window.max()
    with pytest.raises(ValueError, match="peak"):
        self_label_cells(objective, data, peak="centroid")


def test_calibration_offset_is_the_median_difference():
    labels = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, np.nan], [0.0, 0.0]])
    truth = labels + [2.0, -1.0]
    truth[3] = [10.0, 10.0]
    assert calibration_offset(labels, truth).tolist() == [2.0, -1.0]



@pytest.fixture(scope="module")
def parking_lot():
    """Simulated frames: a pinhole camera (model in the image attrs) and a radar seeing cars."""
    from radarsp.heatmap import heatmap_dataset
    from radarsp.simulate import simulate

    return heatmap_dataset(simulate("parking-lot", frames=30, seed=5)).load()


def test_camera_angle_keeps_the_range_and_takes_the_box_ray_angle(parking_lot):
    objective = build_objective(TrainConfig(**SMALL))
    data = RadioVisualFrames(parking_lot, grid_shape=(32, 32), image_shape=(32, 32))
    attention = self_labels(objective, data, batch_size=16)
    camera = self_labels(objective, data, angle="camera", batch_size=16)
    assert (attention.attrs["selflabel_angle"], camera.attrs["selflabel_angle"]) == (
        "attention", "camera")
    # honest names: the camera's bearing makes a camera-radar fusion, not MCL
    assert (attention.attrs["method"], attention.attrs["camera_geometry"]) == (
        "mcl-selflabel", "none")
    assert (camera.attrs["method"], camera.attrs["camera_geometry"]) == (
        "camera-ray-fusion-selflabel", "pinhole intrinsics + pose")
    assert attention.attrs["labels_used"] == camera.attrs["labels_used"] == 0
    np.testing.assert_allclose(camera["range"], attention["range"], rtol=1e-9)
    # the camera sits above the radar, so every point of a box's centre ray has the azimuth
    # of the target's centre, up to pixel rounding of the box -- whatever the (untrained)
    # attention said
    truth = parking_lot["target_angle"].values
    error = np.abs(camera["angle"].values - truth)
    assert np.median(error) < 0.02 and error.max() < 0.05
    assert np.median(np.abs(attention["angle"].values - truth)) > 2 * np.median(error)


def test_camera_ray_cells_keeps_frames_without_a_box_and_needs_the_camera_model(parking_lot):
    from radarsp.errors import RadarspFileError
    from radarsp_learn.selflabel import camera_ray_cells

    part = parking_lot.isel(frame=slice(0, 3)).copy()
    part["target_box"] = part["target_box"].astype(float)
    part["target_box"][1] = np.nan
    data = RadioVisualFrames(part, grid_shape=(32, 32), image_shape=(32, 32), cache=False)
    cells = np.array([[10.0, 5.0], [12.0, 6.0], [14.0, 7.0]])
    moved = camera_ray_cells(data, cells)
    assert moved[1].tolist() == [12.0, 6.0]
    np.testing.assert_allclose(moved[[0, 2], 0], cells[[0, 2], 0])
    assert not np.allclose(moved[[0, 2], 1], cells[[0, 2], 1])
    with pytest.raises(ValueError, match="angle"):
        self_label_cells(build_objective(TrainConfig(**SMALL)), data, angle="box")
    part["image"].attrs = {}
    with pytest.raises(RadarspFileError, match="image.*focal_length_px"):
        camera_ray_cells(data, cells)


def test_the_papers_self_label_needs_no_camera_model(parking_lot):
    """MCL (attention angle) reads the image and box only: a file without any camera
    intrinsics or pose gives the same labels, while the camera-ray fusion refuses it."""
    from radarsp.errors import RadarspFileError

    objective = build_objective(TrainConfig(**SMALL))
    bare = parking_lot.copy()
    bare["image"] = bare["image"].copy()
    bare["image"].attrs = {}
    with_model = RadioVisualFrames(parking_lot, grid_shape=(32, 32), image_shape=(32, 32))
    without = RadioVisualFrames(bare, grid_shape=(32, 32), image_shape=(32, 32))
    expected = self_labels(objective, with_model, batch_size=16)
    got = self_labels(objective, without, batch_size=16)
    np.testing.assert_array_equal(got["range"], expected["range"])
    np.testing.assert_array_equal(got["angle"], expected["angle"])
    assert got.attrs["camera_geometry"] == "none"
    with pytest.raises(RadarspFileError, match="focal_length_px"):
        self_labels(objective, without, angle="camera", batch_size=16)


def test_tracked_self_labels_need_no_truth_and_no_camera_model(parking_lot):
    """--track and --prior car read frame times and sequences only: deleting the truth and the
    camera model changes nothing; the rows are named after what they add."""
    objective = build_objective(TrainConfig(**SMALL))
    bare = parking_lot.drop_vars(["target_range", "target_angle", "target_x", "target_y",
                                  "target_velocity"]).copy()
    bare["image"] = bare["image"].copy()
    bare["image"].attrs = {}
    full = RadioVisualFrames(parking_lot, grid_shape=(32, 32), image_shape=(32, 32))
    without = RadioVisualFrames(bare, grid_shape=(32, 32), image_shape=(32, 32))
    for track, prior, name in ((True, None, "mcl-track-selflabel"),
                               (True, "car", "mcl-track-car-selflabel")):
        expected = self_labels(objective, full, track=track, prior=prior, batch_size=16)
        got = self_labels(objective, without, track=track, prior=prior, batch_size=16)
        np.testing.assert_array_equal(got["x"], expected["x"])
        np.testing.assert_array_equal(got["y"], expected["y"])
        assert (got.attrs["method"], got.attrs["camera_geometry"], got.attrs["labels_used"],
                got.attrs["selflabel_track"]) == (name, "none", 0, 1)
    assert got.attrs["prior_length_m"] == 4.5 and got.attrs["prior_width_m"] == 1.8
    with pytest.raises(ValueError, match="track=True"):
        self_label_cells(objective, full, prior="car")


def test_tracked_cells_put_a_cars_nearest_points_back_at_its_centre(parking_lot):
    """Cells at the nearest point of a 4.5 m x 1.8 m car driving through the simulated lot's
    sequences, three of them on clutter: the tracked cells with the car prior are the car's
    centre in every frame, the track alone stays on its near corner."""
    from radarsp.geometry import cartesian_to_polar, polar_to_cartesian
    from radarsp_learn.selflabel import track_cells

    data = RadioVisualFrames(parking_lot, grid_shape=(32, 32), image_shape=(32, 32))
    tx, ty = parking_lot["target_x"].values, parking_lot["target_y"].values
    # the lot's target drives along x: its nearest point is its near corner (or the middle of
    # its near side when straight ahead)
    near_x = np.sign(tx) * np.maximum(np.abs(tx) - 2.25, 0.0)
    near_y = ty - 0.9
    near_x[[2, 9, 20]] += 5.0
    cells = np.stack(data.grid.from_polar(*cartesian_to_polar(near_x, near_y)), axis=1)
    tracked = track_cells(data, cells, prior="car")
    x, y = polar_to_cartesian(*data.grid.to_polar(tracked[:, 0], tracked[:, 1]))
    plain = track_cells(data, cells)
    px, py = polar_to_cartesian(*data.grid.to_polar(plain[:, 0], plain[:, 1]))
    error, plain_error = np.hypot(x - tx, y - ty), np.hypot(px - tx, py - ty)
    # the truth jitters about its line (the simulator's 0.1 m position noise); the track not
    assert np.median(error) < 0.2 and error.max() < 0.6 and np.median(plain_error) > 0.9


@settings(max_examples=30, deadline=None)
@given(st.floats(0.0, 3.0), st.floats(0.0, 3.0), st.integers(0, 2**31 - 1))
def test_label_span_flags_labels_within_a_cell_of_one_point(range_cells, angle_cells, seed):
    """Collapsed exactly when both 5th-95th percentile spans are under 1.5 / 64 of the
    heatmap's extent, whatever the scene's units and where the point is."""
    import xarray as xr
    from hypothesis import assume

    assume(abs(0.9 * range_cells - 1.5) > 1e-6 and abs(0.9 * angle_cells - 1.5) > 1e-6)
    rng = np.random.default_rng(seed)
    heatmap = xr.Dataset(coords={"range": np.linspace(1.0, 1.0 + 64 * 0.75, 97),
                                 "angle": np.linspace(-1.2, 1.2, 31)})
    extent = {"range": 64 * 0.75, "angle": 2.4}
    centre = {"range": rng.uniform(5, 40), "angle": rng.uniform(-1, 1)}
    cells = {"range": range_cells, "angle": angle_cells}
    # evenly spread over `cells` 64ths of the extent, so the 5-95 % span is 0.9 of it
    labels = xr.Dataset({name: ("frame", centre[name] + np.linspace(-0.5, 0.5, 201)
                                * cells[name] * extent[name] / 64)
                         for name in ("range", "angle")})
    text, collapsed = label_span(labels, heatmap)
    assert collapsed == (0.9 * range_cells < 1.5 and 0.9 * angle_cells < 1.5)
    assert text.startswith("range ") and text.endswith("(5th-95th %ile)")
