"""Helpers every subcommand shares: error reporting, options, output checks."""

from __future__ import annotations

import contextlib
import functools
import math
import os
import sys

import click

from radarsp.errors import RadarspFileError


def run_guarded(command: click.Command) -> click.Command:
    """Wrap a command so a bad input file gives one line on stderr and exit status 1.

    ``RadarspFileError`` (contract violations) and ``OSError`` (refused overwrite, missing
    file, unwritable output directory, full disk) become ``Error: <message>`` and status 1;
    click's usage errors keep status 2.
    """
    callback = command.callback
    if callback is None or getattr(callback, "_guarded", False):
        return command

    @functools.wraps(callback)
    def guarded(*args, **kwargs):
        try:
            return callback(*args, **kwargs)
        except (RadarspFileError, OSError) as err:
            click.echo(f"Error: {err}", err=True)
            sys.exit(1)

    guarded._guarded = True
    command.callback = guarded
    return command


def radarsp_version() -> str:
    """The installed radarsp distribution's version, or ``"unknown"`` (for ``--version``)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("radarsp")
    except PackageNotFoundError:
        return "unknown"


def torch_available() -> bool:
    """Whether torch can be imported (without importing it)."""
    import importlib.util

    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        return False


def _check_device(ctx, param, value):
    """Refuse ``cuda`` up front when torch cannot use it (a usage error, not a traceback)."""
    if value == "cuda" and torch_available():
        import torch

        if not torch.cuda.is_available():
            built = "no GPU is visible" if torch.backends.cuda.is_built() else (
                "this torch was built without CUDA")
            raise click.BadParameter(f"cuda is not available ({built}); use cpu or auto")
    return value


#: ``--device`` of the ``radarsp-learn`` commands.
device_option = click.option(
    "--device", type=click.Choice(["cpu", "cuda", "auto"]), default="cpu", show_default=True,
    callback=_check_device, help="Where to run; auto picks cuda when available.")


class FiniteFloatRange(click.FloatRange):
    """A float option that refuses ``nan`` and ``inf`` (and, with bounds, values outside them)."""

    name = "finite float"

    def convert(self, value, param, ctx):
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"expected a finite number, got {value!r}", param, ctx)
        return super().convert(number, param, ctx)

    def _describe_range(self) -> str:  # shown in --help
        return "finite" if self.min is None and self.max is None else super()._describe_range()


#: any finite float
FINITE = FiniteFloatRange()
#: a finite float > 0
POSITIVE = FiniteFloatRange(min=0, min_open=True)


def output_option(**kwargs):
    """``-o/--output PATH`` (required) for a file the command writes."""
    return click.option(
        "-o",
        "--output",
        required=True,
        type=click.Path(dir_okay=False, writable=True),
        help="Output file (netCDF). Refused if it exists, unless --force.",
        **kwargs,
    )


force_option = click.option("--force", is_flag=True, help="Overwrite the output if it exists.")


def check_output(path: str, force: bool) -> None:
    """Fail early (before any work) when ``path`` exists and ``force`` is not given."""
    if os.path.exists(path) and not force:
        raise FileExistsError(f"{path}: output exists; pass --force to overwrite it")


def quiet(ctx: click.Context | None = None) -> bool:
    """Whether the user asked for no progress output (``radarsp -q``)."""
    ctx = ctx or click.get_current_context(silent=True)
    root = ctx.find_root() if ctx else None
    return bool(root and root.obj and root.obj.get("quiet"))


def parse_pair(text: str, name: str) -> tuple[int, int]:
    """Parse ``"R,A"`` (or a single ``"N"``, used for both) into two non-negative ints."""
    parts = text.split(",")
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        raise click.BadParameter(
            f"expected two integers 'R,A', got {text!r}", param_hint=name
        ) from None
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or min(values) < 0:
        raise click.BadParameter(
            f"expected two non-negative integers 'R,A', got {text!r}", param_hint=name
        )
    return values


def scheduler_options(function):
    """``--scheduler ADDRESS`` / ``--workers N``: run the frame-wise work on dask.distributed."""
    function = click.option(
        "--workers",
        type=click.IntRange(1),
        default=None,
        help="Start a local dask.distributed cluster with N worker processes.",
    )(function)
    return click.option(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help="Join a running dask.distributed scheduler, e.g. tcp://HOST:8786.",
    )(function)


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None):
    """Connect to (``scheduler``) or start (``workers``) a dask.distributed cluster.

    With neither, yields ``None`` and dask's default threaded scheduler runs the work.
    """
    if not scheduler and not workers:
        yield None
        return
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as err:
        raise click.UsageError(
            "--scheduler/--workers need dask.distributed: pip install 'radarsp[distributed]'"
        ) from err
    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client
