"""Figures: the right overlays at the right places, CDF curves, atomic saving."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402

from radarsp.plot import (  # noqa: E402
    check_figure_path,
    plot_error_cdf,
    plot_heatmap,
    save_figure,
)


@pytest.fixture
def heatmap():
    ranges = np.linspace(1.0, 40.0, 40)
    angles = np.linspace(-1.0, 1.0, 33)
    power = np.full((2, ranges.size, angles.size), 1e-3, dtype=np.float32)
    power[1, 20, 16] = 1.0
    return xr.Dataset(
        {"power": (("frame", "range", "angle"), power),
         "target_range": ("frame", [10.0, ranges[20]]),
         "target_angle": ("frame", [0.2, 0.0])},
        coords={"range": ranges, "angle": angles},
    )


def test_overlays_land_where_the_tables_say(heatmap):
    det = xr.Dataset({"range": ("detection", [21.0, 21.5, 5.0]),
                      "angle": ("detection", [0.0, 0.05, 0.3]),
                      "x": ("detection", [0.0, 1.07, 1.48]),
                      "y": ("detection", [21.0, 21.47, 4.78])},
                     coords={"frame": ("detection", [1, 1, 0])})
    clusters = xr.Dataset({"range": ("cluster", [21.2]), "angle": ("cluster", [0.02]),
                           "x": ("cluster", [0.4]), "y": ("cluster", [21.2])},
                          coords={"frame": ("cluster", [1])})
    est = xr.Dataset({"range": ("frame", [np.nan, 21.2]), "angle": ("frame", [np.nan, 0.02]),
                      "x": ("frame", [np.nan, 0.4]), "y": ("frame", [np.nan, 21.2])},
                     attrs={"method": "genie"})
    fig = plot_heatmap(heatmap, 1, detections=det, clusters=clusters, estimate=est, view="both")
    polar, cartesian = fig.axes[:2]
    labels = [c.get_label() for c in polar.collections[1:]]
    assert labels == ["CFAR detections", "cluster centroids", "estimate (genie)", "truth"]
    # only frame 1's two detections, in degrees over metres
    np.testing.assert_allclose(polar.collections[1].get_offsets(),
                               [[0.0, 21.0], [np.degrees(0.05), 21.5]])
    np.testing.assert_allclose(cartesian.collections[1].get_offsets(),
                               [[0.0, 21.0], [1.07, 21.47]])
    # the colour scale is dB relative to the frame peak
    mesh = polar.collections[0]
    assert mesh.get_array().max() == pytest.approx(0.0)
    assert mesh.get_clim() == (-40.0, 0.0)
    fig.clf()


def test_missed_estimate_is_not_drawn(heatmap):
    est = xr.Dataset({"range": ("frame", [np.nan, 1.0]), "angle": ("frame", [np.nan, 0.0]),
                      "x": ("frame", [np.nan, 0.0]), "y": ("frame", [np.nan, 1.0])})
    fig = plot_heatmap(heatmap, 0, estimate={"a": est}, truth=False)
    assert len(fig.axes[0].collections) == 1


def test_estimates_are_matched_by_frame_label_not_position(heatmap):
    heatmap = heatmap.assign_coords(frame=[10, 11])
    # an estimates table covering other, fewer frames: labels 11 and 12
    est = xr.Dataset({"range": ("frame", [21.2, 5.0]), "angle": ("frame", [0.02, 0.3]),
                      "x": ("frame", [0.4, 1.5]), "y": ("frame", [21.2, 4.8])},
                     coords={"frame": [11, 12]})

    def stars(position):
        fig = plot_heatmap(heatmap, position, estimate={"a": est}, truth=False)
        found = [c.get_offsets().tolist() for c in fig.axes[0].collections[1:]
                 if c.get_label() == "estimate (a)"]
        fig.clf()
        return found

    assert stars(1) == [[[np.degrees(0.02), 21.2]]]  # label 11: the table's first row
    assert stars(0) == []  # label 10 is not in the table: no star (and no IndexError)
    # without frame coordinates the labels are positions: a one-frame table has frame 0 only
    short = est.drop_vars("frame").isel(frame=[0])
    fig = plot_heatmap(heatmap.drop_vars("frame"), 1, estimate={"a": short}, truth=False)
    assert len(fig.axes[0].collections) == 1
    fig.clf()


def test_save_figure_refuses_an_unknown_format_before_writing(tmp_path, heatmap):
    with pytest.raises(ValueError, match=r"fig\.xyz: figure format 'xyz' not supported; "
                                         r"use one of png, pdf, svg, "):
        save_figure(plot_heatmap(heatmap, 1), tmp_path / "fig.xyz")
    assert list(tmp_path.iterdir()) == []
    assert check_figure_path(tmp_path / "fig") == "png"
    assert check_figure_path("a.b/Fig.PDF") == "pdf"


def test_bad_arguments(heatmap):
    with pytest.raises(ValueError, match="out of range"):
        plot_heatmap(heatmap, 5)
    with pytest.raises(ValueError, match="view"):
        plot_heatmap(heatmap, 0, view="3d")


def test_error_cdf_curves_stop_at_one_minus_miss_rate():
    fig = plot_error_cdf({"genie": [0.5, 1.0, 2.0, 4.0], "strongest": [1.0, np.nan, 8.0, 2.0]})
    lines = [line for line in fig.axes[0].get_lines() if line.get_label().startswith(("g", "s"))]
    assert lines[0].get_ydata()[-1] == pytest.approx(1.0)
    assert lines[1].get_ydata()[-1] == pytest.approx(0.75)
    assert "90th inf m" in lines[1].get_label()


def test_save_figure_is_atomic_and_refuses_overwrite(tmp_path, heatmap):
    path = tmp_path / "fig.png"
    save_figure(plot_heatmap(heatmap, 1), path)
    assert path.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(FileExistsError):
        save_figure(plot_heatmap(heatmap, 1), path)
    save_figure(plot_heatmap(heatmap, 0), path, force=True)
    assert [p.name for p in tmp_path.iterdir()] == ["fig.png"]
