"""What makes a run directory safe to share: its lock, its checkpoints and input fingerprints.

* **Lock** (:func:`locked`): ``RUN/.lock`` held with ``flock`` -- exclusive by a writer
  (``train``, ``reproduce``), shared by readers (``selflabel``, ``predict``). The kernel drops
  the lock when its process ends, however it ends (``kill -9`` too), so a lock is never
  stale; a second writer, or a reader while a writer runs, is refused in one line.
* **Checkpoints** (:func:`save_checkpoint`, :func:`load_checkpoint`): written atomically,
  read with ``torch.load(weights_only=True)``. A checkpoint holds tensors and plain values
  only (RNG states included, :func:`rng_state`); a file holding anything else -- a pickle
  that would run code when loaded -- is refused without being executed, as is a truncated
  or damaged one.
* **Fingerprints** (:func:`fingerprint`, :func:`check_fingerprint`): size, modification time
  and SHA-256 of the first and last MiB of each input file, so ``--resume`` notices data
  that changed since the run started.

Every refusal is one line naming the file: :class:`radarsp.errors.RadarspFileError` for a
file that is not what it should be, :class:`RunBusyError` (an ``OSError``) for a directory
another process is using, ``OSError`` naming the file for a failed write (full disk).
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import hashlib
import json
import os
import pickle
import random
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch

from radarsp.errors import RadarspFileError
from radarsp_learn.config import ConfigError, TrainConfig
from radarsp_learn.distributed import resolve_device
from radarsp_learn.objectives import build_objective

LOCK_NAME = ".lock"
#: files a run writes (besides the lock); a fresh start replaces them
RUN_FILES = ("config.json", "metrics.jsonl", "best.pt", "last.pt")
#: what each checkpoint must hold
CHECKPOINT_KEYS = {"best": ("objective", "epoch"),
                   "last": ("objective", "optimizer", "state", "rng")}
#: bytes hashed at each end of an input file by :func:`fingerprint`
FINGERPRINT_CHUNK = 1 << 20


class RunBusyError(OSError):
    """Another process holds the lock of a run (or study) directory."""

    def __init__(self, message: str):
        super().__init__(errno.EWOULDBLOCK, message)

    def __str__(self) -> str:
        return self.strerror


def one_line(err: BaseException) -> str:
    """An exception's message on one line (torch's messages span several)."""
    text = str(err.strerror if isinstance(err, OSError) and err.strerror else err)
    parts = [part.strip() for part in text.splitlines() if part.strip()]
    return "; ".join(parts) or type(err).__name__


@contextlib.contextmanager
def locked(directory, *, exclusive: bool = True, what: str = "run directory"):
    """Hold the lock of ``directory`` for the block.

    Parameters
    ----------
    directory : path-like
        The run or study directory. A writer (``exclusive``) creates it when missing and, if
        the block raises, removes it again when it holds nothing but the lock file.
    exclusive : bool
        A writer's lock (one at a time, no readers) or a reader's (many, no writer).
    what : str
        How refusals name the directory ("run directory", "study directory").

    Raises
    ------
    RunBusyError
        Another process holds a conflicting lock. Never waits.

    Notes
    -----
    A reader that cannot create the lock file (a read-only directory) reads without a lock:
    no process of this user can be writing there either.
    """
    directory = Path(directory)
    created = exclusive and not directory.exists()
    if exclusive:
        directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOCK_NAME
    try:
        # never through a symlink: a crafted run directory must not make us write elsewhere
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
    except OSError as err:
        if exclusive or err.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        yield
        return
    try:
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunBusyError(_busy_message(directory, path, exclusive, what)) from None
        # a writer that gave up may have removed the lock file between our open and flock:
        # a lock on a removed file excludes nobody
        if os.fstat(fd).st_ino != _inode(path):
            raise RunBusyError(f"{directory}: {what} is being set up by another process; "
                               "try again")
        if exclusive:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        try:
            yield
        except BaseException:
            if created and {p.name for p in directory.iterdir()} == {LOCK_NAME}:
                path.unlink()
                directory.rmdir()
            raise
    finally:
        os.close(fd)


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except FileNotFoundError:
        return None


def _busy_message(directory: Path, path: Path, exclusive: bool, what: str) -> str:
    try:
        holder = path.read_text().strip()
    except OSError:
        holder = ""
    who = f"process {holder}" if holder.isdigit() else "another process"
    if exclusive:
        return (f"{directory}: {what} is in use by {who}, writing or reading it; wait for "
                "it to finish or choose another directory")
    return (f"{directory}: {what} is being written by {who}; wait for the run to finish "
            "(its checkpoints change while it trains)")


def write_atomic(path, write: Callable[[str], None], *, what: str = "file") -> None:
    """``write(tmp)`` to a temporary file renamed over ``path`` (never half-written).

    A failed write (full disk, file-size limit) leaves ``path`` as it was and raises
    ``OSError`` naming ``path`` on one line.
    """
    from radarsp.io import atomic_path

    try:
        with atomic_path(path, force=True) as tmp:
            write(tmp)
    except (OSError, RuntimeError) as err:  # torch reports failed writes as RuntimeError
        raise OSError(f"{path}: cannot write the {what} ({one_line(err)})") from None


def save_checkpoint(obj: dict, path) -> None:
    """``torch.save(obj)`` atomically; ``obj`` must hold only tensors and plain values."""
    write_atomic(path, lambda tmp: torch.save(obj, tmp), what="checkpoint")


def load_checkpoint(path, *, keys: Iterable[str], device="cpu") -> dict:
    """Load a checkpoint without running any code in it.

    Parameters
    ----------
    path : path-like
    keys : iterable of str
        Entries the checkpoint must have.
    device : str or torch.device
        Where tensors are mapped.

    Raises
    ------
    RadarspFileError
        The file holds objects other than tensors and plain values (loading it could run
        code, so it is refused unexecuted), is truncated or damaged, or lacks ``keys``.
    """
    try:
        with warnings.catch_warnings():  # torch warns about a pickle protocol it then refuses
            warnings.simplefilter("ignore")
            checkpoint = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError:
        raise RadarspFileError(path, None, "refused: not a checkpoint of tensors and plain "
                               "values only (loading any other object could run code, so "
                               "nothing in it was loaded)") from None
    except (RuntimeError, EOFError, ValueError, OSError) as err:
        # a truncated zip archive surfaces as any of these, even as OSError(EINVAL)
        raise RadarspFileError(path, None, f"not a readable checkpoint ({one_line(err)[:120]}"
                               "; truncated or damaged?)") from None
    missing = sorted(set(keys) - set(checkpoint)) if isinstance(checkpoint, dict) else ["all"]
    if missing:
        raise RadarspFileError(path, None, "not a radarsp-learn checkpoint (no "
                               f"{', '.join(map(repr, missing))} entry)")
    return checkpoint


def rng_state() -> dict:
    """torch, numpy and python RNG states as tensors and plain values (loadable with
    ``weights_only=True``)."""
    _, keys, position, has_gauss, cached_gaussian = np.random.get_state()
    return {"torch": torch.get_rng_state(),
            "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(position),
                      "has_gauss": int(has_gauss), "cached_gaussian": float(cached_gaussian)},
            "python": random.getstate()}


def set_rng_state(state: dict, *, source) -> None:
    """Restore :func:`rng_state`; a malformed state is refused naming ``source``."""
    try:
        numpy_state = state["numpy"]
        keys = numpy_state["keys"].numpy().astype(np.uint32)
        np.random.set_state(("MT19937", keys, int(numpy_state["pos"]),
                             int(numpy_state["has_gauss"]),
                             float(numpy_state["cached_gaussian"])))
        torch.set_rng_state(state["torch"])
        random.setstate(tuple(state["python"]))
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError) as err:
        raise RadarspFileError(source, None, f"damaged RNG state ({one_line(err)[:120]})") \
            from None


def fingerprint(path) -> dict:
    """Size (bytes), modification time (ns) and SHA-256 of the first and last
    :data:`FINGERPRINT_CHUNK` bytes of ``path``.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile() as f:
    ...     _ = f.write(b"radar"); f.flush()
    ...     sorted(fingerprint(f.name))
    ['head_sha256', 'mtime_ns', 'size', 'tail_sha256']
    """
    stat = os.stat(path)
    with open(path, "rb") as handle:
        head = hashlib.sha256(handle.read(FINGERPRINT_CHUNK)).hexdigest()
        handle.seek(max(stat.st_size - FINGERPRINT_CHUNK, 0))
        tail = hashlib.sha256(handle.read(FINGERPRINT_CHUNK)).hexdigest()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "head_sha256": head,
            "tail_sha256": tail}


def check_fingerprint(path, saved: dict, *, role: str, run) -> None:
    """Refuse ``path`` unless it still matches the :func:`fingerprint` ``saved`` when run
    ``run`` started; the message says what differs."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: the {role} file of run {run} is missing (moved or "
                                "deleted); the run cannot continue without it")
    now = fingerprint(path)
    changes = []
    if now["size"] != saved.get("size"):
        changes.append(f"size {saved.get('size')} -> {now['size']} bytes")
    elif (now["head_sha256"], now["tail_sha256"]) != (saved.get("head_sha256"),
                                                      saved.get("tail_sha256")):
        changes.append("content differs")
    if now["mtime_ns"] != saved.get("mtime_ns"):
        changes.append(f"modified {_when(saved.get('mtime_ns'))} -> {_when(now['mtime_ns'])}")
    if changes:
        raise RadarspFileError(path, None, f"{role} file changed since run {run} started "
                               f"({'; '.join(changes)}); --resume needs the run's own {role} "
                               "(start afresh with --force)")


def _when(mtime_ns) -> str:
    if not isinstance(mtime_ns, int):
        return "unknown"
    moment = datetime.datetime.fromtimestamp(mtime_ns / 1e9, tz=datetime.UTC)
    return moment.isoformat(timespec="milliseconds")


def write_text_atomic(path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file renamed over it (never half-written;
    a failed write raises ``OSError`` naming ``path``)."""
    write_atomic(path, lambda tmp: Path(tmp).write_text(text))


def strict_json(line: str):
    """``json.loads`` refusing ``NaN`` and ``Infinity`` (not JSON, though Python writes them)."""
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")
    return json.loads(line, parse_constant=refuse)


def build_checked(config: TrainConfig):
    """:func:`radarsp_learn.objectives.build_objective`, with settings too large to allocate
    refused in one line."""
    try:
        return build_objective(config)
    except (RuntimeError, MemoryError) as err:
        raise ConfigError("config", f"cannot build the {config.objective} networks of these "
                          f"settings ({one_line(err)[:160]})") from None


def load_state(module, state, source) -> None:
    """``module.load_state_dict(state)``; a state that does not fit is refused naming
    ``source``."""
    try:
        module.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError, ValueError, AttributeError, IndexError) as err:
        raise RadarspFileError(source, None, "does not fit the networks its run's config.json "
                               f"describes ({one_line(err)[:200]})") from None


#: entries of ``config.json`` besides ``config``: what is expected, and a test of it
_META = {"data": ("the data file's path", lambda v: isinstance(v, str) and v != ""),
         "labels_used": ("a count of ground-truth labels",
                         lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0),
         "labels_method": ("the labels' method name", lambda v: isinstance(v, str))}


def _config_path(run_dir) -> Path:
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir}: not a run directory (no config.json)")
    return path


def read_run(run_dir) -> tuple[dict, TrainConfig]:
    """A run's ``config.json``, checked: its settings (:meth:`TrainConfig.from_dict`) and the
    entries ``selflabel``/``predict``/``--resume`` use.

    Returns
    -------
    meta : dict
        ``config.json`` as written by :func:`radarsp_learn.train.train`.
    config : TrainConfig

    Raises
    ------
    FileNotFoundError
        ``run_dir`` has no ``config.json``.
    RadarspFileError
        One line naming ``config.json`` and the bad entry (not JSON, a missing key, a string
        for an int, ...).
    """
    path = _config_path(run_dir)
    try:
        meta = strict_json(path.read_text())
    except ValueError as err:  # UnicodeDecodeError is one too
        raise RadarspFileError(path, None, f"not JSON ({one_line(err)[:120]})") from None
    if not isinstance(meta, dict):
        raise RadarspFileError(path, None, "expected a JSON object with the run's 'config'")
    for key, (expected, valid) in _META.items():
        value = meta.get(key)
        if not valid(value):
            problem = "missing" if key not in meta else f"expected {expected}, got {value!r}"
            raise RadarspFileError(path, None, f"'{key}': {problem}")
    try:
        config = TrainConfig.from_dict(meta.get("config"))
    except ConfigError as err:
        raise RadarspFileError(path, None, f"'config': {err}") from None
    return meta, config


def load_run(run_dir, *, device: str = "cpu", which: str = "best"):
    """Rebuild a run's objective from ``config.json`` and ``best.pt`` (or ``last.pt``).

    Both are read under the run's shared lock, so never while a training run writes them
    (:class:`radarsp_learn.rundir.RunBusyError`); the checkpoint is loaded without running
    any code in it (:func:`radarsp_learn.rundir.load_checkpoint`).

    Returns
    -------
    objective : Objective
        In eval mode, on ``device``.
    config : TrainConfig
    meta : dict
        Contents of ``config.json``.
    """
    run_dir = Path(run_dir)
    _config_path(run_dir)  # not a run directory: refused before a lock file is made in it
    with locked(run_dir, exclusive=False):
        meta, config = read_run(run_dir)
        checkpoint_path = run_dir / f"{which}.pt"
        if not checkpoint_path.exists():
            raise FileNotFoundError(f"{checkpoint_path}: no checkpoint (the run has not "
                                    "finished an epoch)")
        checkpoint = load_checkpoint(checkpoint_path, keys=CHECKPOINT_KEYS[which],
                                     device=resolve_device(device))
    objective = build_checked(config)
    load_state(objective, checkpoint["objective"], checkpoint_path)
    return objective.to(resolve_device(device)).eval(), config, meta
