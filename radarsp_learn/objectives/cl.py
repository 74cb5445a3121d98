"""Vanilla cross-modal contrastive learning (CL), the paper's baseline without the visual mask.

CL is equation 1 with ``gamma = 1``: the same momentum encoders, projectors and bidirectional
InfoNCE as :class:`~radarsp_learn.objectives.mcl.MaskedContrastive`, but the vision encoder
sees the whole camera frame, in training and in self-labelling alike. Nothing tells the
encoders which part of the scene the radio should agree on, so the embedding is free to match
radio and vision on the scene's static layout (parked cars, buildings) rather than on the
target -- the paper's Table 5 finds CL far worse than MCL (3.11 m vs 0.94 m median).

References: M. Alloulah et al., "Look, Radiate, and Learn", CVPR 2023, sections 6.2 and
Table 5; T. Chen et al., "A Simple Framework for Contrastive Learning of Visual
Representations", ICML 2020.
"""

from __future__ import annotations

from radarsp_learn.objectives.mcl import MaskedContrastive


class Contrastive(MaskedContrastive):
    """:class:`MaskedContrastive` with the visual mask switched off.

    Takes the parameters of :class:`MaskedContrastive` except ``mask_vision``, which is
    always ``False``.

    Examples
    --------
    >>> import torch
    >>> from radarsp_learn.train import TrainConfig
    >>> cl = Contrastive.from_config(TrainConfig(objective="cl"))
    >>> batch = {"heatmap": torch.rand(4, 1, 64, 64), "image": torch.randn(4, 3, 64, 64),
    ...          "mask": torch.zeros(4, 1, 64, 64)}
    >>> bool(torch.equal(cl.masked_image(batch), batch["image"]))
    True
    """

    def __init__(self, *args, **kwargs):
        kwargs["mask_vision"] = False
        super().__init__(*args, **kwargs)
