"""Localisation metrics against hand-computed values and independent references."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import entropy
from sklearn.metrics import mutual_info_score

from radarsp.metrics import (
    ecdf,
    error_summary,
    estimate_span,
    kl_divergence,
    label_deviation,
    localisation_error,
    mutual_information,
    shared_bins,
    wasserstein,
)


def test_localisation_error_by_hand():
    est = xr.Dataset({"x": ("frame", [3.0, np.nan, 1.0]), "y": ("frame", [4.0, np.nan, 1.0])},
                     attrs={"method": "genie"})
    truth = xr.Dataset({"target_x": ("frame", [0.0, 0.0, 1.0]),
                        "target_y": ("frame", [0.0, 0.0, -1.0])})
    error = localisation_error(est, truth)
    np.testing.assert_array_equal(error.values, [5.0, np.nan, 2.0])
    assert error.attrs["units"] == "m" and error.attrs["method"] == "genie"


def test_localisation_error_pairs_by_frame_label_not_position():
    rng = np.random.default_rng(2)
    truth = xr.Dataset({"target_x": ("frame", rng.uniform(-5, 5, 20)),
                        "target_y": ("frame", rng.uniform(5, 30, 20))},
                       coords={"frame": np.arange(100, 120)})
    est = xr.Dataset({"x": truth["target_x"] + 3.0, "y": truth["target_y"] + 4.0},
                     attrs={"method": "m", "labels_used": 0})
    reverse = est.isel(frame=slice(None, None, -1))
    np.testing.assert_allclose(localisation_error(est, truth), 5.0)
    np.testing.assert_allclose(localisation_error(reverse, truth), 5.0)
    # a truth frame without a row is a miss, recorded as such
    error = localisation_error(est.isel(frame=slice(5, None)), truth)
    assert np.isnan(error.values[:5]).all() and error.attrs["frames_without_row"] == 5
    np.testing.assert_array_equal(error["frame"], truth["frame"])
    assert error.attrs["method"] == "m" and error.attrs["labels_used"] == 0


def test_localisation_error_refuses_foreign_frames_and_repeated_labels():
    from radarsp.errors import RadarspFileError

    truth = xr.Dataset({"target_x": ("frame", [0.0, 1.0]), "target_y": ("frame", [0.0, 1.0])})
    est = xr.Dataset({"x": ("frame", [0.0, 0.0, 0.0]), "y": ("frame", [0.0, 0.0, 0.0])})
    with pytest.raises(RadarspFileError, match=r"1 of its 3 frames are not in .* frame 2"):
        localisation_error(est, truth)
    with pytest.raises(RadarspFileError, match="shares no frame"):
        localisation_error(est.assign_coords(frame=[7, 8, 9]), truth)
    with pytest.raises(RadarspFileError, match="frame label 1 appears 2 times"):
        localisation_error(est.assign_coords(frame=[0, 1, 1]), truth)
    with pytest.raises(RadarspFileError, match="frame label 0 appears 2 times"):
        localisation_error(est.isel(frame=[0, 1]), truth.assign_coords(frame=[0, 0]))


def test_percentiles_count_misses_as_infinite():
    # sorted with the miss last: [1, 2, 3, inf]
    summary = error_summary([3.0, np.nan, 1.0, 2.0], percentiles=(25, 50, 60, 90), n_boot=0)
    # linear interpolation at rank q/100 * (n - 1): 0.75 -> 1.75, 1.5 -> 2.5, 1.8 -> 2.8,
    # 2.7 -> between 3 and the miss: inf
    np.testing.assert_allclose(summary["error"].values, [1.75, 2.5, 2.8, np.inf])
    assert float(summary["miss_rate"]) == 0.25
    assert int(summary["misses"]) == 1 and int(summary["frames"]) == 4
    assert "error_low" not in summary


def test_no_misses_equals_numpy_percentile():
    errors = np.random.default_rng(0).exponential(2.0, 501)
    summary = error_summary(errors, n_boot=0)
    np.testing.assert_allclose(summary["error"], np.percentile(errors, [50, 90]))
    assert float(summary["miss_rate"]) == 0


def test_bootstrap_interval_brackets_estimate_and_is_seeded():
    errors = np.random.default_rng(1).exponential(1.0, 400)
    errors[:20] = np.nan
    a = error_summary(errors, n_boot=300, seed=7)
    b = error_summary(errors, n_boot=300, seed=7)
    xr.testing.assert_identical(a, b)
    assert (a["error_low"] <= a["error"]).all() and (a["error"] <= a["error_high"]).all()
    assert a["miss_rate_low"] <= a["miss_rate"] <= a["miss_rate_high"]
    # the 50th percentile of 400 exponential draws: interval roughly +-0.1 wide
    assert 0.05 < float(a["error_high"][0] - a["error_low"][0]) < 0.5


@settings(max_examples=30, deadline=None)
@given(st.lists(st.one_of(st.floats(0, 100), st.just(np.nan)), min_size=1, max_size=40))
def test_a_miss_never_improves_a_percentile(values):
    values = np.array(values)
    with_miss = error_summary(np.r_[values, np.nan], n_boot=0)["error"].values
    without = error_summary(values, n_boot=0)["error"].values
    assert (with_miss >= without).all()


def test_ecdf_by_hand():
    curve = ecdf([2.0, 1.0, np.nan, 4.0])
    assert curve["error"].values.tolist() == [1.0, 2.0, 4.0]
    assert curve.values.tolist() == [0.25, 0.5, 0.75]


def test_wasserstein_by_hand_and_drops_missing_pairs():
    assert wasserstein([0.0, 1.0, 2.0], [1.0, 2.0, 3.0]) == pytest.approx(1.0)
    # the miss at index 1 drops that pair: |sorted differences| = |0-0.5|, |2-2.5|
    assert wasserstein([0.0, 9.0, 2.0], [0.5, np.nan, 2.5]) == pytest.approx(0.5)


def test_kl_divergence_equals_scipy_entropy_with_stated_smoothing():
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 1, 300), rng.normal(0.5, 1.5, 300)
    edges = shared_bins(a, b, 16)
    p = np.histogram(a, edges)[0] + 0.5
    q = np.histogram(b, edges)[0] + 0.5
    assert kl_divergence(a, b, bins=16) == pytest.approx(entropy(p, q))
    # hand-computed: histograms [2, 0] and [1, 1], alpha = 1 -> p = [3/4, 1/4], q = [1/2, 1/2]
    expected = 0.75 * np.log(1.5) + 0.25 * np.log(0.5)
    assert kl_divergence([0.0, 0.0], [0.0, 1.0], bins=2, alpha=1.0) == pytest.approx(expected)


def test_mutual_information_equals_sklearn_on_the_same_bins():
    rng = np.random.default_rng(4)
    a = rng.uniform(0, 10, 500)
    b = a + rng.normal(0, 1.0, 500)
    edges = shared_bins(a, b, 12)
    labels_a = np.clip(np.digitize(a, edges[1:-1]), 0, 11)
    labels_b = np.clip(np.digitize(b, edges[1:-1]), 0, 11)
    assert mutual_information(a, b, bins=12) == pytest.approx(mutual_info_score(labels_a, labels_b))
    # independent samples carry (almost) nothing; identical ones carry the entropy
    assert mutual_information([0.0, 1.0, 0.0, 1.0], [0.0, 0.0, 1.0, 1.0], bins=2) == 0.0
    assert mutual_information([0.0, 1.0], [0.0, 1.0], bins=2) == pytest.approx(np.log(2))


def test_label_deviation_table():
    rng = np.random.default_rng(5)
    truth = xr.Dataset({"target_range": ("frame", rng.uniform(5, 30, 200)),
                        "target_angle": ("frame", rng.uniform(-1, 1, 200))})
    est = xr.Dataset({"range": truth["target_range"] + 1.0, "angle": truth["target_angle"]})
    table = label_deviation(est, truth, bins=10)
    assert table["wasserstein"].sel(quantity="range") == pytest.approx(1.0)
    assert table["wasserstein"].sel(quantity="angle") == pytest.approx(0.0)
    assert table["mutual_information"].sel(quantity="angle") > 1.5


def test_percentile_landing_next_to_a_miss_is_finite():
    summary = error_summary([1.0, 2.0, np.nan], percentiles=(50, 60), n_boot=0)
    np.testing.assert_array_equal(summary["error"].values, [2.0, np.inf])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0, 1e3), min_size=1, max_size=30),
       st.lists(st.floats(0, 100), min_size=1, max_size=4))
def test_without_misses_percentiles_equal_numpy(values, q):
    summary = error_summary(values, percentiles=q, n_boot=0)
    np.testing.assert_allclose(summary["error"].values, np.percentile(values, q), rtol=1e-12)


def test_frame_without_detections_is_a_miss_end_to_end():
    from radarsp.cluster import cluster
    from radarsp.match import genie_match

    # frames 0 and 2 have a tight blob of detections at the target; frame 1 has none
    det = xr.Dataset(
        {"range": ("detection", [10.0] * 6), "angle": ("detection", [0.0] * 6),
         "x": ("detection", [0.0, 0.1, 0.2, 3.0, 3.1, 3.2]),
         "y": ("detection", [10.0] * 6), "power": ("detection", [1.0] * 6)},
        coords={"frame": ("detection", [0, 0, 0, 2, 2, 2])},
    )
    truth = xr.Dataset({"target_x": ("frame", [0.1, 0.0, 3.1]),
                        "target_y": ("frame", [11.0, 10.0, 10.0])})
    estimates = genie_match(cluster(det, eps=0.5, min_samples=2), truth)
    errors = localisation_error(estimates, truth)
    np.testing.assert_allclose(errors.values, [1.0, np.nan, 0.0], atol=1e-12)
    summary = error_summary(errors, percentiles=(50, 90), n_boot=0)
    assert float(summary["miss_rate"]) == pytest.approx(1 / 3)
    # sorted [0, 1, miss]: the median is the 1 m frame, the 90th falls among the misses
    np.testing.assert_allclose(summary["error"].values, [1.0, np.inf])


def _bootstrap_all_at_once(values, q, n_boot, seed, confidence=0.95):
    """The obvious bootstrap: every resample in memory at once, then percentiles of them."""
    from radarsp.metrics import _as_errors, _percentile

    values = _as_errors(values)
    rng = np.random.default_rng(seed)
    sample = values[rng.integers(0, values.size, size=(n_boot, values.size))]
    tails = 100 * np.array([(1 - confidence) / 2, (1 + confidence) / 2])
    bounds = _percentile(_percentile(sample, q, axis=1), tails, axis=1)
    return bounds, np.percentile(np.isinf(sample).mean(axis=1), tails)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.one_of(st.floats(0, 50), st.just(np.nan), st.sampled_from([1.0, 2.0])),
                min_size=1, max_size=60),
       st.integers(1, 400), st.integers(0, 2**31))
def test_blockwise_bootstrap_equals_the_all_at_once_reference(values, n_boot, seed):
    import radarsp.metrics as metrics

    q = (10, 50, 90)
    bounds, miss = _bootstrap_all_at_once(values, q, n_boot, seed)
    # tiny blocks: many resample blocks, and blocks cut inside what one draw would be
    original = metrics._BOOT_BLOCK_VALUES
    metrics._BOOT_BLOCK_VALUES = 7
    try:
        summary = error_summary(values, percentiles=q, n_boot=n_boot, seed=seed)
    finally:
        metrics._BOOT_BLOCK_VALUES = original
    np.testing.assert_array_equal(summary["error_low"], bounds[0])
    np.testing.assert_array_equal(summary["error_high"], bounds[1])
    np.testing.assert_allclose([summary["miss_rate_low"], summary["miss_rate_high"]], miss,
                               rtol=0, atol=1e-12)


def test_bootstrap_memory_does_not_grow_with_n_boot():
    import tracemalloc

    errors = np.random.default_rng(3).exponential(2.0, 200)
    errors[:10] = np.nan
    n_boot = 60_000  # all at once: 1.2e7 int64 draws + their values, about 190 MB
    tracemalloc.start()
    try:
        summary = error_summary(errors, n_boot=n_boot, seed=1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20, f"peak {peak / 2**20:.0f} MB"
    assert (summary["error_low"] <= summary["error"]).all()
    assert (summary["error"] <= summary["error_high"]).all()


def test_error_summary_refuses_bad_bootstrap_settings():
    with pytest.raises(ValueError, match="n_boot"):
        error_summary([1.0], n_boot=-1)
    with pytest.raises(ValueError, match="n_boot"):
        error_summary([1.0], n_boot=2.5)
    with pytest.raises(ValueError, match="confidence"):
        error_summary([1.0], confidence=1.0)


def test_provenance_travels_from_estimates_to_the_table():
    from radarsp.metrics import provenance, summary_table

    truth = xr.Dataset({"target_x": ("frame", [0.0, 0.0]), "target_y": ("frame", [0.0, 0.0])})
    tables = {
        "genie": {"method": "genie", "genie": np.int64(1), "labels_used": np.int64(2),
                  "camera_geometry": "none"},
        "mcl": {"method": "mcl", "genie": 0, "labels_used": 0,
                "camera_geometry": "pinhole intrinsics + pose"},
        "foreign": {"method": "foreign"},
        "calibrated": {"method": "c", "labels_used": "12"},
    }
    summaries = {}
    for name, attrs in tables.items():
        est = xr.Dataset({"x": ("frame", [1.0, np.nan]), "y": ("frame", [0.0, np.nan])},
                         attrs=attrs)
        summaries[name] = error_summary(localisation_error(est, truth), n_boot=0)
    assert [provenance(s.attrs) for s in summaries.values()] == [
        ("genie", "none"), ("0", "pinhole intrinsics + pose"), ("unknown", "unknown"),
        ("12", "unknown")]
    lines = summary_table(summaries).splitlines()
    assert lines[0].split()[:4] == ["method", "labels", "camera", "frames"]
    assert lines[1].split()[:4] == ["genie", "genie", "none", "2"]
    assert lines[2].split()[:2] == ["mcl", "0"] and "pinhole intrinsics + pose" in lines[2]
    assert lines[3].split()[:3] == ["foreign", "unknown", "unknown"]


def test_label_deviation_pairs_by_frame_label():
    rng = np.random.default_rng(6)
    truth = xr.Dataset({"target_range": ("frame", rng.uniform(5, 30, 100)),
                        "target_angle": ("frame", rng.uniform(-1, 1, 100))},
                       coords={"frame": np.arange(100) * 3})
    est = xr.Dataset({"range": truth["target_range"], "angle": truth["target_angle"]})
    shuffled = est.isel(frame=rng.permutation(100))
    xr.testing.assert_identical(label_deviation(shuffled, truth, bins=10),
                                label_deviation(est, truth, bins=10))
    # by position the shuffled labels would be far off; by label they are exact
    assert float(label_deviation(shuffled, truth)["wasserstein"].sel(quantity="range")) == 0
    mi = label_deviation(shuffled, truth, bins=10)["mutual_information"].sel(quantity="range")
    assert float(mi) > 1.5


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0, 100), min_size=1, max_size=40), st.integers(0, 2**31 - 1))
def test_estimate_span_is_the_percentiles_of_the_rows_with_an_estimate(ranges, seed):
    rng = np.random.default_rng(seed)
    ranges = np.asarray(ranges)
    angles = rng.uniform(-1.5, 1.5, ranges.size)
    missing = rng.random(ranges.size) < 0.3
    table = xr.Dataset({"range": ("frame", np.where(missing, np.nan, ranges)),
                        "angle": ("frame", np.where(missing, np.nan, angles))})
    span = estimate_span(table, percentiles=(10, 90))
    if missing.all():
        assert np.isnan(span["range"]).all() and np.isnan(span["angle"]).all()
        return
    # a reference sort: the q-th percentile by linear interpolation between order statistics
    for name, values in (("range", ranges[~missing]), ("angle", angles[~missing])):
        ordered = np.sort(values)
        for q, got in zip((10, 90), span[name], strict=True):
            position = q / 100 * (ordered.size - 1)
            low = int(np.floor(position))
            high = min(low + 1, ordered.size - 1)
            expected = ordered[low] + (position - low) * (ordered[high] - ordered[low])
            assert got == pytest.approx(expected)
    # row order does not matter
    order = rng.permutation(ranges.size)
    shuffled = estimate_span(table.isel(frame=order), percentiles=(10, 90))
    for name in ("range", "angle"):
        assert shuffled[name] == pytest.approx(span[name])
