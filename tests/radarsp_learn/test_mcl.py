"""Masked contrastive learning: InfoNCE, queues, momentum encoders, equation 1."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from radarsp_learn.data import RadioVisualFrames, batch_order
from radarsp_learn.objectives import build_objective
from radarsp_learn.objectives.mcl import info_nce, momentum_update
from radarsp_learn.train import TrainConfig

SMALL = dict(grid_shape=(32, 32), image_shape=(32, 32), radio_widths=(16, 32),
             vision_widths=(16, 32), feature_dim=16, projector_hidden=64, embed_dim=32)


def info_nce_reference(query, positive, negatives, temperature):
    """-log softmax of the positive, one query at a time, as equation 1 writes it."""
    losses = []
    for q, k_pos, k_neg in zip(query, positive, negatives, strict=True):
        numerator = math.exp(float(q @ k_pos) / temperature)
        denominator = numerator + sum(math.exp(float(q @ k) / temperature) for k in k_neg)
        losses.append(-math.log(numerator / denominator))
    return sum(losses) / len(losses)


def test_info_nce_matches_equation():
    g = torch.Generator().manual_seed(0)
    query = F.normalize(torch.randn(6, 8, generator=g), dim=1)
    key = F.normalize(torch.randn(6, 8, generator=g), dim=1)
    queue = F.normalize(torch.randn(10, 8, generator=g), dim=1)
    loss, _ = info_nce(query, key, queue, temperature=0.2)
    assert float(loss) == pytest.approx(info_nce_reference(query, key, [queue] * 6, 0.2), rel=1e-5)
    loss, _ = info_nce(query, key, temperature=0.2)  # in-batch: the other keys are negatives
    in_batch = [torch.cat([key[:i], key[i + 1:]]) for i in range(6)]
    assert float(loss) == pytest.approx(info_nce_reference(query, key, in_batch, 0.2), rel=1e-5)


def test_info_nce_offset_selects_global_positive():
    key = F.normalize(torch.randn(8, 64, generator=torch.Generator().manual_seed(0)), dim=1)
    loss, accuracy = info_nce(key[4:], key, temperature=0.01, offset=4)
    assert float(accuracy) == 1.0 and float(loss) < 1e-3


@pytest.mark.parametrize("queue_size", [0, 48])
def test_loss_is_log_k_plus_one_at_initialisation(scenes, queue_size):
    torch.manual_seed(0)
    objective = build_objective(TrainConfig(queue_size=queue_size))  # default sizes
    data = RadioVisualFrames(scenes)
    objective.prepare(data.batch(b) for b in batch_order(len(data), 16, seed=0))
    objective.eval()
    with torch.no_grad():
        loss = np.mean([float(objective(data.batch(b))["loss"])
                        for b in batch_order(len(data), 16, seed=1)])
    k = queue_size or 15
    # chance level: all similarities about equal (a logit spread sigma adds ~sigma^2 / 2)
    assert loss == pytest.approx(math.log(k + 1), rel=0.1)


def test_loss_falls_on_a_tiny_set(scenes):
    torch.manual_seed(0)
    # at tau = 0.1 a perfect fit takes the loss to ~0 (at the default 0.5 its floor is ~1.0)
    objective = build_objective(TrainConfig(momentum=0.9, temperature=0.1, **SMALL))
    data = RadioVisualFrames(scenes, frames=np.arange(32), grid_shape=(32, 32),
                             image_shape=(32, 32))
    optimiser = torch.optim.Adam([p for p in objective.parameters() if p.requires_grad], 2e-3)
    losses = []
    for step in range(15):
        for positions in batch_order(32, 16, seed=0, epoch=step):
            loss = objective(data.batch(positions))["loss"]
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            objective.after_step()
            losses.append(float(loss.detach()))
    assert losses[0] > 0.9 * math.log(16)
    assert np.mean(losses[-4:]) < 0.3 * math.log(16)


def test_queue_is_a_ring_buffer_updated_only_in_training():
    objective = build_objective(TrainConfig(queue_size=5, **SMALL))
    batch = {"heatmap": torch.rand(3, 1, 32, 32), "image": torch.randn(3, 3, 32, 32),
             "mask": torch.ones(3, 1, 32, 32)}
    objective.eval()
    objective(batch)
    assert int(objective.queue_pointer) == 0 and objective.queue_radio.abs().sum() == 0
    objective.train()
    objective(batch)
    objective(batch)
    assert int(objective.queue_pointer) == 1  # 6 keys into 5 slots
    key_radio, _ = objective.keys(batch["heatmap"], objective.masked_image(batch))
    torch.testing.assert_close(objective.queue_radio[0], key_radio[2])
    torch.testing.assert_close(objective.queue_radio[3], key_radio[0])


def test_momentum_update_is_an_ema():
    target, source = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    expected = 0.9 * target.weight.detach().clone() + 0.1 * source.weight.detach()
    momentum_update(target, source, 0.9)
    torch.testing.assert_close(target.weight.detach(), expected)


def test_mask_hides_everything_outside_the_box():
    objective = build_objective(TrainConfig(**SMALL))
    image = torch.randn(2, 3, 32, 32)
    mask = torch.zeros(2, 1, 32, 32)
    mask[:, :, 4:9, 10:20] = 1
    other = image.clone()
    other[:, :, 20:] = 0  # change pixels outside the box only
    a = objective.embed_vision(objective.masked_image({"image": image, "mask": mask}))
    b = objective.embed_vision(objective.masked_image({"image": other, "mask": mask}))
    torch.testing.assert_close(a, b)
