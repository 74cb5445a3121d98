"""The one mapping between model-grid cells and radar range/angle coordinates.

Networks see a heatmap resized to a fixed *model grid* of ``shape = (rows, cols)`` cells
(rows follow range, columns follow angle). Everything that turns a position on a network's
grid into metres and radians, or back, goes through this module:

* :func:`rescale_index` moves a fractional cell index between two grids that cover the same
  extent (heatmap bins -> model grid, model grid -> feature grid of a backbone);
* :class:`Grid` maps fractional model-grid cells to range (m) and angle (rad) through the
  heatmap's own bin centres, so non-uniform angle bins (e.g. uniform in sin(angle)) are honoured.

Convention: cell ``i`` of an ``n``-cell grid has its centre at index ``i`` and covers
``[i - 0.5, i + 0.5)``; two grids of ``n_from`` and ``n_to`` cells cover the same extent, so
``index_to = (index_from + 0.5) * n_to / n_from - 0.5``. This is the convention of
``torch.nn.functional.interpolate(..., align_corners=False)`` and of strided convolutions
whose output cell ``j`` pools input cells ``[j s, (j + 1) s)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def rescale_index(index, n_from: int, n_to: int):
    """Map a fractional cell index on an ``n_from``-cell grid to an ``n_to``-cell grid.

    Parameters
    ----------
    index : array_like
        Fractional cell index (cell centres at integers) on the source grid.
    n_from, n_to : int
        Number of cells of the source and destination grids (same extent).

    Returns
    -------
    ndarray or tensor
        ``(index + 0.5) * n_to / n_from - 0.5``, same type as ``index``.

    Examples
    --------
    >>> float(rescale_index(0.0, 8, 64)), float(rescale_index(7.0, 8, 64))
    (3.5, 59.5)
    """
    return (index + 0.5) * (n_to / n_from) - 0.5


def _interp_extrapolate(x, xp, fp):
    """Piecewise-linear interpolation that extends the end segments linearly beyond the ends."""
    x = np.asarray(x, dtype=np.float64)
    y = np.interp(x, xp, fp)
    if len(xp) > 1:
        below, above = x < xp[0], x > xp[-1]
        slope_lo = (fp[1] - fp[0]) / (xp[1] - xp[0])
        slope_hi = (fp[-1] - fp[-2]) / (xp[-1] - xp[-2])
        y = np.where(below, fp[0] + (x - xp[0]) * slope_lo, y)
        y = np.where(above, fp[-1] + (x - xp[-1]) * slope_hi, y)
    return y


@dataclass(frozen=True, eq=False)
class Grid:
    """A model grid laid over a heatmap's range and angle bins.

    Parameters
    ----------
    range : ndarray, shape (n_range,)
        Heatmap range bin centres, metres, strictly increasing.
    angle : ndarray, shape (n_angle,)
        Heatmap angle bin centres, radians, strictly increasing.
    shape : tuple of int
        Model grid ``(rows, cols)``; rows span the range bins, columns the angle bins.

    Examples
    --------
    >>> grid = Grid(np.arange(0.5, 64.0), np.linspace(-1.0, 1.0, 32), shape=(64, 64))
    >>> r, a = grid.to_polar(10.0, 31.5)
    >>> float(r), round(float(a), 6)
    (10.5, 0.0)
    >>> [round(float(v), 6) for v in grid.from_polar(r, a)]
    [10.0, 31.5]
    """

    range: np.ndarray
    angle: np.ndarray
    shape: tuple[int, int] = (64, 64)

    def __post_init__(self):
        for name in ("range", "angle"):
            values = np.asarray(getattr(self, name), dtype=np.float64)
            if values.ndim != 1 or values.size < 2 or np.any(np.diff(values) <= 0):
                raise ValueError(f"{name} bin centres must be 1-D, >= 2 long, strictly increasing")
            object.__setattr__(self, name, values)
        object.__setattr__(self, "shape", tuple(int(n) for n in self.shape))

    @classmethod
    def from_dataset(cls, ds, shape=(64, 64)) -> Grid:
        """Grid over the ``range`` and ``angle`` coordinates of a heatmap-1 dataset."""
        return cls(ds["range"].values, ds["angle"].values, shape)

    @property
    def symmetric_in_angle(self) -> bool:
        """Whether the angle bins mirror about zero, so flipping columns maps angle to -angle."""
        return bool(np.allclose(self.angle, -self.angle[::-1], atol=1e-6 * np.ptp(self.angle)))

    def to_polar(self, row, col, *, from_shape=None):
        """Fractional cells -> (range m, angle rad).

        Parameters
        ----------
        row, col : array_like
            Fractional cell indices on the model grid, or on ``from_shape`` if given (e.g. a
            backbone's h x w feature grid, rescaled with :func:`rescale_index` first).
        from_shape : tuple of int, optional
            Grid the indices refer to; defaults to :attr:`shape`.
        """
        rows, cols = from_shape or self.shape
        row = rescale_index(np.asarray(row, dtype=np.float64), rows, len(self.range))
        col = rescale_index(np.asarray(col, dtype=np.float64), cols, len(self.angle))
        return (
            _interp_extrapolate(row, np.arange(len(self.range)), self.range),
            _interp_extrapolate(col, np.arange(len(self.angle)), self.angle),
        )

    def from_polar(self, range_m, angle_rad):
        """(range m, angle rad) -> fractional model-grid cells ``(row, col)``; inverse of
        :meth:`to_polar`."""
        row = _interp_extrapolate(range_m, self.range, np.arange(len(self.range), dtype=float))
        col = _interp_extrapolate(angle_rad, self.angle, np.arange(len(self.angle), dtype=float))
        return (
            rescale_index(row, len(self.range), self.shape[0]),
            rescale_index(col, len(self.angle), self.shape[1]),
        )
