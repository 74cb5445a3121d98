"""`radarsp-learn`: train MCL and localisers, self-label and predict (the torch extension).

torch is imported only inside the subcommands, so ``radarsp-learn --help`` is fast; without
torch every subcommand says how to install the extra and exits with status 1.
"""

from __future__ import annotations

import logging
import sys

import click

from cli.common import (
    FINITE,
    INPUT,
    POSITIVE,
    check_output,
    device_option,
    force_option,
    output_option,
    quiet,
    radarsp_version,
    run_guarded,
    torch_available,
)

INSTALL_HINT = ("radarsp-learn needs PyTorch, which is not installed; install the extra with:  "
                "pip install 'radarsp[learn]'")


@click.group()
@click.version_option(radarsp_version(), prog_name="radarsp-learn")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
@click.option("-q", "--quiet", "quiet_", is_flag=True,
              help="Only errors on stderr; no progress bars.")
@click.pass_context
def main(ctx, verbose, quiet_):
    """radarsp-learn: self-supervised radio localisation from paired radio-visual data.

    \b
    Typical flow (masked contrastive learning, paper "Look, Radiate, and Learn"):
      radarsp-learn train --objective mcl data.nc -o runs/mcl
      radarsp-learn selflabel runs/mcl data.nc -o selflabels.nc
      radarsp-learn train --objective localiser --labels selflabels.nc data.nc -o runs/loc
      radarsp-learn predict runs/loc data.nc -o estimates.nc
      radarsp evaluate estimates.nc --truth data.nc

    Input files are heatmap-1 (power in linear units; range in m, angle in rad) carrying the
    camera `image` and `target_box`. Outputs are estimates-1 tables (range m, angle rad, x/y m).
    """
    levels = (logging.WARNING, logging.INFO, logging.DEBUG)
    level = logging.ERROR if quiet_ else levels[min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = {"quiet": quiet_}
    if not torch_available():
        click.echo(f"Error: {INSTALL_HINT}", err=True)
        sys.exit(1)


_EXPLICIT = (click.core.ParameterSource.COMMANDLINE, click.core.ParameterSource.ENVIRONMENT)


def _flag(setting: str) -> str:
    """The option of a TrainConfig field: ``batch_size`` -> ``batch-size``."""
    return setting.replace("_", "-")


def _fail(err: Exception):
    """A problem with the user's inputs that is not a usage error: one line, status 1."""
    raise click.ClickException(str(err)) from err


@main.command("train")
@click.argument("data", type=INPUT)
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
              help="Run directory (config.json, last.pt, best.pt, metrics.jsonl).")
@click.option("--objective", default="mcl", show_default=True,
              help="mcl (self-supervised backbone), scl (spatial contrastive), cl (contrastive "
                   "without the visual mask), localiser (on --labels self-labels), "
                   "supervised (on ground truth: the upper-bound baseline), or another "
                   "objective registered in radarsp_learn.objectives.")
@click.option("--labels", type=INPUT,
              help="estimates-1 self-labels for --objective localiser.")
@click.option("--epochs", type=click.IntRange(min=1),
              help="Maximum epochs; early stopping on held-out loss may end sooner. "
                   "[default: mcl 12, localiser/supervised 10; on --resume the run's]")
@click.option("--batch-size", type=click.IntRange(min=2),
              help="Frames per step. [default: mcl 128, localiser/supervised 64]")
@click.option("--lr", type=POSITIVE,
              help="AdamW learning rate. [default: mcl 1e-3, localiser/supervised 2e-3]")
@click.option("--seed", type=int,
              help="Seed of initialisation, split and batch order. [default: 0]")
@click.option("--val-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="Fraction of sequences held out for early stopping. [default: 0.1]")
@click.option("--mask-padding", type=FINITE,
              help="Pixels the visual target mask grows by (negative shrinks). [default: 0]")
@click.option("--queue-size", type=click.IntRange(min=0),
              help="MoCo queue of K negatives; 0 uses in-batch negatives. [default: 0]")
@click.option("--set", "settings", multiple=True, metavar="NAME=VALUE",
              help="Any other training setting (a TrainConfig field), e.g. --set feature_dim=32 "
                   "--set grid_shape=32,32; repeatable.")
@device_option
@click.option("--resume", is_flag=True,
              help="Continue the run in OUTPUT from its last checkpoint with its own settings "
                   "and data (DATA must be that file, unchanged), up to its own epochs (a "
                   "larger --epochs extends it). A run that never finished an epoch starts "
                   "again.")
@force_option
def train_command(data, output, objective, labels, epochs, batch_size, lr, seed, val_fraction,
                  mask_padding, queue_size, settings, device, resume, force):
    """Train an objective on the heatmap-1 file DATA.

    \b
    On stderr: a progress bar in a terminal, one summary line per epoch otherwise (-q: none).
    A loss that turns NaN or infinite stops the run (exit status 1) at its last checkpoint.
    """
    from radarsp_learn.distributed import process_group
    from radarsp_learn.train import ConfigError, TrainConfig, parse_settings, train

    given = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed,
             "val_fraction": val_fraction, "mask_padding": mask_padding,
             "queue_size": queue_size}
    options = {"objective": objective, "labels": labels, "device": device, **given}
    ctx = click.get_current_context()
    if resume:  # the run's own settings: anything else asked for would be silently ignored
        for name in (*options, "settings"):
            if name != "epochs" and ctx.get_parameter_source(name) in _EXPLICIT:
                raise click.UsageError(f"--{'set' if name == 'settings' else _flag(name)} "
                                       "cannot change a resumed run's settings (only --epochs "
                                       "can extend it); start afresh with --force instead")
    if objective == "localiser" and labels is None and not resume:
        raise click.UsageError("--objective localiser needs --labels SELFLABELS.nc")
    try:
        extra = parse_settings(settings)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--set") from err
    for name in extra:
        if name in options:
            raise click.BadParameter(f"{name} has its own option: use --{_flag(name)}",
                                     param_hint="--set")
    try:
        config = TrainConfig(**extra, **{k: v for k, v in options.items() if v is not None})
    except ConfigError as err:
        hint = f"--{_flag(err.setting)}" if err.setting in options else "--set"
        raise click.BadParameter(str(err), param_hint=hint) from err
    # Under `torchrun --nproc_per_node N` this joins the process group and trains with DDP.
    with process_group(device) as (rank, _):
        try:
            summary = train(config, data, output, resume=resume, force=force,
                            progress=not quiet() and rank == 0)
        except ValueError as err:
            _fail(err)
    if rank:
        return
    click.echo(f"{output}: {summary['epochs_run']} epochs, best held-out loss "
               f"{summary['best_loss']:.4f} at epoch {summary['best_epoch']}, "
               f"{summary['labels_used']} ground-truth labels used, "
               f"{summary['seconds']:.0f} s")


@main.command("selflabel")
@click.argument("run", type=click.Path(exists=True, file_okay=False))
@click.argument("data", type=INPUT)
@output_option()
@click.option("--method", type=click.Choice(["attribution", "gradient_x_activation", "conv"]),
              default="attribution", show_default=True,
              help="Attention map: input x gradient on the heatmap, gradient x activation on "
                   "radio features, or the paper's equation-2 conv2d.")
@click.option("--smoothing", type=click.IntRange(min=1), default=3, show_default=True,
              help="Box size (map cells) averaged before the peak search.")
@click.option("--peak", type=click.Choice(["heatmap", "attribution"]), default="heatmap",
              show_default=True,
              help="heatmap: climb from the attention peak to the radar heatmap's nearest local "
                   "maximum (radar input only); attribution: the attention map's own peak.")
@click.option("--angle", type=click.Choice(["attention", "camera"]), default="attention",
              show_default=True,
              help="attention: the peak's own angle (the paper's MCL self-label; no camera "
                   "model). camera: camera-ray fusion, NOT MCL -- the angle of the camera box's "
                   "centre ray at the peak's range (pinhole intrinsics and pose from the image "
                   "attrs), written as method camera-ray-fusion-selflabel. No labels either way.")
@click.option("--calibrate-with-labels", "calibration_labels", type=click.IntRange(min=0),
              default=0, show_default=True,
              help="Fit the one-off systematic-offset calibration on the ground truth of this "
                   "many frames (NOT label-free; recorded as labels_used in the output).")
@click.option("--track", is_flag=True,
              help="Temporal consistency: replace each frame's label by its sequence's "
                   "constant-velocity track (MSAC fit; needs the sequence and time "
                   "coordinates). Label-free; method <objective>-track-selflabel.")
@click.option("--prior", type=click.Choice(["car", "car-face"]),
              help="With --track, a named prior: the label is moved to the centre of a 4.5 m x "
                   "1.8 m car along the track's heading, read as the car's point nearest the "
                   "radar (car: a corner when seen obliquely, as radarsp's point scatterers "
                   "return) or as the middle of its face turned to the radar (car-face, as "
                   "ray-traced cars return). Label-free; method "
                   "<objective>-track-<prior>-selflabel.")
@device_option
@force_option
def selflabel_command(run, data, output, method, smoothing, peak, angle, calibration_labels,
                      track, prior, device, force):
    """Self-label every frame of DATA with the MCL run RUN (camera + box, no ground truth)."""
    from radarsp_learn.train import run_selflabel

    check_output(output, force)
    if prior and not track:
        raise click.UsageError(f"--prior {prior} needs --track (the box's heading is its track's)")
    try:
        run_selflabel(run, data, output, method=method, smoothing=smoothing, peak=peak,
                      angle=angle, calibration_labels=calibration_labels, track=track,
                      prior=prior, force=force, progress=not quiet(), device=device)
    except ValueError as err:
        _fail(err)
    _echo_span(output, data)


def _echo_span(output, data) -> None:
    """Say where the self-labels lie, and warn when they have collapsed to one point."""
    from radarsp.io import open_estimates, open_heatmap
    from radarsp_learn.selflabel import label_span

    with open_estimates(output) as estimates, open_heatmap(data) as heatmap:
        text, collapsed = label_span(estimates, heatmap)
    click.echo(f"wrote {output}: labels in {text}")
    if collapsed:
        click.echo(f"Warning: {output}: the self-labels lie within about one model-grid cell "
                   f"({text}); the model's attention has collapsed unless the target never "
                   "moves",
                   err=True)


@main.command("teacher")
@click.argument("data", type=INPUT)
@output_option()
@click.option("--select", type=click.Choice(["ground", "ray"]), default="ground",
              show_default=True,
              help="ground: among the CFAR clusters within --gate of the box's centre ray, the "
                   "one nearest the camera's ground-plane fix of the box's bottom; ray: the "
                   "cluster nearest the ray.")
@click.option("--gate", type=POSITIVE, default=2.0, show_default=True,
              help="m from the ray, for --select ground.")
@force_option
def teacher_command(data, output, select, gate, force):
    """RODNet-style teacher labels of DATA: radar CFAR clusters picked by camera box rays.

    
    Label-free (0 labels) but a camera-radar fusion: it uses the pinhole camera's intrinsics
    and pose from the image attrs (camera_geometry in the output). Train the student on them:
      radarsp-learn teacher data.nc -o teacher.nc
      radarsp-learn train --objective localiser --labels teacher.nc data.nc -o runs/student
      radarsp-learn predict runs/student val.nc -o student.nc   # method rodnet-student
    CFAR and DBSCAN run at radarsp's defaults (radarsp cfar --help).
    """
    import numpy as np

    from radarsp.io import open_heatmap, save
    from radarsp_learn.teacher import teacher_labels

    check_output(output, force)
    try:
        labels = teacher_labels(open_heatmap(data).load(), select=select, gate=gate)
    except ValueError as err:
        _fail(err)
    save(labels, output, schema="estimates-1", force=force)
    found = int(np.isfinite(labels["range"].values).sum())
    click.echo(f"wrote {output}: {found} of {labels.sizes['frame']} frames labelled")


@main.command("camera-ground")
@click.argument("data", type=INPUT)
@output_option()
@force_option
def camera_ground_command(data, output, force):
    """Camera-only baseline: each box's bottom centre projected onto the ground plane.

    No radar and no labels; uses the pinhole camera's intrinsics and pose from the image
    attrs. A reference row for what the camera geometry alone gives.
    """
    from radarsp.io import open_heatmap, save
    from radarsp_learn.teacher import camera_ground_estimates

    check_output(output, force)
    estimates = camera_ground_estimates(open_heatmap(data))
    save(estimates, output, schema="estimates-1", force=force)
    click.echo(f"wrote {output}")


@main.command("predict")
@click.argument("run", type=click.Path(exists=True, file_okay=False))
@click.argument("data", type=INPUT)
@output_option()
@device_option
@force_option
def predict_command(run, data, output, device, force):
    """Radio-only target estimates for every frame of DATA with the localiser run RUN."""
    from radarsp_learn.train import run_predict

    check_output(output, force)
    try:
        run_predict(run, data, output, force=force, progress=not quiet(), device=device)
    except ValueError as err:
        _fail(err)
    click.echo(f"wrote {output}")


def _register_reproduce() -> None:
    from cli.learn_reproduce import command as reproduce

    main.add_command(reproduce, "reproduce")


_register_reproduce()
for _command in main.commands.values():
    run_guarded(_command)


if __name__ == "__main__":
    main()
