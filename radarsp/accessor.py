"""The ``.radarsp`` xarray accessor: every method pipes to a plain function of the package.

>>> import radarsp, xarray as xr
>>> hasattr(xr.Dataset, "radarsp")
True
"""

from __future__ import annotations

import importlib

import xarray as xr


def _function(qualified: str):
    module, name = qualified.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


class _Accessor:
    """Shared plumbing: ``self._obj`` is the wrapped Dataset or DataArray."""

    def __init__(self, obj):
        self._obj = obj

    def _pipe(self, qualified: str, *args, **kwargs):
        return self._obj.pipe(_function(qualified), *args, **kwargs)


@xr.register_dataset_accessor("radarsp")
class RadarspDatasetAccessor(_Accessor):
    """``ds.radarsp.<verb>(...)`` for csi-1, heatmap-1 and table datasets."""

    def validate(self, schema=None):
        """Check against the data contract; see :func:`radarsp.io.validate`."""
        return self._pipe("radarsp.io.schema.validate", schema)

    def save(self, path, **kwargs):
        """Write atomically; see :func:`radarsp.io.save`."""
        return self._pipe("radarsp.io.netcdf.save", path, **kwargs)

    def range_angle(self, **kwargs):
        """Range-angle power map of ``csi``; see :func:`radarsp.heatmap.range_angle`."""
        return self._pipe("radarsp.heatmap.range_angle", **kwargs)

    def range_doppler(self, **kwargs):
        """Range-Doppler power map; see :func:`radarsp.heatmap.range_doppler`."""
        return self._pipe("radarsp.heatmap.range_doppler", **kwargs)

    def heatmap(self, **kwargs):
        """Full heatmap-1 dataset; see :func:`radarsp.heatmap.heatmap_dataset`."""
        return self._pipe("radarsp.heatmap.heatmap_dataset", **kwargs)

    def cfar(self, variable: str = "power", **kwargs):
        """CFAR on ``power`` (or ``doppler_power``); see :func:`radarsp.cfar.cfar`."""
        return self._obj[variable].pipe(_function("radarsp.cfar.cfar"), **kwargs)

    def cluster(self, **kwargs):
        """DBSCAN clusters of a detections-1 table; see :func:`radarsp.cluster.cluster`."""
        return self._pipe("radarsp.cluster.cluster", **kwargs)

    def genie_match(self, truth, **kwargs):
        """Closest cluster to the truth per frame; see :func:`radarsp.match.genie_match`."""
        return self._pipe("radarsp.match.genie_match", truth, **kwargs)

    def strongest(self, **kwargs):
        """Highest-power cluster per frame; see :func:`radarsp.match.strongest`."""
        return self._pipe("radarsp.match.strongest", **kwargs)

    def plot(self, frame: int = 0, **kwargs):
        """Heatmap figure of one frame; see :func:`radarsp.plot.plot_heatmap`."""
        return self._pipe("radarsp.plot.plot_heatmap", frame, **kwargs)


@xr.register_dataarray_accessor("radarsp")
class RadarspDataArrayAccessor(_Accessor):
    """``da.radarsp.<verb>(...)`` for a ``csi`` or ``power`` DataArray."""

    def range_angle(self, **kwargs):
        """See :func:`radarsp.heatmap.range_angle`."""
        return self._pipe("radarsp.heatmap.range_angle", **kwargs)

    def range_doppler(self, **kwargs):
        """See :func:`radarsp.heatmap.range_doppler`."""
        return self._pipe("radarsp.heatmap.range_doppler", **kwargs)

    def cfar(self, **kwargs):
        """See :func:`radarsp.cfar.cfar`."""
        return self._pipe("radarsp.cfar.cfar", **kwargs)
