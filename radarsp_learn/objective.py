"""The interface every training objective implements (see :mod:`radarsp_learn.objectives`).

Its own module, below both the objectives' registry and the objectives themselves (MCL, SCL,
CL, the localiser), so none of them imports the registry that imports them.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn


class Objective(nn.Module):
    """Base class of training objectives (see the module docstring for the interface)."""

    needs_camera: bool = False
    needs_labels: bool = False

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def after_step(self) -> None:
        """Called after each optimiser step; nothing by default."""

    def prepare(self, batches: Iterable[dict[str, torch.Tensor]]) -> None:
        """Called once before training starts (not on resume); nothing by default."""
