"""Networks: the radio and vision backbones f_r, f_v, the projectors g_r, g_v and the localiser.

Sizes are configurable; the defaults fit a 64 x 64 heatmap / image and train on CPU in minutes.
GroupNorm rather than BatchNorm: no statistics shared across a batch, so a sample's embedding
never depends on its in-batch negatives (no BN "cheating" in contrastive learning, no shuffle-BN)
and distributed training needs no SyncBatchNorm.
"""

from __future__ import annotations

import torch
from torch import nn

from radarsp_learn.grid import rescale_index


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(8, channels), channels)


def conv_block(in_channels: int, out_channels: int, *, stride: int = 1, dilation: int = 1):
    """3 x 3 convolution -> GroupNorm -> ReLU; ``stride`` 2 halves the grid."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=dilation,
                  dilation=dilation, bias=False),
        _norm(out_channels),
        nn.ReLU(inplace=True),
    )


class Backbone(nn.Module):
    """A CNN giving C x h x w spatial features (the paper's f_theta).

    Each width in ``widths`` adds a stride-2 block, so ``h = H / 2**len(widths)``; one more
    3 x 3 block at that resolution and a 1 x 1 convolution map to ``feature_dim`` = C
    channels. Output cell ``j`` covers input cells ``[j s, (j + 1) s)`` with
    ``s = 2**len(widths)``, the convention of
    :func:`radarsp_learn.grid.rescale_index`.

    Parameters
    ----------
    in_channels : int
        1 for heatmaps, 3 for RGB images.
    widths : tuple of int
        Channels of the stride-2 blocks.
    feature_dim : int
        C, channels per spatial bin of the output.

    Examples
    --------
    >>> Backbone(1)(torch.zeros(2, 1, 64, 64)).shape
    torch.Size([2, 64, 8, 8])
    """

    def __init__(self, in_channels: int, *, widths=(16, 32, 64), feature_dim: int = 64):
        super().__init__()
        layers, channels = [], in_channels
        for width in widths:
            layers.append(conv_block(channels, width, stride=2))
            channels = width
        layers += [conv_block(channels, channels), nn.Conv2d(channels, feature_dim, 1)]
        self.layers = nn.Sequential(*layers)
        self.stride = 2 ** len(widths)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class Projector(nn.Module):
    """2-layer MLP g_theta that collapses a C x h x w map to an N-vector.

    The map is flattened (not pooled), so where a feature sits is part of the embedding --
    the property the self-labels rely on.

    Examples
    --------
    >>> Projector(64 * 8 * 8, hidden=256, out=128)(torch.zeros(2, 64, 8, 8)).shape
    torch.Size([2, 128])
    """

    def __init__(self, in_features: int, *, hidden: int = 512, out: int = 128):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Flatten(), nn.Linear(in_features, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, out),
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers(features)


def coordinate_channels(x: torch.Tensor) -> torch.Tensor:
    """Append two channels holding each cell's row and column in [-1, 1] ("CoordConv").

    Range and angle bins are not interchangeable (the lane sits at known ranges), so the
    localiser is told where each cell is.
    """
    batch, _, rows, cols = x.shape
    row = torch.linspace(-1, 1, rows, dtype=x.dtype, device=x.device).view(1, 1, rows, 1)
    col = torch.linspace(-1, 1, cols, dtype=x.dtype, device=x.device).view(1, 1, 1, cols)
    return torch.cat([x, row.expand(batch, 1, rows, cols), col.expand(batch, 1, rows, cols)], 1)


def soft_argmax(logits: torch.Tensor) -> torch.Tensor:
    """Expected ``(row, col)`` cell of ``softmax(logits)`` over the last two axes.

    Parameters
    ----------
    logits : Tensor, shape (B, rows, cols)

    Returns
    -------
    Tensor, shape (B, 2)
        ``sum_n p_n (row_n, col_n)`` with ``p = softmax(logits.flatten())``.

    Examples
    --------
    >>> logits = torch.full((1, 4, 4), -1e4); logits[0, 1, 3] = 0
    >>> soft_argmax(logits)
    tensor([[1., 3.]])
    """
    batch, rows, cols = logits.shape
    p = torch.softmax(logits.reshape(batch, -1), dim=-1).view(batch, rows, cols)
    row = (p.sum(-1) * torch.arange(rows, dtype=p.dtype, device=p.device)).sum(-1)
    col = (p.sum(-2) * torch.arange(cols, dtype=p.dtype, device=p.device)).sum(-1)
    return torch.stack([row, col], dim=-1)


class Localiser(nn.Module):
    """Heatmap -> target ``(row, col)`` on the model grid (the paper's section 4.3 network).

    Fully convolutional: a CoordConv input, two stride-2 blocks, dilated blocks for context,
    a 1 x 1 convolution to a logit per cell and a :func:`soft_argmax`; the position on the
    quarter-resolution logit grid is mapped back to the model grid with
    :func:`radarsp_learn.grid.rescale_index` (the soft-argmax interpolates between cells).

    Examples
    --------
    >>> Localiser()(torch.zeros(2, 1, 64, 64)).shape
    torch.Size([2, 2])
    """

    def __init__(self, *, in_channels: int = 1, width: int = 32, dilations=(1, 2, 4)):
        super().__init__()
        layers = [conv_block(in_channels + 2, width // 2, stride=2),
                  conv_block(width // 2, width), conv_block(width, width, stride=2)]
        layers += [conv_block(width, width, dilation=d) for d in dilations]
        layers.append(nn.Conv2d(width, 1, 1))
        self.layers = nn.Sequential(*layers)

    def logits(self, heatmap: torch.Tensor) -> torch.Tensor:
        """Per-cell logits, shape (B, H/4, W/4)."""
        return self.layers(coordinate_channels(heatmap))[:, 0]

    def forward(self, heatmap: torch.Tensor) -> torch.Tensor:
        logits = self.logits(heatmap)
        cells = soft_argmax(logits)
        rows, cols = heatmap.shape[-2:]
        return torch.stack([rescale_index(cells[:, 0], logits.shape[-2], rows),
                            rescale_index(cells[:, 1], logits.shape[-1], cols)], dim=-1)
