"""DETR's sine positional encoding (MMDetection's ``SinePositionalEncoding``), which the pixel decoders and
the heads add to their attention keys."""

from __future__ import annotations

import math

import torch
from torch import nn


class SinePositionalEncoding(nn.Module):
    """DETR's sine/cosine encoding of (y, x) positions: (B, 2 * num_feats, H, W), no parameters."""

    IGNORED_ARGS = {"init_cfg": None}

    def __init__(
        self,
        num_feats: int,
        temperature: int = 10000,
        normalize: bool = False,
        scale: float = 2 * math.pi,
        eps: float = 1e-6,
        offset: float = 0.0,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__()
        self.num_feats, self.temperature, self.normalize = num_feats, temperature, normalize
        self.scale, self.eps, self.offset = scale, eps, offset

    def forward(self, batch: int, height: int, width: int, device: torch.device) -> torch.Tensor:
        """The encoding of an unpadded (batch, height, width) map (MMDetection's all-False mask)."""
        ones = torch.ones(batch, height, width, device=device)
        y_embed, x_embed = ones.cumsum(1), ones.cumsum(2)
        if self.normalize:
            y_embed = (y_embed + self.offset) / (y_embed[:, -1:, :] + self.eps) * self.scale
            x_embed = (x_embed + self.offset) / (x_embed[:, :, -1:] + self.eps) * self.scale
        dim_t = torch.arange(self.num_feats, dtype=torch.float32, device=device)
        dim_t = self.temperature ** (2 * (dim_t // 2) / self.num_feats)
        pos_x, pos_y = x_embed[..., None] / dim_t, y_embed[..., None] / dim_t
        pos_x = torch.stack((pos_x[..., 0::2].sin(), pos_x[..., 1::2].cos()), dim=4).view(batch, height, width, -1)
        pos_y = torch.stack((pos_y[..., 0::2].sin(), pos_y[..., 1::2].cos()), dim=4).view(batch, height, width, -1)
        return torch.cat((pos_y, pos_x), dim=3).permute(0, 3, 1, 2)
