"""`radarsp-learn reproduce`: the paper's whole study (baselines, ablations, sweeps), its report."""

from __future__ import annotations

import click

from cli.common import INPUT, device_option, force_option, quiet, run_guarded


@click.command("reproduce")
@click.option("--config", "config_name", type=click.Choice(["small", "medium", "paper"]),
              default="small", show_default=True,
              help="Study size: small (1,200 training frames, short sweeps; 4 min on 2 idle "
                   "cores, 20 min on 2 busy ones), medium (3,000 frames, longer sweeps) or "
                   "paper (24,000 training / 6,000 validation frames as in the paper, "
                   "64 x 64 grid, the paper's sweeps; hours on CPU).")
@click.option("--data", type=INPUT,
              help="heatmap-1 file with camera (image, target_box) and ground truth to use "
                   "instead of simulated parking-lot frames; split by sequence.")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
              help="Study directory; report.md and figures/ land here. Finished stages found "
                   "in it are not recomputed (rerun to resume).")
@device_option
@click.option("--threads", type=click.IntRange(min=1),
              help="torch CPU threads (default: torch's choice). On a machine shared with "
                   "other jobs, 1 avoids threads spinning against each other.")
@force_option
def command(config_name, data, output, device, threads, force):
    """Reproduce the paper's tables 4-7 and figures 5-8 into OUTPUT/report.md.

    \b
    Trains and scores, on one training and one validation set: the supervised localiser,
    MCL, SCL and CL backbones with their localisers, the RODNet-style teacher/student,
    genie-aided CFAR, MCL/SCL with estimated masks (background subtraction, noise model),
    the label-count, mask-padding and feature-dimension sweeps, and the self-label
    deviation (Wasserstein, KL, MI). Errors are x-y metres; angles in the report are degrees.
    --force deletes this study's earlier artefacts in OUTPUT and starts afresh.
    """
    from radarsp_learn.reproduce import reproduce

    if threads:
        import torch

        torch.set_num_threads(threads)
    try:
        report = reproduce(config_name, output, data=data, force=force, device=device,
                           progress=not quiet())
    except ValueError as err:
        raise click.ClickException(str(err)) from err
    click.echo(f"wrote {report}")


run_guarded(command)


if __name__ == "__main__":
    command()
