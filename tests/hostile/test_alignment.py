"""Tables and truth meet by frame label, never by position (issue #13, items 2, 4, 7, 11).

Every input is generated here: a heatmap-1 truth whose frames are labelled 100, 101, ... (so
a positional pairing cannot pass by luck), estimates written with plain xarray as another
tool would (reordered, partial, foreign, with repeated or float labels), and clusters made
by the real CFAR + DBSCAN chain. Commands run in-process (``invoke``) and as subprocesses
(``run_cli``).
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from radarsp.errors import RadarspFileError
from tests.hostile.conftest import assert_refused, invoke, run_cli

LABELS = np.arange(100, 120)  # truth frames
OFFSET = (3.0, 4.0)  # every estimate is 5 m off its frame's truth


def truth_dataset(labels=LABELS, seed=0) -> xr.Dataset:
    """A small heatmap-1 with ground truth, frames labelled ``labels``."""
    rng = np.random.default_rng(seed)
    n = len(labels)
    target_range, target_angle = rng.uniform(5, 25, n), rng.uniform(-0.8, 0.8, n)
    ds = xr.Dataset(
        {"power": (("frame", "range", "angle"), rng.exponential(1.0, (n, 40, 16)).astype("f4")),
         "target_range": ("frame", target_range, {"units": "m"}),
         "target_angle": ("frame", target_angle, {"units": "rad"}),
         "target_x": ("frame", target_range * np.sin(target_angle), {"units": "m"}),
         "target_y": ("frame", target_range * np.cos(target_angle), {"units": "m"})},
        coords={"frame": ("frame", np.asarray(labels), {"units": "1"}),
                "range": ("range", np.linspace(1, 30, 40), {"units": "m"}),
                "angle": ("angle", np.linspace(-1.2, 1.2, 16), {"units": "rad"})},
        attrs={"radarsp_schema": "heatmap-1"})
    return ds


def estimates_dataset(truth: xr.Dataset, frames=None, *, method="tool", attrs=None,
                      labels=None) -> xr.Dataset:
    """Estimates 5 m off the truth of ``frames`` (labels; all by default), in that row order,
    labelled ``labels`` (default: the frames themselves; None keeps no coordinate)."""
    frames = truth["frame"].values if frames is None else np.asarray(frames)
    picked = truth.sel(frame=frames)
    x = picked["target_x"].values + OFFSET[0]
    y = picked["target_y"].values + OFFSET[1]
    columns = {"range": np.hypot(x, y), "angle": np.arctan2(x, y), "x": x, "y": y,
               "power": np.ones(len(frames))}
    units = {"range": "m", "angle": "rad", "x": "m", "y": "m", "power": "1"}
    ds = xr.Dataset({k: ("frame", v, {"units": units[k]}) for k, v in columns.items()},
                    attrs={"radarsp_schema": "estimates-1", "method": method, **(attrs or {})})
    coordinate = frames if labels is None else labels
    if coordinate is not False:
        ds = ds.assign_coords(frame=("frame", np.asarray(coordinate), {"units": "1"}))
    return ds


@pytest.fixture
def truth_path(tmp_path):
    path = tmp_path / "truth.nc"
    truth_dataset().to_netcdf(path)
    return path


def write(ds: xr.Dataset, path):
    ds.to_netcdf(path)  # as another tool would: no radarsp validation on the way out
    return path


def table_rows(stdout: str) -> dict[str, list[str]]:
    lines = [line for line in stdout.splitlines() if line.strip()]
    return {line.split()[0]: line.split() for line in lines[1:]}


# -- evaluate ------------------------------------------------------------------------------

@pytest.mark.parametrize("runner", [invoke, run_cli])
def test_evaluate_scores_reordered_estimates_the_same(tmp_path, truth_path, runner):
    truth = truth_dataset()
    ordered = write(estimates_dataset(truth, method="ordered"), tmp_path / "a.nc")
    shuffled_frames = np.random.default_rng(1).permutation(LABELS)
    reverse = write(estimates_dataset(truth, LABELS[::-1], method="reversed"), tmp_path / "b.nc")
    shuffled = write(estimates_dataset(truth, shuffled_frames, method="shuffled"),
                     tmp_path / "c.nc")
    result = runner("evaluate", ordered, reverse, shuffled, "--truth", truth_path,
                    "--n-boot", "200")
    assert result.status == 0, result.stderr
    rows = table_rows(result.stdout)
    assert rows["ordered"][1:] == rows["reversed"][1:] == rows["shuffled"][1:]
    # every frame is exactly 5 m off: both percentiles and their intervals are 5.00
    assert rows["ordered"][3:5] == ["20", "5.00"] and rows["ordered"][-2:] == ["0.0", "%"]


@pytest.mark.parametrize("runner", [invoke, run_cli])
def test_evaluate_refuses_a_truth_sharing_no_frame(tmp_path, truth_path, runner):
    other = write(truth_dataset(labels=np.arange(20)), tmp_path / "other.nc")
    est = write(estimates_dataset(truth_dataset()), tmp_path / "est.nc")
    figure = tmp_path / "cdf.png"
    result = runner("evaluate", est, "--truth", other, "--plot", figure)
    assert_refused(result, "est.nc", "shares no frame", "other.nc", outputs=[figure])
    assert result.stdout == ""


def test_evaluate_refuses_estimates_for_frames_the_truth_lacks(tmp_path):
    truth = truth_dataset()
    short = write(truth.isel(frame=slice(0, 10)), tmp_path / "short.nc")
    est = write(estimates_dataset(truth), tmp_path / "est.nc")
    result = run_cli("evaluate", est, "--truth", short)
    assert_refused(result, "est.nc", "10 of its 20 frames are not in", "frame 110")


@pytest.mark.parametrize("runner", [invoke, run_cli])
def test_frames_without_a_row_are_misses(tmp_path, truth_path, runner):
    truth = truth_dataset()
    kept = LABELS[5:][::-1]  # 15 of 20 frames, reversed
    est = write(estimates_dataset(truth, kept, method="partial"), tmp_path / "est.nc")
    result = runner("evaluate", est, "--truth", truth_path, "--n-boot", "0")
    assert result.status == 0, result.stderr
    row = table_rows(result.stdout)["partial"]
    assert row[3] == "20" and row[4] == "5.00" and row[-2:] == ["25.0", "%"]
    assert row[5] == "inf"  # the 90th percentile falls among the misses
    assert "no row for 5 of the 20 truth frames" in result.stderr


@pytest.mark.parametrize("where", ["estimates", "truth"])
def test_repeated_frame_labels_are_refused(tmp_path, truth_path, where):
    truth = truth_dataset()
    labels = LABELS.copy()
    labels[7] = labels[3]  # frame 103 twice
    if where == "estimates":
        est = write(estimates_dataset(truth, labels=labels), tmp_path / "est.nc")
        bad, reference = est, truth_path
    else:
        est = write(estimates_dataset(truth), tmp_path / "est.nc")
        bad = reference = write(truth.assign_coords(frame=labels), tmp_path / "dup.nc")
    runner = run_cli if where == "estimates" else invoke
    assert_refused(runner("evaluate", est, "--truth", reference), bad.name, "103")


def test_repeated_labels_of_in_memory_datasets_are_refused():
    from radarsp.metrics import localisation_error

    truth = truth_dataset()
    est = estimates_dataset(truth)
    repeated = est.assign_coords(frame=np.r_[LABELS[:-1], LABELS[0]])
    with pytest.raises(RadarspFileError, match="frame label 100 appears 2 times") as error:
        localisation_error(repeated, truth)
    assert "\n" not in str(error.value)
    with pytest.raises(RadarspFileError, match="frame label 100 appears 2 times"):
        localisation_error(est, truth.assign_coords(frame=np.r_[LABELS[:-1], LABELS[0]]))


def test_float_labels_of_another_writer_match_integer_labels(tmp_path, truth_path):
    truth = truth_dataset()
    est = write(estimates_dataset(truth, LABELS[::-1], labels=LABELS[::-1].astype("f8"),
                                  method="floats"), tmp_path / "est.nc")
    result = invoke("evaluate", est, "--truth", truth_path, "--n-boot", "0")
    assert result.status == 0, result.stderr
    assert table_rows(result.stdout)["floats"][3:5] == ["20", "5.00"]


def test_estimates_without_a_frame_coordinate_are_frames_0_to_n(tmp_path, truth_path):
    truth = truth_dataset()
    est = write(estimates_dataset(truth, labels=False, method="bare"), tmp_path / "est.nc")
    # labels 0..19 against truth 100..119: nothing in common
    assert_refused(invoke("evaluate", est, "--truth", truth_path), "est.nc", "shares no frame")
    zero = write(truth.assign_coords(frame=np.arange(20)), tmp_path / "zero.nc")
    result = invoke("evaluate", est, "--truth", zero, "--n-boot", "0")
    assert result.status == 0, result.stderr
    assert table_rows(result.stdout)["bare"][3:5] == ["20", "5.00"]


def test_carried_truth_with_repeated_labels_is_refused(tmp_path):
    truth = truth_dataset()
    est = estimates_dataset(truth)
    for name in ("target_x", "target_y"):
        est[name] = truth[name]
    est = est.assign_coords(frame=np.r_[LABELS[1:], LABELS[1]])
    assert_refused(invoke("evaluate", write(est, tmp_path / "est.nc")), "est.nc", "101")


def test_a_huge_n_boot_is_a_one_line_usage_error_or_runs_in_bounded_memory(tmp_path,
                                                                            truth_path):
    est = write(estimates_dataset(truth_dataset(), method="m"), tmp_path / "est.nc")
    assert_refused(run_cli("evaluate", est, "--truth", truth_path, "--n-boot", "1e8"),
                   "--n-boot", status=2)
    # a large count runs blockwise (memory is covered in tests/radarsp/test_metrics.py)
    result = invoke("evaluate", est, "--truth", truth_path, "--n-boot", "100000")
    assert result.status == 0, result.stderr
    assert table_rows(result.stdout)["m"][3:6] == ["20", "5.00", "[5.00,"]


def test_evaluate_prints_what_each_method_used(tmp_path, truth_path):
    truth = truth_dataset()
    files = [
        write(estimates_dataset(truth, method="cfar-genie",
                                attrs={"genie": 1, "labels_used": 20, "camera_geometry": "none"}),
              tmp_path / "g.nc"),
        write(estimates_dataset(truth, method="fusion",
                                attrs={"genie": 0, "labels_used": 0,
                                       "camera_geometry": "pinhole intrinsics + pose"}),
              tmp_path / "f.nc"),
        write(estimates_dataset(truth, method="foreign"), tmp_path / "x.nc"),
    ]
    result = run_cli("evaluate", *files, "--truth", truth_path, "--n-boot", "0")
    assert result.status == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["method", "labels", "camera", "frames"]
    rows = table_rows(result.stdout)
    assert rows["cfar-genie"][1:3] == ["genie", "none"]
    assert rows["fusion"][1] == "0" and "pinhole intrinsics + pose" in lines[2]
    assert rows["foreign"][1:3] == ["unknown", "unknown"]


# -- match ---------------------------------------------------------------------------------

def real_clusters(labels, seed=0) -> xr.Dataset:
    """CFAR + DBSCAN (the library's real kernels) on random maps labelled ``labels``, with a
    strong point at each frame's truth; the frame at position 1 has no target at all."""
    from radarsp.cfar import cfar, detections
    from radarsp.cluster import cluster

    heat = truth_dataset(labels=labels, seed=seed)
    power = heat["power"].values.astype(float)
    ranges, angles = heat["range"].values, heat["angle"].values
    for i in range(len(labels)):
        if i != 1:
            r = np.abs(ranges - heat["target_range"].values[i]).argmin()
            a = np.abs(angles - heat["target_angle"].values[i]).argmin()
            power[i, r, a] = 1e6
    heat["power"] = (("frame", "range", "angle"), power)
    table = detections(cfar(heat["power"], guard=(1, 1), train=(4, 4), pfa=1e-9),
                       heat["power"])
    return cluster(table, eps=(2.0, 2.0), min_samples=1)


@pytest.fixture
def clusters_path(tmp_path):
    from radarsp.io import save

    return save(real_clusters(LABELS[:10]), tmp_path / "clusters.nc")


@pytest.mark.parametrize("runner", [invoke, run_cli])
def test_match_invents_no_misses_for_frames_never_searched(tmp_path, truth_path,
                                                           clusters_path, runner):
    from radarsp.io import open_estimates

    out = tmp_path / "genie.nc"
    result = runner("match", clusters_path, "--truth", truth_path, "-o", out)
    assert result.status == 0, result.stderr
    assert "10 truth frames were never searched" in result.stderr
    est = open_estimates(out)
    assert est["frame"].values.tolist() == LABELS[:10].tolist()
    # one miss: the frame without a target, not the ten frames CFAR never saw
    assert (est["cluster"].values < 0).tolist() == [i == 1 for i in range(10)]
    assert est.attrs["genie"] == 1 and est.attrs["labels_used"] == 10
    assert est.attrs["camera_geometry"] == "none"
    # evaluated against the long truth, the frames never searched are misses there
    result = invoke("evaluate", out, "--truth", truth_path, "--n-boot", "0")
    row = table_rows(result.stdout)["genie"]
    assert row[1:4] == ["genie", "none", "20"] and row[-2:] == ["55.0", "%"]
    # and against its own frames (the truth it carries) only the real miss remains
    result = invoke("evaluate", out, "--n-boot", "0")
    assert table_rows(result.stdout)["genie"][3:4] == ["10"]
    assert table_rows(result.stdout)["genie"][-2:] == ["10.0", "%"]


def test_match_reports_the_truth_frames_of_a_subset(tmp_path, clusters_path):
    from radarsp.io import open_estimates

    truth = truth_dataset()
    subset = write(truth.sel(frame=[107, 103, 105]), tmp_path / "subset.nc")
    for strategy in ("genie", "strongest"):
        out = tmp_path / f"{strategy}.nc"
        result = invoke("match", clusters_path, "--truth", subset, "--strategy", strategy,
                        "-o", out)
        assert result.status == 0, result.stderr
        est = open_estimates(out)
        assert est["frame"].values.tolist() == [107, 103, 105]
        np.testing.assert_array_equal(est["target_x"], truth["target_x"].sel(
            frame=[107, 103, 105]))
    assert open_estimates(tmp_path / "strongest.nc").attrs["genie"] == 0
    assert open_estimates(tmp_path / "strongest.nc").attrs["labels_used"] == 0


@pytest.mark.parametrize("runner", [invoke, run_cli])
def test_match_refuses_a_truth_sharing_no_frame(tmp_path, clusters_path, runner):
    other = write(truth_dataset(labels=np.arange(20)), tmp_path / "other.nc")
    out = tmp_path / "e.nc"
    result = runner("match", clusters_path, "--truth", other, "-o", out)
    assert_refused(result, "clusters.nc", "searched 10 frames, 100..109",
                   "none of them among the truth's frames", outputs=[out])


def test_match_refuses_a_table_that_cannot_say_which_frames_it_searched(tmp_path, truth_path):
    from radarsp.io import save

    table = real_clusters(LABELS[:10]).drop_vars("searched_frame")
    counted = save(table, tmp_path / "counted.nc")  # frame_count 10, rows in 100..109
    out = tmp_path / "e.nc"
    assert_refused(invoke("match", counted, "--truth", truth_path, "-o", out),
                   "counted.nc", "does not say which", outputs=[out])
    del table.attrs["frame_count"]
    bare = save(table, tmp_path / "bare.nc")  # a clusters table from another tool
    assert_refused(invoke("match", bare, "--strategy", "strongest", "-o", out),
                   "bare.nc", "pass the truth", outputs=[out])
    result = invoke("match", bare, "--strategy", "strongest", "--truth", truth_path, "-o", out)
    assert result.status == 0, result.stderr


def test_match_refuses_rows_in_frames_never_searched(tmp_path, truth_path):
    from radarsp.io import save

    table = real_clusters(LABELS[:10])
    frame = table["frame"].values.copy()
    frame[0] = 150
    broken = save(table.assign_coords(frame=("cluster", frame)), tmp_path / "broken.nc")
    assert_refused(run_cli("match", broken, "--truth", truth_path, "-o", tmp_path / "e.nc"),
                   "broken.nc", "frame 150", "not among the frames searched",
                   outputs=[tmp_path / "e.nc"])


# -- plot ------------------------------------------------------------------------------------

def star_points(figure) -> dict[str, np.ndarray]:
    """x-y of the estimate stars drawn on the polar view, by legend label."""
    axis = figure.axes[0]
    return {c.get_label(): c.get_offsets()[0] for c in axis.collections
            if c.get_label().startswith("estimate")}


def test_plot_draws_the_estimate_of_the_frame_by_label():
    from radarsp.plot import plot_heatmap

    truth = truth_dataset()
    ordered = estimates_dataset(truth, method="ordered")
    shuffled = estimates_dataset(truth, np.random.default_rng(4).permutation(LABELS),
                                 method="shuffled")
    figure = plot_heatmap(truth, 6, estimate={"a": ordered, "b": shuffled}, view="polar")
    stars = star_points(figure)
    expected = [np.degrees(ordered["angle"].values[6]), ordered["range"].values[6]]
    np.testing.assert_allclose(stars["estimate (a)"], expected)
    np.testing.assert_allclose(stars["estimate (b)"], expected)


def test_plot_refuses_tables_of_other_frames(tmp_path, truth_path, clusters_path):
    truth = truth_dataset()
    foreign = write(estimates_dataset(truth, labels=np.arange(20)), tmp_path / "foreign.nc")
    out = tmp_path / "f.png"
    assert_refused(run_cli("plot", truth_path, "--frame", "3", "--estimates", foreign,
                           "-o", out), "foreign.nc", "shares no frame", outputs=[out])
    # frame 15 (label 115) was never searched by the detector that made the clusters
    assert_refused(invoke("plot", truth_path, "--frame", "15", "--clusters", clusters_path,
                          "-o", out), "clusters.nc", "frame 115", "never searched",
                   outputs=[out])
    result = invoke("plot", truth_path, "--frame", "3", "--clusters", clusters_path, "-o", out)
    assert result.status == 0, result.stderr


# -- learning --------------------------------------------------------------------------------

def test_estimate_cells_follow_frame_labels():
    from radarsp_learn.data import estimate_cells, frame_values
    from radarsp_learn.grid import Grid

    truth = truth_dataset()
    grid = Grid.from_dataset(truth, (16, 16))
    est = estimates_dataset(truth)
    cells = estimate_cells(est, truth, grid)
    shuffled = est.isel(frame=np.random.default_rng(5).permutation(20))
    np.testing.assert_array_equal(estimate_cells(shuffled, truth, grid), cells)
    # labels of a superset train a subset; frames without a label are unlabelled (NaN)
    subset = truth.isel(frame=[4, 2])
    np.testing.assert_array_equal(estimate_cells(est, subset, grid), cells[[4, 2]])
    partial = estimate_cells(est.isel(frame=slice(0, 10)), truth, grid)
    assert np.isnan(partial[10:]).all() and np.array_equal(partial[:10], cells[:10])
    with pytest.raises(RadarspFileError, match="shares no frame"):
        estimate_cells(est.assign_coords(frame=np.arange(20)), truth, grid)
    with pytest.raises(RadarspFileError, match="frame label 100 appears 2 times"):
        estimate_cells(est.assign_coords(frame=np.r_[LABELS[:-1], 100]), truth, grid)
    with pytest.raises(RadarspFileError, match="appears 2 times"):
        frame_values(truth.assign_coords(frame=np.r_[LABELS[:-1], 100]))


def test_label_deviation_of_reordered_self_labels_is_unchanged():
    from radarsp.metrics import label_deviation

    truth = truth_dataset()
    est = estimates_dataset(truth)
    shuffled = est.isel(frame=np.random.default_rng(6).permutation(20))
    xr.testing.assert_identical(label_deviation(shuffled, truth, bins=8),
                                label_deviation(est, truth, bins=8))
    with pytest.raises(RadarspFileError, match="shares no frame"):
        label_deviation(est.assign_coords(frame=np.arange(20)), truth)


def test_labels_of_any_kind_align_and_broken_ones_are_refused(tmp_path, truth_path):
    from radarsp.match import strongest
    from radarsp.metrics import localisation_error

    truth = truth_dataset()
    names = np.array([f"scene-{label}" for label in LABELS])  # string labels of another tool
    named_truth = truth.assign_coords(frame=names)
    est = estimates_dataset(truth).assign_coords(frame=names).isel(frame=slice(None, None, -1))
    np.testing.assert_allclose(localisation_error(est, named_truth), 5.0)
    with pytest.raises(RadarspFileError, match="shares no frame"):
        localisation_error(est, truth)  # strings never equal numbers
    nan_labels = write(estimates_dataset(truth, labels=np.r_[LABELS[:-1], np.nan]),
                       tmp_path / "nan.nc")
    assert_refused(invoke("evaluate", nan_labels, "--truth", truth_path), "nan.nc",
                   "frame label NaN")
    table = real_clusters(LABELS[:4]).drop_vars("searched_frame")
    frame = table["frame"].values.astype(float)
    frame[0] = np.nan
    with pytest.raises(RadarspFileError, match="frame nan in a row"):
        strongest(table.assign_coords(frame=("cluster", frame)))


def test_study_report_mask_iou_pairs_boxes_by_frame_label(tmp_path):
    from types import SimpleNamespace

    from radarsp.io import save
    from radarsp_learn.study_report import _mask_iou

    truth = truth_dataset()
    boxes = np.stack([np.arange(20), np.zeros(20), np.arange(20) + 3, np.full(20, 3)], axis=1)
    truth["target_box"] = (("frame", "box"), boxes.astype("f8"), {"units": "pixel"})
    (tmp_path / "data").mkdir()
    save(truth, tmp_path / "data" / "train.nc")
    # the estimated boxes are exact, written in reverse frame order
    save(truth.isel(frame=slice(None, None, -1)), tmp_path / "data" / "train-background.nc")
    assert _mask_iou(SimpleNamespace(root=tmp_path)) == {
        "background": "1.00 median, 100 % > 0.5"}
