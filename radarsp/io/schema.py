"""Validation of datasets against the data contract (the one place a schema is checked).

Every problem raises :class:`radarsp.errors.RadarspFileError` with one line naming the file,
the variable and what was expected.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from radarsp.errors import RadarspFileError
from radarsp.frames import check_labels
from radarsp.model import ALL_SCHEMAS, RADIO_ATTRS, SCHEMA_ATTR, SCHEMAS, Schema, VariableSpec


def infer_schema(ds: xr.Dataset, path=None, *, required: bool = True) -> str | None:
    """Return the schema named by the ``radarsp_schema`` attr, or the one the variables fit.

    Files written by other tools may lack the attr; then the defining variable decides
    (``csi`` -> csi-1, ``power`` -> heatmap-1, a ``detection``/``cluster`` dim -> table).
    With ``required=False`` an unidentifiable dataset gives ``None`` instead of an error.
    """
    name = ds.attrs.get(SCHEMA_ATTR)
    if name is not None:
        if not isinstance(name, str) or name not in ALL_SCHEMAS:
            raise RadarspFileError(
                path, None, f"global attr {SCHEMA_ATTR}={name!r}; expected one of {ALL_SCHEMAS}"
            )
        return name
    if "csi" in ds.variables:
        return "csi-1"
    if "power" in ds.variables and "range" in ds.dims:
        return "heatmap-1"
    for schema in SCHEMAS.values():
        if schema.table_dim in ("detection", "cluster") and schema.table_dim in ds.dims:
            return schema.name
    if "method" in ds.attrs and "frame" in ds.dims:
        return "estimates-1"
    if not required:
        return None
    raise RadarspFileError(
        path,
        None,
        f"no global attr {SCHEMA_ATTR} and no variable that identifies a schema; "
        f"expected one of {ALL_SCHEMAS}",
    )


def _expected_dims(spec: VariableSpec, present: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(d for d in spec.dims if d not in spec.optional_dims or d in present)


def _fmt(dims) -> str:
    return "(" + ", ".join(dims) + ")"


def _check_variable(ds: xr.Dataset, spec: VariableSpec, path) -> None:
    variable = ds.variables[spec.name]
    expected = _expected_dims(spec, variable.dims)
    if variable.dims != expected:
        optional = [d for d in spec.dims if d in spec.optional_dims]
        note = f" (optional: {', '.join(optional)})" if optional else ""
        raise RadarspFileError(
            path, spec.name, f"expected dims {_fmt(spec.dims)}{note}, got {_fmt(variable.dims)}"
        )
    if spec.kind and variable.dtype.kind not in spec.kind:
        kinds = {"f": "float", "c": "complex", "i": "integer", "u": "unsigned integer", "b": "bool"}
        wanted = " or ".join(kinds[k] for k in spec.kind)
        raise RadarspFileError(
            path, spec.name, f"expected {wanted} values, got dtype {variable.dtype}"
        )
    if spec.units and "units" not in variable.attrs:
        raise RadarspFileError(path, spec.name, "expected a 'units' attribute")


def _check_csi(ds: xr.Dataset, path) -> None:
    frequency = np.asarray(ds["frequency"].values, dtype=float)
    if frequency.size > 1 and not (np.diff(frequency) > 0).all():
        raise RadarspFileError(
            path, "frequency", "expected strictly increasing subcarrier frequencies"
        )
    if frequency.size and not (frequency > 0).all():
        raise RadarspFileError(path, "frequency", "expected absolute RF frequencies in Hz (> 0)")
    if "symbol" in ds["csi"].dims and "symbol_time" not in ds.variables:
        raise RadarspFileError(
            path, "symbol_time", "expected a symbol_time coordinate (s) with dim symbol"
        )
    for name in RADIO_ATTRS:
        value = ds.attrs[name]
        if isinstance(value, np.ndarray) and value.size == 1:
            value = value.reshape(())[()]
        if (isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number))
                or not np.isfinite(value) or float(value) <= 0):
            raise RadarspFileError(
                path, None, f"global attr {name}={value!r}; expected a positive number in Hz"
            )


def _check_heatmap(ds: xr.Dataset, path) -> None:
    for name in ("range", "angle", "velocity"):
        if name in ds.variables:
            values = np.asarray(ds[name].values, dtype=float)
            if values.size > 1 and not (np.diff(values) > 0).all():
                raise RadarspFileError(path, name, "expected monotonically increasing bin centres")


def validate(ds: xr.Dataset, schema: str | None = None, *, path=None) -> str:
    """Check ``ds`` against a schema of the data contract; return the schema's name.

    Parameters
    ----------
    ds : xarray.Dataset
        Dataset as held in memory (complex variables decoded, no ``ri`` dimension).
    schema : {"csi-1", "heatmap-1", "detections-1", "clusters-1", "estimates-1"}, optional
        Expected schema; by default inferred with :func:`infer_schema`.
    path : path-like, optional
        File the dataset came from (for error messages).

    Raises
    ------
    RadarspFileError
        On the first problem: missing variable or attr, wrong dims or dim order, wrong dtype,
        missing units, non-monotonic coordinates, or a file of another schema.
    """
    found = infer_schema(ds, path, required=schema is None)
    if schema is None:
        schema = found
    elif found is not None and found != schema:
        how = f"global attr {SCHEMA_ATTR}" if SCHEMA_ATTR in ds.attrs else "its variables"
        raise RadarspFileError(path, None, f"holds {found} data (by {how}); expected {schema}")
    spec: Schema = SCHEMAS[schema]
    for attr in spec.attrs:
        if attr not in ds.attrs:
            raise RadarspFileError(path, None, f"expected global attr '{attr}' (Hz)")
    for variable in spec.variables:
        if variable.name in ds.variables:
            _check_variable(ds, variable, path)
        elif variable.required:
            raise RadarspFileError(
                path, variable.name, f"missing; expected a variable with dims {_fmt(variable.dims)}"
            )
    if "target_box" in ds.variables and ds.sizes.get("box", 4) != 4:
        raise RadarspFileError(
            path, "target_box", "expected box of length 4 (col0, row0, col1, row1)"
        )
    if "frame" in ds.variables and ds["frame"].dims == ("frame",):
        check_labels(ds["frame"].values, path)
    if schema == "csi-1":
        _check_csi(ds, path)
    elif schema == "heatmap-1":
        _check_heatmap(ds, path)
    return schema
