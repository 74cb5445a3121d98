"""Files other tools write: other netCDF writers and formats, other units, other attrs.

Issue 13 items 3 (units), 4 (repeated frame labels in files), 9 (chunked / compressed /
unlimited / empty / netCDF-3 files must not crash the process), 11 (string or array radio
attrs), 14 (one validator: a CSI without CF ``coordinates`` attrs) and 17 (the ``ri`` message).
Every file is generated here from one small simulated scene; anything that could kill the
interpreter runs in a subprocess, so a signal fails the test instead of the suite.
"""

from __future__ import annotations

import signal

import netCDF4
import numpy as np
import pytest
import xarray as xr
from conftest import assert_refused, invoke, run_cli

import radarsp
from radarsp.errors import RadarspFileError

FRAMES = 6
#: A CFAR window that fits these small maps (32 range bins; the default needs 41).
SMALL_CFAR = ("--guard", "2,2", "--train", "8,8")


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """A small csi-1 file radarsp wrote, and its dataset as stored (``ri`` pairs, no decoding)."""
    folder = tmp_path_factory.mktemp("scene")
    path = folder / "plain.nc"
    done = invoke("simulate", "-n", FRAMES, "--subcarriers", 32, "--array", 8,
                  "--image-size", "16x16", "-o", path)
    assert done.status == 0, done.stderr
    stored = xr.open_dataset(path, engine="h5netcdf", decode_times=False).load()
    return path, stored.drop_encoding()


@pytest.fixture(scope="module")
def heatmap(scene, tmp_path_factory):
    """The plain file's heatmap and its stored dataset."""
    path = tmp_path_factory.mktemp("heat") / "plain.heat.nc"
    done = invoke("heatmap", scene[0], "-o", path)
    assert done.status == 0, done.stderr
    return path, xr.open_dataset(path, engine="h5netcdf", decode_times=False).load()


def write_netcdf4(ds: xr.Dataset, path, *, file_format="NETCDF4", zlib=False, unlimited=False,
                  chunk_frames=None):
    """Write ``ds`` with plain netCDF4-python, as a logger would: no CF ``coordinates``
    attrs, optionally compressed, chunked and with an unlimited (appendable) ``frame``."""
    with netCDF4.Dataset(path, "w", format=file_format) as out:
        for dim, size in ds.sizes.items():
            out.createDimension(dim, None if unlimited and dim == "frame" else size)
        out.setncatts(dict(ds.attrs))
        for name, variable in ds.variables.items():
            options = {}
            if file_format.startswith("NETCDF4"):
                options["zlib"] = zlib
                if chunk_frames and "frame" in variable.dims:
                    options["chunksizes"] = [chunk_frames if d == "frame" else ds.sizes[d]
                                             for d in variable.dims]
            target = out.createVariable(name, variable.dtype, variable.dims, **options)
            target.setncatts(dict(variable.attrs))
            target[:] = variable.values
    return path


def power_of(path) -> np.ndarray:
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        return ds["power"].values


WRITERS = {
    "netCDF4, plain": lambda ds, p: write_netcdf4(ds, p),
    "netCDF4, zlib + unlimited frame + 2-frame chunks": lambda ds, p: write_netcdf4(
        ds, p, zlib=True, unlimited=True, chunk_frames=2),
    "netCDF-3 (64-bit data)": lambda ds, p: write_netcdf4(ds, p, file_format="NETCDF3_64BIT_DATA"),
    "xarray, zlib + unlimited frame + explicit chunks": lambda ds, p: ds.to_netcdf(
        p, unlimited_dims=["frame"],
        encoding={n: {"zlib": True, "complevel": 5,
                      **({"chunksizes": tuple(1 if d == "frame" else ds.sizes[d]
                                              for d in ds[n].dims)} if "frame" in ds[n].dims
                         else {})} for n in ds.data_vars}) or p,
}


@pytest.mark.parametrize("writer", list(WRITERS))
def test_files_of_other_writers_give_the_plain_files_heatmap(scene, heatmap, tmp_path, writer):
    source = WRITERS[writer](scene[1], tmp_path / "other.nc")
    out = tmp_path / "other.heat.nc"
    done = run_cli("heatmap", source, "-o", out)
    assert done.status == 0 and done.status != -signal.SIGABRT, done.stderr
    info = run_cli("info", source)
    assert info.status == 0, info.stderr
    np.testing.assert_array_equal(power_of(out), power_of(heatmap[0]))


def test_a_zero_frame_file_from_another_writer_is_read(scene, tmp_path):
    empty = tmp_path / "empty.nc"
    write_netcdf4(scene[1].isel(frame=slice(0, 0)), empty, zlib=True, unlimited=True)
    assert run_cli("info", empty).status == 0
    out = tmp_path / "empty.heat.nc"
    done = run_cli("heatmap", empty, "-o", out)
    assert done.status == 0, done.stderr
    assert power_of(out).shape[0] == 0


def test_info_and_heatmap_agree_on_a_csi_without_cf_coordinates(scene, tmp_path):
    # one validator: contract coordinates stored as plain variables are coordinates for all
    path = write_netcdf4(scene[1], tmp_path / "nocoords.nc")
    with netCDF4.Dataset(path) as raw:
        assert not any("coordinates" in raw[v].ncattrs() for v in raw.variables)
    ds = radarsp.open_csi(path)
    assert {"frequency", "rx_x", "rx_y", "rx_z", "sequence"} <= set(ds.coords)
    assert invoke("info", path).status == 0
    assert invoke("heatmap", path, "-o", tmp_path / "h.nc").status == 0


def with_units(ds: xr.Dataset, name: str, scale: float, units) -> xr.Dataset:
    out = ds.copy()
    out[name] = out[name] * scale
    out[name].attrs = {**ds[name].attrs, "units": units}
    return out


@pytest.mark.parametrize("name, scale, units", [
    ("rx_x", 1000.0, "mm"), ("rx_y", 100.0, "cm"), ("frequency", 1e-9, "GHz"),
    ("target_angle", 180 / np.pi, "degree"), ("target_range", 1 / 0.3048, "ft"),
])
def test_convertible_units_give_radarsps_numbers(scene, heatmap, tmp_path, name, scale, units):
    other = with_units(scene[1], name, scale, units)
    other.to_netcdf(tmp_path / "units.nc")
    ds = radarsp.open_csi(tmp_path / "units.nc")
    reference = radarsp.open_csi(scene[0])
    assert ds[name].attrs["units"] == reference[name].attrs["units"]
    np.testing.assert_allclose(ds[name].values, reference[name].values, rtol=1e-6, atol=1e-12)
    done = invoke("heatmap", tmp_path / "units.nc", "-o", tmp_path / "units.heat.nc")
    assert done.status == 0, done.stderr
    np.testing.assert_allclose(power_of(tmp_path / "units.heat.nc"), power_of(heatmap[0]),
                               rtol=1e-4, atol=1e-12 * power_of(heatmap[0]).max())


@pytest.mark.parametrize("name, units, words", [
    ("rx_x", "degree", ["rx_x", "'m'"]), ("frequency", "m", ["frequency", "'Hz'"]),
    ("target_angle", "1", ["target_angle", "angle unit"]),
    ("rx_z", "furlongs per fortnight", ["rx_z", "'m'"]),
    ("frequency", "not a unit", ["frequency", "pint"]),
])
def test_wrong_units_are_one_line(scene, tmp_path, name, units, words):
    bad = with_units(scene[1], name, 1.0, units)
    bad.to_netcdf(tmp_path / "bad.nc")
    out = tmp_path / "h.nc"
    assert_refused(run_cli("heatmap", tmp_path / "bad.nc", "-o", out), "bad.nc", *words,
                   outputs=[out])


def test_a_heatmap_in_db_is_converted_and_detects_what_the_linear_one_does(heatmap, tmp_path):
    stored = heatmap[1].drop_encoding()
    decibels = stored.copy()
    decibels["power"] = 10 * np.log10(stored["power"])
    decibels["power"].attrs = {**stored["power"].attrs, "units": "dB"}
    decibels.to_netcdf(tmp_path / "db.nc")
    linear = tmp_path / "linear.cfar.nc"
    converted = tmp_path / "db.cfar.nc"
    assert invoke("cfar", heatmap[0], "-o", linear, *SMALL_CFAR).status == 0
    done = run_cli("cfar", tmp_path / "db.nc", "-o", converted, *SMALL_CFAR)
    assert done.status == 0, done.stderr
    assert "converted from decibels" in done.stderr
    with xr.open_dataset(linear) as a, xr.open_dataset(converted) as b:
        assert a.sizes["detection"] > 0
        np.testing.assert_array_equal(a["frame"].values, b["frame"].values)
        np.testing.assert_allclose(a["range"].values, b["range"].values)


def test_db_values_labelled_linear_are_refused_not_detected(heatmap, tmp_path):
    stored = heatmap[1].drop_encoding()
    lying = stored.copy()
    lying["power"] = 10 * np.log10(stored["power"])  # negative: dB in a map that says "1"
    lying.to_netcdf(tmp_path / "lying.nc")
    out = tmp_path / "det.nc"
    assert_refused(run_cli("cfar", tmp_path / "lying.nc", "-o", out), "lying.nc", "power",
                   "negative", outputs=[out])


def test_angle_bins_in_degrees(heatmap, tmp_path):
    stored = heatmap[1].drop_encoding()
    degrees = stored.assign_coords(angle=np.degrees(stored["angle"]))
    degrees["angle"].attrs = {**stored["angle"].attrs, "units": "degree"}
    degrees.to_netcdf(tmp_path / "deg.nc")
    np.testing.assert_allclose(radarsp.open_heatmap(tmp_path / "deg.nc")["angle"].values,
                               stored["angle"].values, rtol=1e-6)
    unlabelled = degrees.copy()
    unlabelled["angle"].attrs["units"] = "rad"  # degrees that claim to be radians
    unlabelled.to_netcdf(tmp_path / "liar.nc")
    out = tmp_path / "det.nc"
    assert_refused(run_cli("cfar", tmp_path / "liar.nc", "-o", out), "liar.nc", "angle",
                   "[-pi, pi]", outputs=[out])


def test_repeated_frame_labels_in_a_csi_are_refused(scene, tmp_path):
    labels = np.arange(FRAMES)
    labels[3] = 2
    scene[1].assign_coords(frame=labels).to_netcdf(tmp_path / "dup.nc")
    out = tmp_path / "h.nc"
    assert_refused(run_cli("heatmap", tmp_path / "dup.nc", "-o", out), "dup.nc", "frame",
                   "appears 2 times", outputs=[out])
    with pytest.raises(RadarspFileError, match="appears 2 times"):
        radarsp.open_csi(tmp_path / "dup.nc")


@pytest.mark.parametrize("value", ["28e9", "28 GHz", [28e9, 1.0], float("nan"), -1.0])
def test_radio_attrs_that_are_not_a_positive_number_are_one_line(scene, tmp_path, value):
    bad = scene[1].copy()
    bad.attrs["carrier_frequency"] = value
    bad.to_netcdf(tmp_path / "attr.nc")
    out = tmp_path / "h.nc"
    assert_refused(invoke("heatmap", tmp_path / "attr.nc", "-o", out), "attr.nc",
                   "carrier_frequency", "positive number in Hz", outputs=[out])
    assert_refused(invoke("info", tmp_path / "attr.nc"), "carrier_frequency")


def test_a_file_another_process_holds_open_for_writing_is_one_line(scene, tmp_path):
    """HDF5's file lock held by a writer (a logger, a dask worker) is refused by name."""
    import shutil
    import subprocess
    import sys

    busy = tmp_path / "busy.nc"
    shutil.copy(scene[0], busy)
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import h5py, sys; f = h5py.File({str(busy)!r}, 'a'); "
         "print('open', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        out = tmp_path / "h.nc"
        assert_refused(invoke("heatmap", busy, "-o", out), "busy.nc",
                       "open for writing by another process", outputs=[out])
    finally:
        holder.kill()
        holder.wait()
    assert invoke("heatmap", busy, "-o", tmp_path / "after.nc").status == 0


def test_ri_not_last_names_the_dims_not_a_dtype(scene, tmp_path):
    bad = scene[1].copy()
    bad["csi"] = bad["csi"].transpose("frame", "rx", "ri", "subcarrier")
    bad.to_netcdf(tmp_path / "ri.nc")
    line = assert_refused(invoke("heatmap", tmp_path / "ri.nc", "-o", tmp_path / "h.nc"),
                          "csi", "'ri' as the last dimension",
                          "('frame', 'rx', 'ri', 'subcarrier')")
    assert "dtype" not in line


def test_every_stage_reads_zarr_stores_as_it_reads_netcdf(scene, tmp_path):
    """Item 13: the chain on .zarr stores gives the tables it gives on netCDF files."""
    tables = {}
    for suffix in (".nc", ".zarr"):
        def out(stem, suffix=suffix):
            return tmp_path / f"{stem}{suffix}"
        csi = scene[0] if suffix == ".nc" else out("csi")
        if suffix == ".zarr":
            radarsp.save(radarsp.open_csi(scene[0]).load(), csi)
        for args in (("heatmap", csi, "-o", out("heat")),
                     ("cfar", out("heat"), "-o", out("det"), "--pfa", "0.01", *SMALL_CFAR),
                     ("cluster", out("det"), "-o", out("clu")),
                     ("match", out("clu"), "--truth", out("heat"), "-o", out("est"))):
            done = invoke(*args)
            assert done.status == 0, (args, done.stderr)
        scores = invoke("evaluate", out("est"), "--truth", out("heat"), "--n-boot", 50)
        assert scores.status == 0, scores.stderr
        tables[suffix] = (radarsp.open_estimates(out("est")).load(), scores.stdout)
    xr.testing.assert_identical(tables[".nc"][0].reset_coords(drop=True),
                                tables[".zarr"][0].reset_coords(drop=True))
    assert tables[".nc"][1] == tables[".zarr"][1]
