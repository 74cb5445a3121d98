"""``radarsp cfar``: CFAR detection on heatmaps (heatmap-1) -> a detections-1 table."""

from __future__ import annotations

import click

from cli.common import (
    INPUT,
    check_output,
    dask_client,
    force_option,
    output_option,
    parse_pair,
    quiet,
    scheduler_options,
)
from radarsp.cfar import DEFAULT_GUARD, DEFAULT_METHOD, DEFAULT_PFA, DEFAULT_TRAIN, EDGES
from radarsp.cfar.threshold import METHODS

# words of radarsp.cfar's ValueError messages -> the option to blame
#: How a (range, angle) pair of cell counts is written on the command line.
PAIR = "{},{}"
# (the first match wins: a window too large or without training cells is --guard and --train)
BLAME = (("rank", "--rank"), ("pfa", "--pfa"), ("edge", "--edge"),
         ("threshold_factor", "--threshold-factor"), ("window", "--guard/--train"),
         ("guard", "--guard"))


def _edge(text: str | None, doppler: bool) -> tuple[str, str]:
    """``"truncate"`` or ``"truncate,wrap"`` -> one policy per working dim."""
    if text is None:
        return ("truncate", "wrap") if doppler else ("truncate", "truncate")
    parts = tuple(p.strip() for p in text.split(","))
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or any(p not in EDGES for p in parts):
        raise click.BadParameter(f"expected POLICY or RANGE,SECOND with policies from "
                                 f"{', '.join(EDGES)}; got {text!r}", param_hint="--edge")
    return parts


def cfar_detector(source: str, name: str, **settings):
    """``maps -> detections-1 table``: :func:`radarsp.cfar.cfar` with ``settings`` (its keyword
    arguments but ``outputs``) on the variable ``name`` of the file ``source``.

    Errors become one line: NaN or Inf power an error naming the file and variable (status 1),
    a refused setting a usage error naming the option (status 2).
    """
    from radarsp.cfar import DETECTION_OUTPUTS, NonFinitePowerError, cfar, detections
    from radarsp.errors import RadarspFileError

    def detect(maps):
        try:
            return detections(cfar(maps, outputs=DETECTION_OUTPUTS, **settings), maps)
        except NonFinitePowerError:
            raise RadarspFileError(source, name, "has NaN or infinite values; expected finite "
                                                 "linear power") from None
        except RadarspFileError:
            raise
        except ValueError as err:
            hint = next((opt for word, opt in BLAME if word in str(err)), "--train")
            raise click.BadParameter(str(err), param_hint=hint) from None

    return detect


#: peak bytes per map cell of CFAR detection: the float32 input, the detected flags and snr,
#: and the kernels' sliding-window sums (measured: 5 B per cell beyond the input for CA,
#: 11 for OS; benchmarks/bench_memory.py)
CFAR_BYTES_PER_CELL = 24


def check_cfar_memory(power, chunk_frames: int, source: str) -> None:
    """Refuse, before any work, CFAR chunks of ``chunk_frames`` frames of ``power`` (frame,
    ...) that cannot fit in memory, as many at once as dask runs in parallel."""
    import os

    from radarsp.memory import MemoryLimitError, check_memory

    n_frames = power.sizes["frame"]
    chunk = min(chunk_frames, n_frames)
    at_once = min(-(-n_frames // chunk), os.cpu_count() or 1)
    cells = power.size // max(n_frames, 1)
    try:
        check_memory(at_once * chunk * cells * CFAR_BYTES_PER_CELL,
                     f"CFAR on {at_once} x {chunk} frames of {cells} cells at once")
    except MemoryLimitError as err:
        hint = "lower --chunk-frames" if chunk > 1 else "one frame is too large for this machine"
        raise MemoryLimitError(f"{source}: {err}; {hint}") from None


def checked_detector(power, source: str, name: str, **settings):
    """:func:`cfar_detector`, first tried on one frame of ``power`` (frame, ...), so settings
    that do not fit the maps fail at once, before a long run or any output."""
    from radarsp.errors import RadarspFileError

    if power.sizes["frame"] == 0:
        raise RadarspFileError(source, name, "has no frames")
    detect = cfar_detector(source, name, **settings)
    detect(power.isel(frame=slice(0, 1)).load())
    return detect


@click.command("cfar")
@click.argument("heatmap", type=INPUT)
@output_option()
@click.option("--method", type=click.Choice(METHODS), default=DEFAULT_METHOD, show_default=True,
              help="Noise estimate: ca cell average, go/so greatest/smallest of the leading "
                   "and lagging half averages, os ordered statistic (--rank).")
@click.option("--guard", "guard_text", default=PAIR.format(*DEFAULT_GUARD), show_default=True,
              help="Guard cells per side, R,A (range bins, angle or velocity bins).")
@click.option("--train", "train_text", default=PAIR.format(*DEFAULT_TRAIN), show_default=True,
              help="Training cells per side beyond the guard cells, R,A (bins).")
@click.option("--pfa", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              default=DEFAULT_PFA, show_default=True,
              help="Design false-alarm probability per cell (exponential, square-law noise). "
                   "The defaults (CA, guard 4,2, train 16,4, pfa 1e-2) are radarsp's one CFAR "
                   "default, shared with pipeline and the library; chosen on labelled simulated "
                   "parking-lot frames (radarsp.cfar.DEFAULT_PFA says on what).")
@click.option("--rank", type=int, help="OS: 1-based rank of the noise estimate among the "
                                       "training cells (default 3/4 of them).")
@click.option("--threshold-factor", type=float,
              help="Use this factor (linear, times the noise estimate) instead of one "
                   "derived from --pfa.")
@click.option("--edge", "edge_text",
              help="Edge policy, one or R,SECOND: truncate (fewer training cells, threshold "
                   "recomputed), wrap (periodic), skip (no detections where the window does "
                   "not fit). Default truncate; truncate,wrap with --doppler.")
@click.option("--doppler", is_flag=True,
              help="Run on doppler_power (frame, range, velocity) instead of power; the "
                   "table then has a velocity column (m/s) and NaN angle, x, y.")
@click.option("--chunk-frames", type=click.IntRange(min=1),
              help="Frames loaded and processed at a time (bounds memory; default: as many "
                   "as make 16 M cells, at least one).")
@scheduler_options
@force_option
def command(heatmap, output, method, guard_text, train_text, pfa, rank, threshold_factor,
            edge_text, doppler, chunk_frames, scheduler, workers, force):
    """Detect cells above a CFAR threshold in every frame of HEATMAP; write a detections-1 table.

    A cell is detected when its linear power exceeds the threshold factor times a noise
    estimate from the training cells around it (guard cells excluded). The factor is exact for
    --pfa in exponential noise, also at truncated edges. Rows give frame, range (m), angle
    (rad), x, y (m), power and snr (power over the noise estimate, linear).
    """
    guard = parse_pair(guard_text, "--guard")
    train = parse_pair(train_text, "--train")
    edge = _edge(edge_text, doppler)
    check_output(output, force)

    from radarsp.errors import RadarspFileError
    from radarsp.io import open_heatmap, save
    from radarsp.io.netcdf import dask_progress

    dataset = open_heatmap(heatmap)
    name = "doppler_power" if doppler else "power"
    if name not in dataset:
        raise RadarspFileError(heatmap, name, "missing; --doppler needs a heatmap written "
                                              "with range-Doppler maps (radarsp heatmap --doppler)")
    power = dataset[name]
    dims = ("range", "velocity" if doppler else "angle")
    # settings errors now, not after a long run
    detect = checked_detector(power, heatmap, name, method=method, dims=dims, guard=guard,
                              train=train, pfa=pfa, rank=rank,
                              threshold_factor=threshold_factor, edge=edge)
    n_frames = power.sizes["frame"]
    if chunk_frames is None:
        chunk_frames = max(1, 2**24 // max(1, power.size // n_frames))
    check_cfar_memory(power, chunk_frames, heatmap)
    # Chunk by chunk (bounded memory), on threads or on the dask.distributed cluster asked for.
    with dask_client(scheduler, workers), dask_progress(not quiet(), "cfar"):
        table = detect(power.chunk({"frame": chunk_frames}))
    save(table, output, force=force)
    if not quiet():
        click.echo(f"{output}: {table.sizes['detection']} detections in {n_frames} frames "
                   f"({method.upper()}-CFAR, " + (f"pfa {pfa:g})" if threshold_factor is None
                                                 else f"factor {threshold_factor:g})"), err=True)
