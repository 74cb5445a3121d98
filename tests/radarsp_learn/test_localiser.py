"""The localiser: soft-argmax geometry, overfitting ten frames, the flip augmentation, predict."""

import numpy as np
import torch

from radarsp_learn.data import RadioVisualFrames, truth_cells
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

    objective = LocaliserObjective(Recorder(), flip_angle=True).train()
    for seed in range(6):  # each sample is flipped or not; either way label and map agree
        torch.manual_seed(seed)
        assert float(objective({"heatmap": heatmap, "label": label})["loss"]) == 0.0


def test_unlabelled_frames_are_ignored():
    objective = LocaliserObjective(Localiser(width=8))
    batch = {"heatmap": torch.rand(3, 1, 16, 16),
             "label": torch.tensor([[1.0, 2.0], [float("nan"), 1.0], [3.0, 3.0]])}
    assert torch.isfinite(objective(batch)["loss"])


def test_predict_writes_one_row_per_frame(scenes):
    data = RadioVisualFrames(scenes, frames=np.arange(5), grid_shape=(32, 32),
                             with_camera=False)
    table = predict(Localiser(width=8), data, method="test", batch_size=2)
    assert table.sizes["frame"] == 5 and table.attrs["method"] == "test"
    np.testing.assert_allclose(np.hypot(table["x"], table["y"]), table["range"])
