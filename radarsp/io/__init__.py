"""Reading and writing radarsp files: schema validation, complex encoding, atomic writes."""

from radarsp.io.atomic import OutputError, atomic_path
from radarsp.io.complex import encode_complex
from radarsp.io.cruw import open_cruw
from radarsp.io.netcdf import (
    check_save_path,
    open_clusters,
    open_csi,
    open_dataset,
    open_detections,
    open_estimates,
    open_heatmap,
    save,
)
from radarsp.io.schema import infer_schema, validate

__all__ = [
    "OutputError",
    "atomic_path",
    "check_save_path",
    "encode_complex",
    "infer_schema",
    "open_clusters",
    "open_cruw",
    "open_csi",
    "open_dataset",
    "open_detections",
    "open_estimates",
    "open_heatmap",
    "save",
    "validate",
]
