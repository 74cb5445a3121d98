"""`radarsp`: the command-line front end of the core toolkit.

Each subcommand lives in its own module (``cli/<name>.py`` exposing ``command``) and is
imported only when it is run, so ``radarsp --help`` stays fast.
"""

from __future__ import annotations

import importlib
import logging

import click

from cli.common import radarsp_version, run_guarded

# subcommand name -> module under cli/ that defines `command`
SUBCOMMANDS = {
    "simulate": "cli.simulate",
    "info": "cli.info",
    "heatmap": "cli.heatmap",
    "cfar": "cli.cfar",
    "cluster": "cli.cluster",
    "match": "cli.match",
    "evaluate": "cli.evaluate",
    "plot": "cli.plot",
    "pipeline": "cli.pipeline",
    "convert": "cli.convert",
    "track": "cli.track",
}

SHORT_HELP = {
    "simulate": "Synthesise paired radio-visual scenes (csi-1).",
    "info": "Describe a radarsp file: schema, dims, radio parameters.",
    "heatmap": "CSI -> range-angle (and range-Doppler) power maps.",
    "cfar": "CFAR detection on heatmaps (CA, GO, SO, OS).",
    "cluster": "DBSCAN clustering of detections.",
    "match": "Genie-aided or strongest-cluster estimates.",
    "evaluate": "Localisation error percentiles of estimate files.",
    "plot": "Plot a heatmap frame with detections and truth.",
    "pipeline": "heatmap -> cfar -> cluster -> match -> evaluate in one go.",
    "convert": "Convert foreign radar formats to radarsp files.",
    "track": "Per-sequence tracks of estimates (optionally a car's centre).",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def __init__(self, *args, lazy: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx):
        available = [n for n, m in self.lazy.items() if importlib.util.find_spec(m) is not None]
        return sorted(set(super().list_commands(ctx)) | set(available))

    def get_command(self, ctx, name):
        if name in self.lazy:
            try:
                module = importlib.import_module(self.lazy[name])
            except ModuleNotFoundError as err:
                if err.name == self.lazy[name]:
                    return None
                raise
            return run_guarded(module.command)
        return super().get_command(ctx, name)

    def format_commands(self, ctx, formatter):
        rows = [(n, SHORT_HELP.get(n, "")) for n in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, lazy=SUBCOMMANDS)
@click.version_option(radarsp_version(), prog_name="radarsp")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr; no progress bars.")
@click.pass_context
def main(ctx, verbose, quiet):
    """radarsp: OFDM radar heatmaps, CFAR, clustering and matching on netCDF files.

    Angles are in degrees on the command line and radians in files; power is linear in
    files. Every command refuses to overwrite an output without --force.
    """
    level = (
        logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    )
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = {"quiet": quiet}


if __name__ == "__main__":
    main()
