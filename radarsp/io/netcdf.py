"""Opening and saving radarsp netCDF files: the one place files are read, checked and written.

Reading goes through the ``radarsp`` xarray backend (:mod:`radarsp.io.backend`), so
``radarsp.open_csi(path)`` and ``xr.open_dataset(path, engine="radarsp")`` give the same
lazily-read, validated dataset. Writing is atomic and exclusive (:mod:`radarsp.io.atomic`):
a partial file beside the target is written completely, then renamed onto it.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import sys
import warnings
from pathlib import Path

import xarray as xr

from radarsp.errors import RadarspFileError
from radarsp.io.atomic import OutputError, atomic_path, check_target, remove_path
from radarsp.io.complex import decode_variable, encode_complex
from radarsp.io.schema import infer_schema, validate
from radarsp.io.units import conform
from radarsp.model import (
    CLUSTERS,
    COORDINATES,
    CSI,
    DETECTIONS,
    ESTIMATES,
    HEATMAP,
    RI_DIM,
    SCHEMA_ATTR,
    annotate,
)


def _open_raw(path: str) -> xr.Dataset:
    """Open a file lazily: a ``.zarr`` store with zarr, netCDF with the engine its format needs."""
    if os.path.isdir(path):
        try:
            return xr.open_dataset(path, engine="zarr", decode_times=False, chunks=None)
        except Exception as err:  # noqa: BLE001 - reported as a contract error below
            raise RadarspFileError(path, None, f"not a readable Zarr store ({err})") from err
    errors = []
    for engine in _engines(path):
        try:
            return xr.open_dataset(path, engine=engine, decode_times=False)
        except Exception as err:  # noqa: BLE001 - any failure means "try the next engine"
            if "unable to lock file" in str(err):
                raise RadarspFileError(
                    path, None, "is open for writing by another process (its HDF5 lock is "
                    "held): wait for that writer to finish"
                ) from err
            errors.append(f"{engine}: {err}")
    raise RadarspFileError(path, None, "not a readable netCDF file (" + "; ".join(errors) + ")")


#: The first bytes of an HDF5 file (netCDF-4), possibly after a user block of 512 * 2**k bytes.
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _engines(path: str) -> tuple[str, ...]:
    """The xarray engines to try for a netCDF file, by its format.

    netCDF-4 (HDF5) files are read with h5netcdf: h5py reads native complex compound types
    itself, and netCDF4-python's ``auto_complex=True`` corrupts the heap (SIGABRT) on chunked,
    compressed or unlimited-dimension files that other writers produce. Classic netCDF-3
    files (no complex types, no chunks) are read with netCDF4-python, without ``auto_complex``.
    """
    with open(path, "rb") as handle:
        head = handle.read(8)
        offset = 512
        while head != _HDF5_SIGNATURE and offset <= 1 << 20:
            handle.seek(offset)
            head = handle.read(8)
            if not head:
                break
            offset *= 2
    return ("h5netcdf",) if head == _HDF5_SIGNATURE else ("netcdf4",)


def decode(raw: xr.Dataset, path: str, schema: str | None = None) -> xr.Dataset:
    """Decode ``ri`` pairs to lazy complex variables and validate against the schema."""
    variables = {}
    for name, variable in raw.variables.items():
        check = name == "csi"
        if RI_DIM in variable.dims or variable.dtype.kind == "c" or check:
            variable = decode_variable(variable, path=path, name=str(name), check_finite=check)
        variables[name] = variable
    # Contract coordinates stored as plain variables (a writer that set no CF ``coordinates``
    # attr) are the same data: every command sees them as coordinates.
    coords = [n for n in raw.coords if n in variables]
    coords += [n for n in COORDINATES if n in variables and n not in coords]
    ds = xr.Dataset(
        {n: v for n, v in variables.items() if n not in coords},
        coords={n: variables[n] for n in coords},
        attrs=raw.attrs,
    )
    if RI_DIM in ds.dims and not any(RI_DIM in v.dims for v in ds.variables.values()):
        ds = ds.drop_dims(RI_DIM)
    schema = validate(ds, schema, path=path)
    ds = conform(ds, schema, path=path)
    ds.set_close(raw.close)
    return ds


def open_dataset(path, *, schema: str | None = None, chunks=None) -> xr.Dataset:
    """Open a radarsp file lazily, decode complex values and validate it.

    Parameters
    ----------
    path : path-like
        netCDF file following one of the schemas of the data contract.
    schema : str, optional
        Expected schema (``"csi-1"``, ``"heatmap-1"``, ...); inferred when omitted.
    chunks : dict or int, optional
        dask chunks, e.g. ``{"frame": 512}``; without, values are read on first access
        (only the frames indexed), still without loading the whole file.

    Returns
    -------
    xarray.Dataset
        Complex variables have a complex dtype; nothing is loaded yet.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    RadarspFileError
        If the file is not netCDF or does not follow the schema (one line: file, variable,
        expectation). Non-finite CSI is reported when those values are first read.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    with warnings.catch_warnings():
        # Compressed camera images are stored in 64-frame chunks; any frame chunking the user
        # asks for reads whole slabs of everything else, so xarray's alignment advice is noise.
        warnings.filterwarnings("ignore", "The specified chunks separate", UserWarning)
        return xr.open_dataset(path, engine="radarsp", schema=schema, chunks=chunks)


def open_csi(path, chunks=None) -> xr.Dataset:
    """Open a ``csi-1`` file (see :func:`open_dataset`)."""
    return open_dataset(path, schema=CSI, chunks=chunks)


def open_heatmap(path, chunks=None) -> xr.Dataset:
    """Open a ``heatmap-1`` file (see :func:`open_dataset`)."""
    return open_dataset(path, schema=HEATMAP, chunks=chunks)


def open_detections(path) -> xr.Dataset:
    """Open a ``detections-1`` table (see :func:`open_dataset`)."""
    return open_dataset(path, schema=DETECTIONS)


def open_clusters(path) -> xr.Dataset:
    """Open a ``clusters-1`` table (see :func:`open_dataset`)."""
    return open_dataset(path, schema=CLUSTERS)


def open_estimates(path) -> xr.Dataset:
    """Open an ``estimates-1`` table (see :func:`open_dataset`)."""
    return open_dataset(path, schema=ESTIMATES)


def _encoding(ds: xr.Dataset) -> dict:
    """Compression and chunking: camera images compress ~20x; everything else stays plain."""
    encoding = {}
    for name, variable in ds.data_vars.items():
        encoding[name] = {}
        if name == "image" and variable.ndim == 4:
            chunk = (min(64, variable.shape[0]),) + variable.shape[1:]
            encoding[name] = {"zlib": True, "complevel": 1, "chunksizes": chunk}
        if variable.dtype.kind == "f":
            encoding[name]["_FillValue"] = None
    for name in ds.coords:
        if ds[name].dtype.kind == "f":
            encoding[name] = {"_FillValue": None}
    return encoding


@contextlib.contextmanager
def dask_progress(enabled: bool = True, desc: str = "computing"):
    """Show a tqdm bar on stderr for the dask tasks computed inside the block.

    Works with dask's local schedulers; on a dask.distributed client the tasks run remotely
    and the bar stays silent.
    """
    if not enabled:
        yield
        return
    from dask.callbacks import Callback
    from tqdm.auto import tqdm

    class _Bar(Callback):
        def _start_state(self, dsk, state):
            total = sum(len(state[k]) for k in ("ready", "waiting", "running"))
            # disable=None: no bar when stderr is not a terminal (logs, CI, pipes)
            self.bar = tqdm(total=total, file=sys.stderr, unit="task", desc=desc, disable=None)

        def _posttask(self, key, result, dsk, state, worker_id):
            self.bar.update(1)

        def _finish(self, dsk, state, errored):
            self.bar.close()

    with _Bar():
        yield


def save(
    ds: xr.Dataset,
    path,
    *,
    schema: str | None = None,
    force: bool = False,
    progress: bool = False,
) -> Path:
    """Validate ``ds`` and write it atomically as a radarsp netCDF file.

    Parameters
    ----------
    ds : xarray.Dataset
        In-memory or dask-backed dataset; dask data is written chunk by chunk, so a result
        larger than memory can be saved.
    path : path-like
        Destination: netCDF (``.nc``), or a Zarr store when the name ends in ``.zarr``
        (the better target for writes from many dask.distributed workers).
    schema : str, optional
        Schema to write; defaults to the dataset's ``radarsp_schema`` attr or the one its
        variables fit.
    force : bool
        Replace an existing file or Zarr store, atomically (of concurrent writers the last
        wins). Without it an existing ``path`` raises FileExistsError, before any work, and
        so does one that appears while this write is under way.
    progress : bool
        Show a progress bar on stderr while a dask-backed dataset is computed and written.

    Returns
    -------
    pathlib.Path
        The written path.

    Raises
    ------
    FileExistsError, radarsp.io.atomic.OutputError
        See :func:`check_save_path`; OutputError also when the disk fills up while writing.

    Examples
    --------
    >>> import tempfile, os
    >>> import numpy as np
    >>> columns = ("range", "angle", "x", "y", "power")
    >>> table = xr.Dataset({c: ("frame", np.zeros(2)) for c in columns},
    ...                    coords={"frame": [0, 1]}, attrs={"method": "demo"})
    >>> out = save(table, os.path.join(tempfile.mkdtemp(), "e.nc"), schema="estimates-1")
    >>> open_estimates(out).attrs["radarsp_schema"]
    'estimates-1'
    """
    store = _is_writable_store(path)
    out = annotate(ds.copy())
    schema = validate(out, schema or infer_schema(out), path=path)
    out.attrs[SCHEMA_ATTR] = schema
    out = encode_complex(out)
    with atomic_path(path, force=force, directory=store) as tmp:
        try:
            # in-memory variables are written by to_zarr/to_netcdf, dask-backed ones by compute
            if store:
                encoding = {n: {} for n in out.variables}
                delayed = out.to_zarr(tmp, mode="w", encoding=encoding, compute=False,
                                      zarr_format=2)
            else:
                delayed = out.to_netcdf(tmp, engine="netcdf4", encoding=_encoding(out),
                                        compute=False)
            with dask_progress(progress, "writing"):
                _compute_to_the_end(delayed)
            # a dask.distributed write leaves this process's handle on the file open (with
            # its HDF5 lock) in xarray's cache: close it before the file is renamed into place
            _forget_open_file(tmp, discard=False)
        except BaseException:
            _forget_open_file(tmp)
            if store:
                _settle_zarr_writes()
                atexit.register(_discard, tmp)
            raise
    return Path(path)


def _compute_to_the_end(delayed) -> None:
    """``delayed.compute()``; when a task fails, return only once the tasks already running
    have ended.

    dask's threaded scheduler raises a task's error at once while other tasks still write:
    one reopening the partial netCDF file (xarray reopens a closed handle by name) would
    re-create it after its removal. So the default threaded scheduler runs on a pool of our
    own, shut down (waiting) before the error goes on; other schedulers (dask.distributed,
    synchronous) are used as they are.
    """
    from concurrent.futures import ThreadPoolExecutor

    import dask
    import dask.threaded

    if dask.base.get_scheduler(collections=[delayed]) is not dask.threaded.get:
        delayed.compute()
        return
    workers = dask.config.get("num_workers", None) or os.cpu_count() or 1
    with ThreadPoolExecutor(workers) as pool:
        delayed.compute(scheduler="threads", pool=pool, num_workers=workers)


def _settle_zarr_writes(timeout: float = 60.0) -> None:
    """Wait for the chunk writes a failed Zarr write left running.

    zarr writes a variable's chunks concurrently on its own event loop; when one write fails
    (a full disk) the others run on, re-creating directories of the partial store after it
    is removed, and their errors would be logged at exit as never retrieved.
    """
    try:
        from zarr.core.sync import sync
    except ImportError:  # zarr 2 writes synchronously
        return

    async def settle():
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        if others:
            done, _ = await asyncio.wait(others, timeout=timeout)
            for task in done:
                if not task.cancelled():
                    task.exception()  # retrieved, so not logged

    sync(settle())


def _discard(partial: str) -> None:
    """At exit, once every worker thread has finished: remove a failed store's partial
    again, in case a straggling chunk write re-created it."""
    _settle_zarr_writes()
    remove_path(partial)


def _forget_open_file(path: str, *, discard: bool = True) -> None:
    """Close and forget xarray's handles on ``path``.

    A failed ``compute()`` (``discard``) leaves the file open in xarray's file cache; closing
    it later, at interpreter exit, would fail again (the disk is still full) with a traceback,
    so errors are ignored: the partial file is discarded. After a successful write an error
    in closing (the final flush) is the write's error and is raised.
    """
    from xarray.backends.file_manager import FILE_CACHE

    for key in list(FILE_CACHE.keys()):
        if len(key) > 1 and path in map(str, key[1]):
            handle = FILE_CACHE.pop(key, None)
            if handle is None:
                continue
            if discard:
                with contextlib.suppress(Exception):  # its data goes with the partial file
                    handle.close()
            else:
                handle.close()


def is_store(path) -> bool:
    """Whether ``path`` names a Zarr store (a directory ending in ``.zarr``) for :func:`save`."""
    return Path(path).suffix.lower() == ".zarr"


def check_save_path(path, *, force: bool = False) -> bool:
    """Raise now, before any work, what :func:`save` would refuse about ``path``.

    Parameters
    ----------
    path : path-like
        Destination of a later ``save(ds, path, force=force)``.
    force : bool
        As in :func:`save`.

    Returns
    -------
    bool
        Whether the output is a Zarr store (a directory).

    Raises
    ------
    FileExistsError
        ``path`` exists and ``force`` is not given.
    OutputError
        ``path`` cannot be written (see :func:`radarsp.io.atomic.check_target`), or a Zarr
        store is asked for without the zarr package.

    Examples
    --------
    >>> import tempfile
    >>> check_save_path(os.path.join(tempfile.mkdtemp(), "run.zarr"))
    True
    """
    store = _is_writable_store(path)
    check_target(path, force=force, directory=store)
    return store


def _is_writable_store(path) -> bool:
    """:func:`is_store`, refusing a store when the zarr package is missing."""
    import importlib.util

    if is_store(path) and importlib.util.find_spec("zarr") is None:
        raise OutputError(f"{os.fspath(path)}: writing a Zarr store needs the zarr package: "
                          "pip install 'radarsp[distributed]'")
    return is_store(path)
