"""`radarsp plot`: one heatmap frame with detections, clusters, estimates and truth."""

from __future__ import annotations

import os

import click

from cli.common import INPUT, force_option, quiet


@click.command(name="plot")
@click.argument("heatmap", type=INPUT)
@click.option("--frame", type=click.IntRange(min=0), required=True,
              help="Frame index (0-based position in the file).")
@click.option("--detections", type=INPUT,
              help="detections-1 file: the frame's CFAR detections as dots.")
@click.option("--clusters", type=INPUT,
              help="clusters-1 file: the frame's cluster centroids as crosses.")
@click.option("--estimates", multiple=True, type=INPUT,
              help="estimates-1 file(s): each method's estimate as a star (repeatable).")
@click.option("--view", type=click.Choice(["polar", "cartesian", "both"]), default="both",
              show_default=True, help="Range over angle (deg), the x-y plane (m), or both.")
@click.option("--dynamic-range", type=click.FloatRange(min=0, min_open=True), default=40.0,
              show_default=True, help="dB below the frame's peak where the colours saturate.")
@click.option("--no-truth", is_flag=True, help="Do not mark the ground-truth target.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Figure file (png, pdf, svg). Refused if it exists, unless --force.")
@force_option
def command(heatmap, frame, detections, clusters, estimates, view, dynamic_range, no_truth,
            output, force):
    """Draw frame --frame of HEATMAP (heatmap-1, power in dB re the frame peak)."""
    from cli.evaluate import check_figure_output, method_names
    from radarsp.io import open_clusters, open_detections, open_estimates, open_heatmap
    from radarsp.plot import plot_heatmap, save_figure

    check_figure_output(output, force)
    heat = open_heatmap(heatmap)
    if frame >= heat.sizes["frame"]:
        raise click.BadParameter(f"{heatmap} has {heat.sizes['frame']} frames",
                                 param_hint="--frame")
    det = open_detections(detections).load() if detections else None
    table = open_clusters(clusters).load() if clusters else None
    loaded = [open_estimates(path) for path in estimates]
    named = dict(zip(method_names(estimates, loaded), loaded, strict=True))
    figure = plot_heatmap(heat, frame, detections=det, clusters=table, estimate=named or None,
                          truth=not no_truth, view=view, dynamic_range=dynamic_range)
    figure.suptitle(f"{os.path.basename(heatmap)}: frame {frame}")
    save_figure(figure, output, force=force)
    if not quiet():
        click.echo(f"wrote {output}", err=True)

