"""`radarsp evaluate`: localisation-error percentiles and miss rates of estimate files."""

from __future__ import annotations

import os

import click

from cli.common import INPUT, check_output, quiet


def method_names(paths, datasets) -> list[str]:
    """Each file's attr ``method``; files sharing a method are told apart by their path."""
    methods = [ds.attrs.get("method", os.path.basename(p)) for p, ds in zip(paths, datasets,
                                                                            strict=True)]
    return [f"{m} ({p})" if methods.count(m) > 1 else m for m, p in zip(methods, paths,
                                                                         strict=True)]


def check_figure_output(path: str, force: bool) -> None:
    """Fail early (before any work) on a figure path that exists or has an unknown format.

    An existing file raises FileExistsError (unless ``force``); an extension matplotlib cannot
    write becomes a one-line ``Error:`` with status 1.
    """
    from radarsp.plot import check_figure_path

    check_output(path, force)
    try:
        check_figure_path(path)
    except ValueError as err:
        raise click.ClickException(str(err)) from None


def check_carried_truth(paths, datasets) -> None:
    """Without --truth, each estimates file must carry its own target_x/target_y."""
    from radarsp.errors import RadarspFileError

    for path, ds in zip(paths, datasets, strict=True):
        for name in ("target_x", "target_y"):
            if name not in ds.variables:
                raise RadarspFileError(path, name, "missing; the estimates carry no ground "
                                                   "truth, so pass --truth FILE with "
                                                   "target_x/target_y (frame,)")


def evaluate(named: dict, truth, *, n_boot: int = 1000, seed: int = 0, progress: bool = False):
    """Errors and the printed table for estimates-1 datasets ``{method: ds}``.

    ``truth`` may be None: each dataset's own carried ``target_x``/``target_y`` are used.
    Estimates meet the truth by frame label (:func:`radarsp.metrics.localisation_error`).
    Returns ``(errors, table)`` with ``errors = {method: DataArray}``.
    """
    from radarsp.metrics import error_summary, localisation_error, summary_table

    errors = {name: localisation_error(ds, ds if truth is None else truth)
              for name, ds in named.items()}
    summaries = {name: error_summary(e, n_boot=n_boot, seed=seed, progress=progress)
                 for name, e in errors.items()}
    return errors, summary_table(summaries)


def report_missing_rows(paths, errors) -> None:
    """On stderr: which files lack rows for some truth frames (counted as misses)."""
    for path, error in zip(paths, errors.values(), strict=True):
        absent = int(error.attrs.get("frames_without_row", 0))
        if absent:
            click.echo(f"{path}: no row for {absent} of the {error.sizes['frame']} truth "
                       "frames; they count as misses", err=True)


@click.command(name="evaluate")
@click.argument("estimates", nargs=-1, required=True, type=INPUT)
@click.option("--truth", type=INPUT,
              help="Any radarsp file with target_x/target_y (m) per frame. Default: the "
                   "truth each estimates file carries.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False),
              help="Also draw the error CDFs of all methods on one axis (png, pdf, svg).")
@click.option("--n-boot", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Bootstrap resamples for the [low, high] 95 % intervals (0: none). Memory "
                   "stays bounded (tens of MB); time grows with it.")
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")
@click.option("--force", is_flag=True, help="Overwrite the --plot file if it exists.")
def command(estimates, truth, plot_path, n_boot, seed, force):
    """Print 50th/90th percentile x-y errors (m) and miss rates of ESTIMATES files.

    Estimates and truth are paired by frame label: the truth's frames are evaluated, and a
    truth frame without an estimate (NaN, or no row at all) counts as an infinite error: it
    stays in every percentile's denominator, so "inf" means the percentile falls among the
    misses. Estimates for frames the truth lacks, or a truth sharing no frame with them, are
    refused. The labels and camera columns say what each method used (its file's
    labels_used / genie and camera_geometry attrs; unknown when absent).
    """
    from cli.match import open_truth
    from radarsp.io import open_estimates

    if plot_path is not None:
        check_figure_output(plot_path, force)
    datasets = [open_estimates(path).load() for path in estimates]
    if truth is None:
        check_carried_truth(estimates, datasets)
    reference = open_truth(truth) if truth is not None else None
    named = dict(zip(method_names(estimates, datasets), datasets, strict=True))
    errors, table = evaluate(named, reference, n_boot=n_boot, seed=seed, progress=not quiet())
    if not quiet():
        report_missing_rows(estimates, errors)
    click.echo(table)
    if plot_path is not None:
        from radarsp.plot import plot_error_cdf, save_figure

        save_figure(plot_error_cdf(errors), plot_path, force=force)
        if not quiet():
            click.echo(f"wrote {plot_path}", err=True)
