"""Constant false-alarm rate (CFAR) detection on linear power maps: CA, GO, SO and OS, 1-D and 2-D.

A cell under test with power ``x`` is detected when ``x > alpha * Z``, where ``Z`` is a noise
estimate from the *training* cells around it (the *guard* cells next to it are left out so a
target does not raise its own threshold) and ``alpha`` is set for the design false-alarm
probability in square-law (exponential) noise (:mod:`radarsp.cfar.threshold`):

- ``ca`` cell averaging: ``Z`` = mean of the training cells;
- ``go`` / ``so`` greatest-of / smallest-of: ``Z`` = max / min of the means of the leading and
  lagging halves (1-D: cells before and after the cell; 2-D: the annulus split along the first
  working dim, the middle row split at the cell under test);
- ``os`` ordered statistic: ``Z`` = the ``rank``-th smallest training cell (1-based, as MATLAB's
  ``phased.CFARDetector``).

Window geometry, per side of every working dim ``d``: ``guard[d]`` guard cells then
``train[d]`` training cells. In 1-D that is ``2 train`` training cells; in 2-D the training
cells fill the rectangular annulus between the ``(2 guard + 1)``-cell guard rectangle and the
``(2 (guard + train) + 1)``-cell outer rectangle, ``N = prod(2 (g + t) + 1) - prod(2 g + 1)``.

Edge policies, per working dim: ``truncate`` uses the training cells that exist, with ``alpha``
recomputed for that count (and the OS rank scaled to the same quantile) so the false-alarm rate
holds at the edges too; ``wrap`` treats the dim as periodic (a Doppler axis); ``skip`` never
detects where the full window does not fit (outputs NaN there).

Precision: CA/GO/SO window sums are differences of float64 summed-area tables, so a noise
estimate's relative error is about 1e-16 times the ratio of the power summed over the map
before the window (rows above, columns left) to the window's own sum: below 1e-6 unless the
map spans more than ~100 dB. OS estimates are exact (they are map values).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Literal

import numpy as np
import xarray as xr

from radarsp import model
from radarsp._callable import make_callable
from radarsp.cfar.threshold import (
    METHODS,
    check_pfa,
    default_rank,
    halves_threshold_factor,
    scaled_rank,
    threshold_factor,
)
from radarsp.geometry import polar_to_cartesian

__all__ = ["cfar", "cfar_array", "detections", "threshold_factor", "halves_threshold_factor",
           "NonFinitePowerError"]

Edge = Literal["truncate", "wrap", "skip"]
EDGES = ("truncate", "wrap", "skip")
OUTPUTS = ("detected", "threshold", "noise", "snr")
#: what :func:`detections` needs (with the power map)
DETECTION_OUTPUTS = ("detected", "snr")

#: radarsp's one CFAR default, shared by :func:`cfar`, :func:`cfar_array`, ``radarsp cfar``,
#: ``radarsp pipeline`` and the RODNet-style teacher: CA-CFAR with, per side of the cell
#: under test, guard (4, 2) and training (16, 4) cells along (range, angle) -- a 1-D
#: detector takes the first of each -- at pfa 1e-2. Chosen on labelled simulated
#: parking-lot frames of a seed no benchmark scores: genie-aided CFAR + DBSCAN 1.79 / 2.37 m
#: (50th / 90th %ile) against 2.15 / 6.54 m with guard (2, 2), train (8, 8), pfa 1e-4
#: (``benchmarks/RESULTS.md``, MCL section). Checked on new seeds of all three scenarios
#: (issue #14, 8,000 / 2,000 frames): ahead at the 90th %ile on each (parking lot 2.30 vs
#: 6.12 m, suburban 2.52 vs 2.89, street canyon 3.88 vs 6.35) and within 0.12 m at the median.
DEFAULT_METHOD = "ca"
DEFAULT_GUARD = (4, 2)
DEFAULT_TRAIN = (16, 4)
DEFAULT_PFA = 1e-2


class NonFinitePowerError(ValueError):
    """The power map holds NaN or infinite values (CFAR needs finite linear power)."""


def cfar(
    power: xr.DataArray,
    *,
    method: Literal["ca", "go", "so", "os"] = DEFAULT_METHOD,
    dims: str | Sequence[Hashable] = ("range", "angle"),
    guard: int | Sequence[int] | None = None,
    train: int | Sequence[int] | None = None,
    pfa: float = DEFAULT_PFA,
    rank: int | None = None,
    threshold_factor: float | None = None,
    edge: Edge | Sequence[Edge] = "truncate",
    outputs: Sequence[str] = OUTPUTS,
) -> xr.Dataset:
    """Run a CFAR detector over the working dims of a power map; other dims are a batch.

    Parameters
    ----------
    power : xarray.DataArray, real, shape (..., *dims)
        Linear (square-law) power, e.g. ``power`` of a heatmap-1 file, dims
        (frame, range, angle). Any dim order; dask arrays chunked along batch dims stay lazy.
    method : {"ca", "go", "so", "os"}
        Noise estimator (see the module docstring).
    dims : str or sequence of 1 or 2 dim names
        Working dims: one for 1-D CFAR, two for 2-D (the GO/SO halves split along the first).
    guard, train : int or sequence of int, one per working dim
        Guard and training cells on *each side* of the cell under test; default
        :data:`DEFAULT_GUARD` / :data:`DEFAULT_TRAIN` (radarsp's one default, also the CLI's).
    pfa : float
        Design false-alarm probability per cell, ``0 < pfa < 1``; default :data:`DEFAULT_PFA`.
    rank : int, optional
        OS only: 1-based rank ``k`` of the noise estimate, ``1 <= k <= N`` for the full
        window; default ``round(3 N / 4)``.
    threshold_factor : float, optional
        Custom ``alpha`` used for every cell instead of one derived from ``pfa``.
    edge : {"truncate", "wrap", "skip"} or one per working dim
        Edge policy (see the module docstring).
    outputs : sequence of {"detected", "threshold", "noise", "snr"}
        The variables to compute and return (default all four). Fewer is faster: each
        output is a full-size map, and writing it is a large part of a CA detector's time.
        :func:`detections` needs ``detected`` and ``snr``.

    Returns
    -------
    xarray.Dataset
        Same dims and coords as ``power``, the ``outputs`` among: ``detected`` (bool),
        ``noise`` (estimate ``Z``), ``threshold`` (``alpha Z``) and ``snr`` (``power / Z``,
        linear); the settings and the interior ``alpha`` as ``cfar_*`` attrs.

    Raises
    ------
    ValueError
        Unknown method, edge or output, ``pfa`` outside (0, 1), negative guard/training counts, no
        training cells, a window wider than the map or a rank outside ``[1, N]``.
    NonFinitePowerError
        A ``ValueError``: power with NaN or infinite values (raised when the values are
        computed, for dask input).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> noise = rng.exponential(size=(2, 64, 32)).astype("float32")
    >>> noise[1, 40, 10] = 1e3
    >>> power = xr.DataArray(noise, dims=("frame", "range", "angle"))
    >>> result = cfar(power, method="os", guard=(1, 1), train=(4, 4), pfa=1e-4)
    >>> [tuple(map(int, i)) for i in np.argwhere(result["detected"].values)]
    [(1, 40, 10)]
    """
    if not isinstance(power, xr.DataArray):
        raise TypeError(f"power must be an xarray.DataArray, got {type(power).__name__}")
    dims = (dims,) if isinstance(dims, str) else tuple(dims)
    missing = [d for d in dims if d not in power.dims]
    if missing or len(dims) not in (1, 2) or len(set(dims)) != len(dims):
        raise ValueError(
            f"dims must name 1 or 2 distinct dims of power {tuple(power.dims)}, got {dims}"
        )
    shape = tuple(power.sizes[d] for d in dims)
    outputs = _check_outputs(outputs)
    plan = _plan(shape, method=method, guard=guard, train=train, pfa=pfa, rank=rank,
                 alpha=threshold_factor, edge=edge, dtype=power.dtype)
    if power.chunks is not None:
        power = power.chunk({d: -1 for d in dims})
    arrays = xr.apply_ufunc(
        _run if len(outputs) > 1 else _run_one, power,
        kwargs={"plan": plan, "outputs": outputs},
        input_core_dims=[list(dims)],
        output_core_dims=[list(dims)] * len(outputs),
        dask="parallelized",
        output_dtypes=[bool if name == "detected" else plan["dtype"] for name in outputs],
    )
    arrays = arrays if isinstance(arrays, tuple) else (arrays,)
    result = xr.Dataset(
        {name: out.transpose(*power.dims) for name, out in zip(outputs, arrays, strict=True)},
        attrs=_settings_attrs(plan, dims),
    )
    return model.annotate(result)


def cfar_array(
    values: np.ndarray,
    *,
    ndim: int = 2,
    method: str = DEFAULT_METHOD,
    guard: int | Sequence[int] | None = None,
    train: int | Sequence[int] | None = None,
    pfa: float = DEFAULT_PFA,
    rank: int | None = None,
    threshold_factor: float | None = None,
    edge: Edge | Sequence[Edge] = "truncate",
    outputs: Sequence[str] = OUTPUTS,
) -> tuple[np.ndarray, ...]:
    """:func:`cfar` on a plain array whose last ``ndim`` (1 or 2) axes are the working axes.

    Returns the ``outputs`` in their order, by default ``(detected, threshold, noise,
    snr)``, each of the shape of ``values``.

    Examples
    --------
    >>> x = np.ones(32)
    >>> x[20] = 100.0
    >>> detected, threshold, noise, snr = cfar_array(x, ndim=1, guard=1, train=4, pfa=1e-3)
    >>> np.flatnonzero(detected).tolist(), float(noise[20])
    ([20], 1.0)
    """
    values = np.asarray(values)
    if ndim not in (1, 2) or values.ndim < ndim:
        raise ValueError(f"ndim must be 1 or 2 and at most values.ndim={values.ndim}")
    outputs = _check_outputs(outputs)
    plan = _plan(values.shape[values.ndim - ndim:], method=method, guard=guard, train=train,
                 pfa=pfa, rank=rank, alpha=threshold_factor, edge=edge, dtype=values.dtype)
    return _run(values, plan=plan, outputs=outputs)


def _check_outputs(outputs: Sequence[str]) -> tuple[str, ...]:
    outputs = (outputs,) if isinstance(outputs, str) else tuple(outputs)
    if not outputs or len(set(outputs)) != len(outputs) or set(outputs) - set(OUTPUTS):
        raise ValueError(f"outputs must be distinct names among {OUTPUTS}, got {outputs}")
    return outputs


def _per_dim(value, n_dims: int, name: str) -> tuple:
    values = (value,) * n_dims if isinstance(value, (int, np.integer, str)) else tuple(value)
    if len(values) != n_dims:
        raise ValueError(f"{name}={value!r} needs one entry per working dim ({n_dims})")
    return values


def _plan(shape, *, method, guard, train, pfa, rank, alpha, edge, dtype) -> dict:
    """Validate the settings for maps of ``shape`` and solve every threshold they need."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    n_dims = len(shape)
    guard = _per_dim(DEFAULT_GUARD[:n_dims] if guard is None else guard, n_dims, "guard")
    train = _per_dim(DEFAULT_TRAIN[:n_dims] if train is None else train, n_dims, "train")
    edge = _per_dim(edge, n_dims, "edge")
    for name, counts in (("guard", guard), ("train", train)):
        if any(int(c) != c or c < 0 for c in counts):
            raise ValueError(f"{name} counts must be non-negative integers, got {counts}")
    if any(e not in EDGES for e in edge):
        raise ValueError(f"edge must be one of {EDGES} (per dim), got {edge}")
    dtype = np.dtype(dtype)
    if dtype.kind not in "fiub" or dtype.itemsize > 8:
        raise ValueError(f"power must be real (float or integer), got dtype {dtype}")
    dtype = dtype if dtype in (np.float32, np.float64) else np.dtype(
        np.float32 if dtype.kind == "f" and dtype.itemsize < 4 else np.float64)
    # (rows, cols) of the kernel: a 1-D detector is the 2-D one on a single row
    guard = (0,) * (2 - n_dims) + tuple(int(g) for g in guard)
    train = (0,) * (2 - n_dims) + tuple(int(t) for t in train)
    edge = ("truncate",) * (2 - n_dims) + edge
    size = (1,) * (2 - n_dims) + tuple(shape)
    reach = tuple(g + t for g, t in zip(guard, train, strict=True))
    for n, w, s in zip(size[2 - n_dims:], reach[2 - n_dims:], shape, strict=True):
        if 2 * w + 1 > n:
            raise ValueError(
                f"CFAR window (2 x (guard + train) + 1 = {2 * w + 1} cells) is larger than "
                f"the map ({s} cells) along a working dim of shape {tuple(shape)}"
            )
    n_full = int(np.prod([2 * w + 1 for w in reach]) - np.prod([2 * g + 1 for g in guard]))
    if n_full < (2 if method in ("go", "so") else 1):
        raise ValueError(f"the window has {n_full} training cells; method {method!r} needs "
                         "at least " + ("2" if method in ("go", "so") else "1"))
    if alpha is not None:
        if not float(alpha) > 0:
            raise ValueError(f"threshold_factor must be positive, got {alpha!r}")
    else:
        pfa = check_pfa(pfa)
    if method == "os":
        rank = default_rank(n_full) if rank is None else rank
        if int(rank) != rank or not 1 <= rank <= n_full:
            raise ValueError(f"rank must be an integer in [1, {n_full}] (the training cells "
                             f"of the window), got {rank!r}")
        rank = int(rank)
    elif rank is not None:
        raise ValueError(f"rank applies only to method='os', not {method!r}")
    pad = tuple(w if e == "wrap" else 0 for w, e in zip(reach, edge, strict=True))
    region = tuple(
        (w, n - w) if e == "skip" else (p, p + n)
        for w, e, p, n in zip(reach, edge, pad, size, strict=True)
    )
    padded = tuple(n + 2 * p for n, p in zip(size, pad, strict=True))
    plan = {"method": method, "n_dims": n_dims, "guard": guard, "train": train, "edge": edge,
            "pad": pad, "region": region, "dtype": dtype, "pfa": pfa, "rank": rank,
            "n_full": n_full, "custom_alpha": alpha}
    plan.update(_tables(method, padded, region, guard, reach, pfa, rank, n_full, alpha))
    return plan


def _counts(r, a, size, guard, reach):
    """Training-cell counts ``(n, n_lead, n_lag)`` of cells ``(r, a)`` in a map of ``size``.

    The same clipped-rectangle arithmetic as the kernels (:mod:`radarsp.cfar._kernels`).
    """
    r, a = np.meshgrid(np.asarray(r), np.asarray(a), indexing="ij")
    (n_rows, n_cols), (gr, ga), (wr, wa) = size, guard, reach
    r0, r1 = np.maximum(r - wr, 0), np.minimum(r + wr, n_rows - 1)
    g0, g1 = np.maximum(r - gr, 0), np.minimum(r + gr, n_rows - 1)
    c0, c1 = np.maximum(a - wa, 0), np.minimum(a + wa, n_cols - 1)
    h0, h1 = np.maximum(a - ga, 0), np.minimum(a + ga, n_cols - 1)
    width, guard_width = c1 - c0 + 1, h1 - h0 + 1
    lead = (r - r0) * width - (r - g0) * guard_width + (h0 - c0)
    lag = (r1 - r) * width - (g1 - r) * guard_width + (c1 - h1)
    return (lead + lag).ravel(), lead.ravel(), lag.ravel()


def _edge_positions(lo: int, hi: int, n: int, reach: int) -> np.ndarray:
    """Positions in ``[lo, hi)`` standing for every distinct clipping of a window of ``reach``."""
    near = [p for p in range(lo, hi) if p < reach or p >= n - reach]
    inner = [p for p in range(max(lo, reach), min(hi, n - reach))][:1]
    return np.array(near + inner, dtype=np.int64)


def _tables(method, size, region, guard, reach, pfa, rank, n_full, alpha) -> dict:
    """Threshold factor (and OS rank) for every training-cell count the region meets."""
    positions = [_edge_positions(lo, hi, n, w)
                 for (lo, hi), n, w in zip(region, size, reach, strict=True)]
    n, lead, lag = _counts(*positions, size, guard, reach)
    alpha_n = np.full(n_full + 1, np.nan)
    rank_n = np.ones(n_full + 1, dtype=np.int64)
    alpha_mn = np.full((1, 1), np.nan)
    if method == "os":
        for count in np.unique(n):
            rank_n[count] = scaled_rank(rank, n_full, int(count))
    if method in ("go", "so"):
        alpha_mn = np.full((lead.max() + 1, lag.max() + 1), np.nan)
        for m, k in set(zip(lead.tolist(), lag.tolist(), strict=True)):
            alpha_mn[m, k] = alpha if alpha is not None else halves_threshold_factor(
                method, m, k, pfa)
    else:
        for count in np.unique(n).tolist():
            alpha_n[count] = alpha if alpha is not None else threshold_factor(
                method, count, pfa, rank=rank_n[count] if method == "os" else None)
    return {"alpha_n": alpha_n, "rank_n": rank_n, "alpha_mn": alpha_mn}


def _run(values: np.ndarray, *, plan: dict, outputs: Sequence[str] = OUTPUTS):
    """Apply a validated plan to ``values`` (working axes last); returns ``outputs``."""
    from radarsp.cfar import _kernels

    n_dims = plan["n_dims"]
    values = np.asarray(values, dtype=plan["dtype"])
    maps = values.reshape((-1,) + (1,) * (2 - n_dims) + values.shape[values.ndim - n_dims:])
    pad = plan["pad"]
    if any(pad):
        maps = np.pad(maps, ((0, 0), (pad[0], pad[0]), (pad[1], pad[1])), mode="wrap")
    maps = np.ascontiguousarray(maps)
    shape = (maps.shape[0],) + tuple(n - 2 * p for n, p in zip(maps.shape[1:], pad, strict=True))
    detected = np.zeros(shape, dtype=bool)

    def output(name):
        if name not in outputs:  # zero-width: the kernels leave it unwritten
            return np.empty(shape[:2] + (0,), dtype=plan["dtype"])
        if "skip" in plan["edge"]:  # cells whose window does not fit are never evaluated
            return np.full(shape, np.nan, dtype=plan["dtype"])
        return np.empty(shape, dtype=plan["dtype"])

    others = [output(name) for name in OUTPUTS[1:]]
    (r_lo, r_hi), (a_lo, a_hi) = plan["region"]
    (guard_r, guard_a), (train_r, train_a) = plan["guard"], plan["train"]
    settings = (guard_r, guard_a, train_r, train_a, r_lo, r_hi, a_lo, a_hi, *pad)
    # the kernels check the values are finite on their way (a NaN would spread through the
    # summed-area tables to every later window sum)
    finite = np.ones(maps.shape[0], dtype=bool)
    if maps.shape[0]:
        if plan["method"] == "os":
            keys = _sort_keys(maps, finite)
            if finite.all():
                _kernels.cfar_order(maps, keys, 3 if maps.itemsize == 4 else 6, *settings,
                                    plan["alpha_n"], plan["rank_n"], detected, *others)
        else:
            code = {"ca": _kernels.CA, "go": _kernels.GO, "so": _kernels.SO}[plan["method"]]
            _kernels.cfar_mean(maps, code, *settings, plan["alpha_n"], plan["alpha_mn"],
                               detected, *others, finite)
    if not finite.all():
        raise NonFinitePowerError("power has NaN or infinite values; CFAR needs finite linear "
                                  "power")
    arrays = dict(zip(OUTPUTS, [detected, *others], strict=True))
    return tuple(arrays[name].reshape(values.shape) for name in outputs)


def _run_one(values: np.ndarray, *, plan: dict, outputs: Sequence[str]) -> np.ndarray:
    """:func:`_run` of a single output, as the array itself (for ``xr.apply_ufunc``)."""
    return _run(values, plan=plan, outputs=outputs)[0]


def _sort_keys(maps: np.ndarray, finite: np.ndarray) -> np.ndarray:
    """Unsigned integers that sort like the float values: IEEE bits, sign flipped (negatives
    also inverted). Shape (frame, cells). ``finite[i]`` is set to whether frame ``i`` is."""
    from radarsp.cfar import _kernels

    unsigned = np.uint32 if maps.itemsize == 4 else np.uint64
    exponent = unsigned(0x7F800000) if maps.itemsize == 4 else unsigned(0x7FF0000000000000)
    bits = np.ascontiguousarray(maps).reshape(len(maps), -1).view(unsigned)
    return _kernels.sort_keys(bits, unsigned(1) << unsigned(8 * maps.itemsize - 1), exponent,
                              finite)


def _settings_attrs(plan: dict, dims: tuple) -> dict:
    """The CFAR settings as netCDF-safe ``cfar_*`` attrs (working dims only, no 1-D padding)."""
    n = plan["n_dims"]
    attrs = {
        "cfar_method": plan["method"],
        "cfar_dims": ",".join(map(str, dims)),
        "cfar_guard": np.array(plan["guard"][2 - n:], dtype=np.int32),
        "cfar_train": np.array(plan["train"][2 - n:], dtype=np.int32),
        "cfar_edge": ",".join(plan["edge"][2 - n:]),
        "cfar_training_cells": np.int32(plan["n_full"]),
    }
    interior = plan["alpha_mn"][-1, -1] if plan["method"] in ("go", "so") else plan["alpha_n"][-1]
    if plan["custom_alpha"] is None:
        attrs["cfar_pfa"] = float(plan["pfa"])
    attrs["cfar_threshold_factor"] = float(
        plan["custom_alpha"] if plan["custom_alpha"] is not None else interior)
    if plan["method"] == "os":
        attrs["cfar_rank"] = np.int32(plan["rank"])
    return attrs


def detections(result: xr.Dataset, power: xr.DataArray | None = None) -> xr.Dataset:
    """Turn a 2-D CFAR result into a ``detections-1`` table, one row per detected cell.

    Parameters
    ----------
    result : xarray.Dataset
        Output of :func:`cfar` with working dims (``range``, ``angle``) or (``range``,
        ``velocity``), and optionally a ``frame`` batch dim (no other batch dims). It needs
        ``detected`` and ``snr`` (and ``noise`` without ``power``), so
        ``cfar(..., outputs=("detected", "snr"))`` is enough.
    power : xarray.DataArray, optional
        The map the detector ran on; its values fill the ``power`` column. Without it the
        column is ``snr * noise``.

    Returns
    -------
    xarray.Dataset
        Dim ``detection`` (rows ordered by frame, range, then the second dim); columns
        ``frame``, ``range``, ``angle``, ``x``, ``y`` (m, from
        :func:`radarsp.geometry.polar_to_cartesian`), ``power``, ``snr``. For a range-velocity
        result the table adds a ``velocity`` column (m/s) and ``angle``, ``x`` and ``y`` are
        NaN, so the file is still a valid ``detections-1`` table. Attrs:
        ``radarsp_schema="detections-1"``, the ``cfar_*`` settings of ``result`` and
        ``frame_count``; coordinate ``searched_frame`` (dim ``searched_frame``): the labels
        of the frames searched, so frames without detections are known
        (:func:`radarsp.frames.searched_frames`).

    Notes
    -----
    A dask-backed ``result`` (CFAR on a chunked heatmap) is turned into a table one frame
    chunk at a time, on whatever dask scheduler is active (threads, or a dask.distributed
    cluster), so only one chunk of maps is in memory per worker.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> values = rng.exponential(size=(1, 40, 20))
    >>> values[0, 30, 5] = 1e4
    >>> power = xr.DataArray(values, dims=("frame", "range", "angle"), coords={
    ...     "range": np.arange(40) * 0.5, "angle": np.linspace(-1, 1, 20)})
    >>> table = detections(cfar(power, guard=(1, 1), train=(3, 3), pfa=1e-6), power)
    >>> float(table["range"][0]), round(float(table["x"][0]), 3)
    (15.0, -6.843)
    """
    needed = ["detected", "snr"] + ([] if power is not None else ["noise"])
    missing = [name for name in needed if name not in result]
    if missing:
        raise ValueError(f"detections needs the CFAR outputs {needed} (cfar(..., outputs=...)"
                         f"{'' if power is not None else ', or the power map'}); missing "
                         f"{missing}")
    if result["detected"].chunks is not None and "frame" in result["detected"].dims:
        return _detections_by_chunk(result, power)
    detected = result["detected"]
    working = [d for d in detected.dims if d != "frame"]
    second = "velocity" if "velocity" in working else "angle"
    if sorted(working) != sorted(["range", second]):
        raise ValueError(f"detections needs a result over (range, angle) or (range, velocity) "
                         f"with an optional frame dim, got dims {detected.dims}")
    order = (["frame"] if "frame" in detected.dims else []) + ["range", second]
    mask = np.asarray(detected.transpose(*order).values)
    if "frame" not in detected.dims:
        mask = mask[np.newaxis]
    frame_i, range_i, second_i = np.nonzero(mask)

    def column(source: xr.DataArray) -> np.ndarray:
        data = np.asarray(source.transpose(*order).values)
        return (data if "frame" in detected.dims else data[np.newaxis])[frame_i, range_i, second_i]

    snr = column(result["snr"])
    values = column(power) if power is not None else snr * column(result["noise"])
    frames = (np.asarray(detected["frame"].values)[frame_i] if "frame" in detected.coords
              else frame_i)
    ranges = _coordinate(detected, "range")[range_i]
    table = {"frame": frames.astype(np.int64), "range": ranges}
    if second == "angle":
        angles = _coordinate(detected, "angle")[second_i]
        x, y = polar_to_cartesian(ranges, angles)
    else:
        table["velocity"] = _coordinate(detected, "velocity")[second_i]
        angles = x = y = np.full(ranges.shape, np.nan)
    table.update(angle=angles, x=x, y=y, power=values, snr=snr)
    columns = ("frame", "range", "angle", "x", "y", "power", "snr") + (
        ("velocity",) if second == "velocity" else ())
    attrs = {k: v for k, v in result.attrs.items() if k.startswith("cfar_")}
    attrs["frame_count"] = np.int32(mask.shape[0])
    attrs[model.SCHEMA_ATTR] = model.DETECTIONS
    table_ds = xr.Dataset({c: ("detection", np.asarray(table[c])) for c in columns},
                          coords={"searched_frame": _searched_frames(detected)}, attrs=attrs)
    return model.annotate(table_ds)


def _searched_frames(detected: xr.DataArray) -> np.ndarray:
    """Labels of the frames searched (the map's ``frame`` coordinate; 0, 1, ... without one),
    so a frame without detections is told apart from one never searched."""
    if "frame" not in detected.dims:
        return np.zeros(1, dtype=np.int64)
    if "frame" in detected.coords:
        return np.asarray(detected["frame"].values)
    return np.arange(detected.sizes["frame"])


def _detections_by_chunk(result: xr.Dataset, power: xr.DataArray | None) -> xr.Dataset:
    """:func:`detections` of a dask-backed result, computed per frame chunk in one graph."""
    import dask

    detected = result["detected"]
    # chunks of the map itself (coordinates along frame may be chunked differently)
    edges = np.cumsum((0,) + detected.data.chunks[detected.get_axis_num("frame")])
    parts = []
    for start, stop in zip(edges[:-1], edges[1:], strict=True):
        block = slice(int(start), int(stop))
        block_power = power.isel(frame=block) if power is not None else None
        # delayed computes the xarray arguments first, so each chunk's CFAR runs once and
        # the (detected, snr, power) maps of only that chunk are materialised at a time
        parts.append(dask.delayed(detections)(result.isel(frame=block), block_power))
    tables = dask.compute(*parts)
    table = xr.concat([t.drop_vars("searched_frame") for t in tables], dim="detection",
                      data_vars="all", combine_attrs="override")
    table.attrs["frame_count"] = np.int32(result.sizes["frame"])
    return model.annotate(table.assign_coords(searched_frame=_searched_frames(detected)))


def _coordinate(data: xr.DataArray, dim: str) -> np.ndarray:
    """Values of ``dim``'s coordinate, or bin indices when it has none."""
    if dim in data.coords:
        return np.asarray(data[dim].values, dtype=np.float64)
    return np.arange(data.sizes[dim], dtype=np.float64)


make_callable(__name__)  # radarsp.cfar(...) calls cfar(); see radarsp/_callable.py
