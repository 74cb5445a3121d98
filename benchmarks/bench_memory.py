"""Up-front memory estimates beside the memory actually used, and the cost of exclusive writes.

Memory rows: each estimate that refuses a size before allocating (``simulation_memory``,
``heatmap_memory``, the CFAR bytes per cell) beside the peak measured for the same call:
the peak of the arrays allocated while it ran (``tracemalloc``, which sees numpy's
allocations but not numba's) and the peak rise of the resident set (``/proc/self/statm``
sampled every 2 ms), each taken once the kernels are compiled. An estimate must not fall
below the peak (else a size that cannot fit could pass the check); the ratio says how far
above it lies (a size that would fit could be refused).

Write rows: xarray's plain ``to_netcdf`` of an encoded csi-1 dataset, the same inside
``atomic_path`` (the output checks and stale-partial scan, a visibly named partial, the
exclusive ``renameat2(RENAME_NOREPLACE)`` commit) and ``radarsp.save`` (also validating,
annotating and encoding), interleaved round-robin, median of the repeats.

Run ``.venv/bin/python benchmarks/bench_memory.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _common import fragment_path, reproduce_command, write_fragment  # noqa: E402

import radarsp  # noqa: E402
from cli.cfar import CFAR_BYTES_PER_CELL  # noqa: E402
from radarsp.cfar import DETECTION_OUTPUTS, cfar, detections  # noqa: E402
from radarsp.fmcw import from_fmcw, uniform_array  # noqa: E402
from radarsp.heatmap import heatmap_memory  # noqa: E402
from radarsp.io.complex import encode_complex  # noqa: E402
from radarsp.io.netcdf import _encoding  # noqa: E402
from radarsp.simulate import simulate, simulation_memory  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")


def resident() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * PAGE


def measured(function):
    """(peak traced bytes, peak resident rise in bytes) while ``function()`` runs."""
    peak, done = [resident()], threading.Event()

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], resident())
            time.sleep(0.002)

    before = resident()
    watcher = threading.Thread(target=watch)
    watcher.start()
    tracemalloc.start()
    try:
        function()
        traced = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        done.set()
        watcher.join()
    return traced, max(0, peak[0] - before)


def fmcw_cube(frames, chirps, rx, samples):
    rng = np.random.default_rng(0)
    shape = (frames, chirps, rx, samples)
    return (rng.standard_normal(shape, dtype=np.float32)
            + 1j * rng.standard_normal(shape, dtype=np.float32)).astype(np.complex64)


RADIO = dict(slope=60e12, sample_rate=2.5e6, carrier=77e9, chirp_period=2e-4)


def memory_rows(quick: bool):
    rows = []
    simulate(frames=15, image_size=(8, 8), n_subcarriers=16)
    for frames, image, symbols in ((150, 192, None), (150, None, 32), (300, 256, None))[
            : 1 if quick else 3]:
        size = (image, image) if image else None
        need = sum(simulation_memory(frames, n_rx=16, n_subcarriers=256, symbols=symbols,
                                     image_size=size).values())
        traced, rss = measured(lambda f=frames, s=size, y=symbols: simulate(
            frames=f, image_size=s, symbols=y))
        label = f"simulate {frames} frames, " + (f"{image}x{image} images" if image else
                                                 f"{symbols} symbols, no camera")
        rows.append((label, need, traced, rss))
    small = fmcw_cube(1, 4, 8, 32)
    from_fmcw(small, **RADIO, rx_positions=uniform_array(8, 0.002), angle_bins=64)
    for frames, chirps, angle_bins in ((16, 128, 1024), (4, 128, 4096))[: 1 if quick else 2]:
        cube = fmcw_cube(frames, chirps, 8, 256)
        radio = dict(**RADIO, rx_positions=uniform_array(8, 0.002))
        csi = radarsp.fmcw_to_csi(cube, **radio)
        # what from_fmcw checks: the conversion's two copies, then the heatmaps
        need = cube.size * (cube.dtype.itemsize + 8) + heatmap_memory(
            csi, doppler=True, range_bins=256, angle_bins=angle_bins)
        traced, rss = measured(lambda c=cube, a=angle_bins, r=radio: from_fmcw(
            c, **r, angle_bins=a, remove_static=False))
        rows.append((f"FMCW heatmaps, {frames} x {chirps} chirps x 8 rx x 256, "
                     f"{angle_bins} angle bins", need, traced, rss))
    import xarray as xr

    rng = np.random.default_rng(0)
    for method in ("ca", "os"):
        power = xr.DataArray(rng.random((32, 512, 512), dtype=np.float32),
                             dims=("frame", "range", "angle"),
                             coords={"range": np.arange(512.0), "angle": np.linspace(-1, 1, 512)})
        settings = dict(method=method, guard=(2, 2), train=(8, 8), pfa=1e-4)
        detections(cfar(power[:1], outputs=DETECTION_OUTPUTS, **settings), power[:1])
        traced, rss = measured(lambda p=power, s=settings: detections(
            cfar(p, outputs=DETECTION_OUTPUTS, **s), p))
        rows.append((f"{method.upper()}-CFAR, 32 frames of 512 x 512", power.size *
                     CFAR_BYTES_PER_CELL, traced + power.nbytes, rss + power.nbytes))
    return rows


def write_rows(repeats: int):
    from radarsp.io import atomic_path

    folder = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    rows = []
    def plain(ds, path):
        encoded = encode_complex(ds)
        encoded.to_netcdf(path, engine="netcdf4", encoding=_encoding(encoded))

    def atomic(ds, path):
        with atomic_path(path) as partial:
            plain(ds, partial)

    candidates = {"to_netcdf": plain, "atomic_path + to_netcdf": atomic,
                  "radarsp.save": radarsp.save}
    for frames in (15, 1500):
        ds = simulate(frames=frames, image_size=None)
        times = {name: [] for name in candidates}
        for repeat in range(repeats):
            for number, (name, write) in enumerate(candidates.items()):
                path = folder / f"{number}-{frames}-{repeat}.nc"
                start = time.perf_counter()
                write(ds, path)
                times[name].append(time.perf_counter() - start)
                path.unlink()
        rows.append((frames, ds.nbytes, *(statistics.median(times[n]) for n in times)))
    folder.rmdir()
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run")
    args = parser.parse_args()
    lines = [f"Measured with `{reproduce_command('bench_memory.py')}`; traced = peak of the "
             "arrays allocated (tracemalloc), RSS = peak rise of the resident set (2 ms "
             "samples). The CFAR rows count the input map in both.", "",
             "| computation | estimate (MiB) | traced (MiB) | RSS rise (MiB) | estimate / "
             "traced |", "|---|---|---|---|---|"]
    for label, need, traced, rss in memory_rows(args.quick):
        lines.append(f"| {label} | {need / 2**20:,.0f} | {traced / 2**20:,.0f} | "
                     f"{rss / 2**20:,.0f} | {need / traced:.2f} |")
    lines += ["", "| netCDF write, no camera | bytes | to_netcdf s | atomic_path + to_netcdf s "
              "| radarsp.save s | atomic / plain | save / plain |", "|---|---|---|---|---|---|---|"]
    for frames, size, plain, atomic, save in write_rows(3 if args.quick else 9):
        lines.append(f"| {frames} frames | {size:,} | {plain:.3f} | {atomic:.3f} | {save:.3f} "
                     f"| {atomic / plain:.2f}x | {save / plain:.2f}x |")
    lines += ["", "save adds the schema validation (a finiteness check of every CSI value), "
              "the CF annotation and the complex encoding to the atomic write.", ""]
    text = "\n".join(lines) + "\n"
    print(text)
    write_fragment(text, fragment_path("memory", quick=args.quick))


if __name__ == "__main__":
    main()
