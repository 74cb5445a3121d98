"""CFAR throughput: radarsp's numba kernels beside openradar, scipy and a memory-copy limit.

Workload: stacks of 2-D float32 exponential-noise maps, 64 frames of 256 x 256 and 64 frames of
1024 x 1024 (``--quick``: 8 and 2 frames), guard (2, 2) and training (8, 8) cells per side
(416 training cells), pfa 1e-4. Every candidate runs in the same process on the same arrays,
warmed up (numba compilation excluded), then timed in interleaved rounds (best round kept).
The machine has 2 cores shared with other jobs, so absolute cells/s move with the load
(printed); the ratios, measured minutes apart in one run, are the figures to read.

Candidates
----------
numpy copy           ``x.copy()``: the memory-bandwidth limit (read + write every cell once)
radarsp 2-D ca/go/so/os   :func:`radarsp.cfar.cfar_array`, truncate edges, all four outputs
radarsp 2-D ... mask      the same with ``outputs=("detected",)``: the detection mask only,
                     what every peer below returns (the like-for-like row)
radarsp.cfar (xarray)     the public :func:`radarsp.cfar.cfar` on a DataArray (CA)
scipy uniform_filter CA   two ``scipy.ndimage.uniform_filter`` box means (21 and 5 wide), their
                     difference is the annulus mean (zero-padded edges); the fastest scipy CA
scipy convolve CA    ``scipy.ndimage.convolve`` with the 21 x 21 annulus kernel (441 taps)
scipy fftconvolve CA ``scipy.signal.fftconvolve`` with the annulus kernel, per frame
openradar cross CA   ``mmwave.dsp.ca_`` along angle and along range per frame (OpenRadar has no
                     2-D CFAR; this is how its users build one)
per-cell sort OS     numpy: every cell's 416 training values gathered with
                     ``sliding_window_view`` and ``np.sort``-ed (on a sub-stack, scaled)
scipy rank_filter OS ``scipy.ndimage.rank_filter`` with the annulus footprint (2-D OS peer)
1-D rows             radarsp 1-D ca/go/so/os along angle beside ``mmwave.dsp`` ``ca_``,
                     ``cago_``, ``caso_`` (per frame, wrap mode) and ``os_`` (per row: a Python
                     loop per cell, timed on a few rows and scaled)

Run ``.venv/bin/python benchmarks/bench_cfar.py`` (``--quick`` for a smoke run); it writes
``benchmarks/results/cfar.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import xarray as xr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _common import fragment_path, reproduce_command, write_fragment  # noqa: E402

from radarsp.cfar import cfar, cfar_array  # noqa: E402

GUARD, TRAIN, PFA = (2, 2), (8, 8), 1e-4
OUTER, INNER = 2 * (GUARD[0] + TRAIN[0]) + 1, 2 * GUARD[0] + 1
N_TRAIN = OUTER**2 - INNER**2


NOTES = [
    "Reading the tables:",
    "",
    "- The 256x256 stack (16 MB) fits the 32 MB L3 cache, so its copy rate is a cache, not a DRAM, "
    "limit; the 1024x1024 stack (256 MB) measures DRAM bandwidth.",
    "- `openradar cross ca` is a cheaper, different detector (two 1-D windows of 2 x 8 "
    "cells, not the 416-cell annulus); it is the 2-D CFAR OpenRadar users can build.",
    "- `per-cell sort os` is a strong per-cell sort: numpy's vectorised sort "
    "of each cell's 416 training values.",
    "- The plain radarsp rows include allocating and filling all four outputs (detected, "
    "threshold, noise, snr: 13 bytes written per 4-byte cell, on fresh pages the kernel "
    "must zero); the `mask` rows ask for `detected` only (1 byte per cell), what the peers "
    "return and what `radarsp cfar` and `detections` need besides `snr`.",
    "- Fresh memory is expensive on this virtual machine: the first touch of a page costs "
    "about 0.7 ms per MB when the allocator has just returned it to the system, so rows that "
    "allocate hundreds of MB (all four outputs of a 1024x1024 stack: 832 MB) move by up to "
    "10x with what ran before them (the xarray row runs the same kernel as the row above it).",
    "- With the cores shared, rates move by 2x between runs; compare within a table.",
    "",
]


def run_round_robin(candidates, repeats):
    """Best wall and CPU time of each candidate, timed in interleaved rounds.

    Each candidate is warmed up on its first frame (numba compiles there), then the rounds
    run every candidate once in turn, so a burst of load from other jobs hits all of them
    alike. Slow candidates (``once``) are timed in the first round only.
    """
    for _, _, function, data, _, _ in candidates:
        function(data[:1])
    best = [(np.inf, np.inf)] * len(candidates)
    for round_index in range(repeats):
        for i, (_, _, function, data, _, once) in enumerate(candidates):
            if once and round_index:
                continue
            wall, cpu = time.perf_counter(), time.process_time()
            function(data)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            best[i] = (min(best[i][0], wall), min(best[i][1], cpu))
    return best


def annulus() -> np.ndarray:
    kernel = np.ones((OUTER, OUTER), dtype=np.float32)
    lo = GUARD[0] + TRAIN[0] - GUARD[0]
    kernel[lo:lo + INNER, lo:lo + INNER] = 0
    return kernel


def scipy_uniform_ca(x):
    from scipy.ndimage import uniform_filter

    outer = uniform_filter(x, size=(1, OUTER, OUTER), mode="constant")
    inner = uniform_filter(x, size=(1, INNER, INNER), mode="constant")
    noise = (outer * OUTER**2 - inner * INNER**2) / N_TRAIN
    return x > 9.0 * noise


def scipy_convolve_ca(x):
    from scipy.ndimage import convolve

    kernel = annulus()[np.newaxis] / N_TRAIN
    return x > 9.0 * convolve(x, kernel, mode="constant")


def scipy_fft_ca(x):
    from scipy.signal import fftconvolve

    kernel = annulus() / N_TRAIN
    return [frame > 9.0 * fftconvolve(frame, kernel, mode="same") for frame in x]


def openradar_cross_ca(x):
    from mmwave.dsp import ca_

    out = []
    for frame in x:
        along_angle, _ = ca_(frame, guard_len=GUARD[1], noise_len=TRAIN[1], l_bound=0)
        along_range, _ = ca_(frame.T, guard_len=GUARD[0], noise_len=TRAIN[0], l_bound=0)
        out.append((frame > along_angle) & (frame > along_range.T))
    return out


def per_cell_sort_os(x):
    from numpy.lib.stride_tricks import sliding_window_view

    reach = GUARD[0] + TRAIN[0]
    keep = annulus().astype(bool).ravel()
    rank = int(round(0.75 * N_TRAIN))
    out = []
    for frame in x:
        padded = np.pad(frame, reach, mode="edge")
        windows = sliding_window_view(padded, (OUTER, OUTER)).reshape(frame.size, -1)[:, keep]
        out.append(np.sort(windows, axis=1)[:, rank - 1].reshape(frame.shape))
    return out


def scipy_rank_os(x):
    from scipy.ndimage import rank_filter

    rank = int(round(0.75 * N_TRAIN))
    return [rank_filter(frame, rank - 1, footprint=annulus().astype(bool)) for frame in x]


def openradar_1d(name):
    import mmwave.dsp as dsp

    function = getattr(dsp, name + "_")

    def run(x):
        return [function(frame, guard_len=GUARD[1], noise_len=TRAIN[1], mode="wrap",
                         l_bound=0) for frame in x]
    return run


def openradar_os_rows(x):
    from mmwave.dsp import os_

    return [os_(row, guard_len=GUARD[1], noise_len=TRAIN[1], k=12, scale=1.0)
            for frame in x for row in frame]


def bench_size(label, x, repeats, subset, rows, results):
    """Time every candidate on ``x``; slow ones on ``x[:subset]`` or ``rows`` rows."""
    small = x[:subset]
    note = f"({subset} frames)" if subset < len(x) else ""
    power = xr.DataArray(x, dims=("frame", "range", "angle"))
    candidates = [("limit", "numpy copy", np.copy, x, "", False)]
    for method in ("ca", "go", "so", "os"):
        candidates.append(("2-D", f"radarsp {method}", lambda d, m=method: cfar_array(
            d, method=m, guard=GUARD, train=TRAIN, pfa=PFA), x, "", False))
        candidates.append(("2-D", f"radarsp {method} mask", lambda d, m=method: cfar_array(
            d, method=m, guard=GUARD, train=TRAIN, pfa=PFA, outputs=("detected",)), x, "",
            False))
    candidates += [
        ("2-D", "radarsp.cfar (xarray) ca",
         lambda d: cfar(d, guard=GUARD, train=TRAIN, pfa=PFA), power, "", False),
        ("2-D", "scipy uniform_filter ca", scipy_uniform_ca, x, "", False),
        ("2-D", "scipy fftconvolve ca", scipy_fft_ca, small, note, False),
        ("2-D", "openradar cross ca", openradar_cross_ca, small, note, False),
        ("2-D", "scipy convolve ca", scipy_convolve_ca, small[:1], "(1 frame)", True),
        ("2-D", "per-cell sort os", per_cell_sort_os, x[:1, : max(1, 65536 // x.shape[2])],
         "(65536 cells)", True),
        ("2-D", "scipy rank_filter os", scipy_rank_os, x[:1], "(1 frame)", True),
    ]
    for method in ("ca", "go", "so", "os"):
        candidates.append(("1-D", f"radarsp {method}", lambda d, m=method: cfar_array(
            d, ndim=1, method=m, guard=GUARD[1], train=TRAIN[1], pfa=PFA), x, "", False))
    for name in ("ca", "cago", "caso"):
        candidates.append(("1-D", f"openradar {name}_", openradar_1d(name), small, note, False))
    candidates.append(("1-D", "openradar os_", openradar_os_rows, x[:1, :rows],
                       f"({rows} rows)", True))
    timings = run_round_robin(candidates, repeats)
    for (group, name, _, data, note, _), (wall, cpu) in zip(candidates, timings, strict=True):
        results.append((label, group, name, data.size / wall, data.size / cpu, note))
        print(f"{label:>12} {group:>5} {name:<28} {data.size / wall / 1e6:10.2f} M cells/s "
              f"{data.size / cpu / 1e6:10.2f} M cells/CPU-s {note}", flush=True)


def rate(results, label, group, name, cpu=False):
    return next((c if cpu else r) for lab, g, n, r, c, _ in results
                if (lab, g, n) == (label, group, name))


def counterpart(group: str, name: str) -> tuple[str, str]:
    """The radarsp row a candidate is compared with: same group (copy: 2-D CA), same method;
    a 2-D peer (which returns a mask) with radarsp's mask-only run."""
    if group == "limit":
        return "2-D", "radarsp ca"
    if name.startswith("radarsp ") and "xarray" not in name:
        return group, name
    method = name.split()[-1].rstrip("_").replace("cago", "go").replace("caso", "so")
    return group, f"radarsp {method}" + (" mask" if group == "2-D" else "")


def goals(results, label):
    """The issue's four goals for one map size, as (text, measured, met) rows."""
    ca = rate(results, label, "2-D", "radarsp ca")
    mask = rate(results, label, "2-D", "radarsp ca mask")
    os_rate = rate(results, label, "2-D", "radarsp os")
    copy = rate(results, label, "limit", "numpy copy")
    peers = {n: r for lab, g, n, r, _, _ in results
             if lab == label and g == "2-D" and n.endswith(" ca") and not n.startswith("radarsp")}
    fastest = max(peers, key=peers.get)
    sort = rate(results, label, "2-D", "per-cell sort os")
    return [
        (f"2-D CA >= 10x fastest peer 2-D CA ({fastest}), both returning the mask",
         f"{mask / peers[fastest]:.1f}x (all four outputs: {ca / peers[fastest]:.1f}x)",
         mask >= 10 * peers[fastest]),
        ("2-D CA within 10x of numpy copy", f"copy / CA = {copy / ca:.1f} (mask only: "
         f"{copy / mask:.1f})", copy <= 10 * ca),
        ("2-D OS >= 100x per-cell sort", f"{os_rate / sort:.0f}x", os_rate >= 100 * sort),
        ("2-D OS >= 5 M cells/s", f"{os_rate / 1e6:.1f} M/s", os_rate >= 5e6),
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--out", help="fragment to write (default results/cfar.md; "
                        "results/cfar-quick.md with --quick)")
    args = parser.parse_args(argv)
    import numba

    rng = np.random.default_rng(0)
    sizes = [("64x256x256", (8 if args.quick else 64, 256, 256)),
             ("Fx1024x1024", (2 if args.quick else 64, 1024, 1024))]
    load_before = os.getloadavg()
    started = time.time()
    results = []
    shapes = {}
    for label, shape in sizes:
        label = label.replace("64x", f"{shape[0]}x").replace("F", str(shape[0]))
        shapes[label] = shape
        x = rng.exponential(size=shape).astype(np.float32)
        bench_size(label, x, repeats=2 if args.quick else 3, subset=min(4, shape[0]),
                   rows=8, results=results)
        del x
    load_after = os.getloadavg()
    command = reproduce_command("bench_cfar.py", argv)
    lines = [
        "## CFAR (`radarsp.cfar`)",
        "",
        f"Command: `{command}` ({time.time() - started:.0f} s). float32 exponential noise, "
        f"guard {GUARD}, train {TRAIN} per side ({N_TRAIN} training cells in 2-D, "
        f"{2 * TRAIN[1]} in 1-D), pfa {PFA:g}. Each candidate is warmed up (numba compile "
        "time excluded), then timed in interleaved rounds; the best round counts. Rates are "
        "input cells per wall-clock second (slow peers on the sub-stack noted: still a "
        "per-cell rate) and per CPU-second of the process (all threads; robust to other "
        "jobs taking the cores, and the fair figure for single-threaded peers). radarsp "
        "runs numba threads over frames; numpy/scipy/openradar run on one core.",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, numba "
        f"{numba.__version__} with {numba.get_num_threads()} threads, numpy {np.__version__}. "
        f"Shared with other jobs: load average {load_before[0]:.1f} before, "
        f"{load_after[0]:.1f} after (2 = both cores busy), so absolute rates are noisy; the "
        "ratios come from one run.",
        "",
    ]
    for label in shapes:
        lines += [f"### {label} float32", "",
                  "| group | candidate | M cells/s | radarsp same method / this | "
                  "M cells/CPU-s | same, per CPU-s |",
                  "|---|---|---:|---:|---:|---:|"]
        for lab, group, name, value, per_cpu, note in results:
            if lab == label:
                ours = rate(results, label, *counterpart(group, name))
                ours_cpu = rate(results, label, *counterpart(group, name), cpu=True)
                lines.append(f"| {group} | {name} {note} | {value / 1e6:.2f} | "
                             f"{ours / value:.3g} | {per_cpu / 1e6:.2f} | "
                             f"{ours_cpu / per_cpu:.3g} |")
        lines += ["", "| goal | measured | met |", "|---|---|---|"]
        lines += [f"| {text} | {measured} | {'yes' if met else 'no'} |"
                  for text, measured, met in goals(results, label)]
        lines.append("")
    lines += NOTES
    text = "\n".join(lines)
    print(text)
    write_fragment(text, fragment_path("cfar", quick=args.quick, out=args.out))


if __name__ == "__main__":
    main()
