"""Run under ``torchrun --nproc_per_node 2``: rank 1 alone sees a NaN loss at its third step.

Arguments: DATA RUN_DIR OUT_DIR. Each rank writes OUT_DIR/rank<k>.txt with how its training
ended, so the test can check that both ranks stopped on the divergence (neither waited in a
collective for the other) at the same step.
"""

import sys
from pathlib import Path

import torch
from torch import distributed

from radarsp_learn.distributed import process_group
from radarsp_learn.localiser import LocaliserObjective
from radarsp_learn.train import TrainConfig, TrainingDiverged, train

steps = []
forward = LocaliserObjective.forward


def poisoned(self, batch):
    out = forward(self, batch)
    if self.training:
        steps.append(1)
        if distributed.get_rank() == 1 and len(steps) == 3:
            out["loss"] = out["loss"] * float("nan")
    return out


LocaliserObjective.forward = poisoned
data, run_dir, out_dir = sys.argv[1:4]
config = TrainConfig(objective="supervised", epochs=3, batch_size=4, seed=0, patience=5,
                     val_fraction=0.25, localiser_width=8, grid_shape=(16, 16))
with process_group("cpu") as (rank, world):
    try:
        train(config, data, run_dir, progress=False)
        outcome = "finished"
    except TrainingDiverged as err:
        outcome = f"diverged after {len(steps)} steps: {err}"
    Path(out_dir, f"rank{rank}.txt").write_text(outcome)
    assert torch.distributed.is_initialized()
