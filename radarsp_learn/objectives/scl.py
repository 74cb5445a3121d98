"""Spatial contrastive learning (SCL): contrast per spatial location of the radio feature map.

The paper's appendix C adapts the 2-D contrastive objective of audio-visual localisation
(H. Chen et al., "Localizing Visual Sounds the Hard Way", CVPR 2021, "LVS") to radio and
vision. Here the masked target plays the role of the sound and the radio scene the role of the
image to search. With L2-normalised radio features ``f^r_n(r)`` per bin ``n`` of the h x w grid
and the masked target's vision vector ``v = normalise(sum_n w_n f^v_n(gamma ⊙ v) / sum_n w_n)``
(``w_n`` the fraction of bin ``n`` the mask covers; both backbones also see every cell's
row and column as input channels, so ``v`` carries where the target is in the image -- the
only thing radio can match), the similarity map of radio frame ``i`` and vision frame ``j`` is

    S_ij(n) = f^r_n(r_i) . v_j,

and the frame's own map ``S_ii`` splits softly into a positive and a hard-negative region,

    m_p(S) = sigmoid((S - eps_p) / tau_m),   m_n = 1 - sigmoid((S_ii - eps_n) / tau_m),
    E_ij = <m_p(S_ij), S_ij> / |m_p(S_ij)|,   P_i = E_ii,   N_i = <m_n, S_ii> / |m_n|,

so the target must light up in *one region* of its own radio map and nowhere else, and more
strongly than any other frame's target lights up anywhere in it. With the other frames of the
batch as easy negatives (pooled over their own positive regions, as in LVS's code),

    L_{v->r} = -E_i log exp(P_i / tau)
               / (exp(P_i / tau) + exp(N_i / tau) + sum_{j != i} exp(E_ij / tau)),

``L_{r->v}`` likewise over the vision frames j (radio frames i != j as easy negatives), and
``L_SCL = (L_{v->r} + L_{r->v}) / 2`` -- bidirectional like equation 1. There are no
projectors and no momentum encoders: SCL is the cheaper objective the paper contrasts with
MCL's 2-layer projector. Its self-label is the peak of ``S_ii`` (:func:`self_label_cells`),
the attention map SCL is trained to make peaky, so it needs no attribution.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from radarsp_learn.models import Backbone, coordinate_channels
from radarsp_learn.objective import Objective

# LVS's settings (Chen et al. 2021, section 4): positive and negative thresholds of the
# cosine similarity and the sharpness of the soft region masks.
POSITIVE_THRESHOLD, NEGATIVE_THRESHOLD, MASK_TEMPERATURE = 0.65, 0.4, 0.03


def region_logits(similarity: torch.Tensor, *, positive_threshold: float,
                  negative_threshold: float, mask_temperature: float):
    """Positive, hard-negative and easy-negative scores of a batch of similarity maps.

    Parameters
    ----------
    similarity : Tensor, shape (B, B, h, w)
        ``S_ij(n)``: radio frame ``i`` against vision frame ``j``.
    positive_threshold, negative_threshold, mask_temperature : float
        eps_p, eps_n and tau_m of the soft region masks.

    Returns
    -------
    positive, hard : Tensor, shape (B,)
        ``P_i`` and ``N_i`` of the frame's own map.
    easy : Tensor, shape (B, B)
        ``E_ij``: every pair's map pooled over its own positive region, as ``P_i`` is (its
        diagonal is ``P``). Pooling negatives the same way as the positive is what keeps the
        loss from being solved by peaky maps alone (a plain mean would always lose to the
        positive region's mean).
    """
    batch = similarity.shape[0]
    tiny = torch.finfo(similarity.dtype).tiny
    positive_mask = torch.sigmoid((similarity - positive_threshold) / mask_temperature)
    pooled = (positive_mask * similarity).sum((2, 3)) / positive_mask.sum((2, 3)).clamp_min(tiny)
    own = similarity[torch.arange(batch), torch.arange(batch)]
    negative_mask = 1.0 - torch.sigmoid((own - negative_threshold) / mask_temperature)
    hard = (negative_mask * own).sum((1, 2)) / negative_mask.sum((1, 2)).clamp_min(tiny)
    return torch.diagonal(pooled), hard, pooled


def spatial_info_nce(positive: torch.Tensor, hard: torch.Tensor, easy: torch.Tensor, *,
                     temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    """One-sided SCL loss: ``-mean_i log softmax([P_i, N_i, E_ij (j != i)] / tau)[0]``.

    Parameters
    ----------
    positive, hard : Tensor, shape (B,)
    easy : Tensor, shape (B, B)
        Row ``i`` holds query ``i``'s easy negatives; the diagonal is left out.
    temperature : float

    Returns
    -------
    loss, accuracy : Tensor, scalar
        Accuracy is the fraction of queries whose positive scores highest.

    Examples
    --------
    >>> loss, _ = spatial_info_nce(torch.zeros(3), torch.zeros(3), torch.zeros(3, 3),
    ...                            temperature=0.1)
    >>> round(float(loss), 4) == round(float(torch.log(torch.tensor(4.0))), 4)
    True
    """
    batch = easy.shape[0]
    off_diagonal = ~torch.eye(batch, dtype=torch.bool, device=easy.device)
    negatives = easy[off_diagonal].view(batch, batch - 1)
    logits = torch.cat([positive[:, None], hard[:, None], negatives], dim=1) / temperature
    target = torch.zeros(batch, dtype=torch.long, device=easy.device)
    loss = F.cross_entropy(logits, target)
    accuracy = (logits.argmax(dim=1) == 0).float().mean()
    return loss, accuracy


class SpatialContrastive(Objective):
    """Bidirectional LVS-style spatial contrast of radio maps against masked-target vectors.

    Parameters
    ----------
    radio_backbone, vision_backbone : nn.Module
        f_r, (B, 1, H, W) -> (B, C, h, w), and f_v, (B, 3, H', W') -> (B, C, h', w').
    temperature : float
        tau of the contrast.
    positive_threshold, negative_threshold, mask_temperature : float
        eps_p, eps_n, tau_m of the soft region masks (module docstring).

    Examples
    --------
    >>> from radarsp_learn.train import TrainConfig
    >>> scl = SpatialContrastive.from_config(TrainConfig(objective="scl"))
    >>> batch = {"heatmap": torch.rand(4, 1, 64, 64), "image": torch.randn(4, 3, 64, 64),
    ...          "mask": torch.ones(4, 1, 64, 64)}
    >>> sorted(scl(batch))
    ['accuracy', 'loss', 'loss_r2v', 'loss_v2r']
    >>> scl.attention_maps(batch).shape
    torch.Size([4, 8, 8])
    """

    needs_camera = True

    def __init__(self, radio_backbone: torch.nn.Module, vision_backbone: torch.nn.Module, *,
                 temperature: float = 0.07, positive_threshold: float = POSITIVE_THRESHOLD,
                 negative_threshold: float = NEGATIVE_THRESHOLD,
                 mask_temperature: float = MASK_TEMPERATURE):
        super().__init__()
        self.radio_backbone = radio_backbone
        self.vision_backbone = vision_backbone
        self.temperature = float(temperature)
        self.thresholds = dict(positive_threshold=float(positive_threshold),
                               negative_threshold=float(negative_threshold),
                               mask_temperature=float(mask_temperature))

    @classmethod
    def from_config(cls, config) -> SpatialContrastive:
        """Build f_r, f_v from a :class:`~radarsp_learn.train.TrainConfig`; eps_p, eps_n,
        tau_m may be set in ``config.extra`` as ``scl_positive_threshold``,
        ``scl_negative_threshold`` and ``scl_mask_temperature``."""
        extra = config.extra or {}
        return cls(
            Backbone(1 + 2, widths=config.radio_widths, feature_dim=config.feature_dim),
            Backbone(3 + 2, widths=config.vision_widths, feature_dim=config.feature_dim),
            temperature=config.temperature,
            positive_threshold=extra.get("scl_positive_threshold", POSITIVE_THRESHOLD),
            negative_threshold=extra.get("scl_negative_threshold", NEGATIVE_THRESHOLD),
            mask_temperature=extra.get("scl_mask_temperature", MASK_TEMPERATURE),
        )

    def radio_map(self, heatmap: torch.Tensor) -> torch.Tensor:
        """f^r(r) normalised per bin, shape (B, C, h, w); the backbone sees each cell's
        (row, col) as two extra channels (:func:`~radarsp_learn.models.coordinate_channels`)."""
        return F.normalize(self.radio_backbone(coordinate_channels(heatmap)), dim=1)

    def vision_vector(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """v: the masked image's features averaged over the mask's bins, normalised, (B, C).

        The backbone sees ``gamma ⊙ v`` plus each pixel's (row, col) as two unmasked channels,
        so the pooled vector says *where* the target is in the image as well as what it looks
        like -- radio cannot see colour, only position and extent, and an average over the
        mask would otherwise forget the position (MCL keeps it by flattening). A frame with
        an empty mask (no box) averages over the whole grid.
        """
        features = self.vision_backbone(coordinate_channels(image * mask))
        weights = F.adaptive_avg_pool2d(mask.float(), features.shape[-2:])
        empty = weights.sum((1, 2, 3)) == 0
        weights = torch.where(empty.view(-1, 1, 1, 1), torch.ones_like(weights), weights)
        pooled = (features * weights).sum((2, 3)) / weights.sum((2, 3))
        return F.normalize(pooled, dim=1)

    def similarity(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """``S_ij(n)`` for every radio frame i and vision frame j, shape (B, B, h, w)."""
        radio = self.radio_map(batch["heatmap"])
        vision = self.vision_vector(batch["image"], batch["mask"])
        return torch.einsum("ichw,jc->ijhw", radio, vision)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        similarity = self.similarity(batch)
        positive, hard, easy = region_logits(similarity, **self.thresholds)
        loss_v2r, acc_v2r = spatial_info_nce(positive, hard, easy, temperature=self.temperature)
        loss_r2v, acc_r2v = spatial_info_nce(positive, hard, easy.T,
                                             temperature=self.temperature)
        return {
            "loss": (loss_v2r + loss_r2v) / 2,
            "loss_v2r": loss_v2r.detach(),
            "loss_r2v": loss_r2v.detach(),
            "accuracy": ((acc_v2r + acc_r2v) / 2).detach(),
        }

    @torch.no_grad()
    def attention_maps(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Each frame's own similarity map ``S_ii``, shape (B, h, w) on the radio feature grid."""
        radio = self.radio_map(batch["heatmap"])
        vision = self.vision_vector(batch["image"], batch["mask"])
        return torch.einsum("bchw,bc->bhw", radio, vision)


def self_label_cells(objective: SpatialContrastive, data, *, smoothing: int = 1,
                     batch_size: int = 128, progress: bool = False) -> np.ndarray:
    """SCL self-labels of every frame of ``data`` as model-grid ``(row, col)``, shape (n, 2).

    The peak of ``S_ii`` (refined to sub-cell precision by
    :func:`radarsp_learn.selflabel.refine_peak`) on the h x w feature grid, rescaled to the
    model grid by :func:`radarsp_learn.grid.rescale_index`. Uses camera and box, never truth.
    """
    from radarsp_learn.data import batch_order, progress_bar, to_device
    from radarsp_learn.grid import rescale_index
    from radarsp_learn.selflabel import refine_peak, smooth

    objective.eval()
    rows_out, cols_out = data.grid.shape
    out = []
    for positions in progress_bar(batch_order(len(data), batch_size, seed=0, shuffle=False),
                                  enabled=progress, desc="SCL self-label"):
        maps = objective.attention_maps(to_device(data.batch(positions), objective))
        peaks = refine_peak(smooth(maps, smoothing)).cpu().numpy()
        rows, cols = maps.shape[-2:]
        out.append(np.stack([rescale_index(peaks[:, 0], rows, rows_out),
                             rescale_index(peaks[:, 1], cols, cols_out)], axis=1))
    return np.concatenate(out) if out else np.zeros((0, 2))
