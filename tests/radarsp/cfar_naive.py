"""Obviously-correct CFAR: loops over every cell and every window offset, no tricks.

The reference for :mod:`radarsp.cfar` (tests compare the numba kernels against it). It shares
only the threshold factors with the package (tested on their own against Monte Carlo).
"""

from __future__ import annotations

import numpy as np

from radarsp.cfar.threshold import (
    default_rank,
    halves_threshold_factor,
    scaled_rank,
    threshold_factor,
)


def cfar_map(values, *, method, guard, train, pfa=1e-3, rank=None, alpha=None, edge="truncate"):
    """CFAR of one 1-D or 2-D map; returns ``(detected, threshold, noise, snr)``.

    ``guard``, ``train`` and ``edge`` have one entry per axis of ``values`` (or one for all).
    """
    values = np.asarray(values, dtype=np.float64)
    guard, train, edge = (
        (v,) * values.ndim if isinstance(v, (int, str)) else tuple(v) for v in (guard, train, edge)
    )
    one_d = values.ndim == 1
    if one_d:
        values = values[np.newaxis]
        guard, train, edge = (0, *guard), (0, *train), ("truncate", *edge)
    n_rows, n_cols = values.shape
    reach = [g + t for g, t in zip(guard, train, strict=True)]
    offsets = [
        (dr, da)
        for dr in range(-reach[0], reach[0] + 1)
        for da in range(-reach[1], reach[1] + 1)
        if not (abs(dr) <= guard[0] and abs(da) <= guard[1])
    ]
    n_full = len(offsets)
    if method == "os" and rank is None:
        rank = default_rank(n_full)
    detected = np.zeros(values.shape, dtype=bool)
    threshold, noise, snr = (np.full(values.shape, np.nan) for _ in range(3))
    for r in range(n_rows):
        for a in range(n_cols):
            position = (r, a)
            sizes = (n_rows, n_cols)
            if any(
                e == "skip" and (p - w < 0 or p + w >= n)
                for e, p, w, n in zip(edge, position, reach, sizes, strict=True)
            ):
                continue
            lead, lag = [], []
            for dr, da in offsets:
                cell = []
                for p, d, n, e in zip(position, (dr, da), sizes, edge, strict=True):
                    q = p + d
                    if e == "wrap":
                        q %= n
                    cell.append(q)
                if not (0 <= cell[0] < n_rows and 0 <= cell[1] < n_cols):
                    continue
                (lead if (dr, da) < (0, 0) else lag).append(values[cell[0], cell[1]])
            cells = lead + lag
            n = len(cells)
            if method == "ca":
                z = sum(cells) / n
                factor = threshold_factor("ca", n, pfa)
            elif method == "os":
                k = rank if n == n_full else scaled_rank(rank, n_full, n)
                z = sorted(cells)[k - 1]
                factor = threshold_factor("os", n, pfa, rank=k)
            else:
                means = [sum(half) / len(half) for half in (lead, lag) if half]
                z = max(means) if method == "go" else min(means)
                factor = halves_threshold_factor(method, len(lead), len(lag), pfa)
            if alpha is not None:
                factor = alpha
            noise[r, a] = z
            threshold[r, a] = factor * z
            with np.errstate(divide="ignore", invalid="ignore"):
                snr[r, a] = values[r, a] / z
            detected[r, a] = values[r, a] > factor * z
    outputs = (detected, threshold, noise, snr)
    return tuple(o[0] for o in outputs) if one_d else outputs
