"""How much memory this process may use, and a refusal, before allocating, of what cannot fit.

A size option such as ``--image-size 100000x100000`` would otherwise fail minutes later with
numpy's ``MemoryError`` traceback (or push the machine into swap). Functions that allocate
arrays whose size a user chooses estimate their peak first and call :func:`check_memory`.
"""

from __future__ import annotations

import os


class MemoryLimitError(MemoryError):
    """A computation would need more memory than this process can have.

    The message is one line: what needs the memory, how much, and the limit.
    """


def format_bytes(size: float) -> str:
    """A byte count for messages, in binary units.

    Examples
    --------
    >>> format_bytes(1536), format_bytes(4.4 * 2**40)
    ('1.5 KiB', '4.4 TiB')
    """
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
    step = 0
    while abs(size) >= 1000 and step < len(units) - 1:
        size /= 1024
        step += 1
    return f"{size:.0f} B" if step == 0 else f"{size:.3g} {units[step]}"


def memory_limit() -> int:
    """Bytes this process can hold at most: physical memory, or less under a limit.

    The smallest of the machine's physical memory, the cgroup (container) memory limit and
    the ``RLIMIT_AS`` / ``RLIMIT_DATA`` resource limits. Memory other processes use now is not
    subtracted: the limit says what can never fit, so a busy machine refuses nothing that an
    idle one would run.
    """
    limits = []
    try:
        limits.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        pass
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as handle:
                limits.append(int(handle.read().strip()))
        except (OSError, ValueError):
            continue
    try:
        import resource

        for which in (resource.RLIMIT_AS, resource.RLIMIT_DATA):
            soft = resource.getrlimit(which)[0]
            if soft != resource.RLIM_INFINITY:
                limits.append(soft)
    except (ImportError, ValueError, OSError):
        pass
    return min(limits) if limits else 2**63


def check_memory(needed: float, what: str) -> None:
    """Raise :class:`MemoryLimitError` when ``needed`` bytes exceed :func:`memory_limit`.

    Parameters
    ----------
    needed : float
        Estimated peak bytes of the computation.
    what : str
        What needs them, for the message, e.g. ``"simulating 150 frames of 100000x100000
        images"``.

    Examples
    --------
    >>> check_memory(2**20, "a small array")
    >>> check_memory(2**64, "a 16 EiB array")
    Traceback (most recent call last):
    ...
    radarsp.memory.MemoryLimitError: a 16 EiB array needs 16 EiB of memory; this process can ...
    """
    limit = memory_limit()
    if needed > limit:
        raise MemoryLimitError(f"{what} needs {format_bytes(needed)} of memory; this process "
                               f"can have at most {format_bytes(limit)}")
