"""numba's ``njit`` for radarsp's kernels, with an on-disk cache wherever radarsp runs.

The kernels ask for ``cache=True``. numba keeps that cache beside the source (``__pycache__``)
or in the user's cache directory (``~/.cache/numba``), and refuses to compile at all
("no locator available") when neither is writable: an installed, read-only package used by an
account without a writable home. Then the cache goes to a private directory in the system
temporary directory (created by this user, mode 0700, refused if anyone else could write to
it, since numba's cache files are pickles), and if even that is impossible the kernels are
compiled without a cache: slower to start, same results.
"""

from __future__ import annotations

import os
import stat
import tempfile

import numba


def njit(*args, **options):
    """:func:`numba.njit` that falls back to a private cache, then to none (module notes).

    Examples
    --------
    >>> @njit(cache=True)
    ... def twice(x):
    ...     return 2 * x
    >>> twice(21)
    42
    """
    if args and callable(args[0]):
        return _compile(args[0], options)
    return lambda function: _compile(function, options)


def _compile(function, options):
    if not options.get("cache"):
        return numba.njit(**options)(function)
    try:
        return numba.njit(**options)(function)
    except RuntimeError:
        # numba found no writable cache location for this source file
        pass
    directory = private_cache_directory()
    if directory is not None:
        previous = numba.config.CACHE_DIR
        numba.config.CACHE_DIR = directory
        try:
            return numba.njit(**options)(function)
        except RuntimeError:
            pass
        finally:
            numba.config.CACHE_DIR = previous
    return numba.njit(**{**options, "cache": False})(function)


def private_cache_directory() -> str | None:
    """``<tmp>/radarsp-numba-cache-<uid>``, made if missing; None unless it is a directory of
    this user's that nobody else can write to."""
    path = os.path.join(tempfile.gettempdir(), f"radarsp-numba-cache-{os.geteuid()}")
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return None
    try:
        info = os.lstat(path)
    except OSError:
        return None
    private = (stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid()
               and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH))
    return path if private and os.access(path, os.W_OK | os.X_OK) else None
