"""Helpers every subcommand shares: error reporting, options, output checks."""

from __future__ import annotations

import contextlib
import functools
import math
import os
import signal
import stat
import sys
import threading

import click

from radarsp.errors import RadarspFileError
from radarsp.memory import MemoryLimitError


def run_guarded(command: click.Command) -> click.Command:
    """Wrap a command so a bad input file gives one line on stderr and exit status 1.

    ``RadarspFileError`` (contract violations), ``OSError`` (refused overwrite, missing file,
    unwritable output directory, full disk) and ``MemoryError`` (a size that cannot fit)
    become ``Error: <message>`` and status 1; click's usage errors keep status 2. A reader of
    stdout that goes away (``radarsp info x.nc | head -1``) ends the command quietly, as it
    does a Unix tool, and SIGTERM (or SIGHUP) ends it through the normal clean-up, so no
    partial output is left behind.
    """
    callback = command.callback
    if callback is None or getattr(callback, "_guarded", False):
        return command

    @functools.wraps(callback)
    def guarded(*args, **kwargs):
        try:
            with _signals_end_cleanly():
                return callback(*args, **kwargs)
        except BrokenPipeError:
            if not _stdout_is_gone():
                raise
            _quit_quietly()
        except (RadarspFileError, OSError, MemoryLimitError) as err:
            _fail(str(err))
        except MemoryError as err:  # a size no check foresaw: still one line
            _fail(f"out of memory ({err})")

    guarded._guarded = True
    command.callback = guarded
    return command


def _fail(message: str):
    """Report ``message`` as the one error line and exit with status 1."""
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


@contextlib.contextmanager
def _signals_end_cleanly():
    """SIGTERM and SIGHUP raise SystemExit (status 128 + signal) instead of ending the
    process on the spot, so partial outputs are removed on the way out (a second signal ends
    it at once); SIGXFSZ is ignored, so a file-size limit (``ulimit -f``) fails the write with
    EFBIG and a one-line error instead of killing the process. Signals the caller already
    ignores (``nohup``) stay ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum, frame):
        signal.signal(signum, signal.SIG_DFL)
        raise SystemExit(128 + signum)

    handlers = {signal.SIGTERM: terminate, signal.SIGHUP: terminate,
                signal.SIGXFSZ: signal.SIG_IGN}
    previous = {number: signal.getsignal(number) for number in handlers}
    for number, handler in handlers.items():
        if previous[number] == signal.SIG_DFL:
            signal.signal(number, handler)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _stdout_is_gone() -> bool:
    """Whether stdout is a pipe (or socket) whose reader has closed it."""
    import select

    try:
        poll = select.poll()
        poll.register(sys.stdout.fileno(), 0)
        return any(event & (select.POLLERR | select.POLLHUP) for _, event in poll.poll(0))
    except (OSError, ValueError, AttributeError):
        return False


def _quit_quietly():
    """Exit with the status of a process ended by SIGPIPE (141), saying nothing; stdout is
    pointed at /dev/null so the interpreter's last flush cannot fail again."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    sys.exit(128 + signal.SIGPIPE)


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


class InputPath(click.ParamType):
    """An input: an existing, readable regular file, or a Zarr store directory.

    Anything else (a FIFO, a socket, a device, a missing or unreadable path) is refused in
    one line with status 1 before it is opened, so a FIFO cannot hang the command. The value
    is the path as given; the file's contents are the reader's to check.
    """

    name = "file"

    def __init__(self, *, store_ok: bool = True):
        self.store_ok = store_ok

    def convert(self, value, param, ctx):
        path = os.fspath(value)
        expected = "a regular file" + (" or a Zarr store directory" if self.store_ok else "")
        try:
            mode = os.stat(path).st_mode
        except FileNotFoundError:
            raise click.ClickException(f"{path}: no such file") from None
        except OSError as err:
            raise click.ClickException(f"{path}: cannot be read ({err.strerror})") from None
        if stat.S_ISDIR(mode) and not self.store_ok:
            raise click.ClickException(f"{path}: is a directory; expected {expected}")
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            from radarsp.io.atomic import describe_kind

            raise click.ClickException(f"{path}: is {describe_kind(mode)}; expected {expected}")
        if not os.access(path, os.R_OK | (os.X_OK if stat.S_ISDIR(mode) else 0)):
            raise click.ClickException(f"{path}: is not readable (permission denied)")
        return path


#: an input file or Zarr store (every netCDF input of every command)
INPUT = InputPath()


def output_option(**kwargs):
    """``-o/--output PATH`` (required): a netCDF file the command writes, or a Zarr store
    when the name ends in ``.zarr``. Checked by :func:`check_output` before any work."""
    return click.option(
        "-o",
        "--output",
        required=True,
        type=click.Path(),
        help="Output file (netCDF; a name ending in .zarr writes a Zarr store). Refused if it "
             "exists, unless --force.",
        **kwargs,
    )


force_option = click.option("--force", is_flag=True, help="Overwrite the output if it exists.")


def check_output(path: str, force: bool) -> None:
    """Fail early (before any work) when the output cannot be written at ``path``.

    It exists and ``force`` is not given; its directory is not writable or is a file; its name
    is too long; or what is there must not be replaced (see
    :func:`radarsp.io.check_save_path`, which ``save`` applies again when writing).
    """
    from radarsp.io import check_save_path

    check_save_path(path, force=force)


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
