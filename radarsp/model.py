"""Names, units and attributes of every dimension, coordinate and variable radarsp writes.

This module is the single place the data contract is spelt out (``docs/contract.md`` is
generated from it). Every reader, writer, validator and algorithm takes its names from here,
so a rename can only happen in one place (and the contract says it never happens: names are
only added).

The schemas are described declaratively (:class:`VariableSpec`, :data:`SCHEMAS`) and checked
by :func:`radarsp.io.schema.validate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SPEED_OF_LIGHT = 299_792_458.0  # m/s

SCHEMA_ATTR = "radarsp_schema"
CSI = "csi-1"
HEATMAP = "heatmap-1"
DETECTIONS = "detections-1"
CLUSTERS = "clusters-1"
ESTIMATES = "estimates-1"
ALL_SCHEMAS = (CSI, HEATMAP, DETECTIONS, CLUSTERS, ESTIMATES)

# Trailing dimension that carries (real, imag) of complex variables on disk.
RI_DIM = "ri"

# --- attributes of coordinates and variables -------------------------------------------------
# name -> CF-style attrs. Every coordinate written by radarsp carries units and long_name.
ATTRS: dict[str, dict[str, str]] = {
    # dimensions used as integer index coordinates
    "frame": {"units": "1", "long_name": "frame index"},
    "sequence": {"units": "1", "long_name": "sequence (consecutive-frame clip) index"},
    "symbol": {"units": "1", "long_name": "OFDM symbol (slow-time) index"},
    "rx": {"units": "1", "long_name": "receive element index"},
    "subcarrier": {"units": "1", "long_name": "subcarrier index"},
    "detection": {"units": "1", "long_name": "detection index"},
    "cluster": {"units": "1", "long_name": "cluster index"},
    "box": {"units": "1", "long_name": "box corner (col0, row0, col1, row1)"},
    "image_row": {"units": "pixel", "long_name": "image row"},
    "image_col": {"units": "pixel", "long_name": "image column"},
    "rgb": {"units": "1", "long_name": "colour channel (red, green, blue)"},
    # csi-1 coordinates
    "frequency": {"units": "Hz", "long_name": "absolute RF frequency of the subcarrier"},
    "rx_x": {"units": "m", "long_name": "receive element x position (towards positive angle)"},
    "rx_y": {"units": "m", "long_name": "receive element y position (boresight)"},
    "rx_z": {"units": "m", "long_name": "receive element z position (up)"},
    "time": {"units": "s", "long_name": "frame time"},
    "symbol_time": {"units": "s", "long_name": "slow-time sample instant of the symbol"},
    # csi-1 variables
    "csi": {"units": "1", "long_name": "channel frequency response (received / transmitted)"},
    "target_range": {"units": "m", "long_name": "target centre range"},
    "target_angle": {"units": "rad", "long_name": "target centre azimuth (positive towards +x)"},
    "target_x": {"units": "m", "long_name": "target centre x (cross-range)"},
    "target_y": {"units": "m", "long_name": "target centre y (down-range, boresight)"},
    "target_velocity": {"units": "m/s", "long_name": "target radial velocity (positive receding)"},
    "image": {"units": "1", "long_name": "camera frame (RGB, uint8)"},
    "target_box": {
        "units": "pixel",
        "long_name": "target bounding box in image (col0, row0, col1, row1), inclusive pixels",
    },
    # heatmap-1
    "range": {"units": "m", "long_name": "range (bin centre)"},
    "angle": {"units": "rad", "long_name": "azimuth angle (bin centre, positive towards +x)"},
    "velocity": {"units": "m/s", "long_name": "radial velocity (bin centre, positive receding)"},
    "power": {"units": "1", "long_name": "linear power"},
    "doppler_power": {"units": "1", "long_name": "linear range-Doppler power"},
    # tables
    "x": {"units": "m", "long_name": "cross-range position x = r sin(angle)"},
    "y": {"units": "m", "long_name": "down-range position y = r cos(angle)"},
    "snr": {"units": "1", "long_name": "cell power over CFAR noise estimate (linear)"},
    "size": {"units": "1", "long_name": "number of detections in the cluster"},
    # clusters-1 extents and estimates-1 extras (radarsp.cluster, radarsp.match)
    "peak_power": {"units": "1", "long_name": "largest linear power of the cluster's detections"},
    "range_extent": {"units": "m", "long_name": "range spread (max - min) of the cluster"},
    "angle_extent": {"units": "rad", "long_name": "azimuth spread (max - min) of the cluster"},
    "x_extent": {"units": "m", "long_name": "x spread (max - min) of the cluster"},
    "y_extent": {"units": "m", "long_name": "y spread (max - min) of the cluster"},
    "velocity_extent": {"units": "m/s", "long_name": "radial velocity spread of the cluster"},
    "label": {"units": "1", "long_name": "cluster index of the detection (-1: noise)"},
    "searched_frame": {"units": "1", "long_name": "label of a frame the detector searched"},
    # radarsp.metrics
    "error": {"units": "m", "long_name": "Euclidean x-y localisation error"},
    "percentile": {"units": "%", "long_name": "error percentile"},
    # radarsp.cfar results
    "detected": {"units": "1", "long_name": "CFAR detection (power above threshold)"},
    "threshold": {"units": "1", "long_name": "CFAR threshold: factor times noise estimate"},
    "noise": {"units": "1", "long_name": "CFAR noise power estimate from training cells"},
}

#: Variables the contract defines as coordinates (not data), whether or not a file's CF
#: ``coordinates`` attr says so.
COORDINATES = ("frequency", "rx_x", "rx_y", "rx_z", "time", "symbol_time", "sequence")
TRUTH_VARIABLES = ("target_range", "target_angle", "target_x", "target_y")
CAMERA_VARIABLES = ("image", "target_box")
RADIO_ATTRS = ("carrier_frequency", "bandwidth", "subcarrier_spacing")
# Variables that ride along unchanged from csi-1 into every later per-frame file.
CARRIED_VARIABLES = TRUTH_VARIABLES + ("target_velocity",) + CAMERA_VARIABLES
TABLE_COLUMNS = ("frame", "range", "angle", "x", "y", "power")


@dataclass(frozen=True)
class VariableSpec:
    """What the contract expects of one variable or coordinate.

    Parameters
    ----------
    name
        Variable name.
    dims
        Expected dimensions in order; a name in ``optional_dims`` may be absent.
    required
        Whether a file of the schema must have it.
    optional_dims
        Dimensions allowed to be missing (e.g. ``symbol`` in ``csi``).
    complex
        Complex in memory (on disk: trailing ``ri`` of length 2, or native complex).
    kind
        numpy dtype kinds accepted (``"f"`` float, ``"i"``/``"u"`` integers, ``"c"`` complex,
        ``"b"`` bool); empty accepts any.
    units
        Whether a ``units`` attr is required.
    """

    name: str
    dims: tuple[str, ...]
    required: bool = True
    optional_dims: tuple[str, ...] = ()
    complex: bool = False
    kind: str = ""
    units: bool = False


@dataclass(frozen=True)
class Schema:
    """A file schema: variables, coordinates and global attrs it must carry."""

    name: str
    variables: tuple[VariableSpec, ...]
    attrs: tuple[str, ...] = ()
    table_dim: str | None = None
    extra: dict = field(default_factory=dict)


_CARRIED = (
    VariableSpec("target_range", ("frame",), required=False, kind="f", units=True),
    VariableSpec("target_angle", ("frame",), required=False, kind="f", units=True),
    VariableSpec("target_x", ("frame",), required=False, kind="f", units=True),
    VariableSpec("target_y", ("frame",), required=False, kind="f", units=True),
    VariableSpec("image", ("frame", "image_row", "image_col", "rgb"), required=False, kind="u"),
    VariableSpec("target_box", ("frame", "box"), required=False, kind="fiu"),
)


def _table(name: str, dim: str, extra: tuple[str, ...] = ()) -> Schema:
    columns = tuple(c for c in TABLE_COLUMNS if c != dim) + extra
    specs = tuple(
        VariableSpec(c, (dim,), kind="fiu", units=c not in ("frame", "cluster", "size"))
        for c in columns
    )
    return Schema(name, specs, table_dim=dim)


SCHEMAS: dict[str, Schema] = {
    CSI: Schema(
        CSI,
        (
            VariableSpec(
                "csi",
                ("frame", "symbol", "rx", "subcarrier"),
                optional_dims=("symbol",),
                complex=True,
                kind="c",
            ),
            VariableSpec("frequency", ("subcarrier",), kind="f", units=True),
            VariableSpec("rx_x", ("rx",), kind="f", units=True),
            VariableSpec("rx_y", ("rx",), kind="f", units=True),
            VariableSpec("rx_z", ("rx",), kind="f", units=True),
            VariableSpec("time", ("frame",), required=False, kind="f", units=True),
            VariableSpec("symbol_time", ("symbol",), required=False, kind="f", units=True),
        )
        + _CARRIED,
        attrs=RADIO_ATTRS,
    ),
    HEATMAP: Schema(
        HEATMAP,
        (
            VariableSpec("power", ("frame", "range", "angle"), kind="f"),
            VariableSpec("range", ("range",), kind="f", units=True),
            VariableSpec("angle", ("angle",), kind="f", units=True),
            VariableSpec(
                "doppler_power", ("frame", "range", "velocity"), required=False, kind="f"
            ),
            VariableSpec("velocity", ("velocity",), required=False, kind="f", units=True),
        )
        + _CARRIED,
    ),
    DETECTIONS: _table(DETECTIONS, "detection", ("snr",)),
    CLUSTERS: _table(CLUSTERS, "cluster", ("cluster", "size")),
    ESTIMATES: _table(ESTIMATES, "frame"),
}


def attrs_for(name: str) -> dict[str, str]:
    """Return a copy of the CF attrs (``units``, ``long_name``) radarsp gives ``name``."""
    return dict(ATTRS.get(name, {}))


def annotate(ds):
    """Give every variable and coordinate of ``ds`` that radarsp knows its units and long_name.

    Existing attrs win: a file written by another tool keeps its own descriptions.

    Parameters
    ----------
    ds : xarray.Dataset
        Dataset to annotate (modified in place and returned).
    """
    for name in list(ds.variables):
        for key, value in ATTRS.get(str(name), {}).items():
            ds[name].attrs.setdefault(key, value)
    return ds
