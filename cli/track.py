"""`radarsp track`: per-sequence constant-velocity tracks of any estimates-1 file."""

from __future__ import annotations

import click

from cli.common import INPUT, POSITIVE, check_output, force_option, output_option, quiet


@click.command(name="track")
@click.argument("estimates", type=INPUT)
@click.option("--frames", "frames_path", type=INPUT, required=True,
              help="Any radarsp file of the same frames with the (frame) coordinates sequence "
                   "and time (s), e.g. the csi-1 scenes or the heatmap; rows are matched by "
                   "frame label.")
@output_option()
@click.option("--prior", type=click.Choice(["car", "car-face"]),
              help="Read each estimate as a 4.5 m x 1.8 m car's point nearest the radar (car) "
                   "or the middle of its face turned to the radar (car-face), and track the "
                   "car's centre instead. A named assumption about the target: the method "
                   "attr becomes <method>-track-<prior>.")
@click.option("--tol", type=POSITIVE, default=1.0, show_default=True,
              help="Inlier distance (m) of an estimate from its sequence's track.")
@force_option
def command(estimates, frames_path, output, prior, tol, force):
    """Replace every frame of ESTIMATES (estimates-1) by its sequence's track.

    Within each sequence a constant-velocity line through the estimates is fitted by MSAC
    (robust to estimates on the wrong object in some frames; sequences longer than 30 frames
    are tracked in 30-frame pieces), and every frame of --frames gets the track's position,
    including frames without an estimate. The output keeps what the input used (genie,
    labels_used, camera_geometry) and names the method <method>-track[-<prior>].
    """
    import numpy as np

    from radarsp.io import open_dataset, open_estimates, save
    from radarsp.tracking import track_estimates

    check_output(output, force)
    table = track_estimates(open_estimates(estimates).load(), open_dataset(frames_path),
                            prior=prior, tol=tol)
    save(table, output, schema="estimates-1", force=force)
    if not quiet():
        found = int(np.isfinite(table["x"].values).sum())
        click.echo(f"wrote {output}: {table.attrs['method']} for {found} of "
                   f"{table.sizes['frame']} frames", err=True)
