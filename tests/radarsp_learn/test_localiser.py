"""The localiser: soft-argmax geometry, overfitting ten frames, the flip augmentation, predict."""

import numpy as np
import pytest
import torch

from radarsp_learn.data import RadioVisualFrames, truth_cells
from radarsp_learn.grid import Grid
from radarsp_learn.localiser import LocaliserObjective, predict
from radarsp_learn.models import Backbone, Localiser, Projector, soft_argmax


def test_shapes():
    assert Backbone(3, widths=(8, 8), feature_dim=4)(torch.zeros(2, 3, 32, 32)).shape == (
        2, 4, 8, 8)
    assert Projector(4 * 8 * 8, hidden=16, out=8)(torch.zeros(2, 4, 8, 8)).shape == (2, 8)
    assert Localiser(width=8)(torch.zeros(3, 1, 32, 24)).shape == (3, 2)


def test_soft_argmax_of_a_peaked_map_is_its_argmax():
    logits = torch.randn(5, 7, 9) * 0.1
    logits[torch.arange(5), torch.tensor([0, 6, 3, 2, 1]), torch.tensor([8, 0, 4, 2, 7])] = 50
    assert soft_argmax(logits).round().tolist() == [[0, 8], [6, 0], [3, 4], [2, 2], [1, 7]]


def test_localiser_overfits_ten_frames(scenes):
    torch.manual_seed(0)
    data = RadioVisualFrames(scenes, frames=np.arange(0, 80, 8), grid_shape=(32, 32),
                             with_camera=False)
    data.labels = torch.as_tensor(truth_cells(scenes, data.grid)[data.frames])
    objective = LocaliserObjective(Localiser(width=16), loss="mse")
    optimiser = torch.optim.Adam(objective.parameters(), lr=3e-3)
    batch = data.batch(torch.arange(10))
    for _ in range(150):
        out = objective(batch)
        optimiser.zero_grad()
        out["loss"].backward()
        optimiser.step()
    objective.eval()
    with torch.no_grad():
        error = (objective.localiser(batch["heatmap"]) - batch["label"]).norm(dim=1)
    assert float(error.max()) < 0.5  # cells of the 32 x 32 model grid


def test_flip_augmentation_mirrors_heatmap_and_label():
    heatmap = torch.zeros(1, 1, 8, 8)
    heatmap[0, 0, 2, 1] = 1
    label = torch.tensor([[2.0, 1.0]])

    class Recorder(torch.nn.Module):
        def forward(self, x):
            self.seen = x
            flat = x[:, 0].reshape(len(x), -1).argmax(1)
            return torch.stack([flat // 8, flat % 8], 1).float()

    recorder = Recorder()
    objective = LocaliserObjective(recorder, flip_angle=True).train()
    columns = set()
    for seed in range(6):  # each sample is flipped or not; either way label and map agree
        torch.manual_seed(seed)
        assert float(objective({"heatmap": heatmap, "label": label})["loss"]) == 0.0
        impulse = torch.nonzero(recorder.seen[0, 0]).tolist()
        assert impulse in ([[2, 1]], [[2, 6]])  # as given, or mirrored in angle (8 columns)
        columns.add(impulse[0][1])
    assert columns == {1, 6}  # some seeds flipped the impulse and some did not


def test_unlabelled_frames_are_ignored():
    objective = LocaliserObjective(Localiser(width=8))
    batch = {"heatmap": torch.rand(3, 1, 16, 16),
             "label": torch.tensor([[1.0, 2.0], [float("nan"), 1.0], [3.0, 3.0]])}
    assert torch.isfinite(objective(batch)["loss"])


def test_batch_without_labels_gives_a_zero_loss_that_backpropagates():
    objective = LocaliserObjective(Localiser(width=8), flip_angle=True).train()
    batch = {"heatmap": torch.rand(3, 1, 16, 16), "label": torch.full((3, 2), float("nan"))}
    out = objective(batch)
    assert float(out["loss"].detach()) == 0.0 and float(out["cell_error"]) == 0.0
    out["loss"].backward()
    grads = [p.grad for p in objective.parameters()]
    assert all(g is not None and not g.any() for g in grads)


def test_epoch_metrics_weigh_batches_by_their_labelled_frames(scenes):
    from radarsp_learn.train import TrainConfig, run_epoch

    labels = truth_cells(scenes, Grid.from_dataset(scenes, (32, 32)))
    labels[4:16] = np.nan  # batch 0: 4 of 8 frames labelled; batch 1: none
    data = RadioVisualFrames(scenes, frames=np.arange(16), grid_shape=(32, 32),
                             labels=labels, with_camera=False)
    torch.manual_seed(0)
    objective = LocaliserObjective(Localiser(width=8)).eval()
    config = TrainConfig(objective="localiser", batch_size=8)
    metrics = run_epoch(objective, data, config=config, epoch=0)
    with torch.no_grad():
        first = objective(data.batch(torch.arange(8)))
    assert metrics["loss"] == pytest.approx(float(first["loss"]))
    assert metrics["cell_error"] == pytest.approx(float(first["cell_error"]))
    # training through the unlabelled batch works too
    optimizer = torch.optim.AdamW(objective.parameters())
    metrics = run_epoch(objective, data, config=config, epoch=0, optimizer=optimizer)
    assert np.isfinite(metrics["loss"])


def test_predict_writes_one_row_per_frame(scenes):
    data = RadioVisualFrames(scenes, frames=np.arange(5), grid_shape=(32, 32),
                             with_camera=False)
    table = predict(Localiser(width=8), data, method="test", labels_used=0,
                    camera_geometry="none", batch_size=2)
    assert table.sizes["frame"] == 5 and table.attrs["method"] == "test"
    np.testing.assert_allclose(np.hypot(table["x"], table["y"]), table["range"])
