"""`radarsp info`: describe a radarsp file (schema, dims, radio parameters, resolutions)."""

from __future__ import annotations

import click
import numpy as np

from cli.common import INPUT


def _fmt_hz(value: float) -> str:
    for unit, scale in (("GHz", 1e9), ("MHz", 1e6), ("kHz", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:g} {unit}"
    return f"{value:g} Hz"


def _array_lines(ds, carrier: float) -> list[str]:
    """Array size, geometry and azimuth resolution from the element positions."""
    from radarsp.geometry import angular_resolution, wavelength

    x = np.asarray(ds["rx_x"].values, float)
    z = np.asarray(ds["rx_z"].values, float) if "rx_z" in ds else np.zeros_like(x)
    lam = wavelength(carrier)
    columns = np.unique(np.round(x / lam, 6))
    rows = np.unique(np.round(z / lam, 6))
    shape = (f"{len(columns)} x {len(rows)} planar" if len(rows) > 1
             else f"{len(columns)}-element linear")
    lines = [f"array: {len(x)} receive elements ({shape})"]
    if len(columns) > 1:
        steps = np.diff(columns)
        spacing = float(np.median(steps))
        uniform = np.allclose(steps, spacing, rtol=1e-3)
        resolution = angular_resolution(len(columns), spacing) if uniform else lam / (
            x.max() - x.min() + spacing * lam)
        lines.append(f"element spacing (x): {spacing:.3g} wavelengths"
                     + ("" if uniform else " (median; non-uniform)"))
        lines.append(f"angular resolution (broadside): {resolution:.4f} rad "
                     f"({np.degrees(resolution):.2f} deg)")
    return lines


def _radio_lines(ds) -> list[str]:
    from radarsp.geometry import max_unambiguous_range, max_unambiguous_velocity, range_resolution

    attrs = ds.attrs
    if not all(k in attrs for k in ("carrier_frequency", "bandwidth", "subcarrier_spacing")):
        return []
    carrier, bandwidth = float(attrs["carrier_frequency"]), float(attrs["bandwidth"])
    spacing = float(attrs["subcarrier_spacing"])
    lines = [
        f"carrier: {_fmt_hz(carrier)}",
        f"bandwidth: {_fmt_hz(bandwidth)}",
        f"subcarrier spacing: {_fmt_hz(spacing)}",
        f"range resolution c/2B: {range_resolution(bandwidth):.4f} m",
        f"maximum range c/2df: {max_unambiguous_range(spacing):.2f} m",
    ]
    if "rx_x" in ds.variables:
        lines += _array_lines(ds, carrier)
    if "symbol_time" in ds.variables and ds.sizes.get("symbol", 0) > 1:
        times = np.asarray(ds["symbol_time"].values, float)
        period = float(np.median(np.diff(times)))
        lines.append(f"slow time: {len(times)} symbols, {period:g} s apart; max |velocity| "
                     f"{max_unambiguous_velocity(carrier, period):.2f} m/s")
    return lines


def _grid(ds, name: str, unit: str, scale: float = 1.0) -> str:
    values = np.asarray(ds[name].values, float) * scale
    if values.size == 0:
        return f"{name}: empty"
    step = f", step {np.median(np.diff(values)):.4g} {unit}" if values.size > 1 else ""
    return f"{name}: {values.size} bins, {values.min():.4g} .. {values.max():.4g} {unit}{step}"


def describe(ds, path: str) -> list[str]:
    """Lines of the report for dataset ``ds`` read from ``path``."""
    from radarsp.model import CAMERA_VARIABLES, SCHEMA_ATTR, TRUTH_VARIABLES

    schema = ds.attrs.get(SCHEMA_ATTR, "?")
    lines = [f"file: {path}", f"schema: {schema}",
             "dims: " + ", ".join(f"{k}={v}" for k, v in ds.sizes.items())]
    lines.append("variables: " + ", ".join(str(n) for n in ds.data_vars))
    for key in ("scenario", "seed", "weather", "method", "generator"):
        if key in ds.attrs:
            lines.append(f"{key}: {ds.attrs[key]}")
    lines += _radio_lines(ds)
    if "range" in ds.dims and "range" in ds.variables:
        lines.append(_grid(ds, "range", "m"))
    if "angle" in ds.dims and "angle" in ds.variables:
        lines.append(_grid(ds, "angle", "deg", 180 / np.pi))
    if "velocity" in ds.dims and "velocity" in ds.variables:
        lines.append(_grid(ds, "velocity", "m/s"))
    table = next((d for d in ("detection", "cluster") if d in ds.dims), None)
    if table and "frame" in ds.variables:
        frames = np.unique(np.asarray(ds["frame"].values))
        lines.append(f"rows: {ds.sizes[table]} {table}s over {frames.size} frames")
    truth = [n for n in TRUTH_VARIABLES if n in ds.variables]
    lines.append("truth: " + ("yes (" + ", ".join(truth) + ")" if truth else "no"))
    if "image" in ds.variables:
        image = ds["image"]
        lines.append(f"images: yes ({image.sizes['image_row']} x {image.sizes['image_col']} "
                     f"RGB, target_box {'yes' if 'target_box' in ds.variables else 'no'})")
    else:
        lines.append("images: no" + (" (target_box only)" if any(
            n in ds.variables for n in CAMERA_VARIABLES) else ""))
    return lines


@click.command(name="info")
@click.argument("file", type=INPUT)
def command(file):
    """Describe FILE: schema, dims, carrier, bandwidth, range resolution c/2B, maximum range
    c/2Δf, array size, angular resolution (rad and deg), heatmap grids (range in m, angle in
    deg) and whether ground truth and camera images are present. Works for every schema.
    """
    from radarsp.io import open_dataset

    ds = open_dataset(file)
    try:
        for line in describe(ds, file):
            click.echo(line)
    finally:
        ds.close()
