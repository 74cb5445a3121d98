"""Writing outputs atomically and exclusively: the one place radarsp creates output files.

An output is written to a *partial* beside its destination and renamed onto it only once
complete, so a reader never sees half a file and a failed or killed writer never damages the
file already there. The partial's name says what it is and whose it is::

    heatmap.nc.radarsp-partial.<host>.<pid>.<token>

A later write to the same destination removes the partials of writers that have died (a
``kill -9``); SIGTERM lets the command clean up on its way out (see ``cli.common``).

Without ``force`` the final rename never replaces anything (``renameat2(RENAME_NOREPLACE)``,
or a hard link where that flag is not supported): of two writers racing to one new output
exactly one succeeds, and the other is refused even when it passed the early check. With
``force`` the last writer wins, atomically: a file by :func:`os.replace`, a directory (a Zarr
store, a run directory) by ``renameat2(RENAME_EXCHANGE)``, which swaps the two names in one
step, so readers see the old or the new store and never neither.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
import shutil
import socket
import stat
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from radarsp.memory import format_bytes

#: marks a partial output in its file name
PARTIAL = "radarsp-partial"


def _host() -> str:
    """This machine's name as it appears in partial names: letters, digits and '-' only."""
    name = socket.gethostname() or "localhost"
    clean = re.sub(r"[^A-Za-z0-9-]", "-", name)
    if clean == name and len(clean) <= 32:
        return clean
    # a cleaned or shortened name gets a digest, so two hosts never share a tag
    return clean[:23] + "-" + hashlib.sha1(name.encode()).hexdigest()[:8]


HOST = _host()
# ".radarsp-partial." + host (<= 32) + "." + pid (<= 10 digits) + "." + token (8)
_PARTIAL_SUFFIX_MAX = len(PARTIAL) + 2 + 32 + 1 + 10 + 1 + 8


class OutputError(OSError):
    """An output cannot be written where it was asked for.

    The message is one line naming the output and the reason (an unwritable or missing
    directory, a name the filesystem cannot hold, a full disk, ...). The command line prints it
    and exits with status 1.
    """


def _name_max(directory: Path) -> int:
    try:
        return os.pathconf(directory, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def _path_max(directory: Path) -> int:
    try:
        return os.pathconf(directory, "PC_PATH_MAX")
    except (OSError, ValueError):
        return 4096


def _key(name: str, name_max: int) -> str:
    """The part of a partial's name that identifies its destination ``name``.

    Names too long to take the partial suffix are shortened and tagged with a digest of the
    whole name, the same way by every writer, so stale partials of any writer are found.
    """
    room = name_max - _PARTIAL_SUFFIX_MAX
    if len(name.encode()) <= room:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    short = name.encode()[: room - 9].decode(errors="ignore")
    return f"{short}~{digest}"


def partial_name(name: str, *, name_max: int = 255) -> str:
    """A fresh partial's file name for the destination ``name`` (this process, this host).

    Examples
    --------
    >>> partial_name("heatmap.nc").startswith("heatmap.nc.radarsp-partial.")
    True
    """
    return f"{_key(name, name_max)}.{PARTIAL}.{HOST}.{os.getpid()}.{secrets.token_hex(4)}"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_stale_partials(path) -> list[str]:
    """Remove the partials of ``path`` whose writers (on this host) are no longer running.

    Partials of live writers and of writers on other hosts (whose state cannot be known) are
    left alone. Returns the names removed.
    """
    path = Path(os.path.abspath(path))
    try:
        entries = os.listdir(path.parent)
    except OSError:
        return []
    prefix = f"{_key(path.name, _name_max(path.parent))}.{PARTIAL}.{HOST}."
    removed = []
    for entry in entries:
        if not entry.startswith(prefix):
            continue
        pid, _, token = entry[len(prefix):].partition(".")
        if not (pid.isdigit() and token) or _alive(int(pid)):
            continue
        with contextlib.suppress(OSError):
            remove_path(path.parent / entry)
            removed.append(entry)
    return removed


def _nearest_existing(directory: Path) -> Path:
    while not os.path.lexists(directory) and directory != directory.parent:
        directory = directory.parent
    return directory


def describe_kind(mode: int) -> str:
    """What a non-regular file is, from its ``st_mode``: ``"a FIFO"``, ``"a directory"``, ..."""
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISLNK, "a symbolic link"),
                       (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a regular file"


def is_empty_directory(path) -> bool:
    """Whether ``path`` is a directory with nothing in it (it then counts as no output)."""
    try:
        with os.scandir(path) as entries:
            return next(entries, None) is None
    except OSError:
        return False


def check_target(path, *, force: bool = False, directory: bool = False,
                 replaceable: Callable[[Path], str | None] | None = None) -> Path:
    """Check, before any work, that an output can be written at ``path``.

    Parameters
    ----------
    path : path-like
        Destination, as the user gave it (messages name it so).
    force : bool
        An existing output may be replaced.
    directory : bool
        The output is a directory (a Zarr store, a run directory). An empty directory at
        ``path`` counts as no output.
    replaceable : callable, optional
        For directory outputs with ``force``: given the existing directory, returns why it
        must not be replaced, or None. Default: only a Zarr store may be replaced.

    Returns
    -------
    pathlib.Path
        The absolute destination.

    Raises
    ------
    FileExistsError
        ``path`` exists and ``force`` is not given.
    OutputError
        The output cannot be written: the name is too long for the filesystem, a parent is a
        file, the directory is not writable, or what is at ``path`` must not be replaced
        (a FIFO, a device, a directory in place of a file or one that is not an output).
        Stale partials of ``path`` (their writers dead) are removed on the way.
    """
    shown = os.fspath(path)
    if not shown:
        raise OutputError("the output path is empty")
    if not directory and shown.endswith(("/", os.sep)):
        raise OutputError(f"{shown}: names a directory; expected a file name")
    target = Path(os.path.abspath(shown))
    existing = _nearest_existing(target.parent)
    if not existing.is_dir():
        raise OutputError(f"{shown}: cannot be created: {existing} is not a directory")
    name_max = _name_max(existing)
    if len(target.name.encode()) > name_max:
        raise OutputError(f"{shown}: the file name is {len(target.name.encode())} bytes long; "
                          f"this filesystem allows at most {name_max}")
    longest = len(os.fsencode(target.parent)) + 1 + len(_key(target.name, name_max).encode()) + (
        _PARTIAL_SUFFIX_MAX)
    if longest >= _path_max(existing):
        raise OutputError(f"{shown}: the path is too long for this filesystem (at most "
                          f"{_path_max(existing) - 1} bytes with radarsp's partial suffix)")
    _check_existing(shown, target, force=force, directory=directory, replaceable=replaceable)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"{shown}: cannot be written: directory {existing} is not writable")
    remove_stale_partials(target)
    return target


def _check_existing(shown: str, target: Path, *, force: bool, directory: bool,
                    replaceable) -> None:
    try:
        mode = os.lstat(target).st_mode
    except FileNotFoundError:
        return
    except OSError as err:
        raise OutputError(f"{shown}: cannot be checked ({err.strerror})") from None
    if directory and stat.S_ISDIR(mode) and is_empty_directory(target):
        return
    wanted = stat.S_ISDIR(mode) if directory else (stat.S_ISREG(mode) or stat.S_ISLNK(mode))
    if not wanted:
        expected = "a directory" if directory else "a regular file"
        raise OutputError(f"{shown}: exists and is {describe_kind(mode)}, not {expected}; "
                          "refusing to replace it")
    if not force:
        raise FileExistsError(f"{shown}: output exists{' and is not empty' * directory}; pass "
                              "--force to overwrite it")
    if directory:
        problem = (replaceable or _zarr_store_problem)(target)
        if problem:
            raise OutputError(f"{shown}: {problem}; refusing to replace it")


def _zarr_store_problem(path: Path) -> str | None:
    markers = (".zgroup", ".zattrs", ".zmetadata", "zarr.json")
    if any(os.path.exists(path / marker) for marker in markers):
        return None
    return "exists and is a directory that is not a Zarr store"


@contextlib.contextmanager
def atomic_path(path, *, force: bool = False, directory: bool = False,
                replaceable: Callable[[Path], str | None] | None = None):
    """Yield a partial path beside ``path``; move it onto ``path`` only on success.

    Parameters
    ----------
    path : path-like
        Final destination. Missing parent directories are created.
    force : bool
        Replace an existing output (the last writer wins). Without it, an existing ``path``
        raises :class:`FileExistsError` before anything is written, and so does one that
        appears while the output is being written (a concurrent writer).
    directory : bool
        The output is a directory (a Zarr store, a run directory): the partial is an empty
        directory to fill.
    replaceable : callable, optional
        See :func:`check_target`.

    Yields
    ------
    str
        The partial path to write (an empty file, or an empty directory).

    Raises
    ------
    FileExistsError, OutputError
        See :func:`check_target`; OutputError also when writing fails for want of space
        (a full disk, a file-size limit), naming the output, not the partial.

    Notes
    -----
    On any exception (and on SIGTERM in the command-line tools) the partial is removed and
    an existing output is left untouched; after a ``kill -9`` it stays, visibly named, until
    the next write to ``path`` removes it.

    Examples
    --------
    >>> import tempfile
    >>> out = os.path.join(tempfile.mkdtemp(), "note.txt")
    >>> with atomic_path(out) as partial:
    ...     _ = open(partial, "w").write("done")
    >>> open(out).read()
    'done'
    """
    shown = os.fspath(path)
    target = check_target(path, force=force, directory=directory, replaceable=replaceable)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"{shown}: cannot create its directory ({err.strerror})") from None
    partial = target.parent / partial_name(target.name, name_max=_name_max(target.parent))
    try:
        if directory:
            os.mkdir(partial, 0o777)
        else:
            os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as err:
        raise OutputError(f"{shown}: cannot be written: {err.strerror}") from None
    try:
        yield str(partial)
    except BaseException as err:
        reason = _write_failure(err, partial)
        remove_path(partial)
        if reason is not None:
            raise OutputError(f"{shown}: could not be written: {reason}; nothing was "
                              "written") from err
        raise
    try:
        if directory:
            _commit_directory(partial, target, shown, force=force, replaceable=replaceable)
        else:
            _commit_file(partial, target, shown, force=force)
    except BaseException:
        remove_path(partial)
        raise


def _appeared(shown: str) -> FileExistsError:
    return FileExistsError(f"{shown}: output appeared while this command was writing it "
                           "(another writer?); pass --force to overwrite it")


def _commit_file(partial: Path, target: Path, shown: str, *, force: bool) -> None:
    if force:
        os.replace(partial, target)
        return
    try:
        if not _renameat2(partial, target, _RENAME_NOREPLACE):
            os.link(partial, target)  # refuses an existing name, as no rename does
            os.remove(partial)
    except FileExistsError:
        raise _appeared(shown) from None


def _commit_directory(partial: Path, target: Path, shown: str, *, force: bool,
                      replaceable) -> None:
    while True:
        if not os.path.lexists(target) or (is_empty_directory(target) and _rmdir(target)):
            try:
                _rename_noreplace_directory(partial, target)
                return
            except FileExistsError:
                if not force:
                    raise _appeared(shown) from None
                continue  # another writer got there first; replace its output
        if not force:
            raise _appeared(shown)
        _check_existing(shown, target, force=True, directory=True, replaceable=replaceable)
        if _renameat2(partial, target, _RENAME_EXCHANGE):
            remove_path(partial)  # now the old output
            return
        # no atomic exchange on this filesystem: move the old output aside, then ours in
        aside = target.parent / partial_name(target.name, name_max=_name_max(target.parent))
        os.replace(target, aside)
        os.replace(partial, target)
        remove_path(aside)
        return


def _rmdir(path: Path) -> bool:
    """Remove an empty directory; True also when another writer removed it first."""
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass
    except OSError:
        return False
    return True


def _rename_noreplace_directory(partial: Path, target: Path) -> None:
    if _renameat2(partial, target, _RENAME_NOREPLACE):
        return
    # Without RENAME_NOREPLACE a rename would silently replace an empty directory: check
    # just before (a race window of one system call on such filesystems).
    if os.path.lexists(target):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(target))
    os.rename(partial, target)


_RENAME_NOREPLACE, _RENAME_EXCHANGE = 1, 2
_AT_FDCWD = -100


def _renameat2(source: Path, target: Path, flags: int) -> bool:
    """``renameat2(2)`` with ``flags``; False where the system or filesystem lacks it.

    Raises the OSError of a refused rename (FileExistsError for RENAME_NOREPLACE).
    """
    function = _libc_renameat2()
    if function is None:
        return False
    import ctypes

    if function(_AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(target), flags) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(target))


def _libc_renameat2():
    if not sys.platform.startswith("linux"):
        return None
    global _RENAMEAT2
    if _RENAMEAT2 is None:
        import ctypes

        try:
            function = ctypes.CDLL(None, use_errno=True).renameat2
        except (AttributeError, OSError):
            function = False
        else:
            function.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                                 ctypes.c_uint)
            function.restype = ctypes.c_int
        _RENAMEAT2 = function
    return _RENAMEAT2 or None


_RENAMEAT2 = None


def remove_path(path) -> None:
    """Remove a file or a directory tree (a symlink itself, never what it points to)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISDIR(mode):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


_NO_SPACE = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
             errno.EFBIG: "the file size limit is reached"}
# Calls that move data between a file and memory (xarray's backend arrays, netCDF4's
# variables and datasets), by the last part of their name: writes and reads.
_WRITES = {"__setitem__", "_put", "sync"}
_READS = {"__getitem__", "_getitem", "_get"}


def _write_failure(err: BaseException, partial: Path) -> str | None:
    """Why writing the output failed, or None if ``err`` is not a failure to write it.

    A full disk reaches us as ``OSError(ENOSPC)`` from plain writes but as
    ``RuntimeError("NetCDF: HDF error")`` from netCDF4, which drops the errno: then the
    failure is the output's when the disk (or the file-size limit) is found exhausted, or
    when the innermost call that failed was a write into the output.
    """
    if isinstance(err, OutputError):  # a nested output's, already explained
        return None
    if isinstance(err, OSError) and err.errno in _NO_SPACE:
        return f"{_NO_SPACE[err.errno]} ({err.strerror})"
    if not isinstance(err, (OSError, RuntimeError)):
        return None
    exhausted = _exhausted(partial)
    if exhausted:
        return f"{exhausted} ({err})"
    calls = [frame.name.rpartition(".")[2] for frame in traceback.extract_tb(err.__traceback__)]
    io_calls = [name for name in calls if name in _WRITES | _READS]
    if io_calls and io_calls[-1] in _WRITES:
        return str(err)
    return None


def _exhausted(partial: Path) -> str | None:
    """A description of the exhausted resource the partial output ran into, if any."""
    import resource

    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if limit != resource.RLIM_INFINITY:
        largest = max((entry.stat().st_size for entry in _files(partial)), default=0)
        if largest >= limit // 2:
            return f"the file size limit (ulimit -f) of {format_bytes(limit)} is reached"
    try:
        disk = os.statvfs(partial.parent)
    except OSError:
        return None
    free = (disk.f_bfree if os.geteuid() == 0 else disk.f_bavail) * disk.f_frsize
    if free < max(16 * 2**20, disk.f_blocks * disk.f_frsize // 1000):
        return f"the disk is full ({format_bytes(free)} free in {partial.parent})"
    return None


def _files(path: Path):
    if path.is_file():
        yield path
    elif path.is_dir():
        for root, _, names in os.walk(path):
            for name in names:
                yield Path(root, name)
