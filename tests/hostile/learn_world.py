"""Tiny inputs for the radarsp-learn hostile tests: a 32-frame heatmap-1 file with camera and
truth, networks sized for 16 x 16 grids, and finished runs to damage (seconds each)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "radarsp_learn"))

from learn_scenes import make_scenes  # noqa: E402

#: ``--set`` sizes of a network that trains in a second
SIZES = ("grid_shape=16,16", "image_shape=16,16", "radio_widths=8,16", "vision_widths=8,16",
         "feature_dim=8", "projector_hidden=16", "embed_dim=8", "localiser_width=8")
SMALL = ["--epochs", "1", "--batch-size", "8", "--val-fraction", "0.25",
         *[arg for size in SIZES for arg in ("--set", size)]]


def write_scenes(path, *, frames: int = 32, seed: int = 0, edit=None) -> Path:
    """A heatmap-1 file of ``frames`` frames (sequences of 8); ``edit(ds)`` may damage it."""
    from radarsp.io import save

    ds = make_scenes(frames, seed=seed)
    if edit is not None:
        edit(ds)
    save(ds, path, schema="heatmap-1")
    return Path(path)


def train_args(objective: str, data, run, *extra) -> list[str]:
    """``radarsp-learn -q train`` arguments of a one-epoch run of ``objective``."""
    return ["-q", "train", "--objective", objective, *SMALL, *extra, str(data), "-o", str(run)]


def copy_run(source, target) -> Path:
    """A copy of a finished run directory to damage."""
    shutil.copytree(source, target)
    return Path(target)


def edit_config(run, change) -> None:
    """Apply ``change(meta)`` to a run's ``config.json`` (a hand edit)."""
    path = Path(run) / "config.json"
    meta = json.loads(path.read_text())
    change(meta)
    path.write_text(json.dumps(meta))


def strict_records(path) -> list[dict]:
    """Every line of a ``metrics.jsonl`` parsed as strict JSON (``NaN`` is not JSON)."""
    def refuse(constant):
        raise AssertionError(f"{path}: {constant} is not JSON")
    return [json.loads(line, parse_constant=refuse) for line in Path(path).read_text()
            .splitlines()]
