"""``radarsp heatmap``: CSI (csi-1) -> range-angle and range-Doppler power maps (heatmap-1)."""

from __future__ import annotations

import math

import click

from cli.common import (
    INPUT,
    check_output,
    dask_client,
    force_option,
    output_option,
    quiet,
    scheduler_options,
)
from radarsp.heatmap import BEAMFORMERS


def parse_window(text: str) -> str | tuple[str, str]:
    """``"hann"`` -> ``"hann"``; ``"hann,taylor-40"`` -> ``("hann", "taylor-40")``.

    The names are checked here, so a typo is a usage error naming --window before any work.
    """
    from radarsp.windows import window_pair

    parts = [p.strip() for p in text.split(",")]
    if len(parts) > 2:
        raise click.BadParameter(f"expected NAME or RANGE,ANGLE, got {text!r}",
                                 param_hint="--window")
    spec = parts[0] if len(parts) == 1 else tuple(parts)
    try:
        window_pair(spec)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--window") from None
    return spec


def parse_span(text: str) -> tuple[float, float]:
    """``"-60,60"`` (degrees, -90 <= LOW < HIGH <= 90) -> radians; anything else is a usage
    error naming --angle-span, in degrees."""
    try:
        low, high = (float(p) for p in text.split(","))
    except ValueError:
        raise click.BadParameter(f"expected LOW,HIGH in degrees, got {text!r}",
                                 param_hint="--angle-span") from None
    if not -90 <= low < high <= 90:
        raise click.BadParameter(f"expected -90 <= LOW < HIGH <= 90 degrees, got {text!r}",
                                 param_hint="--angle-span")
    return math.radians(low), math.radians(high)


# words of radarsp.heatmap's ValueError messages -> the option to blame (first match wins)
BLAME = (("angle_span", "--angle-span"), ("angle_bins", "--angle-bins"),
         ("n_sources", "--n-sources"), ("range_bins", "--range-bins"),
         ("max_range", "--max-range"), ("velocity_bins", "--velocity-bins"),
         ("diagonal_loading", "--diagonal-loading"), ("window", "--window"))


def _blame(err: ValueError, options: dict) -> click.BadParameter:
    """A library ValueError as a usage error naming the option, its angles in degrees."""
    message = str(err)
    name, option = next(((n, o) for n, o in BLAME if n in message), (None, None))
    if name == "angle_span":
        low, high = (math.degrees(a) for a in options["angle_span"])
        message = (f"no angle bin of the fft grid ({options.get('angle_bins', 64)} bins) falls "
                   f"inside {low:g}..{high:g} degrees; widen it or use more --angle-bins")
    return click.BadParameter(message, param_hint=option)


def build_heatmap(csi: str, dataset, **options):
    """``heatmap_dataset(dataset, **options)`` for the CSI file ``csi``, its settings checked.

    Only builds the (lazy, for a dask-backed ``dataset``) result, so a refused setting fails
    before any work or output: a setting is a usage error, a file problem an error naming
    ``csi``. ``radarsp heatmap`` and ``radarsp pipeline`` both call it.
    """
    from radarsp.errors import RadarspFileError
    from radarsp.heatmap import heatmap_dataset
    from radarsp.memory import MemoryLimitError

    if options.get("beamformer") == "music" and options.get("n_sources") is None:
        raise click.UsageError("--beamformer music needs --n-sources N (sources per range "
                               "cell, 1 <= N < receive elements)")
    try:
        return heatmap_dataset(dataset, **options)
    except RadarspFileError as err:
        raise RadarspFileError(csi, err.variable, err.problem) from None
    except ValueError as err:
        raise _blame(err, options) from None
    except MemoryLimitError as err:
        raise MemoryLimitError(f"{csi}: {err}; lower --angle-bins, --range-bins, "
                               "--velocity-bins or --chunk-frames") from None


# options `radarsp heatmap` and `radarsp pipeline` share
beamformer_option = click.option(
    "--beamformer", type=click.Choice(BEAMFORMERS), default="fft", show_default=True,
    help="fft: zero-padded DFT across a uniform linear array (sin-theta grid); bartlett: "
         "delay-and-sum for any array; capon: MVDR; music: subspace (needs --n-sources).")
window_option = click.option(
    "--window", "window_text", default="hann", show_default=True,
    help="Taper NAME, or RANGE,ANGLE: none, hann, hamming, blackman, taylor, "
         "taylor-<sidelobe dB>.")
n_sources_option = click.option("--n-sources", type=click.IntRange(min=1),
                                help="Sources per range cell (music).")


@click.command("heatmap")
@click.argument("csi", type=INPUT)
@output_option()
@beamformer_option
@window_option
@click.option("--angle-bins", type=click.IntRange(min=1), default=64, show_default=True,
              help="fft: DFT length across the array; otherwise uniform angle bins.")
@click.option("--angle-span", "span_text", default="-90,90", show_default=True,
              help="Azimuth interval LOW,HIGH in degrees.")
@click.option("--range-bins", type=click.IntRange(min=1),
              help="Number of range bins (zero-pads the range DFT beyond the subcarrier count).")
@click.option("--max-range", type=click.FloatRange(min=0, min_open=True),
              help="Farthest range kept, metres (default: unambiguous range c/(2 df)).")
@n_sources_option
@click.option("--diagonal-loading", type=click.FloatRange(min=0), default=1e-3,
              show_default=True, help="Capon loading relative to the mean eigenvalue.")
@click.option("--doppler", is_flag=True,
              help="Also write doppler_power (frame, range, velocity); needs a symbol dim.")
@click.option("--velocity-bins", type=click.IntRange(min=1),
              help="Slow-time DFT length (default: number of symbols).")
@click.option("--chunk-frames", type=click.IntRange(min=1), default=256, show_default=True,
              help="Frames read, processed and written at a time (bounds memory).")
@scheduler_options
@force_option
def command(csi, output, beamformer, window_text, angle_bins, span_text, range_bins,
            max_range, n_sources, diagonal_loading, doppler, velocity_bins, chunk_frames,
            scheduler, workers, force):
    """Compute range-angle power maps of every frame of CSI and write a heatmap-1 file.

    Range comes from an inverse DFT over subcarriers (bin spacing c / (2 N df) metres),
    angle from the chosen beamformer, velocity (--doppler, m/s, positive receding) from an
    inverse DFT over symbols. Ground-truth and camera variables are copied unchanged. The file
    is processed --chunk-frames frames at a time, so inputs larger than memory work.
    """
    window = parse_window(window_text)
    angle_span = parse_span(span_text)
    check_output(output, force)

    from radarsp.io import open_csi, save

    dataset = open_csi(csi, chunks={"frame": chunk_frames})
    heatmap = build_heatmap(
        csi, dataset, doppler=doppler, window=window, range_bins=range_bins,
        max_range=max_range, velocity_bins=velocity_bins, beamformer=beamformer,
        angle_bins=angle_bins, angle_span=angle_span, n_sources=n_sources,
        diagonal_loading=diagonal_loading,
    )
    from threadpoolctl import threadpool_limits

    # One BLAS thread: dask runs chunks in parallel, and threaded OpenBLAS is 4x slower on the
    # tall, skinny beamforming products (set in this thread, it holds for dask's workers too).
    with threadpool_limits(limits=1, user_api="blas"), dask_client(scheduler, workers):
        save(heatmap, output, force=force, progress=not quiet())
    if not quiet():
        sizes = heatmap["power"].sizes
        click.echo(
            f"{output}: {sizes['frame']} frames, {sizes['range']} range x {sizes['angle']} "
            f"angle bins ({beamformer})" + (", with range-Doppler" if doppler else ""),
            err=True,
        )
