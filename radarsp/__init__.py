"""radarsp: OFDM radar signal processing on xarray-labelled cubes stored as netCDF.

CSI -> range-angle / range-Doppler heatmaps -> CFAR -> DBSCAN clusters -> estimates, plus a
synthetic radio-visual scene simulator. Importing the package is light: numba kernels,
scikit-learn, matplotlib and scipy load only inside the functions that use them.
"""

import radarsp.accessor  # noqa: F401  (registers the .radarsp namespace)

# Callable modules: radarsp.cfar(...), radarsp.cluster(...), radarsp.simulate(...) run their
# namesake functions, while radarsp.cfar.threshold_factor etc. stay reachable.
from radarsp import cfar, cluster, simulate
from radarsp.cfar import detections
from radarsp.fmcw import fmcw_to_csi, from_fmcw
from radarsp.geometry import cartesian_to_polar, polar_to_cartesian
from radarsp.heatmap import heatmap_dataset, range_angle, range_doppler
from radarsp.io import (
    open_clusters,
    open_csi,
    open_dataset,
    open_detections,
    open_estimates,
    open_heatmap,
    save,
    validate,
)
from radarsp.match import cross_domain_match, genie_match, strongest
from radarsp.metrics import error_summary, localisation_error
from radarsp.tracking import track_estimates

__version__ = "0.1.0"

__all__ = [
    "cartesian_to_polar",
    "cfar",
    "detections",
    "fmcw_to_csi",
    "from_fmcw",
    "heatmap_dataset",
    "range_angle",
    "range_doppler",
    "cluster",
    "cross_domain_match",
    "error_summary",
    "genie_match",
    "localisation_error",
    "strongest",
    "track_estimates",
    "open_clusters",
    "open_csi",
    "open_dataset",
    "open_detections",
    "open_estimates",
    "open_heatmap",
    "polar_to_cartesian",
    "simulate",
    "save",
    "validate",
]
