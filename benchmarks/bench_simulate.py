"""Scene simulator throughput and difficulty: radarsp.simulate beside a dense numpy reference.

Speed rows (one process, candidates interleaved round-robin, median of the repeats, so the
ratios share the same machine load; the machine has 2 cores shared with other jobs, so
absolute figures are noisy and CPU seconds are reported beside wall seconds):

simulate (CSI)      ``simulate(image_size=None)``: the whole radio pipeline (scene, scattering,
                    occlusion, channel, noise, xarray assembly) for the default configuration
                    (parking lot, 16-element ULA, 256 subcarriers, complex64)
simulate 16x16      the same with a 16 x 16 planar array (256 elements)
channel kernel      :func:`radarsp.simulate.channel.synthesise` alone on the same paths
dense numpy         the same channel sum written directly, ``einsum`` over dense ``exp``
                    tables (complex128): the obvious implementation, as reference/peer
camera 64x64        :func:`radarsp.simulate.camera.render` alone (images + target boxes)
simulate + camera   ``simulate()`` with 64 x 64 images (what ``radarsp simulate`` writes)

End to end: ``radarsp -q simulate -n N -o scenes.nc`` as a subprocess (blocks of 1,500 frames
written through a dask-backed dataset), its wall time and peak resident memory.

Difficulty rows: on each preset, a plain FFT range-angle map (Hann over subcarriers, 64 angle
bins) per frame; "target strongest" is the fraction of frames whose strongest cell lies on
the target car (its footprint grown by 1 m); errors are Euclidean x-y distances from the
strongest cell to the truth (footprint centre); "near-side bias" is the median of the truth
range minus the range of the power-weighted centroid of the target's scattering centres.

Run ``.venv/bin/python benchmarks/bench_simulate.py`` (``--quick`` for a smoke run).
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _common import fragment_path, reproduce_command, write_fragment  # noqa: E402

from radarsp.geometry import polar_to_cartesian, range_resolution  # noqa: E402
from radarsp.model import SPEED_OF_LIGHT  # noqa: E402
from radarsp.simulate import SCENARIOS, planar_positions, simulate  # noqa: E402
from radarsp.simulate.camera import Camera, render  # noqa: E402
from radarsp.simulate.channel import subcarrier_frequencies, synthesise, ula_positions  # noqa: E402
from radarsp.simulate.scatter import scatterers  # noqa: E402
from radarsp.simulate.scene import make_scene  # noqa: E402


def timed(fn):
    """(wall s, cpu s) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def dense_reference(paths, frequency, rx, carrier):
    """The channel sum with dense exp tables, frame by frame (complex128)."""
    k = 2 * np.pi * carrier / SPEED_OF_LIGHT
    out = np.empty((paths.path_range.shape[0], len(rx), len(frequency)), np.complex64)
    for f in range(len(out)):
        steering = np.exp(1j * k * paths.direction[f] @ rx.T)
        delay = np.exp(-4j * np.pi * frequency[None, :] * paths.path_range[f][:, None]
                       / SPEED_OF_LIGHT)
        out[f] = np.einsum("k,kr,kn->rn", paths.amplitude[f], steering, delay)
    return out


def speed(frames: int, repeats: int) -> list[tuple[str, int, float, float]]:
    freq = subcarrier_frequencies(28e9, 800e6, 256)
    rx = ula_positions(16)
    sequences = np.arange(-(-frames // 15))
    paths = scatterers(make_scene("parking-lot", sequences, seed=0))
    n_paths = paths.amplitude.shape[1]
    dense_frames = max(frames // 20, 15)
    dense_paths = type(paths)(*(getattr(paths, f)[:dense_frames]
                                for f in paths.__dataclass_fields__))
    scene = make_scene("parking-lot", sequences, seed=0)
    planar = planar_positions(16, 16)
    candidates = {
        "simulate (CSI), default": (frames, lambda: simulate(frames=frames, image_size=None)),
        "simulate (CSI), 16x16 planar": (
            frames // 4, lambda: simulate(frames=frames // 4, image_size=None,
                                          rx_positions=planar)),
        f"channel kernel ({n_paths} paths/frame)": (
            paths.amplitude.shape[0],
            lambda: synthesise(paths.path_range, paths.direction, paths.amplitude,
                               frequency=freq, rx_positions=rx, carrier=28e9)),
        "dense numpy reference (same paths)": (
            dense_frames, lambda: dense_reference(dense_paths, freq, rx, 28e9)),
        "camera 64x64 (render only)": (scene.n_frames, lambda: render(scene, Camera())),
        "simulate + camera 64x64": (frames // 2, lambda: simulate(frames=frames // 2)),
    }
    for _, fn in candidates.values():  # compile / warm caches
        fn()
    results = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, (_, fn) in candidates.items():
            results[name].append(timed(fn))
    rows = []
    for name, (count, _) in candidates.items():
        wall = statistics.median(r[0] for r in results[name])
        cpu = statistics.median(r[1] for r in results[name])
        rows.append((name, count, wall, cpu))
    return rows


def end_to_end(frames: int, images: bool) -> tuple[float, float, int]:
    """(wall s, peak RSS MB, file MB) of ``radarsp -q simulate`` in a subprocess.

    Peak memory comes from GNU time's ``%M`` of the child alone (``RUSAGE_CHILDREN`` would
    include the forked image of this large benchmark process).
    """
    with tempfile.TemporaryDirectory(dir=ROOT) as tmp:
        out, peak_file = Path(tmp) / "scenes.nc", Path(tmp) / "peak"
        args = ["/usr/bin/time", "-f", "%M", "-o", str(peak_file), sys.executable, "-m",
                "cli.main", "-q", "simulate", "-n", str(frames), "-o", str(out)]
        args += [] if images else ["--image-size", "none"]
        start = time.perf_counter()
        subprocess.run(args, check=True, cwd=ROOT)
        wall = time.perf_counter() - start
        peak = int(peak_file.read_text().split()[-1]) / 1024
        return wall, peak, out.stat().st_size // 2**20


def on_target(x, y, scene):
    dx, dy = x - scene.box_x[:, 0], y - scene.box_y[:, 0]
    c, s = np.cos(scene.box_heading[:, 0]), np.sin(scene.box_heading[:, 0])
    return (np.abs(dx * c + dy * s) < scene.box_length[:, 0] / 2 + 1) & (
        np.abs(-dx * s + dy * c) < scene.box_width[:, 0] / 2 + 1)


def difficulty(frames: int, seeds) -> list[tuple]:
    rows = []
    for scenario in SCENARIOS:
        hits, errors, biases = [], [], []
        for seed in seeds:
            ds = simulate(scenario, frames=frames, seed=seed, image_size=None)
            csi = ds["csi"].values
            profile = np.fft.ifft(csi * np.hanning(csi.shape[-1]), axis=-1)
            power = np.abs(np.fft.fftshift(np.fft.fft(profile, n=64, axis=-2), axes=-2)) ** 2
            cell = power.reshape(len(power), -1).argmax(1)
            angle_bin, range_bin = np.unravel_index(cell, power.shape[1:])
            x, y = polar_to_cartesian(range_bin * range_resolution(800e6),
                                      np.arcsin((angle_bin - 32) / 32))
            scene = make_scene(scenario, np.arange(-(-frames // 15)), seed=seed)
            scene_frames = slice(0, frames)
            hits.append(on_target(x, y, scene)[scene_frames])
            errors.append(np.hypot(x - ds["target_x"].values, y - ds["target_y"].values))
            paths = scatterers(scene)
            weight = np.abs(paths.amplitude) ** 2 * (paths.owner == 0)
            seen = weight.sum(1) > 0
            centroid = (weight[..., None] * paths.position[..., :2]).sum(1)[seen] / weight.sum(
                1)[seen, None]
            truth = np.hypot(scene.box_x[seen, 0], scene.box_y[seen, 0])
            biases.append(truth - np.linalg.norm(centroid, axis=-1))
        hit, error, bias = (np.concatenate(v) for v in (hits, errors, biases))
        rows.append((scenario, hit.size, hit.mean(), np.median(error), np.percentile(error, 90),
                     np.median(bias)))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--frames", type=int, default=None)
    args = parser.parse_args()
    frames = args.frames or (300 if args.quick else 3000)
    repeats = 1 if args.quick else 5
    seeds = (0,) if args.quick else (0, 1, 2)
    command = reproduce_command("bench_simulate.py")

    speed_rows = speed(frames, repeats)
    dense = next(r for r in speed_rows if r[0].startswith("dense"))
    kernel = next(r for r in speed_rows if r[0].startswith("channel kernel"))
    dense_rate = dense[1] / dense[2]
    lines = [
        "## Scene simulator (`radarsp.simulate`)",
        "",
        f"Measured with `{command}` on {platform.machine()}, {os.cpu_count()} cores shared "
        "with 4 other engineers' jobs (load average "
        f"{os.getloadavg()[0]:.1f} at the end of the run): absolute rates are noisy; the "
        "ratios share the same load (candidates interleaved, median of "
        f"{repeats} repeats). 'frames/CPU-s' is frames over the process CPU time (all "
        "threads): the rate of one idle core. `simulate` spreads whole sequences over one "
        "thread per core; the kernel rows are single-threaded.",
        "",
        "| workload | frames | wall s | frames/s (wall) | frames/CPU-s | rate / dense numpy rate |",
        "|---|---|---|---|---|---|",
    ]
    for name, count, wall, cpu in speed_rows:
        rate = count / wall
        lines.append(f"| {name} | {count} | {wall:.3f} | {rate:,.0f} | {count / cpu:,.0f} | "
                     f"{rate / dense_rate:.1f}x |")
    lines += [
        "",
        f"Channel kernel vs the dense numpy reference on the same paths: "
        f"{(kernel[1] / kernel[2]) / dense_rate:.0f}x. Configuration: 28 GHz, 800 MHz, "
        "256 subcarriers (range resolution 0.1874 m, maximum range 47.97 m), 16-element "
        "half-wavelength ULA, complex64.",
        "",
    ]
    cli_frames = 600 if args.quick else 15000
    lines += ["End to end, `radarsp -q simulate -n N -o scenes.nc` as a subprocess:", "",
              "| N | camera | wall s | frames/s | peak RSS (MB) | file (MB) |",
              "|---|---|---|---|---|---|"]
    for count, images in ((cli_frames // 10, False), (cli_frames, False), (cli_frames, True)):
        wall, peak, size = end_to_end(count, images)
        lines.append(f"| {count} | {'64x64 images' if images else 'none'} | {wall:.1f} | "
                     f"{count / wall:,.0f} | {peak:,.0f} | {size:,} |")
    lines += ["", "Peak memory is bounded by the block size (1,500 frames), not the number of "
              "frames; the short run is dominated by start-up (imports, cached kernels).", ""]
    diff_frames = 150 if args.quick else 1500
    lines += [
        f"Difficulty ({diff_frames} frames x {len(seeds)} seed(s) per preset; plain FFT "
        "range-angle map, strongest cell):",
        "",
        "| scenario | frames | target strongest | strongest-cell error 50 %ile (m) | "
        "90 %ile (m) | near-side bias (m) |",
        "|---|---|---|---|---|---|",
    ]
    for scenario, count, hit, p50, p90, bias in difficulty(diff_frames, seeds):
        lines.append(f"| {scenario} | {count} | {hit:.0%} | {p50:.2f} | {p90:.2f} | "
                     f"{bias:.2f} |")
    lines += ["", "The feasibility prototype (parking lot) found the target strongest in ~60 % "
              "of frames, with strongest-return errors of 2.51 m (50 %ile) and 21.46 m "
              "(90 %ile), at 125 frames/s of numpy simulation.", ""]
    text = "\n".join(lines)
    print(text)
    write_fragment(text, fragment_path("simulate", quick=args.quick))


if __name__ == "__main__":
    main()
