"""Data-contract I/O: round trips, foreign files, one clear error per problem, atomic writes."""

from __future__ import annotations

import subprocess
import sys

import netCDF4
import numpy as np
import pytest
import xarray as xr

import radarsp
from radarsp.errors import RadarspFileError
from radarsp.io import atomic_path
from radarsp.model import annotate
from tests.conftest import make_csi


def test_round_trip_keeps_values_dtypes_coords_attrs(tmp_path, csi_ds):
    path = radarsp.save(csi_ds, tmp_path / "s.nc")
    back = radarsp.open_csi(path).load()
    for name, variable in csi_ds.variables.items():
        assert back[name].dtype == variable.dtype, name
        np.testing.assert_array_equal(back[name].values, variable.values, err_msg=name)
        assert back[name].dims == variable.dims, name
    for key, value in csi_ds.attrs.items():
        assert back.attrs[key] == value
    assert back.attrs["radarsp_schema"] == "csi-1"
    assert back["frequency"].attrs["units"] == "Hz"
    assert back["rx_x"].attrs["long_name"]


def test_complex_is_stored_as_trailing_ri(tmp_path, csi_ds):
    path = radarsp.save(csi_ds, tmp_path / "s.nc")
    with netCDF4.Dataset(path) as nc:
        assert nc["csi"].dimensions == ("frame", "rx", "subcarrier", "ri")
        assert nc["csi"].dtype == np.float32
        np.testing.assert_array_equal(nc["csi"][..., 1], csi_ds.csi.values.imag)


def test_doppler_symbols_round_trip(tmp_path):
    ds = make_csi(symbols=5)
    back = radarsp.open_csi(radarsp.save(ds, tmp_path / "d.nc"))
    assert back.csi.dims == ("frame", "symbol", "rx", "subcarrier")
    np.testing.assert_array_equal(back.csi.values, ds.csi.values)


def _write_by_hand(path, *, ri_last=True, with_units=True, csi_value=None):
    """A csi-1 file written with plain netCDF4, as another tool following the contract would."""
    with netCDF4.Dataset(path, "w") as nc:
        nc.radarsp_schema = "csi-1"
        nc.carrier_frequency = 28e9
        nc.bandwidth = 400e6
        nc.subcarrier_spacing = 100e6
        for dim, size in (("frame", 2), ("rx", 3), ("subcarrier", 4), ("ri", 2)):
            nc.createDimension(dim, size)
        freq = nc.createVariable("frequency", "f8", ("subcarrier",))
        freq[:] = 28e9 + 100e6 * np.arange(4)
        if with_units:
            freq.units = "Hz"
        for axis in "xyz":
            var = nc.createVariable(f"rx_{axis}", "f8", ("rx",))
            var[:] = 0.005 * np.arange(3) if axis == "x" else 0.0
            var.units = "m"
        dims = (
            ("frame", "rx", "subcarrier", "ri") if ri_last else ("frame", "ri", "rx", "subcarrier")
        )
        csi = nc.createVariable("csi", "f4", dims)
        data = np.arange(2 * 3 * 4 * 2, dtype=np.float32).reshape(
            [nc.dimensions[d].size for d in dims]
        )
        if csi_value is not None:
            data.flat[0] = csi_value
        csi[:] = data
    return path


def test_file_written_by_plain_netcdf4_opens(tmp_path):
    path = _write_by_hand(tmp_path / "hand.nc")
    ds = radarsp.open_csi(path)
    assert ds.csi.dtype == np.complex64
    assert ds.csi.dims == ("frame", "rx", "subcarrier")
    assert ds.csi.values[0, 0, 1] == 2 + 3j
    assert xr.open_dataset(path, engine="radarsp").csi.dtype == np.complex64


def test_native_complex_variables_are_read(tmp_path, csi_ds):
    path = tmp_path / "native.nc"
    annotate(csi_ds.copy()).to_netcdf(path, engine="netcdf4", auto_complex=True)
    np.testing.assert_array_equal(radarsp.open_csi(path).csi.values, csi_ds.csi.values)


def test_dask_chunks_stay_lazy_and_equal(tmp_path, csi_ds):
    path = radarsp.save(csi_ds, tmp_path / "s.nc")
    lazy = radarsp.open_csi(path, chunks={"frame": 2})
    assert lazy.csi.chunks[0] == (2, 2)
    np.testing.assert_array_equal(lazy.csi.values, csi_ds.csi.values)


@pytest.mark.parametrize(
    "mutate, variable, expected",
    [
        (lambda ds: ds.drop_vars("csi"), "csi", "missing"),
        (lambda ds: ds.transpose("rx", "frame", "subcarrier", ...), "csi", "expected dims"),
        (
            lambda ds: (
                ds.assign_attrs(bandwidth=None)
                and ds.drop_attrs(deep=False).assign_attrs(
                    carrier_frequency=28e9, subcarrier_spacing=1e8
                )
            ),
            None,
            "bandwidth",
        ),
        (
            lambda ds: ds.drop_vars("target_box").assign(target_box=ds.target_box[:, :3]),
            "target_box",
            "length 4",
        ),
        (
            lambda ds: ds.assign_coords(frequency=("subcarrier", ds.frequency.values[::-1])),
            "frequency",
            "increasing",
        ),
    ],
)
def test_bad_datasets_give_one_clear_error(tmp_path, csi_ds, mutate, variable, expected):
    bad = mutate(csi_ds)
    with pytest.raises(RadarspFileError) as info:
        radarsp.save(bad, tmp_path / "bad.nc", schema="csi-1")
    message = str(info.value)
    assert message.startswith(str(tmp_path / "bad.nc"))
    assert expected in message and "\n" not in message
    if variable:
        assert f"'{variable}'" in message
    assert not list(tmp_path.iterdir()), "nothing may be written for an invalid dataset"


def test_ri_not_last_is_reported(tmp_path):
    path = _write_by_hand(tmp_path / "ri.nc", ri_last=False)
    with pytest.raises(RadarspFileError, match="'csi': expected 'ri' as the last dimension"):
        radarsp.open_csi(path)


def test_missing_units_is_reported(tmp_path):
    path = _write_by_hand(tmp_path / "u.nc", with_units=False)
    with pytest.raises(RadarspFileError, match="'frequency': expected a 'units' attribute"):
        radarsp.open_csi(path)


def test_non_finite_csi_is_reported_on_read(tmp_path):
    path = _write_by_hand(tmp_path / "nan.nc", csi_value=np.nan)
    with pytest.raises(RadarspFileError, match="nan.nc: variable 'csi': expected finite"):
        radarsp.open_csi(path).csi.load()
    with pytest.raises(RadarspFileError, match="expected finite"):
        radarsp.open_csi(path, chunks={"frame": 1}).csi.sum().compute()


def test_not_netcdf_and_wrong_schema(tmp_path, csi_ds):
    text = tmp_path / "notes.nc"
    text.write_text("not a netCDF file")
    with pytest.raises(RadarspFileError, match="notes.nc: not a readable netCDF file"):
        radarsp.open_csi(text)
    path = radarsp.save(csi_ds, tmp_path / "s.nc")
    with pytest.raises(RadarspFileError, match="holds csi-1 data .*expected heatmap-1"):
        radarsp.open_heatmap(path)
    with pytest.raises(FileNotFoundError, match="missing.nc"):
        radarsp.open_csi(tmp_path / "missing.nc")


def test_refuses_overwrite_without_force(tmp_path, csi_ds):
    path = radarsp.save(csi_ds, tmp_path / "s.nc")
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="--force"):
        radarsp.save(make_csi(seed=1), path)
    assert path.read_bytes() == before
    radarsp.save(make_csi(seed=1), path, force=True)
    assert path.read_bytes() != before


def test_interrupted_write_leaves_old_file_intact(tmp_path, csi_ds):
    path = radarsp.save(csi_ds, tmp_path / "s.nc")
    before = path.read_bytes()
    import dask.array as da

    def explode(block):
        raise RuntimeError("simulated failure mid-write")

    lazy = make_csi(seed=2).chunk({"frame": 1})
    lazy["csi"] = lazy.csi.copy(data=da.map_blocks(explode, lazy.csi.data, dtype=lazy.csi.dtype))
    with pytest.raises(RuntimeError, match="mid-write"):
        radarsp.save(lazy, path, force=True)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["s.nc"], "temporary file left behind"


def test_atomic_path_writes_only_on_success(tmp_path):
    target = tmp_path / "x.txt"
    with atomic_path(target) as tmp:
        open(tmp, "w").write("done")
    assert target.read_text() == "done"


def test_import_is_light():
    code = (
        "import sys, radarsp, radarsp.io, radarsp.accessor\n"
        "heavy = ['torch', 'numba', 'sklearn', 'matplotlib', 'scipy']\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_zarr_store_round_trip_and_force(tmp_path, csi_ds):
    pytest.importorskip("zarr", reason="Zarr output needs the 'distributed' extra")
    store = radarsp.save(csi_ds, tmp_path / "s.zarr")
    np.testing.assert_array_equal(radarsp.open_csi(store).csi.values, csi_ds.csi.values)
    with pytest.raises(FileExistsError):
        radarsp.save(csi_ds, store)
    other = make_csi(seed=5)
    radarsp.save(other, store, force=True)
    np.testing.assert_array_equal(radarsp.open_csi(store).csi.values, other.csi.values)
    assert [p.name for p in tmp_path.iterdir()] == ["s.zarr"]


def test_callable_modules_pickle_by_reference():
    import pickle

    import cloudpickle

    for module in (radarsp.cfar, radarsp.cluster, radarsp.simulate):
        assert callable(module)
        assert pickle.loads(cloudpickle.dumps(module)) is module
