"""Vanilla contrastive learning: the MCL objective with the visual mask switched off."""

import math

import pytest
import torch

from radarsp_learn.data import RadioVisualFrames
from radarsp_learn.objectives import build_objective
from radarsp_learn.objectives.cl import Contrastive
from radarsp_learn.train import TrainConfig

SMALL = dict(grid_shape=(32, 32), image_shape=(32, 32), radio_widths=(16, 32),
             vision_widths=(16, 32), feature_dim=16, projector_hidden=64, embed_dim=32)


def test_cl_is_registered_and_ignores_the_mask(scenes):
    torch.manual_seed(0)
    cl = build_objective(TrainConfig(objective="cl", **SMALL)).eval()
    assert isinstance(cl, Contrastive) and not cl.mask_vision
    batch = RadioVisualFrames(scenes, grid_shape=(32, 32), image_shape=(32, 32)).batch(
        torch.arange(8))
    with torch.no_grad():
        loss = cl(batch)["loss"]
        loss_other_mask = cl({**batch, "mask": torch.zeros_like(batch["mask"])})["loss"]
    assert torch.equal(loss, loss_other_mask)


def test_mcl_with_the_same_weights_depends_on_the_mask(scenes):
    torch.manual_seed(0)
    cl = build_objective(TrainConfig(objective="cl", **SMALL)).eval()
    mcl = build_objective(TrainConfig(objective="mcl", **SMALL)).eval()
    mcl.load_state_dict(cl.state_dict())
    batch = RadioVisualFrames(scenes, grid_shape=(32, 32), image_shape=(32, 32)).batch(
        torch.arange(8))
    with torch.no_grad():
        assert not torch.equal(mcl(batch)["loss"], cl(batch)["loss"])
        assert torch.equal(mcl({**batch, "mask": torch.ones_like(batch["mask"])})["loss"],
                           cl(batch)["loss"])


def test_loss_is_log_k_plus_one_at_initialisation_and_falls(scenes):
    torch.manual_seed(0)
    cl = build_objective(TrainConfig(objective="cl", **SMALL))
    data = RadioVisualFrames(scenes, grid_shape=(32, 32), image_shape=(32, 32))
    batch = data.batch(torch.arange(16))
    cl.eval()
    with torch.no_grad():
        initial = float(cl(batch)["loss"])
    assert initial == pytest.approx(math.log(16), rel=0.05)  # K = 15 in-batch negatives
    optimizer = torch.optim.Adam([p for p in cl.parameters() if p.requires_grad], lr=1e-3)
    for _ in range(25):
        cl.train()
        loss = cl(batch)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        cl.after_step()
    cl.eval()
    with torch.no_grad():
        assert float(cl(batch)["loss"]) < 0.7 * initial
