"""Masked contrastive learning (MCL), the paper's equation 1.

For a radio heatmap r and the masked image gamma ⊙ v,

    q^r = g_r(f_r(r)),        k^v = g_v(f̄_v(gamma ⊙ v)),
    q^v = g_v(f_v(gamma ⊙ v)), k^r = g_r(f̄_r(r)),

where f̄ are momentum (EMA) copies of the backbones, ``f̄ <- m f̄ + (1 - m) f`` after every
step, and keys carry no gradient (MoCo). With similarities ``sim(x, y) = x.y / tau`` of
L2-normalised vectors and K negatives per direction,

    L_{v->r} = -E log exp(sim(q^r, k^v+)) / (exp(sim(q^r, k^v+)) + sum_i exp(sim(q^r, k^v-_i)))
    L_{r->v} = likewise with q^v and radio keys,
    L_MCL = (L_{v->r} + L_{r->v}) / 2.

Negatives are either a MoCo queue of the last K keys of each modality (``queue_size=K``) or,
with ``queue_size=0``, the other keys of the (global) batch, K = B - 1. The projectors g are
shared between query and key paths exactly as the equations write them (only the backbones
have momentum copies).

References: M. Alloulah et al., "Look, Radiate, and Learn", CVPR 2023, eq. 1; K. He et al.,
"Momentum Contrast for Unsupervised Visual Representation Learning", CVPR 2020.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from radarsp_learn.models import Backbone, Projector
from radarsp_learn.objective import Objective


def info_nce(
    query: torch.Tensor, key: torch.Tensor, negatives: torch.Tensor | None = None, *,
    temperature: float, offset: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One-sided InfoNCE of L2-normalised queries against their positive keys.

    Parameters
    ----------
    query : Tensor, shape (B, N)
        Queries q (unit vectors).
    key : Tensor, shape (B', N)
        Keys. Without ``negatives``: all keys of the global batch, query ``b``'s positive is
        ``key[offset + b]`` and the other B' - 1 keys are its negatives. With ``negatives``:
        B' = B and ``key[b]`` is query ``b``'s positive.
    negatives : Tensor, shape (K, N), optional
        Queue of negative keys shared by all queries.
    temperature : float
        tau in ``sim(x, y) = x.y / tau``.
    offset : int
        Position of this process's queries in the global batch (distributed training).

    Returns
    -------
    loss : Tensor, scalar
        ``-mean_b log softmax(logits_b)[positive]``.
    accuracy : Tensor, scalar
        Fraction of queries whose positive has the largest similarity.

    Examples
    --------
    >>> q = F.normalize(torch.ones(4, 8), dim=1)
    >>> loss, _ = info_nce(q, q, temperature=0.1)
    >>> round(float(loss), 4) == round(float(torch.log(torch.tensor(4.0))), 4)
    True
    """
    if negatives is None:
        logits = query @ key.T
        target = torch.arange(query.shape[0], device=query.device) + offset
    else:
        positive = (query * key).sum(dim=1, keepdim=True)
        logits = torch.cat([positive, query @ negatives.T], dim=1)
        target = torch.zeros(query.shape[0], dtype=torch.long, device=query.device)
    logits = logits / temperature
    loss = F.cross_entropy(logits, target)
    accuracy = (logits.argmax(dim=1) == target).float().mean()
    return loss, accuracy


def _distributed() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


@torch.no_grad()
def gather_keys(keys: torch.Tensor) -> tuple[torch.Tensor, int]:
    """All keys of the global batch and the offset of this process's keys in it.

    Every process must hold the same number of keys (the training loop shards batches
    evenly). Without torch.distributed this is ``(keys, 0)``.
    """
    if not _distributed() or torch.distributed.get_world_size() == 1:
        return keys, 0
    parts = [torch.empty_like(keys) for _ in range(torch.distributed.get_world_size())]
    torch.distributed.all_gather(parts, keys.contiguous())
    return torch.cat(parts), torch.distributed.get_rank() * keys.shape[0]


@torch.no_grad()
def momentum_update(target: nn.Module, source: nn.Module, momentum: float) -> None:
    """EMA of parameters: ``target <- m target + (1 - m) source``."""
    for t, s in zip(target.parameters(), source.parameters(), strict=True):
        t.mul_(momentum).add_(s.detach(), alpha=1.0 - momentum)


class MaskedContrastive(Objective):
    """Bidirectional masked InfoNCE (equation 1) with momentum encoders and optional queues.

    Parameters
    ----------
    radio_backbone, vision_backbone : nn.Module
        f_r and f_v, (B, 1, H, W) -> (B, C, h, w) and (B, 3, H', W') -> (B, C, h, w).
    radio_projector, vision_projector : nn.Module
        g_r and g_v, (B, C, h, w) -> (B, N).
    temperature : float
        tau.
    momentum : float
        m of the EMA backbones (0 copies the live weights every step).
    queue_size : int
        K negatives per direction from a MoCo queue; 0 uses in-batch negatives (K = B - 1).
    embed_dim : int
        N, needed to allocate the queues.
    mask_vision : bool
        Multiply the image by the target mask gamma (MCL); ``False`` gives vanilla
        cross-modal contrastive learning (the paper's CL baseline).

    Examples
    --------
    >>> from radarsp_learn.train import TrainConfig
    >>> mcl = MaskedContrastive.from_config(TrainConfig(objective="mcl"))
    >>> batch = {"heatmap": torch.rand(4, 1, 64, 64), "image": torch.randn(4, 3, 64, 64),
    ...          "mask": torch.ones(4, 1, 64, 64)}
    >>> sorted(mcl(batch))
    ['accuracy', 'loss', 'loss_r2v', 'loss_v2r']
    """

    needs_camera = True

    def __init__(
        self, radio_backbone: nn.Module, vision_backbone: nn.Module,
        radio_projector: nn.Module, vision_projector: nn.Module, *, temperature: float = 0.07,
        momentum: float = 0.99, queue_size: int = 0, embed_dim: int = 128,
        mask_vision: bool = True,
    ):
        super().__init__()
        self.radio_backbone = radio_backbone
        self.vision_backbone = vision_backbone
        self.radio_projector = radio_projector
        self.vision_projector = vision_projector
        self.radio_backbone_ema = copy.deepcopy(radio_backbone).requires_grad_(False)
        self.vision_backbone_ema = copy.deepcopy(vision_backbone).requires_grad_(False)
        self.temperature = float(temperature)
        self.momentum = float(momentum)
        self.mask_vision = mask_vision
        self.queue_size = int(queue_size)
        self.register_buffer("queue_radio", torch.zeros(self.queue_size, embed_dim))
        self.register_buffer("queue_vision", torch.zeros(self.queue_size, embed_dim))
        self.register_buffer("queue_pointer", torch.zeros((), dtype=torch.long))

    @classmethod
    def from_config(cls, config) -> MaskedContrastive:
        """Build f_r, f_v, g_r, g_v sized by a :class:`~radarsp_learn.train.TrainConfig`."""
        radio = Backbone(1, widths=config.radio_widths, feature_dim=config.feature_dim)
        vision = Backbone(3, widths=config.vision_widths, feature_dim=config.feature_dim)
        radio_cells = ((config.grid_shape[0] // radio.stride)
                       * (config.grid_shape[1] // radio.stride))
        vision_cells = ((config.image_shape[0] // vision.stride)
                        * (config.image_shape[1] // vision.stride))
        return cls(
            radio, vision,
            Projector(config.feature_dim * radio_cells, hidden=config.projector_hidden,
                      out=config.embed_dim),
            Projector(config.feature_dim * vision_cells, hidden=config.projector_hidden,
                      out=config.embed_dim),
            temperature=config.temperature, momentum=config.momentum,
            queue_size=config.queue_size, embed_dim=config.embed_dim,
            mask_vision=config.objective != "cl",
        )

    def masked_image(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """gamma ⊙ v (or v itself without masking)."""
        return batch["image"] * batch["mask"] if self.mask_vision else batch["image"]

    def embed_radio(self, heatmap: torch.Tensor) -> torch.Tensor:
        """q^r = g_r(f_r(r)), L2-normalised, shape (B, N)."""
        return F.normalize(self.radio_projector(self.radio_backbone(heatmap)), dim=1)

    def embed_vision(self, masked_image: torch.Tensor) -> torch.Tensor:
        """q^v = g_v(f_v(gamma ⊙ v)), L2-normalised, shape (B, N)."""
        return F.normalize(self.vision_projector(self.vision_backbone(masked_image)), dim=1)

    @torch.no_grad()
    def keys(self, heatmap: torch.Tensor, masked_image: torch.Tensor):
        """(k^r, k^v): projections of the momentum backbones' features, no gradient."""
        key_radio = F.normalize(self.radio_projector(self.radio_backbone_ema(heatmap)), dim=1)
        key_vision = F.normalize(
            self.vision_projector(self.vision_backbone_ema(masked_image)), dim=1)
        return key_radio, key_vision

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        masked = self.masked_image(batch)
        query_radio = self.embed_radio(batch["heatmap"])
        query_vision = self.embed_vision(masked)
        if self.momentum == 0:
            # f̄ = f exactly: the keys are the queries without gradient; skip the second pass
            key_radio, key_vision = query_radio.detach(), query_vision.detach()
        else:
            key_radio, key_vision = self.keys(batch["heatmap"], masked)
        if self.queue_size:
            loss_v2r, acc_v2r = info_nce(query_radio, key_vision, self.queue_vision.clone(),
                                         temperature=self.temperature)
            loss_r2v, acc_r2v = info_nce(query_vision, key_radio, self.queue_radio.clone(),
                                         temperature=self.temperature)
            if self.training:
                self._enqueue(gather_keys(key_radio)[0], gather_keys(key_vision)[0])
        else:
            all_vision, offset = gather_keys(key_vision)
            all_radio, _ = gather_keys(key_radio)
            loss_v2r, acc_v2r = info_nce(query_radio, all_vision, temperature=self.temperature,
                                         offset=offset)
            loss_r2v, acc_r2v = info_nce(query_vision, all_radio, temperature=self.temperature,
                                         offset=offset)
        return {
            "loss": (loss_v2r + loss_r2v) / 2,
            "loss_v2r": loss_v2r.detach(),
            "loss_r2v": loss_r2v.detach(),
            "accuracy": ((acc_v2r + acc_r2v) / 2).detach(),
        }

    @torch.no_grad()
    def _enqueue(self, key_radio: torch.Tensor, key_vision: torch.Tensor) -> None:
        """Overwrite the oldest queue entries with the newest keys (ring buffer)."""
        n = min(key_radio.shape[0], self.queue_size)
        slots = (self.queue_pointer + torch.arange(n)) % self.queue_size
        self.queue_radio[slots] = key_radio[-n:]
        self.queue_vision[slots] = key_vision[-n:]
        self.queue_pointer.copy_((self.queue_pointer + n) % self.queue_size)

    def after_step(self) -> None:
        momentum_update(self.radio_backbone_ema, self.radio_backbone, self.momentum)
        momentum_update(self.vision_backbone_ema, self.vision_backbone, self.momentum)

    @torch.no_grad()
    def prepare(self, batches: Iterable[dict[str, torch.Tensor]]) -> None:
        """Fill the queues with keys of real frames, so the first losses already contrast
        against K genuine negatives (random unit vectors would be far easier to reject)."""
        filled = 0
        for batch in batches:
            if filled >= self.queue_size:
                break
            key_radio, key_vision = self.keys(batch["heatmap"], self.masked_image(batch))
            self._enqueue(gather_keys(key_radio)[0], gather_keys(key_vision)[0])
            filled += key_radio.shape[0]
