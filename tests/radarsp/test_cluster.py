"""DBSCAN clustering of detections: equality with scikit-learn run frame by frame."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cluster import DBSCAN

from radarsp.cluster import cluster, dbscan_labels
from radarsp.errors import RadarspFileError

# The module itself (``radarsp.cluster`` may also name the function at package level).
cluster_module = importlib.import_module("radarsp.cluster")


def make_detections(n_frames=5, per_frame=40, *, seed=0, frames_dim=True) -> xr.Dataset:
    """Blobs of detections around a few centres per frame, plus uniform clutter."""
    rng = np.random.default_rng(seed)
    frame, x, y = [], [], []
    for f in range(n_frames):
        centres = rng.uniform([-10, 5], [10, 40], size=(3, 2))
        blob = centres[rng.integers(0, 3, per_frame)] + rng.normal(0, 0.4, (per_frame, 2))
        clutter = rng.uniform([-15, 2], [15, 45], size=(per_frame // 4, 2))
        points = np.vstack([blob, clutter])
        frame.append(np.full(len(points), f))
        x.append(points[:, 0])
        y.append(points[:, 1])
    frame, x, y = np.concatenate(frame), np.concatenate(x), np.concatenate(y)
    order = rng.permutation(frame.size)  # detections need not be sorted by frame
    frame, x, y = frame[order], x[order], y[order]
    rng_m, angle = np.hypot(x, y), np.arctan2(x, y)
    ds = xr.Dataset(
        {
            "range": ("detection", rng_m),
            "angle": ("detection", angle),
            "x": ("detection", x),
            "y": ("detection", y),
            "power": ("detection", rng.exponential(1.0, frame.size)),
            "snr": ("detection", rng.exponential(10.0, frame.size)),
        },
        coords={"frame": ("detection", frame)},
        attrs={"radarsp_schema": "detections-1", "carrier_frequency": 28e9},
    )
    if frames_dim:
        ds["target_x"] = ("frame", rng.uniform(-5, 5, n_frames))
        ds["target_y"] = ("frame", rng.uniform(5, 30, n_frames))
    from radarsp.model import annotate

    return annotate(ds)


def reference_labels(frame, features, min_samples):
    """scikit-learn DBSCAN on each frame's points alone, labels offset frame after frame."""
    labels = np.full(frame.size, -1)
    offset = 0
    for f in np.unique(frame):
        members = np.flatnonzero(frame == f)
        local = DBSCAN(eps=1.0, min_samples=min_samples).fit_predict(features[members])
        labels[members[local >= 0]] = local[local >= 0] + offset
        offset += local.max() + 1 if (local >= 0).any() else 0
    return labels


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n_frames=st.integers(1, 6),
    eps=st.tuples(st.floats(0.2, 3.0), st.floats(0.2, 3.0)),
    min_samples=st.integers(1, 6),
)
def test_labels_equal_sklearn_per_frame(seed, n_frames, eps, min_samples):
    det = make_detections(n_frames, per_frame=30, seed=seed)
    out = cluster(det, eps=eps, min_samples=min_samples)
    features = np.column_stack([det["x"].values / eps[0], det["y"].values / eps[1]])
    expected = reference_labels(det["frame"].values, features, min_samples)
    np.testing.assert_array_equal(out["label"].values, expected)
    assert out.sizes["cluster"] == expected.max() + 1


def test_batches_split_only_between_frames(monkeypatch):
    det = make_detections(12, per_frame=40, seed=3)
    whole = cluster(det, eps=1.0, min_samples=3)
    monkeypatch.setattr(cluster_module, "_BATCH_POINTS", 70)
    batched = cluster(det, eps=1.0, min_samples=3)
    xr.testing.assert_identical(whole, batched)


def test_centroids_sizes_extents_by_hand():
    det = xr.Dataset({
        "frame": ("detection", [0, 0, 0, 1, 1, 1]),
        "range": ("detection", [10.0, 10.5, 50.0, 20.0, 20.4, 20.2]),
        "angle": ("detection", [0.0, 0.1, 0.0, -0.1, -0.1, -0.2]),
        "x": ("detection", [1.0, 2.0, 0.0, 5.0, 5.5, 6.0]),
        "y": ("detection", [10.0, 10.0, 50.0, 20.0, 21.0, 20.0]),
        "power": ("detection", [1.0, 3.0, 9.0, 2.0, 2.0, 4.0]),
    })
    out = cluster(det, eps=(1.5, 1.5), min_samples=2, space="xy", weights="power")
    assert out["frame"].values.tolist() == [0, 1]
    assert out["size"].values.tolist() == [2, 3]
    np.testing.assert_allclose(out["x"], [(1 * 1 + 2 * 3) / 4, (5 * 2 + 5.5 * 2 + 6 * 4) / 8])
    np.testing.assert_allclose(out["y"], [10.0, (20 * 2 + 21 * 2 + 20 * 4) / 8])
    np.testing.assert_allclose(out["range"], np.hypot(out["x"], out["y"]))
    np.testing.assert_allclose(out["angle"], np.arctan2(out["x"], out["y"]))
    np.testing.assert_allclose(out["power"], [4.0, 8.0])
    np.testing.assert_allclose(out["peak_power"], [3.0, 4.0])
    np.testing.assert_allclose(out["x_extent"], [1.0, 1.0])
    np.testing.assert_allclose(out["range_extent"], [0.5, 0.4])
    np.testing.assert_allclose(out["angle_extent"], [0.1, 0.1])
    assert out["label"].values.tolist() == [0, 0, -1, 1, 1, 1]

    plain = cluster(det, eps=1.5, min_samples=2, weights=None)
    np.testing.assert_allclose(plain["x"], [1.5, 5.5])


def test_polar_space_averages_range_and_angle():
    det = xr.Dataset({
        "frame": ("detection", [0, 0]),
        "range": ("detection", [10.0, 10.4]),
        "angle": ("detection", [0.10, 0.12]),
        "x": ("detection", [0.0, 0.0]),
        "y": ("detection", [0.0, 0.0]),
        "power": ("detection", [1.0, 1.0]),
    })
    out = cluster(det, eps=(0.5, 0.05), min_samples=2, space="polar", weights=None)
    np.testing.assert_allclose(out["range"], [10.2])
    np.testing.assert_allclose(out["angle"], [0.11])
    np.testing.assert_allclose(out["x"], 10.2 * np.sin(0.11))
    np.testing.assert_allclose(out["y"], 10.2 * np.cos(0.11))
    # 0.02 rad apart is beyond an angle eps of 0.015 rad: two noise points.
    apart = cluster(det, eps=(0.5, 0.015), min_samples=2, space="polar")
    assert apart.sizes["cluster"] == 0


def test_range_velocity_space():
    det = xr.Dataset({
        "frame": ("detection", [0, 0, 0]),
        "range": ("detection", [10.0, 10.2, 10.1]),
        "velocity": ("detection", [2.0, 2.2, -3.0]),
        "power": ("detection", [1.0, 1.0, 1.0]),
    })
    out = cluster(det, eps=(0.5, 0.5), min_samples=2, space="range-velocity", weights=None)
    np.testing.assert_allclose(out["velocity"], [2.1])
    np.testing.assert_allclose(out["velocity_extent"], [0.2])
    assert np.isnan(out["x"]).all()


def test_carries_truth_attrs_and_validates():
    from radarsp.io import validate

    det = make_detections(4, seed=1)
    out = cluster(det, eps=1.0, min_samples=3)
    assert validate(out) == "clusters-1"
    xr.testing.assert_identical(out["target_x"], det["target_x"])
    assert out.attrs["carrier_frequency"] == 28e9
    assert out.attrs["dbscan_min_samples"] == 3 and out.attrs["dbscan_space"] == "xy"
    assert out["x"].attrs["units"] == "m"


def test_no_detections_gives_empty_table():
    det = make_detections(2, seed=0).isel(detection=slice(0, 0))
    out = cluster(det, eps=1.0, min_samples=2)
    assert out.sizes["cluster"] == 0
    assert out.sizes["frame"] == 2


def test_bad_inputs():
    det = make_detections(2, seed=0)
    with pytest.raises(ValueError, match="eps"):
        cluster(det, eps=(1.0, -1.0))
    with pytest.raises(ValueError, match="space"):
        cluster(det, space="spherical")
    with pytest.raises(RadarspFileError, match="'power'"):
        cluster(det.drop_vars("power"))
    bad = det.copy()
    bad["x"] = bad["x"].where(bad["x"] > 0)
    with pytest.raises(RadarspFileError, match="finite"):
        cluster(bad)


def test_dbscan_labels_example():
    labels = dbscan_labels(np.array([1, 0, 1, 0]), np.array([[0, 0], [0, 0], [0.5, 0], [0.5, 0]]),
                           min_samples=2)
    assert labels.tolist() == [1, 0, 1, 0]


def test_batches_as_dask_tasks_give_the_same_labels(monkeypatch):
    import sys

    module = sys.modules["radarsp.cluster"]
    rng = np.random.default_rng(4)
    frame = np.repeat(np.arange(12), 30)
    features = rng.uniform(0, 6, (frame.size, 2))
    one_batch = module.dbscan_labels(frame, features, min_samples=3)
    monkeypatch.setattr(module, "_BATCH_POINTS", 50)  # many batches, split between frames
    assert np.array_equal(module.dbscan_labels(frame, features, min_samples=3), one_batch)
    assert np.array_equal(module.dbscan_labels(frame, features, min_samples=3, use_dask=True),
                          one_batch)
