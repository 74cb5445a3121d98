"""`radarsp simulate`: synthesise paired radio-visual scenes into a csi-1 file."""

from __future__ import annotations

import click

from cli.common import FINITE, POSITIVE, check_output, force_option, output_option, quiet
from radarsp.simulate import MAX_SEED
from radarsp.simulate.scene import SCENARIOS, WEATHERS, canonical_scenario


def _scenario(ctx, param, value: str) -> str:
    try:
        return canonical_scenario(value)
    except ValueError as err:
        raise click.BadParameter(str(err)) from None


def _size(text: str, name: str) -> tuple[int, int] | None:
    """Parse ``"64"``, ``"64x48"`` or ``"64,48"`` (rows x cols); ``"none"`` gives None."""
    if text.strip().lower() in ("none", "0", "off"):
        return None
    parts = text.lower().replace("x", ",").split(",")
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        raise click.BadParameter(f"expected N or RxC, got {text!r}", param_hint=name) from None
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or min(values) < 1:
        raise click.BadParameter(f"expected positive N or RxC, got {text!r}", param_hint=name)
    return values


def _check_memory(frames: int, **sizes) -> None:
    """Refuse, before any work, sizes whose block of ``frames`` frames cannot fit in memory,
    naming the option that makes it so."""
    from radarsp.memory import MemoryLimitError, memory_limit
    from radarsp.simulate import check_simulation_memory, simulation_memory

    try:
        check_simulation_memory(frames, **sizes)
    except MemoryLimitError as err:
        frame = simulation_memory(1, **{**sizes, "sequence_length": 1})
        sizing = ("--image-size" if frame["images"] > frame["csi"]
                  else "--symbols, --subcarriers or --array")
        if sum(frame.values()) > memory_limit():
            hint = f"lower {sizing}"
        elif sum(simulation_memory(sizes["sequence_length"], **sizes).values()) > (
                memory_limit()):
            hint = f"lower --sequence-length (whole sequences are simulated) or {sizing}"
        else:
            hint = "lower --block"
        raise MemoryLimitError(f"{err}; {hint}") from None


def _blocks(frames: int, block: int):
    """(start, count) pairs covering ``frames`` frames in blocks of ``block``."""
    return [(start, min(block, frames - start)) for start in range(0, frames, block)]


def _lazy(options: dict, frames: int, block: int):
    """A dask-backed dataset whose frame blocks are simulated only when written."""
    import dask
    import dask.array as da
    import xarray as xr

    from radarsp.simulate import simulate

    template = simulate(**options, frames=1)
    pieces = []
    for start, count in _blocks(frames, block):
        # dask's threads already run blocks side by side: one thread per block
        result = dask.delayed(simulate, pure=True)(**options, frames=count, start=start,
                                                   workers=1)
        variables = {}
        for name, variable in template.data_vars.items():
            shape = (count,) + variable.shape[1:]
            array = da.from_delayed(result[name].data, shape=shape, dtype=variable.dtype)
            variables[name] = (variable.dims, array, variable.attrs)
        coords = {name: template[name].variable for name in template.coords
                  if "frame" not in template[name].dims}
        frame_coords = _frame_coords(options, start, count)
        pieces.append(xr.Dataset(variables, coords={**coords, **frame_coords},
                                 attrs=template.attrs))
    return xr.concat(pieces, dim="frame", data_vars="all", coords="minimal",
                     compat="override", combine_attrs="override")


def _frame_coords(options: dict, start: int, count: int) -> dict:
    """Frame coordinates of a block without simulating it (cheap: time and sequence)."""
    import numpy as np

    frame = np.arange(start, start + count, dtype=np.int64)
    length = options["sequence_length"]
    return {
        "frame": ("frame", frame),
        "time": ("frame", frame * options["frame_interval"]),
        "sequence": ("frame", frame // length),
    }


@click.command(name="simulate")
@click.option("--scenario", default="parking-lot", show_default=True, callback=_scenario,
              metavar="[" + "|".join(SCENARIOS) + "]",
              help="Scene preset (underscores accepted).")
@click.option("--frames", "-n", type=click.IntRange(min=1), default=150, show_default=True,
              help="Number of frames.")
@click.option("--seed", type=click.IntRange(min=0, max=MAX_SEED), default=0, show_default=True,
              help="Random seed, 0 .. 2**64-1; the same seed gives a bit-identical file.")
@output_option()
@force_option
@click.option("--snr-db", type=FINITE, default=10.0, show_default=True,
              help="Per-sample SNR of a 10 m^2 scatterer at 10 m, dB.")
@click.option("--subcarriers", type=click.IntRange(min=2), default=256, show_default=True,
              help="OFDM subcarriers; max range = N * c / (2 B) (256 -> 47.97 m at 800 MHz).")
@click.option("--carrier", type=POSITIVE, default=28e9, show_default=True,
              help="Carrier frequency, Hz.")
@click.option("--bandwidth", type=POSITIVE, default=800e6, show_default=True,
              help="Bandwidth, Hz (range resolution c / 2B: 0.187 m at 800 MHz).")
@click.option("--array", "array", default="16", show_default=True,
              help="Receive array: N (N-element half-wavelength ULA) or NxM (planar, x by z).")
@click.option("--symbols", type=click.IntRange(min=1), default=None,
              help="Slow-time OFDM symbols per frame (adds Doppler); default none.")
@click.option("--symbol-period", type=POSITIVE, default=1e-4, show_default=True,
              help="Slow-time symbol interval, s.")
@click.option("--sequence-length", type=click.IntRange(min=1), default=15, show_default=True,
              help="Consecutive frames per sequence.")
@click.option("--frame-interval", type=POSITIVE, default=0.1, show_default=True,
              help="Time between frames, s.")
@click.option("--image-size", default="64x64", show_default=True,
              help="Camera image ROWSxCOLS in pixels, or 'none' for no camera.")
@click.option("--weather", type=click.Choice(WEATHERS), default="clear",
              show_default=True, help="Weather of every frame.")
@click.option("--multipath/--no-multipath", default=False, show_default=True,
              help="Add ground-bounce (and facade-bounce) ghost paths.")
@click.option("--block", type=click.IntRange(min=1), default=None,
              help="Frames simulated per block when writing (bounds memory); default 1500, "
                   "150 with --engine raytrace (its unit of resumption).")
@click.option("--engine", type=click.Choice(["points", "raytrace"]), default="points",
              show_default=True,
              help="points: radarsp's fast point-scatterer simulator. raytrace: NVIDIA Sionna "
                   "RT (pip install 'radarsp[raytrace]'): ground, buildings and car meshes "
                   "with diffuse ITU materials, specular + diffuse paths, the camera rendered "
                   "from the same scene; written in blocks next to the output and resumable "
                   "(run the same command again after a kill). About 0.3-0.6 frames/s on 2 "
                   "CPU cores at the defaults (benchmarks/RESULTS.md).")
@click.option("--samples", type=click.IntRange(min=1000), default=100_000, show_default=True,
              help="raytrace: rays per source. Time grows linearly with it: 1e5 ~0.5 s/frame "
                   "of radio, 3e5 ~1.9 s on 2 CPU cores; below ~3e5 the odd frame has a "
                   "diffuse floor-bounce outlier.")
@click.option("--max-depth", type=click.IntRange(min=1, max=6), default=2, show_default=True,
              help="raytrace: bounces per path (1: single bounce, no multipath; each more "
                   "roughly doubles the time).")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True,
              help="raytrace: cpu (Dr.Jit's LLVM backend; the tested path) or cuda (a CUDA "
                   "GPU through Dr.Jit's CUDA variant, where present).")
def command(scenario, frames, seed, output, force, snr_db, subcarriers, carrier, bandwidth,
            array, symbols, symbol_period, sequence_length, frame_interval, image_size,
            weather, multipath, block, engine, samples, max_depth, device):
    """Synthesise paired radio-visual frames (CSI + camera + truth) into a csi-1 file.

    A monostatic OFDM radar at the origin (boresight +y) and a camera 6 m above it watch
    one target car drive among parked cars, buildings and clutter. Truth (target_range in
    m, target_angle in rad, target_x/target_y in m) is the centre of the target's
    footprint. Long runs are simulated and written in blocks with a progress bar.
    """
    from radarsp.io import save
    from radarsp.simulate import planar_positions, simulate, subcarrier_frequencies, ula_positions

    shape = _size(array, "--array")
    if shape is None:
        raise click.BadParameter(f"expected N or NxM, got {array!r}", param_hint="--array")
    planar = any(sep in array.lower() for sep in "x,")
    if engine == "raytrace" and (weather != "clear" or multipath):
        raise click.BadParameter("the raytrace engine traces multipath itself and has no "
                                 "weather: drop --weather/--multipath", param_hint="--engine")
    if block is None:
        block = 150 if engine == "raytrace" else 1500
    # Blocks start on sequence boundaries so each sequence is simulated once.
    block = max(sequence_length, block // sequence_length * sequence_length)
    # sizes first: nothing below allocates more than they imply
    _check_memory(min(frames, block), n_rx=shape[0] * (shape[1] if planar else 1),
                  n_subcarriers=subcarriers, symbols=symbols, sequence_length=sequence_length,
                  image_size=_size(image_size, "--image-size"))
    lowest = float(subcarrier_frequencies(carrier, bandwidth, subcarriers)[0])
    if not lowest > 0:
        raise click.BadParameter(
            f"expected a carrier above half the bandwidth ({bandwidth / 2:g} Hz), got "
            f"{carrier:g} Hz: the lowest subcarrier would be at {lowest:g} Hz",
            param_hint="--carrier")
    check_output(output, force)
    rx = (planar_positions(*shape, carrier=carrier) if planar
          else ula_positions(shape[0], carrier=carrier))
    options = dict(
        scenario=scenario, seed=seed, rx_positions=rx, n_subcarriers=subcarriers,
        carrier=carrier, bandwidth=bandwidth, snr_db=snr_db, symbols=symbols,
        symbol_period=symbol_period, sequence_length=sequence_length,
        frame_interval=frame_interval, image_size=_size(image_size, "--image-size"),
        weather=None if weather == "clear" else weather, multipath=multipath,
    )
    if engine == "raytrace":
        from cli.raytrace import simulate_in_blocks

        for name in ("weather", "multipath"):
            options.pop(name)
        options.update(samples=samples, max_depth=max_depth, device=device)
        simulate_in_blocks(options, frames, block, output, force=force, progress=not quiet())
    elif frames <= block:
        ds = simulate(**options, frames=frames)
        save(ds, output, force=force)
    else:
        save(_lazy(options, frames, block), output, force=force, progress=not quiet())
    if not quiet():
        click.echo(f"wrote {output}: {frames} frames of {scenario}, {len(rx)} rx x "
                   f"{subcarriers} subcarriers ({engine})", err=True)
