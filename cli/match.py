"""`radarsp match`: one estimate per frame from a clusters-1 file -> estimates-1."""

from __future__ import annotations

import click

from cli.common import INPUT, check_output, force_option, output_option, quiet
from radarsp.model import TRUTH_VARIABLES

#: the per-frame truth variables copied into estimates (and the pipeline's tables)
FRAME_TRUTH = TRUTH_VARIABLES + ("target_velocity",)


def add_truth(estimates, truth):
    """Copy into ``estimates`` the per-frame truth variables of ``truth`` it lacks, matched by
    frame label (:func:`radarsp.match.carry_truth`)."""
    from radarsp.match import carry_truth

    return carry_truth(estimates, truth, FRAME_TRUTH)


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


def report(estimates, output: str, truth=None) -> None:
    """One line on stderr: what was written, how many frames have no estimate, and how many
    truth frames were left out because the clusters never searched them."""
    if not quiet():
        missing = int((estimates["cluster"].values < 0).sum())
        unsearched = truth.sizes["frame"] - estimates.sizes["frame"] if truth is not None else 0
        note = (f"; {unsearched} truth frames were never searched and are not reported"
                if unsearched else "")
        click.echo(f"wrote {output}: {estimates.attrs['method']} estimates for "
                   f"{estimates.sizes['frame']} frames ({missing} without){note}", err=True)


@click.command(name="match")
@click.argument("clusters", type=INPUT)
@click.option("--truth", type=INPUT,
              help="Any radarsp file with target_x/target_y (m) per frame, e.g. the csi-1 "
                   "scenes. Required by the genie strategies; its frames that the clusters "
                   "searched are the rows (matched by frame label).")
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

    The rows are the frames the clusters' detector searched (the table's searched_frame
    coordinate), and with --truth only those the truth has too: a truth frame never searched
    is not the method's miss, and a searched frame the truth lacks cannot be evaluated. A
    searched frame without a cluster (or pair) is NaN and counts as a miss. With --truth and
    --strategy cross-domain the choice among pairs is genie-aided. The output records what
    the choice used: attrs genie (1 for the genie strategies), labels_used (frames whose
    truth it read) and camera_geometry ("none").
    """
    from radarsp.frames import frame_labels
    from radarsp.io import open_clusters, save
    from radarsp.match import cross_domain_match, genie_match, strongest

    if strategy == "genie" and truth is None:
        raise click.UsageError("--strategy genie needs --truth")
    if strategy == "cross-domain" and doppler_clusters is None:
        raise click.UsageError("--strategy cross-domain needs --doppler-clusters")
    check_output(output, force)
    table = open_clusters(clusters).load()
    reference = open_truth(truth) if truth is not None else None
    frames = frame_labels(reference) if reference is not None else None
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
    report(estimates, output, reference)
