"""Helpers every subcommand shares: error reporting, options, output checks."""

from __future__ import annotations

import functools
import os
import sys

import click

from radarsp.errors import RadarspFileError


def run_guarded(command: click.Command) -> click.Command:
    """Wrap a command so a bad input file gives one line on stderr and exit status 1.

    ``RadarspFileError`` (contract violations) and ``FileExistsError`` (refused overwrite)
    become ``Error: <message>`` and status 1; click's usage errors keep status 2.
    """
    callback = command.callback
    if callback is None or getattr(callback, "_guarded", False):
        return command

    @functools.wraps(callback)
    def guarded(*args, **kwargs):
        try:
            return callback(*args, **kwargs)
        except (RadarspFileError, FileExistsError, FileNotFoundError) as err:
            click.echo(f"Error: {err}", err=True)
            sys.exit(1)

    guarded._guarded = True
    command.callback = guarded
    return command


def output_option(**kwargs):
    """``-o/--output PATH`` (required) for a file the command writes."""
    return click.option(
        "-o", "--output", required=True, type=click.Path(dir_okay=False, writable=True),
        help="Output file (netCDF). Refused if it exists, unless --force.", **kwargs,
    )


force_option = click.option(
    "--force", is_flag=True, help="Overwrite the output if it exists."
)


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
        raise click.BadParameter(f"expected two integers 'R,A', got {text!r}", param_hint=name)
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or min(values) < 0:
        raise click.BadParameter(f"expected two non-negative integers 'R,A', got {text!r}",
                                 param_hint=name)
    return values
