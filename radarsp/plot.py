"""Matplotlib figures: a heatmap frame with its detections, clusters, estimates and truth, and
localisation-error CDFs of several methods on one axis (the paper's Fig. 5 style).

matplotlib is imported inside the functions (with the non-interactive Agg backend when no
backend was chosen), so ``import radarsp`` stays light. Power is shown in dB relative to the
frame's peak; angles in degrees.
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Mapping
from typing import Literal

import numpy as np
import xarray as xr

from radarsp.errors import RadarspFileError
from radarsp.frames import align, describe, frame_labels, locate, searched_frames, source
from radarsp.geometry import polar_to_cartesian

View = Literal["polar", "cartesian", "both"]

# marker styles of the overlays: (marker, size, face colour, edge colour)
_STYLE = {
    "detections": dict(marker=".", s=10, c="white", edgecolors="none", alpha=0.8),
    "clusters": dict(marker="x", s=50, c="cyan", linewidths=1.5),
    "truth": dict(marker="o", s=110, facecolors="none", edgecolors="lime", linewidths=2),
}
_ESTIMATE_COLOURS = ("red", "orange", "magenta", "yellow")


def _pyplot():
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _edges(centres: np.ndarray) -> np.ndarray:
    """Bin edges halfway between monotonic bin centres (end bins mirrored)."""
    centres = np.asarray(centres, dtype=float)
    if centres.size == 1:
        return centres + np.array([-0.5, 0.5])
    middle = (centres[1:] + centres[:-1]) / 2
    return np.r_[2 * centres[0] - middle[0], middle, 2 * centres[-1] - middle[-1]]


def _rows(table: xr.Dataset | None, label, dim: str) -> xr.Dataset | None:
    """Rows of a detections/clusters table whose ``frame`` column equals ``label``.

    A table that says which frames it searched (:func:`radarsp.frames.searched_frames`) and
    never searched this one is refused: drawing no detections would say none were found.
    """
    if table is None:
        return None
    if "frame" not in table.variables or table["frame"].dims != (dim,):
        raise RadarspFileError(source(table), "frame", f"expected dims ({dim},)")
    searched, _ = searched_frames(table)
    if searched is not None and locate([label], searched)[0] < 0:
        raise RadarspFileError(source(table), "frame",
                               f"frame {label} of the heatmap was never searched (the table "
                               f"covers {describe(searched)}); expected the table of this "
                               "heatmap")
    return table.isel({dim: np.flatnonzero(locate(table["frame"].values, [label]) >= 0)})


def _estimate_rows(tables: Mapping[str, xr.Dataset], heatmap: xr.Dataset,
                   frame: int) -> dict[str, xr.Dataset | None]:
    """Each estimates table's row for heatmap frame position ``frame``, matched by frame label.

    Tables may cover other or fewer frames than the heatmap (no star where a table lacks the
    frame), but a table sharing no frame with the heatmap, or repeating a label, is refused
    (:func:`radarsp.frames.align`).
    """
    rows = {}
    for name, table in tables.items():
        row = align(table, heatmap, extra="ignore")[frame]
        rows[name] = table.isel(frame=int(row)) if row >= 0 else None
    return rows


def _points(table: xr.Dataset, polar: bool) -> tuple[np.ndarray, np.ndarray]:
    if polar:
        return np.degrees(np.asarray(table["angle"].values, float)), table["range"].values
    return table["x"].values, table["y"].values


def _truth_point(heatmap: xr.Dataset, frame: int):
    if "target_range" in heatmap and "target_angle" in heatmap:
        r = float(heatmap["target_range"][frame])
        a = float(heatmap["target_angle"][frame])
        x, y = polar_to_cartesian(r, a)
        return {"range": np.array([r]), "angle": np.array([a]), "x": np.array([x]),
                "y": np.array([y])}
    return None


def _draw(ax, heatmap, frame, *, polar, detections, clusters, estimate_rows, truth,
          dynamic_range):
    power = np.asarray(heatmap["power"].isel(frame=frame).transpose("range", "angle").values,
                       dtype=float)
    db = 10 * np.log10(np.maximum(power, np.finfo(float).tiny) / max(power.max(), 1e-300))
    range_edges = _edges(heatmap["range"].values)
    # Mirrored end edges may pass ±90°, which would fold the x-y view over itself.
    angle_edges = np.clip(_edges(heatmap["angle"].values), -np.pi / 2, np.pi / 2)
    if polar:
        mesh = ax.pcolormesh(np.degrees(angle_edges), range_edges, db, shading="flat",
                             vmin=-dynamic_range, vmax=0, cmap="viridis")
        ax.set_xlabel("angle (deg)")
        ax.set_ylabel("range (m)")
    else:
        grid_x, grid_y = polar_to_cartesian(range_edges[:, None], angle_edges[None, :])
        mesh = ax.pcolormesh(grid_x, grid_y, db, shading="flat", vmin=-dynamic_range, vmax=0,
                             cmap="viridis")
        ax.set_xlabel("x (m)")
        ax.set_ylabel("y (m)")
        ax.set_aspect("equal")
    ax.figure.colorbar(mesh, ax=ax, label="power (dB re frame peak)")
    # Table rows name frames by the heatmap's frame label (0, 1, ... unless offset).
    label = frame_labels(heatmap)[frame]
    rows = _rows(detections, label, "detection")
    if rows is not None and rows.sizes["detection"]:
        ax.scatter(*_points(rows, polar), label="CFAR detections", **_STYLE["detections"])
    rows = _rows(clusters, label, "cluster")
    if rows is not None and rows.sizes["cluster"]:
        ax.scatter(*_points(rows, polar), label="cluster centroids", **_STYLE["clusters"])
    for colour, (name, row) in zip(itertools.cycle(_ESTIMATE_COLOURS), estimate_rows.items()):
        if row is None:  # the table has no estimate for this frame
            continue
        u, v = _points(row, polar)
        if np.isfinite(u) and np.isfinite(v):
            ax.scatter([u], [v], marker="*", s=160, c=colour, edgecolors="black",
                       label=f"estimate ({name})")
    if truth:
        point = _truth_point(heatmap, frame)
        if point is not None:
            ax.scatter(*_points(xr.Dataset({k: ("p", v) for k, v in point.items()}), polar),
                       label="truth", **_STYLE["truth"])
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper right", fontsize="small", framealpha=0.6)


def plot_heatmap(
    heatmap: xr.Dataset,
    frame: int,
    *,
    detections: xr.Dataset | None = None,
    clusters: xr.Dataset | None = None,
    estimate: xr.Dataset | Mapping[str, xr.Dataset] | None = None,
    truth: bool = True,
    view: View = "polar",
    dynamic_range: float = 40.0,
    ax=None,
):
    """Draw one frame of a range-angle heatmap with its detections, clusters, estimates, truth.

    Parameters
    ----------
    heatmap : xarray.Dataset
        heatmap-1 dataset (``power`` on (frame, range, angle), linear).
    frame : int
        Frame position along ``frame`` (tables are matched on the heatmap's ``frame``
        coordinate at that position).
    detections, clusters : xarray.Dataset, optional
        detections-1 / clusters-1 tables; the rows of ``frame`` are drawn as dots / crosses
        (a table that records its searched frames and never searched this one is refused).
    estimate : xarray.Dataset or mapping of name to Dataset, optional
        estimates-1 table(s); each frame's estimate is a star (labelled by attr ``method``),
        matched by frame label like the other tables (none drawn if the table lacks the
        frame; a table sharing no frame with the heatmap is refused).
    truth : bool
        Mark ``target_range``/``target_angle`` of the heatmap (if it carries them).
    view : {"polar", "cartesian", "both"}
        Range over angle (degrees), the x-y plane (m), or both side by side.
    dynamic_range : float
        dB below the frame's peak where the colour scale saturates.
    ax : matplotlib Axes, optional
        Axes to draw into (one view only); a new figure is made otherwise.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import xarray as xr
    >>> hm = xr.Dataset({"power": (("frame", "range", "angle"), np.ones((1, 4, 3)))},
    ...                 coords={"range": [1.0, 2, 3, 4], "angle": [-0.1, 0, 0.1]})
    >>> fig = plot_heatmap(hm, 0, view="both")
    >>> len(fig.axes)  # two views and their colour bars
    4
    """
    if view not in ("polar", "cartesian", "both"):
        raise ValueError(f"view must be 'polar', 'cartesian' or 'both', got {view!r}")
    if "power" not in heatmap or heatmap["power"].ndim != 3:
        raise RadarspFileError(heatmap.encoding.get("source"), "power",
                               "expected dims (frame, range, angle)")
    n_frames = heatmap.sizes["frame"]
    if not 0 <= int(frame) < n_frames:
        raise ValueError(f"frame {frame} out of range: the heatmap has {n_frames} frames")
    frame = int(frame)
    if estimate is None:
        estimates = {}
    elif isinstance(estimate, xr.Dataset):
        estimates = {estimate.attrs.get("method", "estimate"): estimate}
    else:
        estimates = dict(estimate)
    estimate_rows = _estimate_rows(estimates, heatmap, frame)
    views = ("polar", "cartesian") if view == "both" else (view,)
    if ax is not None:
        if len(views) != 1:
            raise ValueError("ax takes one view; use view='polar' or 'cartesian'")
        axes = [ax]
        fig = ax.figure
    else:
        plt = _pyplot()
        fig, axes = plt.subplots(1, len(views), figsize=(6.0 * len(views), 5.0), squeeze=False)
        axes = list(axes[0])
    for axis, name in zip(axes, views, strict=True):
        _draw(axis, heatmap, frame, polar=name == "polar", detections=detections,
              clusters=clusters, estimate_rows=estimate_rows, truth=truth,
              dynamic_range=dynamic_range)
        axis.set_title(f"frame {frame} ({name})")
    return fig


def plot_scene_frame(scenes: xr.Dataset, heatmap: xr.Dataset, frame: int, *, title=None,
                     **layers):
    """The camera image with the target box beside the frame's range-angle map.

    ``scenes`` carries ``image`` and ``target_box`` (csi-1 or heatmap-1), ``heatmap`` the
    ``power``; ``layers`` go to :func:`plot_heatmap` (``detections``, ``clusters``,
    ``estimate``). ``frame`` is a position, as in :func:`plot_heatmap`. Returns the figure.
    """
    plt = _pyplot()
    fig, (camera, polar) = plt.subplots(1, 2, figsize=(10, 4), width_ratios=(1, 1.4))
    camera.imshow(scenes["image"].isel(frame=frame).values)
    col0, row0, col1, row1 = scenes["target_box"].isel(frame=frame).values
    camera.add_patch(plt.Rectangle((col0 - 0.5, row0 - 0.5), col1 - col0 + 1, row1 - row0 + 1,
                                   fill=False, edgecolor="yellow", linewidth=1.5))
    camera.set_title(title or "camera (target box in yellow)")
    camera.axis("off")
    plot_heatmap(heatmap, frame, ax=polar, **layers)
    fig.tight_layout()
    return fig


def plot_error_cdf(errors: Mapping[str, object], *, ax=None, xscale: str = "linear",
                   max_error: float | None = None):
    """Localisation-error CDFs of several methods on one axis (the paper's Fig. 5 style).

    Parameters
    ----------
    errors : mapping of method name to array_like (frame,)
        Errors in m, NaN for misses; each curve is :func:`radarsp.metrics.ecdf`, so it tops
        out at 1 - miss rate. The legend gives the 50th / 90th percentiles (inf: the
        percentile falls among the misses).
    ax : matplotlib Axes, optional
        Axes to draw into; a new figure otherwise.
    xscale : {"linear", "log"}
        Scale of the error axis.
    max_error : float, optional
        Right end of the error axis, m.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = plot_error_cdf({"genie": [0.5, 1.0, 2.0], "strongest": [1.0, np.nan, 8.0]})
    >>> [line.get_label() for line in fig.axes[0].get_lines()][:1]
    ['genie (50th 1.00 m, 90th 1.80 m)']
    """
    from radarsp.metrics import _as_errors, _percentile, ecdf

    if ax is None:
        fig, ax = _pyplot().subplots(figsize=(6.0, 4.5))
    for name, values in errors.items():
        curve = ecdf(values)
        p50, p90 = _percentile(_as_errors(values), [50, 90])
        ax.step(np.r_[0.0, curve["error"].values], np.r_[0.0, curve.values], where="post",
                label=f"{name} (50th {p50:.2f} m, 90th {p90:.2f} m)")
    for level in (0.5, 0.9):
        ax.axhline(level, color="grey", linestyle=":", linewidth=0.8)
    ax.set_xscale(xscale)
    if max_error is not None:
        ax.set_xlim(right=max_error)
    ax.set_ylim(0, 1)
    ax.set_xlabel("localisation error (m)")
    ax.set_ylabel("CDF")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    return ax.figure


def check_figure_path(path) -> str:
    """Return the figure format named by the extension of ``path``, or raise a clear error.

    Call it before any work, so a typo in the extension fails at once rather than after the
    figure is drawn. A path without an extension is a png.

    Parameters
    ----------
    path : str or path-like
        Figure file name.

    Returns
    -------
    str
        The format, lower case (``"png"``, ``"pdf"``, ``"svg"``, ...).

    Raises
    ------
    ValueError
        If matplotlib cannot write that format.

    Examples
    --------
    >>> check_figure_path("cdf.PDF")
    'pdf'
    >>> check_figure_path("fig.xyz")
    Traceback (most recent call last):
    ...
    ValueError: fig.xyz: figure format 'xyz' not supported; use one of png, pdf, svg, ...
    """
    # The formats every backend can save (Agg and the vector writers); no pyplot needed.
    from matplotlib.backend_bases import FigureCanvasBase

    suffix = os.path.splitext(os.fspath(path))[1].lstrip(".").lower() or "png"
    supported = FigureCanvasBase.get_supported_filetypes()
    if suffix not in supported:
        first = [name for name in ("png", "pdf", "svg") if name in supported]
        names = first + sorted(set(supported) - set(first))
        raise ValueError(f"{os.fspath(path)}: figure format {suffix!r} not supported; "
                         f"use one of {', '.join(names)}")
    return suffix


def save_figure(fig, path, *, force: bool = False, dpi: int = 150) -> None:
    """Write a figure atomically (temporary file + rename); refuse to overwrite unless ``force``.

    The format follows the extension of ``path`` (png, pdf, svg, ...; see
    :func:`check_figure_path`, which raises ValueError for one matplotlib cannot write, before
    anything is written). The figure is closed.
    """
    from radarsp.io import atomic_path

    try:
        suffix = check_figure_path(path)
        with atomic_path(path, force=force) as tmp:
            fig.savefig(tmp, format=suffix, dpi=dpi, bbox_inches="tight")
    finally:
        _pyplot().close(fig)
