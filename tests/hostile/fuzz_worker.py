"""Child process of the reader fuzz test: mutate real files, read them, report each outcome.

Usage: ``python fuzz_worker.py FOLDER SEED FIRST COUNT``. For each case it prints ``start N``
before reading (so a signal names the case that caused it), then one JSON line with the
outcome: ``ok``, ``refused`` (a one-line :class:`RadarspFileError` or ``OSError``) or
``unexpected`` with the exception's type and message. Run in a child so that a crash in the
HDF5 / netCDF C libraries kills the child, not the test session.
"""

from __future__ import annotations

import json
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import xarray as xr

import radarsp
from radarsp.errors import RadarspFileError

BASES = ("csi.nc", "heatmap.nc", "clusters.nc", "estimates.nc", "csi3.nc")
HOSTILE_VALUES = ("28e9", "", "nan", "1e400", -1, 0, 2**63 - 1, np.nan, np.inf, -np.inf,
                  [1.0, 2.0], np.zeros(3, dtype=np.int8), b"\xff\xfe", "degree", "dB", "mm",
                  "furlong", "rad rad", "1/0")


def truncate(data: bytes, rng) -> bytes:
    return data[: int(rng.integers(0, len(data)))]


def flip(data: bytes, rng) -> bytes:
    out = bytearray(data)
    for _ in range(int(rng.integers(1, 16))):
        position = int(rng.integers(0, len(out)))
        out[position] ^= 1 << int(rng.integers(0, 8))
    return bytes(out)


def hostile_value(rng):
    return HOSTILE_VALUES[int(rng.integers(0, len(HOSTILE_VALUES)))]


def mutate_dataset(ds: xr.Dataset, rng) -> xr.Dataset:
    """One structural mutation: an attr, a units attr, a dim, a variable or its dtype."""
    names = sorted(map(str, ds.variables))
    name = names[int(rng.integers(0, len(names)))]
    kind = int(rng.integers(0, 7))
    out = ds.copy()
    if kind == 0:  # a global attr of another type
        keys = sorted(ds.attrs) + ["radarsp_schema"]
        out.attrs[keys[int(rng.integers(0, len(keys)))]] = hostile_value(rng)
    elif kind == 1:  # a units attr of another kind or type
        out[name].attrs["units"] = hostile_value(rng)
    elif kind == 2:  # a variable dropped
        out = out.drop_vars(name)
    elif kind == 3:  # a dim renamed
        dims = sorted(map(str, ds.dims))
        dim = dims[int(rng.integers(0, len(dims)))]
        out = out.rename_dims({dim: dim + "_fuzzed"})
    elif kind == 4 and ds[name].ndim > 1:  # dims reversed
        out[name] = out[name].transpose(*reversed(out[name].dims))
    elif kind == 5 and ds[name].dtype.kind in "fiu":  # values scaled, negated or made NaN
        values = np.asarray(ds[name].values, dtype=np.float64)
        values = values * float(rng.choice([-1.0, 1e30, np.nan, 0.0]))
        out[name] = (ds[name].dims, values, ds[name].attrs)
    elif kind == 6 and "frame" in ds.dims and ds.sizes["frame"] > 1 and name == "frame":
        labels = np.array(ds["frame"].values)
        labels[-1] = labels[0]
        out = out.assign_coords(frame=labels)
    else:
        out.attrs["radarsp_schema"] = hostile_value(rng)
    return out


def make_case(folder: Path, seed: int, case: int, work: Path) -> Path:
    rng = np.random.default_rng([seed, case])
    base = folder / BASES[case % len(BASES)]
    target = work / f"case{case}.nc"
    how = case // len(BASES) % 3
    if how == 0:
        target.write_bytes(truncate(base.read_bytes(), rng))
    elif how == 1:
        target.write_bytes(flip(base.read_bytes(), rng))
    else:
        with xr.open_dataset(base, engine="h5netcdf" if base.name != "csi3.nc" else "netcdf4",
                             decode_times=False) as ds:
            try:
                mutated = mutate_dataset(ds.load().drop_encoding(), rng)
                mutated.to_netcdf(target)
            except Exception:  # noqa: BLE001 - a mutation xarray cannot make or store
                shutil.copy(base, target)
    return target


def read(path: Path) -> None:
    """What every command does first: open, validate, and read every value."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = radarsp.open_dataset(path)
        try:
            ds.load()
        finally:
            ds.close()


def main(folder: str, seed: str, first: str, count: str) -> None:
    folder, work = Path(folder), Path(folder) / "work"
    work.mkdir(exist_ok=True)
    for case in range(int(first), int(first) + int(count)):
        print(f"start {case}", flush=True)
        path = make_case(folder, int(seed), case, work)
        try:
            read(path)
            outcome = {"case": case, "outcome": "ok"}
        except (RadarspFileError, OSError) as err:
            one_line = "\n" not in str(err)
            outcome = {"case": case, "outcome": "refused" if one_line else "unexpected",
                       "error": f"{type(err).__name__}: {err}"}
        except Exception as err:  # noqa: BLE001 - what the test is looking for
            outcome = {"case": case, "outcome": "unexpected",
                       "error": f"{type(err).__name__}: {err}"[:300]}
        print(json.dumps(outcome), flush=True)
        path.unlink(missing_ok=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
