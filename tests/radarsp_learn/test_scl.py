"""Spatial contrastive learning: region pooling, the loss against its equation, training."""

import math

import numpy as np
import pytest
import torch

from radarsp_learn.data import RadioVisualFrames
from radarsp_learn.objectives import build_objective
from radarsp_learn.objectives.scl import (
    SpatialContrastive,
    region_logits,
    self_label_cells,
    spatial_info_nce,
)
from radarsp_learn.train import TrainConfig

SMALL = dict(objective="scl", grid_shape=(32, 32), image_shape=(32, 32), radio_widths=(16, 32),
             vision_widths=(16, 32), feature_dim=16)
THRESHOLDS = dict(positive_threshold=0.65, negative_threshold=0.4, mask_temperature=0.03)


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def scl_reference(similarity, temperature):
    """Both directions of the SCL loss, one query and one map cell at a time."""
    s = similarity.tolist()
    batch = len(s)

    def pool(grid, weight):
        values = [v for row in grid for v in row]
        return sum(weight(v) * v for v in values) / sum(weight(v) for v in values)

    def pos_weight(v):
        return sigmoid((v - 0.65) / 0.03)

    def neg_weight(v):
        return 1.0 - sigmoid((v - 0.4) / 0.03)

    easy = [[pool(s[i][j], pos_weight) for j in range(batch)] for i in range(batch)]
    hard = [pool(s[i][i], neg_weight) for i in range(batch)]
    total = 0.0
    for transpose in (False, True):
        for i in range(batch):
            negatives = [easy[j][i] if transpose else easy[i][j] for j in range(batch) if j != i]
            logits = [easy[i][i], hard[i], *negatives]
            total += -math.log(math.exp(logits[0] / temperature)
                               / sum(math.exp(v / temperature) for v in logits))
    return total / (2 * batch)


def test_loss_matches_reference():
    g = torch.Generator().manual_seed(1)
    similarity = torch.rand(4, 4, 3, 5, generator=g) * 1.4 - 0.4
    positive, hard, easy = region_logits(similarity, **THRESHOLDS)
    loss = (spatial_info_nce(positive, hard, easy, temperature=0.2)[0]
            + spatial_info_nce(positive, hard, easy.T, temperature=0.2)[0]) / 2
    assert float(loss) == pytest.approx(scl_reference(similarity, 0.2), rel=1e-5)


def test_regions_split_a_peaky_map():
    similarity = torch.full((2, 2, 6, 6), 0.1)
    similarity[0, 0, 2, 3] = 0.95
    positive, hard, easy = region_logits(similarity, **THRESHOLDS)
    assert float(positive[0]) == pytest.approx(0.95, abs=1e-3)  # the lit cell
    assert float(hard[0]) == pytest.approx(0.1, abs=1e-3)       # everything else
    assert torch.equal(torch.diagonal(easy), positive)


def test_vision_vector_sees_only_the_masked_target(scenes):
    torch.manual_seed(0)
    scl = build_objective(TrainConfig(**SMALL)).eval()
    batch = RadioVisualFrames(scenes, grid_shape=(32, 32), image_shape=(32, 32)).batch([0, 1])
    outside = batch["image"] + 5.0 * (1 - batch["mask"])
    with torch.no_grad():
        v = scl.vision_vector(batch["image"], batch["mask"])
        v_outside = scl.vision_vector(outside, batch["mask"])
    assert torch.allclose(v, v_outside)


def test_loss_is_log_of_logit_count_at_initialisation(scenes):
    data = RadioVisualFrames(scenes, grid_shape=(32, 32), image_shape=(32, 32))
    losses = []
    for seed in range(3):
        torch.manual_seed(seed)
        scl = build_objective(TrainConfig(**SMALL)).eval()
        with torch.no_grad():
            losses.append(float(scl(data.batch(torch.arange(16)))["loss"]))
    # 1 positive + 1 hard + 15 easy negatives: chance is ln(17)
    assert np.mean(losses) == pytest.approx(math.log(17), rel=0.1)


def test_loss_falls_on_a_tiny_set_and_self_labels_land_on_the_grid(scenes):
    torch.manual_seed(0)
    scl = build_objective(TrainConfig(temperature=0.1, **SMALL))  # loss floor ~0 at tau 0.1
    assert isinstance(scl, SpatialContrastive)
    data = RadioVisualFrames(scenes, grid_shape=(32, 32), image_shape=(32, 32))
    optimizer = torch.optim.Adam(scl.parameters(), lr=1e-3)
    batch = data.batch(torch.arange(24))
    losses = []
    for _ in range(30):
        scl.train()
        loss = scl(batch)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0]
    cells = self_label_cells(scl, data)
    assert cells.shape == (len(data), 2)
    # peaks of the 8 x 8 feature grid, rescaled: cell centres 1.5 ... 29.5, +-0.5 cell refinement
    assert cells.min() >= 1.5 - 2.0 and cells.max() <= 29.5 + 2.0


def test_train_command_runs_scl(scenes_file, tmp_path):
    from click.testing import CliRunner

    from cli.learn import main

    result = CliRunner().invoke(main, [
        "-q", "train", "--objective", "scl", scenes_file, "-o", str(tmp_path / "run"),
        "--epochs", "1", "--batch-size", "16", "--set", "grid_shape=32,32",
        "--set", "image_shape=32,32", "--set", "radio_widths=8,16", "--set", "vision_widths=8,16",
        "--set", "feature_dim=8"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "best.pt").exists()
    # camera-ray angles are for MCL self-labels: refused in one line, nothing written
    result = CliRunner().invoke(main, ["-q", "selflabel", str(tmp_path / "run"), scenes_file,
                                       "-o", str(tmp_path / "sl.nc"), "--angle", "camera"])
    assert result.exit_code == 1 and "MCL" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "sl.nc").exists()
