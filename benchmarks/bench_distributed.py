"""Throughput of the frame-wise stages (heatmap -> CFAR detections) on dask.distributed.

Run:  .venv/bin/python benchmarks/bench_distributed.py [--frames 4000] [--quick]

Compares, in one run on the same csi-1 file: dask's local threaded scheduler, and a
process-based LocalCluster with 1 and with 2 workers (one thread each). Writes
benchmarks/results/distributed.md.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from _common import fragment_path, reproduce_command, write_fragment

import radarsp
from radarsp.cfar import cfar, detections
from radarsp.heatmap import heatmap_dataset


def stages(csi_path: Path, out: Path, chunk: int) -> tuple[float, int]:
    """heatmap (written to disk) then chunk-wise CFAR detections; returns (seconds, rows)."""
    start = time.perf_counter()
    scenes = radarsp.open_csi(csi_path, chunks={"frame": chunk})
    radarsp.save(heatmap_dataset(scenes), out, force=True)
    power = radarsp.open_heatmap(out, chunks={"frame": chunk})["power"]
    table = detections(cfar(power, guard=(4, 2), train=(16, 4), pfa=1e-2), power)
    return time.perf_counter() - start, table.sizes["detection"]


def measure(work: Path, frames: int, chunk: int) -> list[tuple[str, float, int]]:
    """(setup, seconds, detections) of each scheduler on one simulated file in ``work``."""
    from dask.distributed import Client, LocalCluster

    csi = work / "csi.nc"
    radarsp.save(radarsp.simulate("parking-lot", frames=frames, seed=5, image_size=(16, 16)), csi)
    stages(csi, work / "warm.nc", chunk)  # numba compile + page cache, not timed
    rows = []
    seconds, count = stages(csi, work / "threads.nc", chunk)
    rows.append(("local threads (dask default)", seconds, count))
    for workers in (1, 2):
        with (
            LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
            ) as cluster,
            Client(cluster) as client,
        ):
            client.run(lambda: stages(csi, work / f"w{os.getpid()}.nc", chunk))  # warm
            seconds, count = stages(csi, work / f"workers{workers}.nc", chunk)
        rows.append((f"LocalCluster, {workers} worker process(es)", seconds, count))
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=4000)
    parser.add_argument("--chunk", type=int, default=250)
    parser.add_argument("--quick", action="store_true", help="400 frames, for a smoke run")
    args = parser.parse_args(argv)
    frames = 400 if args.quick else args.frames
    with tempfile.TemporaryDirectory(prefix="bench-dist-") as tmp:
        rows = measure(Path(tmp), frames, args.chunk)
    base = rows[1][1]
    lines = [
        "## Scale-out: heatmap + CFAR detections on dask.distributed",
        "",
        f"Command: `{reproduce_command('bench_distributed.py', argv)}` "
        f"({frames} parking-lot frames, 16 rx x 256 subcarriers -> 256 x 64 maps, "
        f"{args.chunk}-frame chunks, CA-CFAR guard 4,2 train 16,4, pfa 1e-2; "
        "each setup warmed up).",
        "",
        "| scheduler | seconds | frames/s | speed-up vs 1 worker | detections |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, seconds, count in rows:
        lines.append(
            f"| {name} | {seconds:.2f} | {frames / seconds:,.0f} | {base / seconds:.2f} | {count} |"
        )
    lines += [
        "",
        f"Load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
        "(shared machine; the ratios are what the run measures).",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    write_fragment(text, fragment_path("distributed", quick=args.quick))


if __name__ == "__main__":
    main()
