"""The localiser objective (paper section 4.3) and radio-only prediction.

One network (:class:`radarsp_learn.models.Localiser`) and one loss serve two roles:

* trained on self-labels it is the MCL localiser (objective ``"localiser"``);
* trained on ground truth it is the supervised baseline and upper bound (``"supervised"``).

The paper trains with MSE. Self-labels are noisy with heavy tails (an attention peak on a parked
car is metres off), and a network trained with MSE on them memorises the outliers; the default
here is the Huber loss (quadratic within ``huber_delta`` cells, linear beyond), with weight
decay, early stopping on held-out (self-)labels and a mirror augmentation that respects the
radar geometry: when the angle bins are symmetric about boresight, flipping the heatmap's angle
axis is the scene seen in a mirror, and the label's column flips with it.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from radarsp_learn.data import (
    RadioVisualFrames,
    batch_order,
    estimates_dataset,
    progress_bar,
    to_device,
)
from radarsp_learn.models import Localiser
from radarsp_learn.objective import Objective


class LocaliserObjective(Objective):
    """Regression of the target's model-grid ``(row, col)`` from the heatmap.

    Parameters
    ----------
    localiser : nn.Module
        (B, 1, H, W) -> (B, 2) model-grid cells.
    loss : {"huber", "mse"}
        ``"mse"`` is the paper's choice; ``"huber"`` is robust to self-label outliers.
    huber_delta : float
        Cells where the Huber loss turns from quadratic to linear.
    flip_angle : bool
        Mirror half the training batches in angle (only valid for symmetric angle bins;
        the training loop turns it on when :attr:`Grid.symmetric_in_angle` holds).

    Frames whose label is NaN (unlabelled) are left out of the loss; a batch without any
    labelled frame gives a zero loss (the training loop weights batches by labelled frames).

    Examples
    --------
    >>> objective = LocaliserObjective(Localiser())
    >>> batch = {"heatmap": torch.rand(2, 1, 64, 64), "label": torch.tensor([[3.0, 4], [5, 6]])}
    >>> sorted(objective(batch))
    ['cell_error', 'loss']
    """

    needs_labels = True

    def __init__(self, localiser: torch.nn.Module, *, loss: str = "huber",
                 huber_delta: float = 1.0, flip_angle: bool = False):
        super().__init__()
        if loss not in ("huber", "mse"):
            raise ValueError(f"loss must be 'huber' or 'mse', got {loss!r}")
        self.localiser = localiser
        self.loss = loss
        self.huber_delta = float(huber_delta)
        self.flip_angle = flip_angle

    @classmethod
    def from_config(cls, config) -> LocaliserObjective:
        """Build from a :class:`~radarsp_learn.train.TrainConfig`."""
        return cls(Localiser(width=config.localiser_width, dilations=config.localiser_dilations),
                   loss=config.loss, huber_delta=config.huber_delta)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        heatmap, label = batch["heatmap"], batch["label"]
        valid = torch.isfinite(label).all(dim=1)
        if not valid.any():
            # No labelled frame: a zero loss that still passes through every parameter (a
            # backward pass and DistributedDataParallel's gradient reduction work as usual).
            zero = self.localiser(heatmap).sum() * 0.0
            return {"loss": zero, "cell_error": zero.detach()}
        heatmap, label = heatmap[valid], label[valid]
        if self.training and self.flip_angle:
            flip = torch.rand(heatmap.shape[0]) < 0.5
            cols = heatmap.shape[-1]
            heatmap = torch.where(flip.view(-1, 1, 1, 1), heatmap.flip(-1), heatmap)
            label = torch.stack([label[:, 0], torch.where(flip, cols - 1 - label[:, 1],
                                                          label[:, 1])], dim=1)
        predicted = self.localiser(heatmap)
        if self.loss == "huber":
            loss = F.huber_loss(predicted, label, delta=self.huber_delta)
        else:
            loss = F.mse_loss(predicted, label)
        error = (predicted - label).detach().norm(dim=1).mean()
        return {"loss": loss, "cell_error": error}


@torch.no_grad()
def predict_cells(localiser: torch.nn.Module, data: RadioVisualFrames, *,
                  batch_size: int = 256, progress: bool = False) -> np.ndarray:
    """Model-grid ``(row, col)`` predicted for every frame of ``data``, shape (n, 2)."""
    localiser.eval()
    out = []
    for positions in progress_bar(batch_order(len(data), batch_size, seed=0, shuffle=False),
                                  enabled=progress, desc="predict"):
        batch = to_device(data.batch(positions), localiser)
        out.append(localiser(batch["heatmap"]).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 2), dtype=np.float32)


def predict(localiser: torch.nn.Module, data: RadioVisualFrames, *, method: str,
            labels_used: int, camera_geometry: str, batch_size: int = 256,
            progress: bool = False, attrs: dict | None = None):
    """Radio-only position estimates for every frame of ``data`` as an estimates-1 dataset.

    Parameters
    ----------
    localiser : nn.Module
        Trained :class:`~radarsp_learn.models.Localiser`.
    data : RadioVisualFrames
        Frames to localise (camera not needed).
    method : str
        ``method`` attr of the table (e.g. ``"mcl-localiser"``).
    labels_used, camera_geometry : int, str
        What the localiser's training used (its labels' provenance, :func:`estimates_dataset`).

    Returns
    -------
    xarray.Dataset
        estimates-1: ``range`` (m), ``angle`` (rad), ``x``, ``y`` (m), ``power`` (NaN) per frame.
    """
    cells = predict_cells(localiser, data, batch_size=batch_size, progress=progress)
    range_m, angle_rad = data.grid.to_polar(cells[:, 0], cells[:, 1])
    return estimates_dataset(data.frame_ids, range_m, angle_rad, method=method,
                             labels_used=labels_used, camera_geometry=camera_geometry,
                             attrs=attrs)
