"""Complex values on disk: a trailing ``ri`` dimension of length 2 (real, imag).

Reading is lazy: :class:`RiComplexArray` is an xarray backend array that turns ``(..., ri)``
float storage into complex values only for the frames actually read, so files larger than
memory stay usable with or without dask. The same array checks what it reads for non-finite
values when asked to, so a corrupt CSI file fails with a clear message at the first read.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

from radarsp.errors import RadarspFileError
from radarsp.model import RI_DIM

_COMPLEX_OF = {
    np.dtype("float32"): np.dtype("complex64"),
    np.dtype("float64"): np.dtype("complex128"),
}


class RiComplexArray(BackendArray):
    """Lazy complex view of a stored variable.

    Parameters
    ----------
    variable : xarray.Variable
        The stored (lazily indexed) variable: float with trailing ``ri`` of length 2, or
        already complex (native complex storage), in which case only the finiteness check applies.
    path, name : str
        File and variable, for error messages.
    check_finite : bool
        Raise :class:`RadarspFileError` when a read block holds NaN or Inf.
    """

    def __init__(self, variable: xr.Variable, *, path: str, name: str, check_finite: bool):
        self.variable = variable
        self.path = path
        self.name = name
        self.check_finite = check_finite
        self.is_ri = variable.dims[-1] == RI_DIM
        self.shape = variable.shape[:-1] if self.is_ri else variable.shape
        self.dtype = (
            _COMPLEX_OF.get(variable.dtype, np.dtype("complex128"))
            if self.is_ri
            else variable.dtype
        )

    def __getitem__(self, key):
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.BASIC, self._read
        )

    def _read(self, key: tuple):
        if self.is_ri:
            raw = np.ascontiguousarray(self.variable[key + (slice(None),)].values)
            if raw.dtype in _COMPLEX_OF:  # (real, imag) pairs are complex values: view, no copy
                values = raw.view(self.dtype)[..., 0]
            else:
                values = _combine(raw, self.dtype)
        else:
            values = np.asarray(self.variable[key].values)
        if self.check_finite and not np.isfinite(values).all():
            raise RadarspFileError(self.path, self.name, "expected finite values, found NaN or Inf")
        return values


def _combine(raw: np.ndarray, dtype) -> np.ndarray:
    values = np.empty(raw.shape[:-1], dtype=dtype)
    values.real = raw[..., 0]
    values.imag = raw[..., 1]
    return values


def decode_variable(
    variable: xr.Variable, *, path: str, name: str, check_finite: bool
) -> xr.Variable:
    """Return ``variable`` with a trailing ``ri`` pair decoded to a lazy complex variable.

    Raises
    ------
    RadarspFileError
        If ``ri`` is present but not the last dimension, or its length is not 2.
    """
    dims = variable.dims
    if RI_DIM in dims:
        if dims[-1] != RI_DIM:
            raise RadarspFileError(
                path, name, f"expected '{RI_DIM}' as the last dimension, got dims {dims}"
            )
        if variable.shape[-1] != 2:
            raise RadarspFileError(
                path,
                name,
                f"expected '{RI_DIM}' of length 2 (real, imag), got {variable.shape[-1]}",
            )
        if variable.dtype.kind != "f":
            raise RadarspFileError(
                path, name, f"expected float storage with '{RI_DIM}', got dtype {variable.dtype}"
            )
    elif not (check_finite or variable.dtype.kind == "c"):
        return variable
    array = RiComplexArray(variable, path=path, name=name, check_finite=check_finite)
    out_dims = dims[:-1] if array.is_ri else dims
    return xr.Variable(
        out_dims, indexing.LazilyIndexedArray(array), variable.attrs, variable.encoding
    )


def encode_complex(ds: xr.Dataset) -> xr.Dataset:
    """Replace every complex variable of ``ds`` by a float one with a trailing ``ri`` dimension.

    Works on numpy and dask data alike (dask stays lazy).

    Examples
    --------
    >>> ds = xr.Dataset({"csi": ("rx", np.array([1 + 2j], dtype=np.complex64))})
    >>> encode_complex(ds)["csi"].values.tolist()
    [[1.0, 2.0]]
    """
    out = ds.copy()
    for name, variable in ds.variables.items():
        if variable.dtype.kind != "c":
            continue
        stacked = xr.concat([ds[name].real, ds[name].imag], dim=RI_DIM)
        stacked = stacked.transpose(*ds[name].dims, RI_DIM)
        stacked.attrs = dict(variable.attrs)
        stacked.encoding = {}
        out[name] = stacked
    return out
