"""`radarsp convert`: foreign radar data (CRUW RA maps, FMCW ADC cubes) -> radarsp files."""

from __future__ import annotations

import click

from cli.common import (
    InputPath,
    check_output,
    force_option,
    output_option,
    quiet,
    run_guarded,
)


def _report(ds, output: str) -> None:
    if not quiet():
        sizes = ", ".join(f"{dim} {size}" for dim, size in ds.sizes.items())
        click.echo(f"wrote {output}: {ds.attrs['radarsp_schema']} ({sizes})", err=True)


def _chirp_ids(ctx, param, value):
    if value is None:
        return None
    try:
        return [int(part) for part in value.split(",")]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {value!r}") from None


@click.group(name="convert")
def command():
    """Convert foreign radar formats to radarsp files (heatmap-1 or csi-1).

    \b
    radarsp convert cruw SEQUENCE_DIR -o heatmap.nc
    radarsp convert fmcw adc.npy --slope 60e12 --sample-rate 2.5e6 \\
        --carrier 77e9 --chirp-period 2e-4 -o heatmap.nc
    """


@command.command(name="cruw")
@click.argument("sequence", type=click.Path(exists=True, file_okay=False))
@output_option()
@click.option("--annotations", type=InputPath(store_ok=False),
              help="Annotation text file (frame range[m] azimuth[rad] class per line). "
                   "Default: SEQUENCE/<name>.txt or ROD2021's annotations/<split>/<name>.txt.")
@click.option("--chirps", callback=_chirp_ids, metavar="IDS",
              help="Comma-separated chirp ids to average, e.g. 0,64,128,192 (default: all).")
@click.option("--class", "classes", multiple=True, metavar="NAME",
              help="Object class eligible as the frame's target (repeatable; default: any). "
                   "The first eligible object of each frame is its target.")
@click.option("--images/--no-images", default=True, show_default=True,
              help="Attach IMAGES_0/<frame>.jpg|png camera frames when every frame has one.")
@click.option("--image-stride", type=click.IntRange(min=1), default=1, show_default=True,
              help="Keep every N-th pixel row and column of the camera frames.")
@force_option
def cruw(sequence, output, annotations, chirps, classes, images, image_stride, force):
    """CRUW / ROD2021 sequence (RADAR_RA_H/<frame>_<chirp>.npy) -> heatmap-1.

    Power is |z|^2 of the complex range-azimuth maps averaged over chirps; range bins are
    0.2131 m from 0.639 m, azimuth uniform in sin(angle) over -90..90 degrees (cruw-devkit).
    """
    from radarsp.io import save
    from radarsp.io.cruw import open_cruw

    check_output(output, force)
    heat = open_cruw(sequence, annotations=annotations, chirps=chirps,
                     classes=list(classes) or None, images=images,
                     image_stride=image_stride, progress=not quiet())
    save(heat, output, schema="heatmap-1", force=force)
    _report(heat, output)


_positive = click.FloatRange(min=0, min_open=True)


@command.command(name="fmcw")
@click.argument("adc", type=InputPath(store_ok=False))
@output_option()
@click.option("--slope", type=_positive, required=True,
              help="Chirp slope in Hz/s (TI's 60 MHz/us is 60e12).")
@click.option("--sample-rate", type=_positive, required=True, help="ADC sample rate in Hz.")
@click.option("--carrier", type=_positive, required=True, help="Chirp start frequency in Hz.")
@click.option("--chirp-period", type=_positive, required=True,
              help="Seconds between chirps of one virtual element (TDM-MIMO: one TX loop).")
@click.option("--rx-spacing", type=float, default=0.5, show_default=True,
              help="Virtual element spacing in carrier wavelengths; element n sits at "
                   "x = n * spacing. Negative: index grows towards -x, the sign of TI's SDK "
                   "and OpenRadar.")
@click.option("--beamformer", type=click.Choice(["fft", "bartlett", "capon"]), default="fft",
              show_default=True,
              help="Angle estimator across the virtual array (as `radarsp heatmap`).")
@click.option("--angle-bins", type=click.IntRange(min=2), default=64, show_default=True,
              help="fft: FFT length across the array (angles uniform in sin); otherwise "
                   "uniform angle bins over -90..90 degrees.")
@click.option("--window", default="hann", show_default=True,
              help="Range and Doppler taper: none, hann, hamming, blackman, taylor-<dB>.")
@click.option("--keep-static", is_flag=True,
              help="Keep static clutter (default: subtract the mean over chirps).")
@click.option("--to", "target", type=click.Choice(["heatmap", "csi"]), default="heatmap",
              show_default=True,
              help="heatmap: range-angle and range-Doppler maps (heatmap-1); csi: the cube as "
                   "csi-1 (subcarrier = fast-time sample) for `radarsp heatmap`.")
@force_option
def fmcw(adc, output, slope, sample_rate, carrier, chirp_period, rx_spacing, beamformer,
         angle_bins, window, keep_static, target, force):
    """FMCW ADC cube (.npy, [frame,] chirp, rx, sample complex beat signal) -> heatmap-1 or csi-1.

    Range bins are c*fs/(2*slope*samples) metres; velocity bins (wavelength/(2*chirp-period))
    / chirps m/s, positive receding.
    """
    import numpy as np

    from radarsp.errors import RadarspFileError
    from radarsp.fmcw import fmcw_to_csi, from_fmcw, uniform_array
    from radarsp.geometry import wavelength
    from radarsp.io import save
    from radarsp.memory import MemoryLimitError
    from radarsp.windows import parse_window

    try:
        parse_window(window)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--window") from None
    if rx_spacing == 0 or not np.isfinite(rx_spacing):
        raise click.BadParameter("expected a non-zero spacing in wavelengths",
                                 param_hint="--rx-spacing")
    check_output(output, force)
    with open(adc, "rb") as handle:
        is_npy = handle.read(6) == b"\x93NUMPY"
    try:
        if not is_npy:
            raise ValueError("no .npy header")
        cube = np.load(adc, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as err:
        raise RadarspFileError(adc, None, f"expected a numpy .npy array ({err})") from None
    if cube.ndim not in (3, 4) or cube.dtype.kind not in "fciu" or min(cube.shape[-3:]) < 2:
        raise RadarspFileError(
            adc, None, "expected a numeric (chirp, rx, sample) or (frame, chirp, rx, sample) "
            f"array with at least 2 chirps, 2 rx and 2 samples, got {cube.dtype} {cube.shape}"
        )
    positions = uniform_array(cube.shape[-2], rx_spacing * wavelength(carrier))
    radio = dict(slope=slope, sample_rate=sample_rate, carrier=carrier,
                 chirp_period=chirp_period, rx_positions=positions)
    try:
        if target == "csi":
            out, schema = fmcw_to_csi(cube, **radio), "csi-1"
        else:
            out = from_fmcw(cube, **radio, beamformer=beamformer, angle_bins=angle_bins,
                            window=window, remove_static=not keep_static)
            schema = "heatmap-1"
    except ValueError as err:  # the cube's contents (the settings were checked above)
        raise RadarspFileError(adc, None, str(err).removeprefix("adc: ")) from None
    except MemoryLimitError as err:
        raise MemoryLimitError(f"{adc}: {err}; lower --angle-bins or convert fewer frames "
                               "at a time") from None
    out.attrs["source_file"] = str(adc)
    save(out, output, schema=schema, force=force)
    _report(out, output)


#: Arrays `convert sionna` reads from its .npz, and what each must be.
SIONNA_ARRAYS = {
    "cfr": "complex Paths.cfr output per frame: (frame, rx, subcarrier), (frame, symbol, rx, "
           "subcarrier) or Sionna's (frame, num_rx, num_rx_ant, num_tx, num_tx_ant, time, freq)",
    "frequency": "absolute subcarrier frequencies, Hz, shape (K,)",
    "rx_positions": "receive element positions, m, radarsp frame (x lateral, y boresight), "
                    "shape (R, 3)",
}
SIONNA_OPTIONAL = ("symbol_time", "frame", "sequence", "truth_xy", "image", "target_box")


@command.command(name="sionna")
@click.argument("npz", type=InputPath(store_ok=False))
@output_option()
@force_option
def sionna(npz, output, force):
    """Sionna RT channel responses (.npz) -> csi-1, for scenes ray-traced elsewhere (a GPU).

    \b
    Required arrays: cfr, frequency, rx_positions; optional: symbol_time (s), frame,
    sequence, truth_xy (F, 2) m, image (F, rows, cols, 3) uint8, target_box (F, 4). Write it
    with numpy.savez after `h = paths.cfr(frequencies=f - carrier, normalize_delays=False,
    out_type="numpy")` for each frame; see radarsp.simulate.raytrace.csi_from_sionna.
    """
    import numpy as np

    from radarsp.errors import RadarspFileError
    from radarsp.io import save
    from radarsp.simulate.raytrace import csi_from_sionna

    check_output(output, force)
    try:
        arrays = np.load(npz, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise RadarspFileError(npz, None, f"expected a numpy .npz archive ({err})") from None
    with arrays:
        for name, expected in SIONNA_ARRAYS.items():
            if name not in arrays.files:
                raise RadarspFileError(npz, name, f"missing: expected {expected}")
        options = {name: arrays[name] for name in SIONNA_OPTIONAL if name in arrays.files}
        ds = csi_from_sionna(arrays["cfr"], frequency=arrays["frequency"],
                             rx_positions=arrays["rx_positions"], source=npz, **options)
    save(ds, output, force=force)
    _report(ds, output)


for _sub in (cruw, fmcw, sionna):
    run_guarded(_sub)
