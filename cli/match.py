"""`radarsp match`: one estimate per frame from a clusters-1 file -> estimates-1."""

from __future__ import annotations

import click

from cli.common import INPUT, check_output, force_option, output_option, quiet
from radarsp.model import TRUTH_VARIABLES

#: the per-frame truth variables copied into estimates (and the pipeline's tables)
FRAME_TRUTH = TRUTH_VARIABLES + ("target_velocity",)


def add_truth(estimates, truth):
    """Copy into ``estimates`` (per frame) the truth variables of ``truth`` it lacks.

    ``truth`` has the same frames in the same order (no alignment is done).
    """
    for name in FRAME_TRUTH:
        if name in truth.data_vars and name not in estimates.variables:
            estimates[name] = truth[name].variable
    return estimates


def cross_domain_options(min_speed: float, when: str = ""):
    """``--range-tol`` and ``--min-speed`` of the cross-domain pairing (`radarsp match` and
    `radarsp pipeline`); ``min_speed`` is the --min-speed default, ``when`` ends each help."""

    def decorate(function):
        function = click.option(
            "--min-speed", type=click.FloatRange(min=0), default=min_speed, show_default=True,
            help=f"Smallest |radial velocity| (m/s) of a Doppler cluster that may pair{when}.",
        )(function)
        return click.option(
            "--range-tol", type=click.FloatRange(min=0), default=0.5, show_default=True,
            help=f"Largest range difference (m) of a cross-domain pair{when}.",
        )(function)

    return decorate


def open_truth(path):
    """Open any radarsp file as ground truth: it must carry target_x/target_y on ``frame``."""
    from radarsp.errors import RadarspFileError
    from radarsp.io import open_dataset

    ds = open_dataset(path)
    for name in ("target_x", "target_y"):
        if name not in ds.variables or ds[name].dims != ("frame",):
            raise RadarspFileError(path, name, "missing; expected ground truth with dims (frame,)")
    keep = [n for n in FRAME_TRUTH + ("time",) if n in ds.variables]
    return ds[keep].load()


def report(estimates, output: str) -> None:
    """One line on stderr: what was written and how many frames have no estimate."""
    if not quiet():
        missing = int((estimates["cluster"].values < 0).sum())
        click.echo(f"wrote {output}: {estimates.attrs['method']} estimates for "
                   f"{estimates.sizes['frame']} frames ({missing} without)", err=True)


@click.command(name="match")
@click.argument("clusters", type=INPUT)
@click.option("--truth", type=INPUT,
              help="Any radarsp file with target_x/target_y (m) per frame, e.g. the csi-1 "
                   "scenes. Required by the genie strategies; sets the frame count.")
@output_option()
@click.option("--strategy", type=click.Choice(["genie", "strongest", "cross-domain"]),
              default="genie", show_default=True,
              help="genie: cluster closest to the truth (upper bound); strongest: most "
                   "power; cross-domain: pair with --doppler-clusters at the same range.")
@click.option("--doppler-clusters", type=INPUT,
              help="clusters-1 of range-Doppler detections (cross-domain only).")
@cross_domain_options(min_speed=0.0)
@force_option
def command(clusters, truth, output, strategy, doppler_clusters, range_tol, min_speed, force):
    """Choose one cluster per frame of CLUSTERS (clusters-1) and write estimates-1.

    Every frame gets a row; a frame without a cluster (or pair) is NaN and counts as a miss.
    With --truth and --strategy cross-domain the choice among pairs is genie-aided.
    """
    from radarsp.io import open_clusters, save
    from radarsp.match import cross_domain_match, genie_match, strongest

    if strategy == "genie" and truth is None:
        raise click.UsageError("--strategy genie needs --truth")
    if strategy == "cross-domain" and doppler_clusters is None:
        raise click.UsageError("--strategy cross-domain needs --doppler-clusters")
    check_output(output, force)
    table = open_clusters(clusters).load()
    reference = open_truth(truth) if truth is not None else None
    frames = None
    if reference is not None:
        frames = (reference["frame"].values if "frame" in reference.coords
                  else reference.sizes["frame"])
    if strategy == "genie":
        estimates = genie_match(table, reference)
    elif strategy == "strongest":
        estimates = strongest(table, frames)
        if reference is not None:
            add_truth(estimates, reference)
    else:
        doppler = open_clusters(doppler_clusters).load()
        estimates = cross_domain_match(table, doppler, range_tol=range_tol,
                                       min_speed=min_speed, truth=reference, frames=frames)
    save(estimates, output, schema="estimates-1", force=force)
    report(estimates, output)
