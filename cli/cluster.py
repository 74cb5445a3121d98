"""`radarsp cluster`: DBSCAN clusters of a detections-1 file -> clusters-1."""

from __future__ import annotations

import math

import click

from cli.common import (
    INPUT,
    check_output,
    dask_client,
    force_option,
    output_option,
    quiet,
    scheduler_options,
)
from radarsp.cluster import DEFAULT_EPS, DEFAULT_MIN_SAMPLES, SPACES

SPACE_UNITS = {"xy": ("m", "m"), "polar": ("m", "deg"), "range-velocity": ("m", "m/s")}


def parse_eps(text: str | None, space: str) -> tuple[float, float] | None:
    """``"A,B"`` (or ``"A"`` for both) in command-line units -> eps in the library's units.

    The angle half-axis of ``polar`` is given in degrees and returned in radians; no text
    gives None (the library's default for the space).
    """
    if text is None:
        return None
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        values = []
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or not all(math.isfinite(v) and v > 0 for v in values):
        units = ",".join(SPACE_UNITS[space])
        raise click.BadParameter(f"expected two positive numbers 'A,B' ({units}), got {text!r}",
                                 param_hint="--eps")
    if space == "polar":
        values[1] = math.radians(values[1])
    return values[0], values[1]


def cluster_options(function):
    """The DBSCAN options `radarsp cluster` and `radarsp pipeline` share."""
    options = [
        click.option("--eps", metavar="A,B",
                     help="DBSCAN neighbourhood half-axes per feature: x,y in m (space xy, "
                          "default {:g},{:g}); range m,angle deg (polar, default {:g},{:g}); "
                          "range m,velocity m/s (range-velocity, default {:g},{:g}).".format(
                              *DEFAULT_EPS["xy"], DEFAULT_EPS["polar"][0],
                              math.degrees(DEFAULT_EPS["polar"][1]),
                              *DEFAULT_EPS["range-velocity"])),
        click.option("--min-samples", type=click.IntRange(min=1), default=DEFAULT_MIN_SAMPLES,
                     show_default=True,
                     help="Detections (itself included) in a neighbourhood that make a core "
                          "point."),
        click.option("--space", type=click.Choice(sorted(SPACES)), default="xy",
                     show_default=True, help="Features DBSCAN measures distance in."),
        click.option("--weights", type=click.Choice(["power", "none"]), default="power",
                     show_default=True,
                     help="Centroids as power-weighted or plain means of the members."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


@click.command(name="cluster")
@click.argument("detections", type=INPUT)
@output_option()
@cluster_options
@scheduler_options
@force_option
def command(detections, output, eps, min_samples, space, weights, scheduler, workers, force):
    """Group each frame's CFAR detections (DETECTIONS, detections-1) with DBSCAN.

    Writes a clusters-1 table: one row per cluster with its power-weighted centroid (range m,
    angle rad, x/y m), summed power, size and extents; -1 labels mark noise detections.
    """
    from radarsp.cluster import cluster
    from radarsp.io import open_dataset, save

    scale = parse_eps(eps, space)
    check_output(output, force)
    table = open_dataset(detections, schema="detections-1")
    distributed = bool(scheduler or workers)
    with dask_client(scheduler, workers):
        clusters = cluster(table.load(), eps=scale, min_samples=min_samples, space=space,
                           weights=None if weights == "none" else weights,
                           use_dask=distributed)
    save(clusters, output, schema="clusters-1", force=force)
    if not quiet():
        frames = int(clusters.attrs.get("frame_count", 0)) or "?"
        click.echo(f"wrote {output}: {clusters.sizes['cluster']} clusters from "
                   f"{table.sizes['detection']} detections in {frames} frames", err=True)
