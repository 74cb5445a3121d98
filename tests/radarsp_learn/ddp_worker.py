"""Run under ``torchrun --nproc_per_node 2``: train MCL with DDP and record each rank's weights.

Arguments: DATA RUN_DIR OUT_DIR. Each rank writes OUT_DIR/rank<k>.pt with the parameters of the
module it wrapped in DistributedDataParallel, after training, so the test can check that DDP
was used and that every rank ends with one and the same model.
"""

import sys
from pathlib import Path

import torch

from radarsp_learn.distributed import process_group
from radarsp_learn.train import TrainConfig, train

wrapped = []


class _Recording(torch.nn.parallel.DistributedDataParallel):
    def __init__(self, module, *args, **kwargs):
        super().__init__(module, *args, **kwargs)
        wrapped.append(module)


torch.nn.parallel.DistributedDataParallel = _Recording

data, run_dir, out_dir = sys.argv[1:4]
config = TrainConfig(objective="mcl", epochs=2, batch_size=8, seed=0, cache=False,
                     radio_widths=(4, 8), vision_widths=(4, 8), feature_dim=8,
                     projector_hidden=16, embed_dim=8, grid_shape=(16, 16), image_shape=(16, 16))
with process_group("cpu") as (rank, world):
    train(config, data, run_dir, progress=False)
    params = [p.detach().clone() for p in wrapped[0].parameters()] if wrapped else []
    torch.save({"world": world, "params": params}, Path(out_dir) / f"rank{rank}.pt")
