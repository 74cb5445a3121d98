"""Genie-aided, strongest-cluster and cross-domain matching against explicit loops."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from radarsp.errors import RadarspFileError
from radarsp.match import cross_domain_match, genie_match, strongest
from radarsp.model import annotate


def make_clusters(n_frames, per_frame_max=5, *, seed=0, empty=()) -> xr.Dataset:
    """Random clusters; frames listed in ``empty`` get none."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, per_frame_max + 1, n_frames)
    counts[list(empty)] = 0
    frame = np.repeat(np.arange(n_frames), counts)
    n = frame.size
    x, y = rng.uniform(-10, 10, n), rng.uniform(2, 40, n)
    ds = xr.Dataset(
        {
            "range": ("cluster", np.hypot(x, y)),
            "angle": ("cluster", np.arctan2(x, y)),
            "x": ("cluster", x),
            "y": ("cluster", y),
            "power": ("cluster", rng.exponential(1.0, n)),
            "size": ("cluster", rng.integers(1, 20, n)),
            "target_x": ("frame", rng.uniform(-10, 10, n_frames)),
            "target_y": ("frame", rng.uniform(2, 40, n_frames)),
        },
        coords={"cluster": np.arange(n), "frame": ("cluster", frame)},
        attrs={"radarsp_schema": "clusters-1", "dbscan_min_samples": 3},
    )
    return annotate(ds)


def truth_of(clusters: xr.Dataset) -> xr.Dataset:
    return clusters[["target_x", "target_y"]]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n_frames=st.integers(1, 12))
def test_genie_picks_closest_centroid(seed, n_frames):
    clusters = make_clusters(n_frames, seed=seed)
    est = genie_match(clusters, truth_of(clusters))
    assert est.sizes["frame"] == n_frames
    frame = clusters["frame"].values
    for f in range(n_frames):
        members = np.flatnonzero(frame == f)
        if members.size == 0:
            assert est["cluster"].values[f] == -1 and np.isnan(est["x"].values[f])
            continue
        distance = [np.hypot(clusters["x"].values[i] - clusters["target_x"].values[f],
                             clusters["y"].values[i] - clusters["target_y"].values[f])
                    for i in members]
        best = members[int(np.argmin(distance))]
        assert est["cluster"].values[f] == best
        assert est["x"].values[f] == clusters["x"].values[best]
        assert est["size"].values[f] == clusters["size"].values[best]


def test_frame_without_clusters_is_a_nan_row_not_dropped():
    from radarsp.io import validate

    clusters = make_clusters(6, seed=2, empty=(0, 3, 5))
    est = genie_match(clusters, truth_of(clusters))
    assert est.sizes["frame"] == 6
    assert est["cluster"].values[[0, 3, 5]].tolist() == [-1, -1, -1]
    assert np.isnan(est["x"].values[[0, 3, 5]]).all()
    assert np.isnan(est["range"].values[[0, 3, 5]]).all()
    assert est.attrs["method"] == "genie"
    assert est.attrs["dbscan_min_samples"] == 3
    assert validate(est) == "estimates-1"
    np.testing.assert_array_equal(est["target_x"], clusters["target_x"])


def test_genie_truth_nan_is_a_miss():
    clusters = make_clusters(3, seed=4, per_frame_max=3)
    truth = truth_of(clusters)
    truth["target_x"][1] = np.nan
    assert genie_match(clusters, truth)["cluster"].values[1] == -1


def test_strongest_picks_highest_power_and_counts_frames():
    clusters = make_clusters(8, seed=5, empty=(7,))
    est = strongest(clusters)
    assert est.sizes["frame"] == 8 and est.attrs["method"] == "strongest"
    frame, power = clusters["frame"].values, clusters["power"].values
    for f in range(7):
        members = np.flatnonzero(frame == f)
        expected = members[np.argmax(power[members])] if members.size else -1
        assert est["cluster"].values[f] == expected
    assert est["cluster"].values[7] == -1
    assert est.attrs["genie"] == 0 and est.attrs["labels_used"] == 0
    assert est.attrs["camera_geometry"] == "none"
    # frames 8 and 9 were never searched (the table covers 8): not reported, not misses
    by_size = strongest(clusters, 10, by="size")
    assert by_size["frame"].values.tolist() == list(range(8))
    size = clusters["size"].values
    for f in range(8):
        members = np.flatnonzero(frame == f)
        expected = members[np.argmax(size[members])] if members.size else -1
        assert by_size["cluster"].values[f] == expected


def test_frames_the_truth_lacks_are_not_reported_and_no_shared_frame_is_an_error():
    clusters = make_clusters(4, seed=0)
    # the truth (or the frames asked for) decides which searched frames are evaluated
    assert strongest(clusters, 2)["frame"].values.tolist() == [0, 1]
    short = truth_of(clusters).isel(frame=[3, 1]).assign_coords(frame=[3, 1])
    est = genie_match(clusters, short)
    assert est["frame"].values.tolist() == [3, 1]
    np.testing.assert_array_equal(est["cluster"],
                                  genie_match(clusters, truth_of(clusters))["cluster"][[3, 1]])
    np.testing.assert_array_equal(est["target_x"], short["target_x"])
    assert est.attrs["labels_used"] == 2 and est.attrs["genie"] == 1
    with pytest.raises(RadarspFileError, match="none of them among the truth's frames"):
        genie_match(clusters, short.assign_coords(frame=[7, 8]))
    with pytest.raises(RadarspFileError, match="target_y"):
        genie_match(clusters, truth_of(clusters).drop_vars("target_y"))


def rd_table(frame, range_m, velocity, power=None):
    power = np.ones(len(frame)) if power is None else np.asarray(power, float)
    return xr.Dataset({"range": ("cluster", np.asarray(range_m, float)),
                       "velocity": ("cluster", np.asarray(velocity, float)),
                       "power": ("cluster", power)},
                      coords={"frame": ("cluster", np.asarray(frame))})


def test_cross_domain_pairs_over_range_and_drops_static_clutter():
    ra = xr.Dataset(
        {"range": ("cluster", [5.0, 9.0, 20.0, 7.0]), "angle": ("cluster", [0.0] * 4),
         "x": ("cluster", [0.0, 1.0, 2.0, 3.0]), "y": ("cluster", [5.0, 9.0, 20.0, 7.0]),
         "power": ("cluster", [9.0, 1.0, 5.0, 2.0])},
        coords={"frame": ("cluster", [0, 0, 0, 1])},
    )
    rd = rd_table([0, 0, 0, 1], [5.05, 9.1, 20.5, 30.0], [0.0, 1.5, -2.0, 4.0])
    est = cross_domain_match(ra, rd, range_tol=0.2, min_speed=0.5, frames=3)
    # frame 0: 5 m is static, 20 m is 0.5 m off in range -> only the 9 m pair remains.
    assert est["cluster"].values.tolist() == [1, -1, -1]
    assert est["velocity"].values[0] == 1.5 and est["doppler_cluster"].values[0] == 1
    assert np.isnan(est["velocity"].values[1:]).all()
    assert est.attrs["method"] == "cross-domain"
    # without the speed gate, equal Doppler powers: the strongest range-angle cluster wins
    loose = cross_domain_match(ra, rd, range_tol=1.0, frames=3)
    assert loose["cluster"].values.tolist() == [0, -1, -1]
    # the strongest moving Doppler cluster decides before range-angle power does
    rd_power = rd_table([0, 0, 0, 1], [5.05, 9.1, 20.5, 30.0], [0.0, 1.5, -2.0, 4.0],
                        power=[9.0, 1.0, 3.0, 1.0])
    moving = cross_domain_match(ra, rd_power, range_tol=1.0, min_speed=0.5, frames=3)
    assert moving["cluster"].values.tolist() == [2, -1, -1]
    assert moving["velocity"].values[0] == -2.0
    truth = xr.Dataset({"target_x": ("frame", [2.0, 0, 0]), "target_y": ("frame", [19.0, 0, 0])})
    genie = cross_domain_match(ra, rd, range_tol=1.0, truth=truth)
    assert genie["cluster"].values.tolist() == [2, -1, -1]
    assert genie.attrs["method"] == "cross-domain-genie"


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_cross_domain_equals_loop(seed):
    rng = np.random.default_rng(seed)
    ra = make_clusters(5, seed=seed)
    n_rd = int(rng.integers(0, 12))
    rd = rd_table(rng.integers(0, 5, n_rd), rng.uniform(2, 40, n_rd), rng.normal(0, 2, n_rd),
                  rng.exponential(1.0, n_rd))
    est = cross_domain_match(ra, rd, range_tol=3.0, min_speed=0.5, frames=5)
    for f in range(5):
        best, best_score = (-1, -1), (-np.inf, -np.inf)
        for i in np.flatnonzero(ra["frame"].values == f):
            for j in np.flatnonzero(rd["frame"].values == f):
                close = abs(ra["range"].values[i] - rd["range"].values[j]) <= 3.0
                score = (rd["power"].values[j], ra["power"].values[i])
                if close and abs(rd["velocity"].values[j]) >= 0.5 and score > best_score:
                    best, best_score = (i, j), score
        assert est["cluster"].values[f] == best[0]
        assert est["doppler_cluster"].values[f] == best[1]


def test_frame_count_attr_keeps_trailing_empty_frames():
    clusters = make_clusters(3, seed=1).drop_vars(["target_x", "target_y"])
    clusters.attrs["frame_count"] = 5  # CFAR searched 5 frames; the last two found nothing
    est = strongest(clusters)
    assert est.sizes["frame"] == 5 and (est["cluster"].values[3:] == -1).all()


def test_accessor_pipes_to_match():
    import radarsp.accessor  # noqa: F401  (registers the accessor)

    clusters = make_clusters(4, seed=3)
    xr.testing.assert_identical(clusters.radarsp.strongest(), strongest(clusters))
    xr.testing.assert_identical(clusters.radarsp.genie_match(truth_of(clusters)),
                                genie_match(clusters, truth_of(clusters)))


def test_frame_column_refers_to_the_truth_frame_coordinate():
    # frames simulated from start=30: the CSI file's frame coordinate is 30, 31, 32
    clusters = make_clusters(3, seed=6, empty=(1,))
    shifted = clusters.assign_coords(frame=("cluster", clusters["frame"].values + 30))
    truth = truth_of(clusters).assign_coords(frame=[30, 31, 32])
    est = genie_match(shifted, truth)
    np.testing.assert_array_equal(est["frame"], [30, 31, 32])
    np.testing.assert_array_equal(est["cluster"], genie_match(clusters, truth_of(clusters))[
        "cluster"])
    by_labels = strongest(shifted, [30, 31, 32])
    np.testing.assert_array_equal(by_labels["cluster"], strongest(clusters, 3)["cluster"])
    with pytest.raises(RadarspFileError, match="30..32, none of them among the frames asked"):
        strongest(shifted, 3)


def cfar_clusters(labels, *, chunk=None, seed=0):
    """Real CFAR + DBSCAN clusters of random maps with frame labels ``labels``; a strong
    point target in every frame but the second (which has no detections at all)."""
    from radarsp.cfar import cfar, detections
    from radarsp.cluster import cluster

    rng = np.random.default_rng(seed)
    values = rng.exponential(1.0, (len(labels), 40, 16))
    values[np.arange(len(labels)) != 1, 20, 8] = 1e6
    power = xr.DataArray(values, dims=("frame", "range", "angle"),
                         coords={"frame": labels, "range": np.arange(40) * 0.5 + 1.0,
                                 "angle": np.linspace(-1, 1, 16)})
    source = power.chunk({"frame": chunk}) if chunk else power
    table = detections(cfar(source, guard=(1, 1), train=(4, 4), pfa=1e-9), power)
    return cluster(table, eps=(1.0, 1.0), min_samples=1)


@pytest.mark.parametrize("chunk", [None, 2])
def test_cfar_records_the_frames_searched(chunk):
    labels = [40, 41, 42, 43, 44]
    clusters = cfar_clusters(labels, chunk=chunk)
    assert clusters["searched_frame"].values.tolist() == labels
    assert 41 not in clusters["frame"].values  # the frame without detections
    # a truth far longer than the frames searched: only the searched frames are reported
    truth = xr.Dataset({"target_x": ("frame", np.zeros(100)),
                        "target_y": ("frame", np.full(100, 11.0))})
    est = genie_match(clusters, truth)
    assert est["frame"].values.tolist() == labels
    assert est["cluster"].values[1] == -1 and (est["cluster"].values[[0, 2, 3, 4]] >= 0).all()
    assert est.attrs["labels_used"] == 5 and est.attrs["genie"] == 1
    assert strongest(clusters)["frame"].values.tolist() == labels


def test_frame_count_without_labels_is_used_only_when_it_names_the_frames():
    clusters = make_clusters(4, seed=8, empty=(3,)).drop_vars(["target_x", "target_y"])
    clusters.attrs["frame_count"] = 4
    truth = xr.Dataset({"target_x": ("frame", np.zeros(9)), "target_y": ("frame", np.ones(9))})
    # rows in frames 0..2 of 4 searched: the frames are 0..3, and frames 4..8 are not misses
    assert genie_match(clusters, truth)["frame"].values.tolist() == [0, 1, 2, 3]
    # labelled 50.. the count no longer says which frames: a longer truth is ambiguous
    shifted = clusters.assign_coords(frame=("cluster", clusters["frame"].values + 50))
    with pytest.raises(RadarspFileError, match="does not say which"):
        genie_match(shifted, truth.assign_coords(frame=np.arange(50, 59)))
    # ... and a truth of just those frames is fine
    est = genie_match(shifted, truth.isel(frame=slice(0, 4)).assign_coords(frame=[50, 51, 52,
                                                                                 53]))
    assert est["frame"].values.tolist() == [50, 51, 52, 53]
    # no record at all: strongest needs to be told the frames
    bare = clusters.copy()
    del bare.attrs["frame_count"]
    with pytest.raises(RadarspFileError, match="does not say which frames were searched"):
        strongest(bare)
    assert strongest(bare, 4)["cluster"].values[3] == -1


def test_a_record_that_contradicts_itself_or_the_rows_is_refused():
    clusters = make_clusters(4, seed=9).drop_vars(["target_x", "target_y"])
    labelled = clusters.assign_coords(searched_frame=[0, 1, 2, 3])
    with pytest.raises(RadarspFileError, match="frame_count says 5"):
        strongest(labelled.assign_attrs(frame_count=5))
    with pytest.raises(RadarspFileError, match="searched_frame.*frame label 1 appears 2"):
        strongest(clusters.assign_coords(searched_frame=[0, 1, 1, 3]))
    frame = clusters["frame"].values
    with pytest.raises(RadarspFileError, match="which is not among the frames searched"):
        strongest(labelled.assign_coords(frame=("cluster", np.where(frame == 0, 9, frame))))
    with pytest.raises(RadarspFileError, match="frame_count"):
        strongest(clusters.assign_attrs(frame_count="many"))


def test_cross_domain_reports_only_frames_both_detectors_searched():
    ra = make_clusters(6, seed=10).drop_vars(["target_x", "target_y"])
    ra = ra.assign_coords(searched_frame=np.arange(6))
    rd = rd_table([0, 2, 4], [5.0, 6.0, 7.0], [1.0, 1.0, 1.0]).assign_coords(
        searched_frame=[0, 1, 2, 3, 4])
    est = cross_domain_match(ra, rd, range_tol=100.0)
    assert est["frame"].values.tolist() == [0, 1, 2, 3, 4]  # frame 5: no Doppler map
    assert (est["cluster"].values[[1, 3]] == -1).all()
    assert est.attrs["genie"] == 0 and est.attrs["camera_geometry"] == "none"
    truth = xr.Dataset({"target_x": ("frame", np.zeros(3)), "target_y": ("frame", np.ones(3))},
                       coords={"frame": [4, 2, 9]})
    genie = cross_domain_match(ra, rd, range_tol=100.0, truth=truth)
    assert genie["frame"].values.tolist() == [4, 2]
    assert genie.attrs["genie"] == 1 and genie.attrs["labels_used"] == 2


def test_carried_truth_follows_frame_labels():
    from radarsp.match import carry_truth

    clusters = make_clusters(5, seed=11)
    truth = truth_of(clusters).assign_coords(frame=np.arange(5))
    shuffled = truth.isel(frame=[3, 0, 4, 1, 2])
    est = genie_match(clusters, shuffled)
    assert est["frame"].values.tolist() == [3, 0, 4, 1, 2]
    np.testing.assert_array_equal(est["target_x"], shuffled["target_x"])
    np.testing.assert_array_equal(est["cluster"],
                                  genie_match(clusters, truth)["cluster"].values[[3, 0, 4, 1, 2]])
    plain = strongest(clusters.drop_vars(["target_x", "target_y"]), 5)
    carried = carry_truth(plain, shuffled)
    np.testing.assert_array_equal(carried["target_x"], truth["target_x"])
    with pytest.raises(RadarspFileError, match="no truth for frame 4"):
        carry_truth(strongest(clusters.drop_vars(["target_x", "target_y"]), 5),
                    truth.isel(frame=slice(0, 4)))
