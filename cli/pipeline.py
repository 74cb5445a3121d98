"""`radarsp pipeline`: heatmap -> cfar -> cluster -> match -> evaluate with one set of options."""

from __future__ import annotations

import os
import time
from pathlib import Path

import click

from cli.cfar import PAIR, check_cfar_memory, checked_detector
from cli.cluster import cluster_options, parse_eps
from cli.common import INPUT, dask_client, parse_pair, quiet, scheduler_options
from cli.heatmap import (
    beamformer_option,
    build_heatmap,
    n_sources_option,
    parse_window,
    window_option,
)
from cli.match import FRAME_TRUTH, add_truth, cross_domain_options
from radarsp.cfar import DEFAULT_GUARD, DEFAULT_METHOD, DEFAULT_PFA, DEFAULT_TRAIN
from radarsp.cfar.threshold import METHODS


def _with_truth(table, truth):
    """``table`` with the per-frame truth attached (``frame`` becomes a coordinate, as xarray
    requires once a ``frame`` dim exists)."""
    table = table.set_coords("frame")
    for name in truth.data_vars:
        table[name] = truth[name].variable
    return table


class _Stages:
    """Times each stage and reports it on stderr."""

    def __init__(self, frames: int, silent: bool):
        self.frames, self.silent, self.seconds = frames, silent, {}

    def run(self, name, function, *args, **kwargs):
        start = time.perf_counter()
        result = function(*args, **kwargs)
        self.seconds[name] = time.perf_counter() - start
        if not self.silent:
            per_frame = 1e3 * self.seconds[name] / max(self.frames, 1)
            click.echo(f"{name:<10} {self.seconds[name]:7.2f} s  ({per_frame:.3f} ms/frame)",
                       err=True)
        return result


@click.command(name="pipeline")
@click.argument("csi", type=INPUT)
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
              help="Run directory for heatmap.nc, detections.nc, clusters.nc, "
                   "estimates-genie.nc, estimates-strongest.nc and cdf.png, made when the run "
                   "is complete. A non-empty directory is refused unless --force.")
@beamformer_option
@n_sources_option
@window_option
@click.option("--angle-bins", type=click.IntRange(min=2), default=64, show_default=True,
              help="Angle bins (fft: DFT length across the array).")
@click.option("--max-range", type=click.FloatRange(min=0, min_open=True),
              help="Largest range kept, m.")
@click.option("--doppler", is_flag=True,
              help="Also range-Doppler maps (needs a symbol dim) and cross-domain estimates.")
@click.option("--cfar-method", type=click.Choice(METHODS), default=DEFAULT_METHOD,
              show_default=True, help="CFAR noise estimator.")
@click.option("--guard", default=PAIR.format(*DEFAULT_GUARD), show_default=True, metavar="R,A",
              help="CFAR guard cells per side (range, angle).")
@click.option("--train", default=PAIR.format(*DEFAULT_TRAIN), show_default=True, metavar="R,A",
              help="CFAR training cells per side (range, angle).")
@click.option("--pfa", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              default=DEFAULT_PFA, show_default=True,
              help="Design false-alarm probability per cell. CFAR defaults are radarsp's one "
                   "(as radarsp cfar and the library).")
@click.option("--rank", type=click.IntRange(min=1), help="OS-CFAR rank (1-based).")
@cluster_options
@cross_domain_options(min_speed=0.25, when=" (with --doppler)")
@click.option("--n-boot", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Bootstrap resamples for the percentile intervals.")
@click.option("--chunk-frames", type=click.IntRange(min=1), default=256, show_default=True,
              help="Frames per chunk for the frame-wise stages (bounds memory).")
@scheduler_options
@click.option("--force", is_flag=True,
              help="Replace an earlier run directory (one holding only pipeline files).")
def command(csi, output, beamformer, n_sources, window_text, angle_bins, max_range, doppler,
            cfar_method, guard, train, pfa, rank, eps, min_samples, space, weights, range_tol,
            min_speed, n_boot, chunk_frames, scheduler, workers, force):
    """Run the statistical localiser on CSI (csi-1) and print its evaluation table.

    heatmap (range-angle power) -> 2-D CFAR -> DBSCAN -> genie-aided and strongest-cluster
    estimates -> 50th/90th percentile x-y errors (m) and miss rates against the truth the
    CSI file carries. Every intermediate file is written to the run directory. The heatmap and
    CFAR stages run --chunk-frames frames at a time (files larger than memory work), on threads
    or on a dask.distributed cluster (--workers N, --scheduler ADDRESS).

    The CFAR and DBSCAN defaults won a grid search on simulated parking-lot frames
    (benchmarks/bench_statistical.py); other scenes and radios need their own.
    """
    # Imported before any clock starts, so the cluster stage times DBSCAN and not the import.
    import sklearn.cluster  # noqa: F401

    from cli.evaluate import evaluate
    from radarsp.cluster import cluster
    from radarsp.errors import RadarspFileError
    from radarsp.io import atomic_path, open_csi, open_heatmap, save
    from radarsp.io.atomic import check_target
    from radarsp.match import cross_domain_match, genie_match, strongest
    from radarsp.plot import plot_error_cdf, save_figure

    # Every check runs before the run directory is made: refused input leaves nothing behind.
    window = parse_window(window_text)
    scale = parse_eps(eps, space)
    guard, train = parse_pair(guard, "--guard"), parse_pair(train, "--train")
    run_dir = Path(output)
    check_target(run_dir, force=force, directory=True, replaceable=foreign_files)
    scenes = open_csi(csi, chunks={"frame": chunk_frames})
    for name in ("target_x", "target_y"):
        if name not in scenes.variables:
            raise RadarspFileError(csi, name, "missing; the pipeline evaluates against the "
                                   "ground truth the CSI file carries")
    if scenes.sizes["frame"] == 0:
        raise RadarspFileError(csi, "csi", "has no frames")
    heat_options = dict(doppler=doppler, window=window, max_range=max_range,
                        beamformer=beamformer, angle_bins=angle_bins, n_sources=n_sources)
    heatmap = build_heatmap(csi, scenes, **heat_options)
    # the CFAR settings tried on the heatmap of the first frame (as `radarsp cfar` does)
    first = build_heatmap(csi, scenes.isel(frame=slice(0, 1)), **heat_options).load()
    cfar_options = dict(method=cfar_method, guard=guard, train=train, pfa=pfa, rank=rank)
    detect = checked_detector(first["power"], run_dir / "heatmap.nc", "power", **cfar_options)
    if doppler:
        # The velocity axis of a DFT over symbols is periodic: its training cells wrap.
        detect_doppler = checked_detector(first["doppler_power"], run_dir / "heatmap.nc",
                                          "doppler_power", dims=("range", "velocity"),
                                          edge=("truncate", "wrap"), **cfar_options)
    check_cfar_memory(heatmap["power"], chunk_frames, run_dir / "heatmap.nc")
    stages = _Stages(scenes.sizes["frame"], quiet())

    # The run is written into a partial directory that becomes OUTPUT only when complete, so
    # a failed or killed run never leaves a half-filled run directory.
    with atomic_path(run_dir, force=force, directory=True, replaceable=foreign_files) as partial:
        partial = Path(partial)
        heat_path = partial / "heatmap.nc"

        def write(ds, name, schema):
            save(ds, partial / name, schema=schema)

        with dask_client(scheduler, workers):
            stages.run("heatmap", lambda: save(heatmap, heat_path, progress=not quiet()))
            heat = open_heatmap(heat_path, chunks={"frame": chunk_frames})
            # Per-frame truth copied into every table the pipeline writes (camera images stay
            # in the heatmap file: repeating them in four tables would only cost disk).
            truth = heat[[n for n in FRAME_TRUTH if n in heat.variables]].load()
            det = stages.run("cfar", detect, heat["power"])
            if doppler:
                rd_det = detect_doppler(heat["doppler_power"])
            write(_with_truth(det, truth), "detections.nc", "detections-1")
            weights = None if weights == "none" else weights
            clusters = stages.run("cluster", cluster, det, eps=scale, min_samples=min_samples,
                                  space=space, weights=weights,
                                  use_dask=bool(scheduler or workers))
        write(_with_truth(clusters, truth), "clusters.nc", "clusters-1")
        named = stages.run("match", lambda: {
            "genie": genie_match(clusters, truth),
            "strongest": strongest(clusters, heat["frame"].values),
        })
        if doppler:
            write(_with_truth(rd_det, truth), "detections-doppler.nc", "detections-1")
            rd_clusters = cluster(rd_det, min_samples=min_samples, space="range-velocity",
                                  weights=weights)
            write(_with_truth(rd_clusters, truth), "clusters-doppler.nc", "clusters-1")
            named["cross-domain"] = cross_domain_match(clusters, rd_clusters,
                                                       range_tol=range_tol, min_speed=min_speed,
                                                       frames=heat["frame"].values)
        for method, estimates in named.items():
            write(add_truth(estimates, truth), f"estimates-{method}.nc", "estimates-1")
        errors, table = evaluate(named, truth, n_boot=n_boot)
        save_figure(plot_error_cdf(errors), partial / "cdf.png")
        heat.close()
    click.echo(table)
    if not quiet():
        click.echo(f"wrote {len(os.listdir(run_dir))} files to {run_dir}", err=True)


#: the files a run directory holds (estimates-<method>.nc besides)
RUN_FILES = ("heatmap.nc", "detections.nc", "clusters.nc", "detections-doppler.nc",
             "clusters-doppler.nc", "cdf.png")


def foreign_files(run_dir: Path) -> str | None:
    """Why ``run_dir`` must not be replaced by a new run: a file the pipeline does not write
    (replacing the directory would delete it), or None."""
    for entry in sorted(os.listdir(run_dir)):
        if entry not in RUN_FILES and not (entry.startswith("estimates-")
                                           and entry.endswith(".nc")):
            return f"holds {entry}, which radarsp pipeline does not write"
    return None
