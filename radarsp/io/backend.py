"""The ``radarsp`` xarray backend: ``xr.open_dataset(path, engine="radarsp")``.

Registered as an entry point in ``pyproject.toml``; it opens the file with netCDF4 (or
h5netcdf), decodes ``ri`` pairs and native complex variables lazily, and validates the schema.
"""

from __future__ import annotations

import os

from xarray.backends import BackendEntrypoint

from radarsp.io.netcdf import _open_raw, decode


class RadarspBackendEntrypoint(BackendEntrypoint):
    """Open radarsp netCDF files (``csi-1``, ``heatmap-1``, tables) as validated datasets."""

    description = "radarsp data-contract netCDF files (complex as trailing 'ri' dimension)"
    url = "https://github.com/radarsp/radarsp"
    open_dataset_parameters = ("filename_or_obj", "drop_variables", "schema")

    def open_dataset(self, filename_or_obj, *, drop_variables=None, schema=None):
        path = os.fspath(filename_or_obj)
        raw = _open_raw(path)
        if drop_variables:
            raw = raw.drop_vars(drop_variables, errors="ignore")
        return decode(raw, path, schema)

    def guess_can_open(self, filename_or_obj) -> bool:
        return False
