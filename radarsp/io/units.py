"""CF ``units`` of the contract's variables: read, converted to radarsp's units, or refused.

Every reader goes through :func:`conform` (via :func:`radarsp.io.netcdf.decode`), so a file
another tool wrote in degrees, millimetres, GHz or dB gives the same numbers as one written in
radarsp's own units (``radarsp.model.ATTRS``), and a unit that cannot mean what the contract
needs is refused in one line. Units are parsed by pint (UDUNITS-style strings: ``m``, ``mm``,
``degree``, ``GHz``, ``km/h``, ...), not by string matching.

* lengths, times, frequencies, velocities: converted by pint's factor (``mm`` -> ``m``, ...);
* angles: an angle unit is required (``rad``, ``degree``, ``arcmin``, ...; a bare ``1`` is
  ambiguous and refused); converted to rad, and bins outside [-pi, pi] are refused;
* power (``power``, ``doppler_power``, table ``power``/``snr``): linear (``1``, ``W``, ``mW``
  ...: CFAR, clustering and training are scale-free) is kept; decibels (``dB``, ``dBm``,
  ``dBW``) are converted lazily to linear with a warning; a negative linear power is refused
  when those values are read.
"""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

from radarsp.errors import RadarspFileError
from radarsp.model import ATTRS, SCHEMAS

#: Variables holding power: linear, or decibels converted on read.
POWER_VARIABLES = ("power", "doppler_power", "snr", "peak_power")
#: Units strings read as linear power without consulting pint.
LINEAR_POWER_UNITS = ("1", "", "W", "mW")
_ANGLE_TOLERANCE = 1e-6  # rad: bin centres written in float32 may pass pi by an ulp


class UnitsWarning(UserWarning):
    """A file's values were converted from decibels to linear power."""


@functools.cache
def _registry():
    import pint

    return pint.UnitRegistry()


def _parse(units, path, name):
    if not isinstance(units, str):
        raise RadarspFileError(path, name, f"attr units={units!r}; expected a unit string "
                                           f"such as {ATTRS[name]['units']!r}")
    try:
        return _registry().Unit(units.strip() or "1")
    except Exception as err:  # noqa: BLE001 - pint raises several types for unparsable strings
        raise RadarspFileError(path, name, f"units {units!r} are not a unit pint understands "
                                           f"({type(err).__name__}); expected "
                                           f"{ATTRS[name]['units']!r}") from err


def _is_decibel(unit) -> bool:
    return any("decibel" in str(name) for name in unit._units)


def _is_angle(unit) -> bool:
    names = dict(unit._units)
    return len(names) == 1 and next(iter(names)) in _ANGLE_NAMES and next(iter(names.values())) == 1


_ANGLE_NAMES = ("radian", "degree", "arcminute", "arcsecond", "turn", "gradian", "milliradian")


def factor_to(units, expected: str, *, path=None, name: str = "variable") -> float:
    """The factor that turns values in ``units`` into ``expected`` units.

    Parameters
    ----------
    units : str
        The file's CF ``units`` attr.
    expected : str
        radarsp's unit for the variable (``"m"``, ``"rad"``, ``"Hz"``, ``"s"``, ``"m/s"``).
    path, name
        File and variable, for the error message.

    Raises
    ------
    RadarspFileError
        If ``units`` does not parse or is not of the expected kind (one line).

    Examples
    --------
    >>> factor_to("mm", "m"), round(factor_to("degree", "rad"), 6), factor_to("GHz", "Hz")
    (0.001, 0.017453, 1000000000.0)
    """
    if isinstance(units, str) and units == expected:  # radarsp's files: no need for pint
        return 1.0
    unit = _parse(units, path, name)
    registry = _registry()
    target = registry.Unit(expected)
    if expected == "rad" and not _is_angle(unit):
        raise RadarspFileError(path, name, f"units {units!r}; expected an angle unit "
                                           "('rad' or 'degree')")
    if _is_decibel(unit) or not unit.is_compatible_with(target):
        raise RadarspFileError(path, name, f"units {units!r}; expected {expected!r} or a unit "
                                           f"convertible to it")
    return float(registry.Quantity(1.0, unit).to(target).magnitude)


class LinearPowerArray(BackendArray):
    """Lazy power that checks (and, from decibels, converts) the blocks it reads.

    Parameters
    ----------
    variable : xarray.Variable
        The stored (lazily indexed) power.
    path, name : str
        File and variable, for error messages.
    decibels : bool
        Values are ``10 log10(P)``: read as ``10 ** (values / 10)``.
    """

    def __init__(self, variable: xr.Variable, *, path: str, name: str, decibels: bool):
        self.variable = variable
        self.path = path
        self.name = name
        self.decibels = decibels
        self.shape = variable.shape
        self.dtype = np.dtype(np.float64) if variable.dtype.kind != "f" else variable.dtype

    def __getitem__(self, key):
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.BASIC, self._read
        )

    def _read(self, key: tuple):
        values = np.asarray(self.variable[key].values)
        if self.decibels:
            with np.errstate(over="ignore"):
                values = np.power(self.dtype.type(10), values / self.dtype.type(10),
                                  dtype=self.dtype)
        elif (values < 0).any():
            raise RadarspFileError(self.path, self.name, "expected linear power >= 0, found "
                                   "negative values (a map in dB needs units 'dB')")
        return values


def _power(variable: xr.Variable, path: str, name: str) -> xr.Variable:
    units = variable.attrs.get("units", "1")
    decibels = False
    if not (isinstance(units, str) and units in LINEAR_POWER_UNITS):
        unit = _parse(units, path, name)
        decibels = _is_decibel(unit)
        if not decibels and unit.dimensionality not in ({}, _registry().watt.dimensionality):
            raise RadarspFileError(path, name, f"units {units!r}; expected linear power ('1' "
                                               "or 'W') or decibels ('dB')")
    if decibels:
        warnings.warn(f"{path}: variable '{name}': units {units!r}: converted from decibels "
                      "to linear power", UnitsWarning, stacklevel=2)
    attrs = dict(variable.attrs)
    if decibels:
        attrs["units"] = "1"
    array = LinearPowerArray(variable, path=path, name=name, decibels=decibels)
    return xr.Variable(variable.dims, indexing.LazilyIndexedArray(array), attrs,
                       variable.encoding)


def conform(ds: xr.Dataset, schema: str, *, path=None) -> xr.Dataset:
    """Return ``ds`` with every contract variable in radarsp's units (see module docstring).

    Parameters
    ----------
    ds : xarray.Dataset
        A validated dataset of ``schema`` (complex values decoded).
    schema : str
        Its schema name.
    path : path-like, optional
        The file, for error messages.

    Raises
    ------
    RadarspFileError
        A unit that does not parse or is of the wrong kind, an angle outside [-pi, pi].
    """
    replaced = {}
    for spec in SCHEMAS[schema].variables:
        name = spec.name
        if name not in ds.variables:
            continue
        variable = ds.variables[name]
        if name in POWER_VARIABLES:
            replaced[name] = _power(variable, path, name)
            continue
        expected = ATTRS.get(name, {}).get("units")
        if not spec.units or expected in (None, "1", "pixel", "%"):
            continue
        factor = factor_to(variable.attrs.get("units"), expected, path=path, name=name)
        if factor != 1.0 or variable.attrs.get("units") != expected:
            values = np.asarray(variable.values, dtype=np.float64) * factor
            converted = values.astype(variable.dtype) if variable.dtype.kind == "f" else values
            replaced[name] = xr.Variable(variable.dims, converted,
                                         {**variable.attrs, "units": expected},
                                         variable.encoding)
        if expected == "rad":
            _check_angles(replaced.get(name, variable), path, name)
    if not replaced:
        return ds
    coords = {n: v for n, v in replaced.items() if n in ds.coords}
    data = {n: v for n, v in replaced.items() if n not in ds.coords}
    out = ds.assign_coords(coords) if coords else ds
    return out.assign(data) if data else out


def _check_angles(variable: xr.Variable, path, name: str) -> None:
    values = np.asarray(variable.values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if finite.size and np.abs(finite).max() > math.pi + _ANGLE_TOLERANCE:
        raise RadarspFileError(path, name, f"angle {finite[np.abs(finite).argmax()]:.6g} rad "
                                           "is outside [-pi, pi]; expected azimuths in rad "
                                           "(a file in degrees needs units 'degree')")
