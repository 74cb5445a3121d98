"""`radarsp simulate --engine raytrace`: ray-traced frames written in resumable blocks.

Ray tracing runs at about a frame per second, so a long run must survive a kill. Each block of
whole sequences is written, atomically, as its own file in ``<output>.blocks/`` beside the
output, with the run's settings in ``settings.json``; running the same command again skips
the blocks already there. When every block is written they are joined into the output
(atomically) and the directory is removed. The directory is locked while a run writes it, so
two runs cannot interleave.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import shutil
import sys
import time
from pathlib import Path

import click
import numpy as np


def blocks_dir(output) -> Path:
    """Where the blocks of ``output`` are kept until the run ends."""
    path = Path(output)
    return path.with_name(path.name + ".blocks")


def _settings(options: dict, frames: int, block: int) -> dict:
    plain = {k: (np.asarray(v).tolist() if isinstance(v, (np.ndarray, tuple)) else v)
             for k, v in options.items()}
    return {"frames": frames, "block": block, **plain}


@contextlib.contextmanager
def _locked(folder: Path):
    with open(folder / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise click.ClickException(f"{folder}: another radarsp simulate is writing these "
                                       "blocks; wait for it to finish") from None
        yield


def simulate_in_blocks(options: dict, frames: int, block: int, output, *, force: bool,
                       progress: bool) -> None:
    """Ray-trace ``frames`` frames in blocks of ``block`` into ``output`` (see the module)."""
    import xarray as xr

    from radarsp.io import open_csi, save
    from radarsp.simulate.raytrace import require_sionna, simulate_raytrace

    try:
        require_sionna(options["device"])
    except (ImportError, ValueError) as err:
        raise click.ClickException(str(err)) from None
    folder = blocks_dir(output)
    settings = _settings(options, frames, block)
    if folder.exists() and force:
        shutil.rmtree(folder)
    folder.mkdir(exist_ok=True)
    with _locked(folder):
        recorded = folder / "settings.json"
        if recorded.exists():
            if json.loads(recorded.read_text()) != settings:
                raise click.ClickException(
                    f"{folder}: blocks of a run with other settings; run that command again "
                    "to finish it, or pass --force to start afresh")
        else:
            recorded.write_text(json.dumps(settings, indent=1) + "\n")
        starts = list(range(0, frames, block))
        todo = [s for s in starts if not (folder / f"block-{s:09d}.nc").exists()]
        done_frames = sum(min(block, frames - s) for s in starts if s not in todo)
        bar = _Progress(frames, done_frames, enabled=progress)
        for start in todo:
            count = min(block, frames - start)
            ds = simulate_raytrace(**options, frames=count, start=start,
                                   progress=lambda n, base=bar.done: bar.update(base + n))
            save(ds, folder / f"block-{start:09d}.nc", force=True)
            bar.block_written(start + count)
        bar.close()
        parts = [open_csi(folder / f"block-{s:09d}.nc") for s in starts]
        joined = xr.concat(parts, dim="frame", data_vars="all", coords="minimal",
                           compat="override", combine_attrs="override") if len(parts) > 1 \
            else parts[0]
        save(joined, output, force=force, progress=progress)
        for part in parts:
            part.close()
    shutil.rmtree(folder)


class _Progress:
    """Frames done: a bar on a terminal, otherwise a line per block (with frames/s)."""

    def __init__(self, total: int, done: int, *, enabled: bool):
        self.total, self.done, self.first = total, done, done
        self.enabled, self.start = enabled, time.perf_counter()
        self.tty = enabled and sys.stderr.isatty()
        self.bar = None
        if self.tty:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=done, unit="frame", desc="ray tracing",
                            file=sys.stderr)

    def update(self, done: int) -> None:
        if self.bar is not None:
            self.bar.update(done - self.done)
        self.done = done

    def block_written(self, end: int) -> None:
        if self.enabled and not self.tty:
            click.echo(f"ray traced frames up to {end} of {self.total}", err=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.enabled:
            seconds = time.perf_counter() - self.start
            rate = (self.done - self.first) / seconds if seconds > 0 else float("nan")
            click.echo(f"ray traced {self.done - self.first} frames in {seconds:.0f} s "
                       f"({rate:.2f} frames/s)", err=True)
