"""numba kernels of the simulator: line-of-sight tests, scattering centres, channel sums,
polygon filling.

Imported only inside the functions that need them, so ``import radarsp`` stays light. Each
kernel works on plain arrays with the frame as leading axis and is tested against a slow
reference in ``tests/radarsp/test_simulate.py``. They run single-threaded and release the
GIL; :func:`radarsp.simulate.simulate` runs them on whole sequences in worker threads.
"""

from __future__ import annotations

import math

import numpy as np

from radarsp._numba import njit


@njit(cache=True, nogil=True)
def _blocked(px, py, pz, own, f, box_x, box_y, box_heading, box_length, box_width, box_height,
             box_active, radar_height):
    """Whether the sight line from the radar to ``(px, py, pz)`` passes through a box.

    The ray ``R(t) = O + t (P - O)``, ``t in [0, 1]``, is clipped against each footprint with
    the slab method in the box frame; it is blocked when it is inside a footprint below the
    roof somewhere on ``[t_enter, t_exit]`` (the height along the ray is linear, so both
    ends suffice). Box ``own`` is skipped: its faces decide their own visibility.
    """
    reach2 = px * px + py * py
    for b in range(box_x.shape[1]):
        if b == own or not box_active[f, b]:
            continue
        bx = box_x[f, b]
        by = box_y[f, b]
        half_u = 0.5 * box_length[f, b]
        half_v = 0.5 * box_width[f, b]
        # quick reject: the footprint's bounding circle does not meet the segment
        t_near = min(max((bx * px + by * py) / max(reach2, 1e-12), 0.0), 1.0)
        gap_x = bx - t_near * px
        gap_y = by - t_near * py
        if gap_x * gap_x + gap_y * gap_y > half_u * half_u + half_v * half_v:
            continue
        c = math.cos(box_heading[f, b])
        s = math.sin(box_heading[f, b])
        ou = -bx * c - by * s
        ov = bx * s - by * c
        du = (px - bx) * c + (py - by) * s - ou
        dv = -(px - bx) * s + (py - by) * c - ov
        t_enter = 0.0
        t_exit = 1.0
        hit = True
        for o, d, half in ((ou, du, half_u), (ov, dv, half_v)):
            if abs(d) < 1e-12:
                if abs(o) > half:
                    hit = False
            else:
                t1 = (-half - o) / d
                t2 = (half - o) / d
                if t1 > t2:
                    t1, t2 = t2, t1
                t_enter = max(t_enter, t1)
                t_exit = min(t_exit, t2)
        if not hit or t_enter >= t_exit or t_enter >= 1.0 - 1e-9:
            continue
        climb = pz - radar_height
        if min(radar_height + climb * t_enter, radar_height + climb * t_exit) < box_height[f, b]:
            return True
    return False


@njit(cache=True, nogil=True)
def occluded(points, owner, candidate, box_x, box_y, box_heading, box_length, box_width,
             box_height, box_active, radar_height):
    """Whether the line of sight from the radar to each point passes through another box.

    Parameters
    ----------
    points : ndarray, shape (F, N, 3)
        Scatterer positions (x, y, z above ground), m.
    owner : ndarray of int, shape (F, N)
        Box each point lies on (-1 for free points); a box never hides its own points.
    candidate : ndarray of bool, shape (F, N)
        Points to test; the others are returned as not occluded.
    box_x, box_y, box_heading, box_length, box_width, box_height : ndarray, shape (F, B)
        Oriented boxes standing on the ground, m and rad.
    box_active : ndarray of bool, shape (F, B)
    radar_height : float
        Height of the radar above ground, m.

    Returns
    -------
    ndarray of bool, shape (F, N)
    """
    n_frames, n_points = owner.shape
    out = np.zeros((n_frames, n_points), dtype=np.bool_)
    for f in range(n_frames):
        for n in range(n_points):
            if candidate[f, n]:
                out[f, n] = _blocked(points[f, n, 0], points[f, n, 1], points[f, n, 2],
                                     owner[f, n], f, box_x, box_y, box_heading, box_length,
                                     box_width, box_height, box_active, radar_height)
    return out


@njit(cache=True, nogil=True)
def scatter_boxes(box_x, box_y, box_heading, box_length, box_width, box_height, box_active,
                  box_kind, template, rcs_table, glint_width, points, point_rcs, radar_height):
    """Visible scattering centres of boxes and free points, compacted per frame.

    Parameters
    ----------
    box_x, box_y, box_heading, box_length, box_width, box_height : ndarray, shape (F, B)
        Oriented boxes, m and rad.
    box_active : ndarray of bool, shape (F, B)
    box_kind : ndarray of int, shape (B,)
        Row of ``rcs_table`` and entry of ``glint_width`` for each box.
    template : ndarray, shape (P, 6)
        ``(u, v, w, n_u, n_v, type)`` per template point: position in units of half length,
        half width and height; outward normal in the box frame; point type (0 diffuse,
        1 corner, 2 wheel, 3 bumper). Type 4 (glint) is added per face by the kernel.
    rcs_table : ndarray, shape (kinds, 5)
        RCS per type, m^2 (diffuse and glint per metre of face length).
    glint_width : ndarray, shape (kinds,)
        Glint lobe width θ_w, rad.
    points : ndarray, shape (F, Q, 3)
        Free point scatterers; ``point_rcs`` (F, Q) their RCS (0: unused).
    radar_height : float
        m.

    Returns
    -------
    position : ndarray, shape (F, C, 3)
    rcs : ndarray, shape (F, C)
    owner : ndarray of int32, shape (F, C)
        Box index, or -1 for free points.
    count : ndarray of int64, shape (F,)
        Number of valid leading entries per frame (``C = B (P + 4) + Q`` is the capacity);
        entries past it are undefined.

    Notes
    -----
    Incidence ``cos θ_i = n · d`` with ``d`` the horizontal unit vector to the radar. A point
    is kept when it faces the radar (corners: either adjacent face does, ``cos θ_i > -1/√2``),
    lies in front of it (y > 0.1 m) and is not occluded (:func:`_blocked`). RCS: diffuse and
    bumper ``σ cos θ_i`` (diffuse times the face length it stands for), corners and wheels
    ``σ``, glints ``σ L_face exp(-(θ_i / θ_w)^2)`` at the point of the face nearest to the
    foot of the perpendicular from the radar, at the radar's height clipped to the face.
    """
    n_frames, n_boxes = box_x.shape
    n_template = template.shape[0]
    n_free = points.shape[1]
    capacity = n_boxes * (n_template + 4) + n_free
    # Left uninitialised past ``count``: untouched pages of the capacity cost nothing.
    position = np.empty((n_frames, capacity, 3))
    rcs = np.empty((n_frames, capacity))
    owner = np.empty((n_frames, capacity), dtype=np.int32)
    count = np.zeros(n_frames, dtype=np.int64)
    face_u = (1.0, -1.0, 0.0, 0.0)
    face_v = (0.0, 0.0, 1.0, -1.0)
    for f in range(n_frames):
        k = 0
        for b in range(n_boxes):
            if not box_active[f, b]:
                continue
            kind = box_kind[b]
            c = math.cos(box_heading[f, b])
            s = math.sin(box_heading[f, b])
            half_l = 0.5 * box_length[f, b]
            half_w = 0.5 * box_width[f, b]
            height = box_height[f, b]
            for i in range(n_template + 4):
                if i < n_template:
                    lu = template[i, 0] * half_l
                    lv = template[i, 1] * half_w
                    x = box_x[f, b] + lu * c - lv * s
                    y = box_y[f, b] + lu * s + lv * c
                    z = template[i, 2] * height
                    nu, nv = template[i, 3], template[i, 4]
                    kind_point = int(template[i, 5])
                    if kind_point == 0:
                        extent = half_w if nu != 0.0 else 0.5 * half_l
                    else:
                        extent = 1.0
                else:
                    nu, nv = face_u[i - n_template], face_v[i - n_template]
                    tangent_half = half_w if nu != 0.0 else half_l
                    cu, cv = nu * half_l, nv * half_w
                    cx = box_x[f, b] + cu * c - cv * s
                    cy = box_y[f, b] + cu * s + cv * c
                    tx, ty = -nv * c - nu * s, -nv * s + nu * c
                    along = min(max(-(cx * tx + cy * ty), -tangent_half), tangent_half)
                    x = cx + along * tx
                    y = cy + along * ty
                    z = min(max(radar_height, 0.15 * height), 0.85 * height)
                    kind_point = 4
                    extent = 2.0 * tangent_half
                if y <= 0.1:
                    continue
                normal_x = nu * c - nv * s
                normal_y = nu * s + nv * c
                reach = math.sqrt(x * x + y * y)
                cos_i = -(normal_x * x + normal_y * y) / max(reach, 1e-9)
                if kind_point == 1:
                    if cos_i <= -math.sqrt(0.5):
                        continue
                    gain = 1.0
                elif cos_i <= 0.0:
                    continue
                elif kind_point == 4:
                    incidence = math.acos(min(cos_i, 1.0)) / glint_width[kind]
                    gain = math.exp(-incidence * incidence) * extent
                elif kind_point == 0 or kind_point == 3:
                    gain = min(cos_i, 1.0) * extent
                else:
                    gain = 1.0
                sigma = rcs_table[kind, kind_point] * gain
                if sigma <= 0.0:
                    continue
                if _blocked(x, y, z, b, f, box_x, box_y, box_heading, box_length, box_width,
                            box_height, box_active, radar_height):
                    continue
                position[f, k, 0] = x
                position[f, k, 1] = y
                position[f, k, 2] = z
                rcs[f, k] = sigma
                owner[f, k] = b
                k += 1
        for q in range(n_free):
            if point_rcs[f, q] <= 0.0 or points[f, q, 1] <= 0.1:
                continue
            if _blocked(points[f, q, 0], points[f, q, 1], points[f, q, 2], -1, f, box_x, box_y,
                        box_heading, box_length, box_width, box_height, box_active,
                        radar_height):
                continue
            position[f, k, 0] = points[f, q, 0]
            position[f, k, 1] = points[f, q, 1]
            position[f, k, 2] = points[f, q, 2]
            rcs[f, k] = point_rcs[f, q]
            owner[f, k] = -1
            k += 1
        count[f] = k
    return position, rcs, owner, count


@njit(cache=True, nogil=True, fastmath=True)
def channel_sum(path_range, direction, amplitude, rx_positions, carrier_wavenumber,
                first_frequency, subcarrier_spacing, out):
    """Sum of paths ``out[f, r, n] = sum_k a_k e^{-j 4 pi f_n r_k / c} e^{+j k_c p_r . u_k}``.

    Parameters
    ----------
    path_range : ndarray, shape (F, K)
        Half the round-trip path length ``r_k``, m.
    direction : ndarray, shape (F, K, 3)
        Unit vector from the array towards where path ``k`` arrives from.
    amplitude : ndarray of complex128, shape (F, K)
        Complex path amplitude ``a_k``.
    rx_positions : ndarray, shape (R, 3)
        Element positions ``p_r``, m.
    carrier_wavenumber : float
        ``k_c = 2 pi f_c / c``, rad/m.
    first_frequency, subcarrier_spacing : float
        ``f_0`` and ``Δf`` of the uniform grid ``f_n = f_0 + n Δf``, Hz.
    out : ndarray of complex64, shape (F, R, N)
        Written in place.

    Notes
    -----
    Per frame, the range phasors ``a_k exp(-j 4 pi f_n r_k / c)`` come from the
    double-precision recurrence ``z_{n+1} = z_n exp(-j 4 pi Δf r_k / c)`` (in blocks of 8,
    ``z_{8m+i} = z_{8m} w^i``, so the multiplies vectorise), are stored as split real and
    imaginary parts, and are accumulated in single precision, four elements per pass over
    the table: the ``(R x K) @ (K x N)`` product per frame.
    """
    n_frames, n_paths = path_range.shape
    n_rx = rx_positions.shape[0]
    n_sub = out.shape[2]
    scale = 4.0 * math.pi / 299_792_458.0
    for f in range(n_frames):
        table_re = np.empty((n_paths, n_sub), dtype=np.float32)
        table_im = np.empty((n_paths, n_sub), dtype=np.float32)
        powers = np.empty(8, dtype=np.complex128)
        for k in range(n_paths):
            start = -scale * first_frequency * path_range[f, k]
            step = -scale * subcarrier_spacing * path_range[f, k]
            w = complex(math.cos(step), math.sin(step))
            powers[0] = 1.0
            for i in range(1, 8):
                powers[i] = powers[i - 1] * w
            w8 = powers[7] * w
            base = amplitude[f, k] * complex(math.cos(start), math.sin(start))
            for m in range(0, n_sub, 8):
                for i in range(min(8, n_sub - m)):
                    z = base * powers[i]
                    table_re[k, m + i] = z.real
                    table_im[k, m + i] = z.imag
                base = base * w8
        # Elements in blocks of 4 share each pass over the phasor table (cache reuse).
        acc_re = np.empty((4, n_sub), dtype=np.float32)
        acc_im = np.empty((4, n_sub), dtype=np.float32)
        s_re = np.empty(4, dtype=np.float32)
        s_im = np.empty(4, dtype=np.float32)
        for r0 in range(0, n_rx, 4):
            block = min(4, n_rx - r0)
            acc_re[:] = 0.0
            acc_im[:] = 0.0
            for k in range(n_paths):
                for b in range(block):
                    phase = carrier_wavenumber * (
                        rx_positions[r0 + b, 0] * direction[f, k, 0]
                        + rx_positions[r0 + b, 1] * direction[f, k, 1]
                        + rx_positions[r0 + b, 2] * direction[f, k, 2])
                    s_re[b] = math.cos(phase)
                    s_im[b] = math.sin(phase)
                for b in range(block):
                    sr = s_re[b]
                    si = s_im[b]
                    for n in range(n_sub):
                        g_re = table_re[k, n]
                        g_im = table_im[k, n]
                        acc_re[b, n] += sr * g_re - si * g_im
                        acc_im[b, n] += sr * g_im + si * g_re
            for b in range(block):
                for n in range(n_sub):
                    out[f, r0 + b, n] = complex(acc_re[b, n], acc_im[b, n])
    return out


@njit(cache=True, nogil=True)
def fill_polygons(image, polygons, n_vertices, colours, order):
    """Paint convex polygons onto an image in the given order (painter's algorithm).

    Parameters
    ----------
    image : ndarray of uint8, shape (H, W, 3)
        Canvas, modified in place.
    polygons : ndarray, shape (Q, V, 2)
        Vertices (col, row) in pixel coordinates (pixel ``i`` is centred on ``i``).
    n_vertices : ndarray of int, shape (Q,)
        Number of vertices used by each polygon (0 skips it).
    colours : ndarray of uint8, shape (Q, 3)
    order : ndarray of int, shape (Q,)
        Drawing order, farthest first.

    Notes
    -----
    A pixel centre is inside when it lies on the inner side of every edge (the sign of the
    edge cross product, matched to the polygon's winding).
    """
    height, width = image.shape[0], image.shape[1]
    for q in order:
        m = n_vertices[q]
        if m < 3:
            continue
        col_min, col_max, row_min, row_max = 1e30, -1e30, 1e30, -1e30
        area = 0.0
        for i in range(m):
            x0, y0 = polygons[q, i, 0], polygons[q, i, 1]
            x1, y1 = polygons[q, (i + 1) % m, 0], polygons[q, (i + 1) % m, 1]
            area += x0 * y1 - x1 * y0
            col_min, col_max = min(col_min, x0), max(col_max, x0)
            row_min, row_max = min(row_min, y0), max(row_max, y0)
        if area == 0.0:
            continue
        sign = 1.0 if area > 0 else -1.0
        c0 = max(int(math.ceil(col_min)), 0)
        c1 = min(int(math.floor(col_max)), width - 1)
        r0 = max(int(math.ceil(row_min)), 0)
        r1 = min(int(math.floor(row_max)), height - 1)
        for row in range(r0, r1 + 1):
            for col in range(c0, c1 + 1):
                inside = True
                for i in range(m):
                    x0, y0 = polygons[q, i, 0], polygons[q, i, 1]
                    x1, y1 = polygons[q, (i + 1) % m, 0], polygons[q, (i + 1) % m, 1]
                    cross = (x1 - x0) * (row - y0) - (y1 - y0) * (col - x0)
                    if sign * cross < 0:
                        inside = False
                        break
                if inside:
                    image[row, col, 0] = colours[q, 0]
                    image[row, col, 1] = colours[q, 1]
                    image[row, col, 2] = colours[q, 2]
    return image
