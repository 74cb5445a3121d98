"""Bring your own radar's data: an FMCW ADC cube -> heatmap-1 -> CFAR detections.

Runs as is on the real TI mmWave capture shared with the project (77 GHz, 2 TX x 4 RX
TDM-MIMO, 128 chirps x 8 virtual elements x 128 samples; see its README.md)::

    .venv/bin/python examples/own_radar_data.py                 # the shared TI capture
    .venv/bin/python examples/own_radar_data.py my_cube.npy -o my_heatmap.nc

For your own radar, change the five radio parameters below; the cube must be the complex
beat signal, shape (chirps, virtual elements, samples) or (frames, chirps, elements, samples).
The same conversion from the command line::

    radarsp convert fmcw cube.npy --slope 60e12 --sample-rate 2.5e6 --carrier 77e9 \\
        --chirp-period 2e-4 --rx-spacing -0.5 -o heatmap.nc
    radarsp cfar heatmap.nc -o detections.nc --guard 2,2 --train 4,4 --pfa 1e-6

Range-azimuth maps that are already beamformed (CRUW / RODNet) come in through
``radarsp.io.cruw.open_cruw(sequence_dir)`` or ``radarsp convert cruw`` instead.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from radarsp.cfar import cfar, detections
from radarsp.fmcw import from_fmcw, uniform_array
from radarsp.geometry import wavelength

CAPTURE = Path(__file__).resolve().parents[1] / "../shared/data/openradar/doppler_example_1.npy"

# Radio configuration of the capture (TI mmWave profile); replace with your radar's.
SLOPE = 60e12  # Hz/s: 60 MHz/us
SAMPLE_RATE = 2.5e6  # Hz
CARRIER = 77e9  # Hz, chirp start frequency
CHIRP_PERIOD = 2e-4  # s between chirps of one virtual element; sets the velocity scale only
# Element n at x = -n * lambda/2: TI's SDK / OpenRadar angle sign (positive angle = towards
# the side where the element index decreases). Use +lambda/2 if your index grows towards +x.
RX_SPACING = -wavelength(CARRIER) / 2  # m


def load_cube(path: Path) -> np.ndarray:
    """Load a beat-signal cube; undo int16 samples stored as unsigned 16-bit values.

    The shared capture holds int16 I/Q that went through uint16 on the way (values 0..65535).
    Here that only adds a DC-like offset, but other tools may not forgive it.
    """
    cube = np.load(path)
    parts = (cube.real, cube.imag)
    if min(p.min() for p in parts) >= 0 and max(p.max() for p in parts) >= 2**15:
        real, imag = (np.where(p >= 2**15, p - 2**16, p) for p in parts)
        cube = real + 1j * imag
    return cube


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cube", nargs="?", type=Path, default=CAPTURE, help="ADC cube (.npy)")
    parser.add_argument("-o", "--output", type=Path, help="also save the heatmap-1 file here")
    parser.add_argument("--figure", type=Path, default=Path("docs/figures/ti_capture.png"),
                        help="range-angle (with CFAR detections) and range-Doppler figure")
    args = parser.parse_args()
    if not args.cube.is_file():
        parser.error(f"{args.cube}: no such cube; pass the path of your radar's .npy ADC cube "
                     "(the default is the TI capture shared beside the repository)")

    cube = load_cube(args.cube)
    heat = from_fmcw(
        cube, slope=SLOPE, sample_rate=SAMPLE_RATE, carrier=CARRIER, chirp_period=CHIRP_PERIOD,
        rx_positions=uniform_array(cube.shape[-2], RX_SPACING), angle_bins=64,
        remove_static=True,  # subtract the mean over chirps: keep what moves
    )
    print(f"heatmap: {dict(heat.sizes)}; range bin {float(heat.range[1]):.4f} m, "
          f"velocity bin {float(heat.velocity[1] - heat.velocity[0]):.3f} m/s")
    if args.output:
        from radarsp.io import save

        save(heat, args.output, force=True)
        print(f"saved {args.output}")

    # 2-D cell-averaging CFAR on range-angle; the Doppler axis is periodic, hence "wrap".
    table = detections(cfar(heat.power, guard=(2, 2), train=(4, 4), pfa=1e-6), heat.power)
    moving = detections(
        cfar(heat.doppler_power, dims=("range", "velocity"), guard=(2, 2), train=(4, 8),
             pfa=1e-6, edge=("truncate", "wrap")),
        heat.doppler_power,
    )
    print(f"range-angle CFAR: {table.sizes['detection']} detection(s)")
    for row in np.argsort(-table.snr.values)[:5]:
        print(f"  range {float(table.range[row]):5.2f} m  angle "
              f"{np.degrees(float(table.angle[row])):+6.1f} deg  snr {float(table.snr[row]):6.1f}")
    best = int(np.argmax(moving.snr.values))
    print(f"range-Doppler CFAR: {moving.sizes['detection']} detection(s); strongest at "
          f"{float(moving.range[best]):.2f} m, {float(moving.velocity[best]):+.2f} m/s")
    figure(heat, table, args.figure)


def figure(heat, table, path: Path) -> None:
    """Range-angle map with its CFAR detections beside the range-Doppler map, both in dB."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from radarsp.plot import plot_heatmap

    fig, (polar, doppler) = plt.subplots(1, 2, figsize=(10, 4))
    plot_heatmap(heat, 0, detections=table, truth=False, ax=polar)
    polar.set_title("TI capture: range-angle, moving returns")
    rd = 10 * np.log10(heat.doppler_power.isel(frame=0).values + 1e-12)
    mesh = doppler.pcolormesh(heat.velocity.values, heat.range.values, rd - rd.max(),
                              vmin=-40, vmax=0, shading="nearest")
    doppler.set(xlabel="radial velocity (m/s, + receding)", ylabel="range (m)",
                title="range-Doppler")
    fig.colorbar(mesh, ax=doppler, label="power (dB re peak)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
