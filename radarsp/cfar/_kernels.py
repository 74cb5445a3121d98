"""Numba kernels of the CFAR detectors (private; imported only when a detector runs).

All kernels work on a stack of maps ``x`` of shape ``(frame, row, col)``, evaluate the cells of
rows ``[r_lo, r_hi)`` and columns ``[a_lo, a_hi)`` and write cell ``(r, a)`` of ``x`` to
``(r - pad_r, a - pad_a)`` of the outputs. The wrapper pads periodic ("wrap") axes by the window
reach and picks the region (all cells, or those whose window fits for "skip"), so the kernels
know one edge rule only: training cells outside the array do not exist.
A 1-D detector is the 2-D one on maps of one row with no guard or training along rows.

Window of the cell ``(r, a)`` with guard ``(gr, ga)`` and training ``(tr, ta)`` cells per side,
``wr = gr + tr`` and ``wa = ga + ta``: training cells are the offsets ``(dr, da)`` with
``|dr| <= wr``, ``|da| <= wa`` and not (``|dr| <= gr`` and ``|da| <= ga``), i.e. the rectangular
annulus. Its *leading* half is the offsets before the cell in raster order (``dr < 0``, or
``dr == 0`` and ``da < 0``), the *lagging* half the ones after it, so in 1-D they are the cells
before and after the cell under test, and in 2-D they split the annulus along range.

Outputs per cell: ``noise`` (estimate ``Z``), ``threshold = alpha * Z`` with ``alpha`` looked up
for the cell's actual training-cell counts, ``snr = x / Z`` and ``detected = x > threshold``.
Sums are accumulated in float64 whatever the input dtype.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import prange, types
from numba.core.extending import intrinsic

from radarsp._numba import njit

CA, GO, SO = 0, 1, 2


@njit(cache=True, inline="always")
def _box(top, bottom, c0, c1):
    """Sum over columns ``[c0, c1]`` of the rows between summed-area rows ``top`` and ``bottom``.

    With ``top = S[i]`` and ``bottom = S[j]`` (``S[i, c] = sum(x[:i, :c])``) this is the sum of
    ``x[i:j, c0:c1 + 1]``; it is 0 for an empty range ``c0 = c1 + 1`` or ``i = j``.
    """
    return bottom[c1 + 1] - top[c1 + 1] - bottom[c0] + top[c0]


@njit(cache=True, inline="always")
def _next_sat_row(row, previous, following):
    """``following[j + 1] = previous[j + 1] + sum(row[:j + 1])``: the next summed-area row.

    Returns the row's sum (not finite if any of its values is not).
    """
    running = 0.0
    for j in range(row.shape[0]):
        running += row[j]
        following[j + 1] = previous[j + 1] + running
    return running


@njit(cache=True, inline="always")
def _next_sat_rows(first, second, previous, following, after):
    """Two summed-area rows at once: ``following`` from ``first``, ``after`` from ``second``.

    The same sums, in the same order, as two calls of :func:`_next_sat_row`, but the two
    running sums are independent chains, so the CPU overlaps their additions (the single
    chain is bound by the latency of one addition per cell). Returns the sum of both rows.
    """
    running_first = 0.0
    running_second = 0.0
    for j in range(first.shape[0]):
        running_first += first[j]
        running_second += second[j]
        value = previous[j + 1] + running_first
        following[j + 1] = value
        after[j + 1] = value + running_second
    return running_first + running_second


@njit(cache=True, inline="always")
def _halves(method, lead, lag, m, n):
    """GO/SO noise estimate from the half sums ``lead``, ``lag`` of ``m`` and ``n`` cells."""
    if m == 0:
        return lag / n
    if n == 0:
        return lead / m
    if method == GO:
        return max(lead / m, lag / n)
    return min(lead / m, lag / n)


@njit(cache=True, parallel=True, error_model="numpy")
def cfar_mean(x, method, guard_r, guard_a, train_r, train_a, r_lo, r_hi, a_lo, a_hi,
              pad_r, pad_a, alpha_n, alpha_mn, detected, threshold, noise, snr, finite):
    """CA, GO and SO CFAR with summed-area tables: O(1) work per cell for any window size.

    Only the ``2 (guard_r + train_r) + 3`` summed-area rows a row of cells needs are kept
    (a ring buffer that stays in cache). Every window sum is four lookups; the leading half
    is the rows above the cell plus the cells left of it on its row, the lagging half the rest.
    A row's noise estimates and thresholds go to a scratch row first, then each wanted output
    is written by its own loop, so every loop vectorises.

    Parameters
    ----------
    x : ndarray, shape (frame, R, A), float32 or float64
        Linear power maps.
    method : int
        ``CA`` (0), ``GO`` (1) or ``SO`` (2).
    guard_r, guard_a, train_r, train_a : int
        Guard and training cells per side along rows and columns.
    r_lo, r_hi, a_lo, a_hi : int
        Region of ``x`` whose cells are evaluated.
    pad_r, pad_a : int
        Offset of the outputs in ``x`` (the periodic padding).
    alpha_n : ndarray, shape (N + 1,)
        CA threshold factor for ``n`` training cells.
    alpha_mn : ndarray, shape (M + 1, M + 1)
        GO/SO threshold factor for ``m`` leading and ``n`` lagging cells.
    detected, threshold, noise, snr : ndarray, shape (frame, R - 2 pad_r, A - 2 pad_a)
        Outputs, written in place. ``threshold``, ``noise`` or ``snr`` of shape
        (frame, R - 2 pad_r, 0) are not wanted and not written.
    finite : ndarray of bool, shape (frame,)
        Set to whether every value of each frame is finite (from the row sums the tables
        need anyway: a NaN or infinity makes its row's sum non-finite). The other outputs
        of a frame with ``finite`` False are meaningless.
    """
    n_frames, n_rows, n_cols = x.shape
    wr = guard_r + train_r
    wa = guard_a + train_a
    # summed-area rows r0 .. r1 + 1 of the window, plus one computed ahead (rows go in pairs)
    depth = 2 * wr + 3
    # columns whose window is not clipped: [inner0, inner1)
    inner0 = min(max(a_lo, wa), a_hi)
    inner1 = max(min(a_hi, n_cols - wa), inner0)
    for f in prange(n_frames):
        ring = np.zeros((depth, n_cols + 1))
        z_row = np.empty(n_cols)
        t_row = np.empty(n_cols)
        ready = 0
        total = 0.0
        for r in range(r_lo, r_hi):
            r0 = max(r - wr, 0)
            r1 = min(r + wr, n_rows - 1)
            g0 = max(r - guard_r, 0)
            g1 = min(r + guard_r, n_rows - 1)
            while ready <= r1:
                if ready + 1 < n_rows:
                    total += _next_sat_rows(x[f, ready], x[f, ready + 1], ring[ready % depth],
                                            ring[(ready + 1) % depth], ring[(ready + 2) % depth])
                    ready += 2
                else:
                    total += _next_sat_row(x[f, ready], ring[ready % depth],
                                           ring[(ready + 1) % depth])
                    ready += 1
            top, bottom = ring[r0 % depth], ring[(r1 + 1) % depth]
            guard_top, guard_bottom = ring[g0 % depth], ring[(g1 + 1) % depth]
            above, below = ring[r % depth], ring[(r + 1) % depth]
            # unclipped columns: counts and threshold factor are fixed along the row
            width, guard_width = 2 * wa + 1, 2 * guard_a + 1
            if method == CA:
                count = (r1 - r0 + 1) * width - (g1 - g0 + 1) * guard_width
                _inner_ca(inner0, inner1, wa, guard_a, top, bottom, guard_top, guard_bottom,
                          1.0 / count, alpha_n[count], z_row, t_row)
            else:
                m = (r - r0) * width - (r - g0) * guard_width + train_a
                n = (r1 - r) * width - (g1 - r) * guard_width + train_a
                _inner_halves(method, inner0, inner1, wa, guard_a, top, bottom, guard_top,
                              guard_bottom, above, below, m, n, alpha_mn[m, n], z_row, t_row)
            # clipped columns near the left and right edges
            for side in range(2):
                start, stop = (a_lo, inner0) if side == 0 else (inner1, a_hi)
                for a in range(start, stop):
                    c0 = max(a - wa, 0)
                    c1 = min(a + wa, n_cols - 1)
                    h0 = max(a - guard_a, 0)
                    h1 = min(a + guard_a, n_cols - 1)
                    width = c1 - c0 + 1
                    guard_width = h1 - h0 + 1
                    if method == CA:
                        window_sum = (_box(top, bottom, c0, c1)
                                      - _box(guard_top, guard_bottom, h0, h1))
                        count = (r1 - r0 + 1) * width - (g1 - g0 + 1) * guard_width
                        z = window_sum / count
                        alpha = alpha_n[count]
                    else:
                        lead = (_box(top, above, c0, c1) - _box(guard_top, above, h0, h1)
                                + _box(above, below, c0, h0 - 1))
                        lag = (_box(below, bottom, c0, c1) - _box(below, guard_bottom, h0, h1)
                               + _box(above, below, h1 + 1, c1))
                        m = (r - r0) * width - (r - g0) * guard_width + (h0 - c0)
                        n = (r1 - r) * width - (g1 - r) * guard_width + (c1 - h1)
                        z = _halves(method, lead, lag, m, n)
                        alpha = alpha_mn[m, n]
                    z_row[a] = z
                    t_row[a] = alpha * z
            i = r - pad_r
            _store_row(x[f, r, a_lo:a_hi], z_row[a_lo:a_hi], t_row[a_lo:a_hi], a_lo - pad_a,
                       detected[f, i], threshold[f, i], noise[f, i], snr[f, i])
        # every row has entered the tables (the last evaluated row's window reaches the
        # last row), except rows below a "skip" region: add them to the check
        for rest in range(ready, n_rows):
            for j in range(n_cols):
                total += x[f, rest, j]
        finite[f] = np.isfinite(total)


@njit(cache=True, error_model="numpy")
def _store_row(values, z, t, out_start, detected, threshold, noise, snr):
    """Write cells ``out_start ...`` of the output rows from a row's noise and threshold.

    One loop per output (each vectorises); an output row of length 0 is not wanted.
    """
    n = values.shape[0]
    detected = detected[out_start:out_start + n]
    for k in range(n):
        detected[k] = values[k] > t[k]
    if threshold.shape[0]:
        threshold = threshold[out_start:out_start + n]
        for k in range(n):
            threshold[k] = t[k]
    if noise.shape[0]:
        noise = noise[out_start:out_start + n]
        for k in range(n):
            noise[k] = z[k]
    if snr.shape[0]:
        snr = snr[out_start:out_start + n]
        for k in range(n):
            snr[k] = values[k] / z[k]


@njit(cache=True, error_model="numpy")
def _inner_ca(start, stop, wa, guard_a, top, bottom, guard_top, guard_bottom,
              inverse_count, alpha, z_row, t_row):
    """CA noise and threshold of the unclipped columns ``[start, stop)`` of one row.

    Every operand is a view shifted so the loop index is its only subscript, which lets LLVM
    drop numba's negative-index handling and vectorise the loop.
    """
    n = stop - start
    if n <= 0:
        return
    base = start - wa
    top_a, top_b = top[base:], top[base + 2 * wa + 1:]
    bottom_a, bottom_b = bottom[base:], bottom[base + 2 * wa + 1:]
    guard_top_c, guard_top_d = guard_top[start - guard_a:], guard_top[start + guard_a + 1:]
    guard_bottom_c = guard_bottom[start - guard_a:]
    guard_bottom_d = guard_bottom[start + guard_a + 1:]
    z_k, t_k = z_row[start:], t_row[start:]
    for k in range(n):
        total = ((bottom_b[k] - top_b[k] - bottom_a[k] + top_a[k])
                 - (guard_bottom_d[k] - guard_top_d[k] - guard_bottom_c[k] + guard_top_c[k]))
        z = total * inverse_count
        z_k[k] = z
        t_k[k] = alpha * z


@njit(cache=True, error_model="numpy")
def _inner_halves(method, start, stop, wa, guard_a, top, bottom, guard_top, guard_bottom,
                  above, below, m, n, alpha, z_row, t_row):
    """GO/SO noise and threshold of the unclipped columns ``[start, stop)`` (see
    :func:`_inner_ca`)."""
    count = stop - start
    if count <= 0:
        return
    a, b = start - wa, start + wa + 1
    c, d = start - guard_a, start + guard_a + 1
    top_a, top_b, above_a, above_b = top[a:], top[b:], above[a:], above[b:]
    above_c, above_d, below_a, below_b = above[c:], above[d:], below[a:], below[b:]
    below_c, below_d, bottom_a, bottom_b = below[c:], below[d:], bottom[a:], bottom[b:]
    guard_top_c, guard_top_d = guard_top[c:], guard_top[d:]
    guard_bottom_c, guard_bottom_d = guard_bottom[c:], guard_bottom[d:]
    z_k, t_k = z_row[start:], t_row[start:]
    inverse_m = 1.0 / m if m > 0 else 0.0
    inverse_n = 1.0 / n if n > 0 else 0.0
    for k in range(count):
        lead = ((above_b[k] - top_b[k] - above_a[k] + top_a[k])
                - (above_d[k] - guard_top_d[k] - above_c[k] + guard_top_c[k])
                + (below_c[k] - above_c[k] - below_a[k] + above_a[k]))
        lag = ((bottom_b[k] - below_b[k] - bottom_a[k] + below_a[k])
               - (guard_bottom_d[k] - below_d[k] - guard_bottom_c[k] + below_c[k])
               + (below_b[k] - above_b[k] - below_d[k] + above_d[k]))
        if m == 0:
            z = lag * inverse_n
        elif n == 0:
            z = lead * inverse_m
        elif method == GO:
            z = max(lead * inverse_m, lag * inverse_n)
        else:
            z = min(lead * inverse_m, lag * inverse_n)
        z_k[k] = z
        t_k[k] = alpha * z


@intrinsic
def _popcount(typingctx, word):
    """Number of set bits of a uint64 (LLVM ``ctpop``)."""
    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return types.uint64(types.uint64), codegen


@intrinsic
def _trailing_zeros(typingctx, word):
    """Index of the lowest set bit of a non-zero uint64 (LLVM ``cttz``)."""
    def codegen(context, builder, signature, args):
        return builder.cttz(args[0], ir.Constant(ir.IntType(1), 1))

    return types.uint64(types.uint64), codegen


#: log2 of the ranks per block of the OS window's member counts (32 bitset words a block)
BLOCK_BITS = 11


@njit(cache=True, inline="always")
def _toggle(q, delta, words, blocks):
    """Insert (``delta = 1``) or remove (``-1``) rank ``q`` of the rank-space window.

    Unsigned indices spare numba's negative-index handling (~15 % of the OS kernel's time).
    """
    u = np.uint64(q)
    words[u >> np.uint64(6)] ^= np.uint64(1) << (u & np.uint64(63))
    blocks[u >> np.uint64(BLOCK_BITS)] += delta


@njit(cache=True, inline="always")
def _shift(rank, column, row_from, row_to, n_rows, delta, cursor, words, blocks):
    """Insert or remove the cells of ``column`` in rows ``[row_from, row_to)``.

    ``rank`` is column-major (a column's cells are adjacent). Returns the change of the
    number of members below the cursor's block.
    """
    below = 0
    strip = rank[column * n_rows + row_from:column * n_rows + row_to]
    for i in range(strip.shape[0]):
        q = strip[i]
        _toggle(q, delta, words, blocks)
        below += (q >> BLOCK_BITS) < cursor
    return below * delta


@njit(cache=True, inline="always")
def _window_count(rows0, rows1, guard0, guard1, a, wa, guard_a, n_cols):
    """Training-cell count of the cell in column ``a`` given its clipped rows."""
    width = min(a + wa, n_cols - 1) - max(a - wa, 0) + 1
    guard_width = min(a + guard_a, n_cols - 1) - max(a - guard_a, 0) + 1
    return (rows1 - rows0 + 1) * width - (guard1 - guard0 + 1) * guard_width


@njit(cache=True)
def radix_order(keys, n_passes):
    """Stable ascending argsort of unsigned integer ``keys`` by LSD radix sort, 11 bits a pass.

    ``n_passes`` is 3 for 32-bit keys and 6 for 64-bit keys. O(n) per pass, no comparisons.
    """
    n = keys.shape[0]
    order = np.arange(n).astype(np.int32)
    spare = np.empty(n, np.int32)
    current = keys.copy()
    other = np.empty_like(keys)
    mask = keys.dtype.type(2047)
    for p in range(n_passes):
        shift = keys.dtype.type(11 * p)
        start = np.zeros(2049, np.int64)
        for i in range(n):
            start[np.int64((current[i] >> shift) & mask) + 1] += 1
        for d in range(2048):
            start[d + 1] += start[d]
        for i in range(n):
            d = np.int64((current[i] >> shift) & mask)
            position = start[d]
            start[d] = position + 1
            other[position] = current[i]
            spare[position] = order[i]
        current, other = other, current
        order, spare = spare, order
    return order


@njit(cache=True, parallel=True, error_model="numpy")
def cfar_order(x, keys, n_passes, guard_r, guard_a, train_r, train_a, r_lo, r_hi, a_lo, a_hi,
               pad_r, pad_a, alpha_n, rank_n, detected, threshold, noise, snr):
    """OS CFAR with a sliding order statistic in rank space.

    Each frame is ranked once by a radix sort of ``keys`` (unsigned integers ordered like
    the values, shape (frame, R * A); ``n_passes`` as in :func:`radix_order`), which turns
    values into distinct ranks. The training window of a row of cells is a set of ranks held
    as a bitset with member counts per block of ``2 ** BLOCK_BITS`` ranks (about P/8 bytes for
    P cells per frame, so it stays in cache). Moving the cell one column
    inserts and removes ``2 (2 wr + 1)`` cells (plus ``2 (2 gr + 1)`` next to the guard
    band), O(1) each. The ``k``-th smallest member is found from a cursor over the block
    counts (which moves little from one cell to the next), word popcounts within the block
    and a bit select; no sort per cell.

    Parameters are those of :func:`cfar_mean` (zero-width outputs are not written) plus the
    sort keys, with ``alpha_n`` and ``rank_n`` the OS threshold factor and 1-based rank for
    a window of ``n`` training cells, and without ``finite`` (see :func:`sort_keys`).
    """
    n_frames, n_rows, n_cols = x.shape
    wr = guard_r + train_r
    wa = guard_a + train_a
    n_cells = n_rows * n_cols
    n_blocks = (n_cells + (1 << BLOCK_BITS) - 1) >> BLOCK_BITS
    keep_threshold, keep_noise, keep_snr = (
        threshold.shape[2] > 0, noise.shape[2] > 0, snr.shape[2] > 0)
    for f in prange(n_frames):
        flat = x[f].ravel()
        order = radix_order(keys[f], n_passes)
        rank = np.empty(n_cells, np.int32)
        sorted_values = np.empty(n_cells, np.float64)
        # column-major ranks: the column strips a slide touches are contiguous (row-major
        # strips of a power-of-two width alias in the L1 cache)
        for i in range(n_cells):
            cell = order[i]
            row = cell // n_cols
            rank[(cell - row * n_cols) * n_rows + row] = i
            sorted_values[i] = flat[cell]
        words = np.zeros(n_blocks << (BLOCK_BITS - 6), np.uint64)
        blocks = np.zeros(n_blocks, np.int32)
        for r in range(r_lo, r_hi):
            rows0, rows1 = max(r - wr, 0), min(r + wr, n_rows - 1)
            guard0, guard1 = max(r - guard_r, 0), min(r + guard_r, n_rows - 1)
            cursor = 0
            below = 0
            count = 0
            for rr in range(rows0, rows1 + 1):
                in_guard_rows = guard0 <= rr <= guard1
                for c in range(max(a_lo - wa, 0), min(a_lo + wa, n_cols - 1) + 1):
                    if not (in_guard_rows and abs(c - a_lo) <= guard_a):
                        _toggle(rank[c * n_rows + rr], 1, words, blocks)
                        count += 1
            for a in range(a_lo, a_hi):
                k = rank_n[count]
                while below + blocks[cursor] < k:
                    below += blocks[cursor]
                    cursor += 1
                while below >= k:
                    cursor -= 1
                    below -= blocks[cursor]
                remaining = k - below
                w = cursor << (BLOCK_BITS - 6)
                while True:
                    bits = np.int64(_popcount(words[w]))
                    if bits >= remaining:
                        break
                    remaining -= bits
                    w += 1
                word = words[w]
                for _ in range(remaining - 1):
                    word &= word - np.uint64(1)
                z = sorted_values[w * 64 + np.int64(_trailing_zeros(word))]
                value = x[f, r, a]
                t = alpha_n[count] * z
                i, j = r - pad_r, a - pad_a
                detected[f, i, j] = value > t
                if keep_threshold:
                    threshold[f, i, j] = t
                if keep_noise:
                    noise[f, i, j] = z
                if keep_snr:
                    snr[f, i, j] = value / z
                if a + 1 == a_hi:
                    break
                # slide to a + 1: column a - wa leaves and a + 1 + wa enters (on the guard
                # rows too when train_a > 0); on the guard rows a - guard_a leaves the guard
                # band (enters the window) and a + 1 + guard_a enters it (leaves the window)
                for column, delta in ((a - wa, -1), (a + 1 + wa, 1)):
                    if 0 <= column < n_cols:
                        if train_a > 0:
                            below += _shift(rank, column, rows0, rows1 + 1, n_rows, delta,
                                            cursor, words, blocks)
                        else:
                            below += _shift(rank, column, rows0, guard0, n_rows, delta,
                                            cursor, words, blocks)
                            below += _shift(rank, column, guard1 + 1, rows1 + 1, n_rows, delta,
                                            cursor, words, blocks)
                if train_a > 0:
                    for column, delta in ((a - guard_a, 1), (a + 1 + guard_a, -1)):
                        if 0 <= column < n_cols:
                            below += _shift(rank, column, guard0, guard1 + 1, n_rows, delta,
                                            cursor, words, blocks)
                count = _window_count(rows0, rows1, guard0, guard1, a + 1, wa, guard_a, n_cols)
            # empty the window of the row's last cell, ready for the next row
            last = a_hi - 1
            for rr in range(rows0, rows1 + 1):
                in_guard_rows = guard0 <= rr <= guard1
                for c in range(max(last - wa, 0), min(last + wa, n_cols - 1) + 1):
                    if not (in_guard_rows and abs(c - last) <= guard_a):
                        _toggle(rank[c * n_rows + rr], -1, words, blocks)


@njit(parallel=True, cache=True)
def sort_keys(bits, sign, exponent, finite):
    """Unsigned integers that sort like the IEEE floats whose bit patterns ``bits`` holds.

    Parameters
    ----------
    bits : ndarray of uint32 or uint64, shape (frame, cell)
        The float maps viewed as unsigned integers of the same width.
    sign : uint32 or uint64
        The sign bit of that width (``1 << 31`` or ``1 << 63``).
    exponent : uint32 or uint64
        The exponent bits of the format: a value is NaN or infinite when all are set.
    finite : ndarray of bool, shape (frame,)
        Set to whether every value of each frame is finite.

    Returns
    -------
    ndarray, same shape and dtype
        ``~b`` for negative values (sign bit set), ``b | sign`` otherwise: the order of the
        keys is the numerical order of the floats. Parallel over frames.
    """
    out = np.empty_like(bits)
    for frame in prange(bits.shape[0]):
        special = 0
        for cell in range(bits.shape[1]):
            value = bits[frame, cell]
            out[frame, cell] = ~value if value & sign else value | sign
            special += (value & exponent) == exponent
        finite[frame] = special == 0
    return out
