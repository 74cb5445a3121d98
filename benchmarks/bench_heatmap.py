"""Heatmap throughput: radarsp beside bare scipy.fft, a naive numpy loop and openradar.

Workload: 16 receive elements x 512 subcarriers per frame -> 256 range x 64 angle bins
(complex64 CSI in, float32 power out). All candidates run in one process, interleaved
round-robin, and each figure is the median of the repeats, so the ratios share the same
machine load (2 cores shared with other jobs: absolute numbers are noisy, ratios less so).

Candidates
----------
bare scipy.fft    the same transforms and nothing else: ``ifft`` over subcarriers, crop to 256,
                  ``fft(n=64)`` over rx; no taper, no power, no layout. On the whole batch
                  and in 16- and 64-frame blocks; the fastest is the library limit
radarsp kernel    :func:`radarsp.beamform.fft_range_angle` (taper, both DFTs, centring, power)
radarsp.range_angle  the public call on an in-memory DataArray (validation, xarray wrapping)
naive loop        per-frame numpy: taper, ``np.fft.ifft``, ``np.fft.fft``, ``fftshift``, ``abs²``
bartlett/capon/music  ``range_angle(beamformer=...)``, 64 uniform angle bins
openradar capon   ``mmwave.dsp.aoa_capon`` called per range bin on the same sub-band snapshots
                  (the peer implementation of the Capon step)

The end-to-end row runs ``radarsp -q heatmap big.nc -o out.nc`` as a subprocess on a csi-1 file
of 10,000 frames (656 MB on disk) and on one of 1,000 frames, and reports the wall time and the
command's peak resident memory (``ru_maxrss`` from ``os.wait4``): the same for both files,
i.e. bounded by the chunk size, not the file size.

Run ``.venv/bin/python benchmarks/bench_heatmap.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.fft
import xarray as xr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _common import fragment_path, reproduce_command, write_fragment  # noqa: E402

from radarsp import beamform  # noqa: E402
from radarsp.heatmap import range_angle  # noqa: E402
from radarsp.model import SPEED_OF_LIGHT  # noqa: E402
from radarsp.windows import window  # noqa: E402

N_RX, N_SUB, N_RANGE, N_ANGLE = 16, 512, 256, 64
CARRIER, BANDWIDTH = 28e9, 800e6


def csi_array(frames: int, seed: int = 0) -> xr.DataArray:
    """Point scatterer plus noise in csi-1 layout (frame, rx, subcarrier), complex64."""
    rng = np.random.default_rng(seed)
    wavelength = SPEED_OF_LIGHT / CARRIER
    spacing = BANDWIDTH / N_SUB
    frequency = CARRIER - BANDWIDTH / 2 + spacing * np.arange(N_SUB)
    x = (np.arange(N_RX) - (N_RX - 1) / 2) * wavelength / 2
    delay = np.exp(-2j * np.pi * frequency * 2 * 20.0 / SPEED_OF_LIGHT)
    steer = np.exp(2j * np.pi * x * np.sin(0.3) / wavelength)
    values = np.empty((frames, N_RX, N_SUB), np.complex64)
    values.real = rng.standard_normal(values.shape)
    values.imag = rng.standard_normal(values.shape)
    values += (steer[:, None] * delay[None, :]).astype(np.complex64)
    return xr.DataArray(
        values, dims=("frame", "rx", "subcarrier"),
        coords={"frequency": ("subcarrier", frequency), "rx_x": ("rx", x),
                "rx_y": ("rx", np.zeros(N_RX)), "rx_z": ("rx", np.zeros(N_RX))},
        attrs={"carrier_frequency": CARRIER, "bandwidth": BANDWIDTH,
               "subcarrier_spacing": spacing},
    )


def bare_fft(values):
    spectrum = scipy.fft.ifft(values, axis=-1, workers=-1)[..., :N_RANGE]
    return scipy.fft.fft(spectrum, n=N_ANGLE, axis=-2, workers=-1)


def bare_fft_blocked(values, block=16):
    """The same transforms on cache-sized blocks of frames (as the radarsp kernel runs them)."""
    for start in range(0, len(values), block):
        bare_fft(values[start:start + block])


def naive_loop(values):
    range_taper = window("hann", N_SUB) / window("hann", N_SUB).sum()
    angle_taper = window("hann", N_RX) / window("hann", N_RX).sum()
    out = np.empty((len(values), N_RANGE, N_ANGLE), np.float32)
    for f, frame in enumerate(values):
        profile = np.fft.ifft(frame * range_taper, axis=-1)[:, :N_RANGE]
        spectrum = np.fft.fftshift(np.fft.fft(profile * angle_taper[:, None], n=N_ANGLE, axis=0),
                                   axes=0)
        out[f] = (np.abs(spectrum) ** 2).T
    return out


def kernel_call(values):
    range_weights = window("hann", N_SUB) / window("hann", N_SUB).sum()
    shift = np.exp(2j * np.pi * np.arange(N_RX) * (N_ANGLE // 2) / N_ANGLE)
    angle_weights = window("hann", N_RX) / window("hann", N_RX).sum() * shift
    return beamform.fft_range_angle(
        values[:, None], range_weights=range_weights, angle_weights=angle_weights,
        n_range_fft=N_SUB, n_range=N_RANGE, n_angle_fft=N_ANGLE, angle_slice=slice(None),
        workers=-1)


def openradar_capon(values, *, subbands=16):
    """Peer: openradar's per-range-bin Capon on radarsp's sub-band snapshots."""
    from mmwave.dsp import aoa_capon

    length = N_SUB // 2
    starts = np.round(np.linspace(0, N_SUB - length, subbands)).astype(int)
    weights = window("hann", length) / window("hann", length).sum()
    angles = -np.pi / 2 + (np.arange(N_ANGLE) + 0.5) * np.pi / N_ANGLE
    wavelength = SPEED_OF_LIGHT / CARRIER
    x = (np.arange(N_RX) - (N_RX - 1) / 2) * wavelength / 2
    steering = beamform.steering_matrix(x, np.zeros(N_RX), angles, wavelength).T
    out = np.empty((len(values), N_RANGE, N_ANGLE), np.float32)
    for f, frame in enumerate(values):
        snapshots = np.stack([
            scipy.fft.ifft(frame[:, s:s + length] * weights, n=N_SUB, axis=-1,
                           norm="forward")[:, :N_RANGE] for s in starts], axis=-1)
        for r in range(N_RANGE):
            out[f, r] = aoa_capon(snapshots[:, r, :], steering, magnitude=True)[0]
    return out


def throughput(candidates, repeats):
    """Frames per wall-clock second (best, median) and per CPU second (median) of each candidate.

    Candidates run round-robin after a warm-up, so all see the same load. The best wall-clock
    repeat (the ``timeit`` convention) is the least disturbed by the other jobs on the machine;
    CPU time (``time.process_time``, all threads of this process) measures the work done and
    hardly depends on how much of the machine the other jobs leave us.
    """
    wall = {name: [] for name in candidates}
    cpu = {name: [] for name in candidates}
    for call, _ in candidates.values():
        call()
    for _ in range(repeats):
        for name, (call, _) in candidates.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            call()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    return {
        name: (frames / min(wall[name]), frames / statistics.median(wall[name]),
               frames / statistics.median(cpu[name]))
        for name, (_, frames) in candidates.items()
    }


def write_big_file(path: Path, frames: int, chunk: int = 500) -> None:
    """Write a csi-1 file of ``frames`` frames chunk by chunk (never all in memory)."""
    import dask.array as da

    from radarsp.io import save

    template = csi_array(1)

    def block(block_id=None):
        return csi_array(min(chunk, frames - block_id[0] * chunk), seed=block_id[0]).values

    data = da.map_blocks(block, dtype=np.complex64,
                         chunks=(da.core.normalize_chunks(chunk, (frames,))[0], (N_RX,), (N_SUB,)))
    ds = xr.Dataset({"csi": (("frame", "rx", "subcarrier"), data)},
                    coords={k: template[k] for k in ("frequency", "rx_x", "rx_y", "rx_z")},
                    attrs=template.attrs)
    ds["target_range"] = ("frame", np.full(frames, 20.0))
    ds["target_angle"] = ("frame", np.full(frames, 0.3))
    save(ds, path, schema="csi-1", force=True)


def end_to_end(frames: int, chunk_frames: int) -> dict:
    """Run the CLI on a ``frames``-frame file; wall time and the command's peak RSS."""
    with tempfile.TemporaryDirectory(dir=ROOT / "benchmarks") as tmp:
        big = Path(tmp) / "big.nc"
        write_big_file(big, frames)
        out = Path(tmp) / "heat.nc"
        command = [sys.executable, "-m", "cli.main", "-q", "heatmap", str(big), "-o", str(out),
                   "--max-range", str(SPEED_OF_LIGHT / (2 * BANDWIDTH) * N_RANGE * 0.999),
                   "--chunk-frames", str(chunk_frames)]
        start = time.perf_counter()
        child = subprocess.Popen(command, cwd=ROOT)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        if status != 0:
            raise RuntimeError(f"{' '.join(command)} failed with status {status}")
        return {"frames": frames, "seconds": seconds, "file_mb": big.stat().st_size / 1e6,
                "out_mb": out.stat().st_size / 1e6, "rss_mb": usage.ru_maxrss / 1024,
                "chunk_frames": chunk_frames}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small batches, few repeats")
    parser.add_argument("--frames", type=int, default=256,
                        help="frames per batch (the CLI's default --chunk-frames)")
    parser.add_argument("--big-frames", type=int, default=10_000, help="frames in the CLI file")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--output", type=Path, help="fragment to write (default "
                        "results/heatmap.md; results/heatmap-quick.md with --quick)")
    args = parser.parse_args(argv)
    if args.quick:
        args.big_frames, args.repeats = 1000, 5

    csi = csi_array(args.frames)
    values = csi.values
    small = max(8, args.frames // 16)
    adaptive = csi.isel(frame=slice(0, small))
    range_options = {"max_range": SPEED_OF_LIGHT / (2 * BANDWIDTH) * N_RANGE * 0.999}
    assert range_angle(csi.isel(frame=slice(0, 1)), **range_options).shape == (1, N_RANGE, N_ANGLE)
    candidates = {
        "bare scipy.fft (transforms only), one batch": (lambda: bare_fft(values), args.frames),
        "bare scipy.fft (transforms only), 16-frame blocks": (
            lambda: bare_fft_blocked(values), args.frames),
        "bare scipy.fft (transforms only), 64-frame blocks": (
            lambda: bare_fft_blocked(values, 64), args.frames),
        "radarsp kernel fft_range_angle": (lambda: kernel_call(values), args.frames),
        "radarsp.range_angle(beamformer='fft')": (
            lambda: range_angle(csi, **range_options), args.frames),
        "naive per-frame numpy loop": (lambda: naive_loop(values[:small * 4]), small * 4),
        "radarsp.range_angle(beamformer='bartlett')": (
            lambda: range_angle(csi, beamformer="bartlett", **range_options), args.frames),
        "radarsp.range_angle(beamformer='capon')": (
            lambda: range_angle(adaptive, beamformer="capon", **range_options), small),
        "radarsp.range_angle(beamformer='music', n_sources=2)": (
            lambda: range_angle(adaptive, beamformer="music", n_sources=2, **range_options),
            small),
        "openradar aoa_capon per range bin (peer)": (
            lambda: openradar_capon(values[:2]), 2),
    }
    rates = throughput(candidates, args.repeats)
    small_run = end_to_end(args.big_frames // 10, chunk_frames=256)
    e2e = end_to_end(args.big_frames, chunk_frames=256)

    limits = [max(rate[i] for name, rate in rates.items() if name.startswith("bare"))
              for i in range(3)]
    capon_speedup = (rates["radarsp.range_angle(beamformer='capon')"][2]
                     / rates["openradar aoa_capon per range bin (peer)"][2])
    load = os.getloadavg()
    lines = [
        "## Heatmaps (`radarsp/heatmap.py`, `radarsp heatmap`)",
        "",
        f"16 rx x 512 subcarriers -> 256 range x 64 angle bins, complex64 in, float32 out; "
        f"batches of {args.frames} frames; best and median of {args.repeats} interleaved "
        "repeats. "
        f"Machine: {os.cpu_count()} cores shared with other jobs (load average "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the end of the run), "
        f"{platform.processor() or platform.machine()}; absolute rates are noisy, ratios "
        "come from the same run.",
        "",
        "| candidate | frames/s, best wall | ratio | frames/s, median wall | ratio "
        "| frames per CPU-second, median | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, rates_of in rates.items():
        cells = " | ".join(f"{rate:,.0f} | {rate / limit:.2f}x"
                           for rate, limit in zip(rates_of, limits, strict=True))
        lines.append(f"| {name} | {cells} |")
    lines += [
        "",
        "Ratios are to the fastest bare scipy.fft row in the same column. The CPU "
        "column is the steadiest under contention: it counts the work each candidate does "
        "(all threads), not how long it waited for a core.",
        "",
        f"Capon: radarsp is {capon_speedup:.1f}x openradar's per-range-bin `aoa_capon` on the "
        "same snapshots (CPU column).",
        "",
        f"End to end, `radarsp -q heatmap big.nc -o heat.nc --chunk-frames "
        f"{e2e['chunk_frames']}` (fft, 256 x 64): {e2e['frames']:,} frames "
        f"({e2e['file_mb']:.0f} MB csi-1 file -> {e2e['out_mb']:.0f} MB heatmap) in "
        f"{e2e['seconds']:.1f} s = {e2e['frames'] / e2e['seconds']:,.0f} frames/s, including "
        "interpreter start-up and imports, netCDF read and complex decode, heatmaps and write.",
        "",
        f"Memory: peak RSS of the command {e2e['rss_mb']:.0f} MB on the {e2e['file_mb']:.0f} MB "
        f"file and {small_run['rss_mb']:.0f} MB on a {small_run['frames']:,}-frame "
        f"({small_run['file_mb']:.0f} MB) file: bounded by the chunk "
        f"({e2e['chunk_frames']} frames = {e2e['chunk_frames'] * N_RX * N_SUB * 8 / 1e6:.0f} MB "
        "of complex CSI), not by the file.",
        "",
        f"Reproduce: `{reproduce_command('bench_heatmap.py', argv)}`.",
        "",
    ]
    write_fragment("\n".join(lines), fragment_path("heatmap", quick=args.quick, out=args.output))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
