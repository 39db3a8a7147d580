"""GCNet's global context block (MMCV's ``ContextBlock``), with MMCV's child names and initialisation.

One context vector per image (attention-weighted or plain average of all positions) goes through a
bottleneck (1x1 conv, LayerNorm, ReLU, 1x1 conv) and is added to, and/or multiplies (after a sigmoid),
every position. The last conv of each bottleneck starts at zero, so a fresh block is the identity.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seglab.errors import ConfigError

POOLING_TYPES = ("att", "avg")
FUSION_TYPES = ("channel_add", "channel_mul")


def _bottleneck(channels: int, planes: int) -> nn.Sequential:
    """Keys ``0`` (conv), ``1`` (LayerNorm over (planes, 1, 1)), ``3`` (conv, zero at first)."""
    last = nn.Conv2d(planes, channels, kernel_size=1)
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    return nn.Sequential(
        nn.Conv2d(channels, planes, kernel_size=1), nn.LayerNorm([planes, 1, 1]), nn.ReLU(inplace=True), last
    )


class ContextBlock(nn.Module):
    """``pooling_type`` 'att' (softmax over a 1x1 conv's map) or 'avg'; ``fusion_types`` any of
    'channel_add', 'channel_mul'; the bottleneck width is ``int(in_channels * ratio)``."""

    def __init__(
        self,
        in_channels: int,
        ratio: float,
        pooling_type: str = "att",
        fusion_types: Sequence[str] = ("channel_add",),
    ) -> None:
        super().__init__()
        if pooling_type not in POOLING_TYPES:
            raise ConfigError(f"ContextBlock pooling_type must be 'att' or 'avg', got {pooling_type!r}")
        if isinstance(fusion_types, str) or not isinstance(fusion_types, Sequence) or not fusion_types:
            raise ConfigError(
                f"ContextBlock fusion_types must be a non-empty tuple such as ('channel_add',), got {fusion_types!r}"
            )
        if any(f not in FUSION_TYPES for f in fusion_types):
            raise ConfigError(f"ContextBlock fusion_types may hold {FUSION_TYPES}, got {tuple(fusion_types)}")
        self.in_channels, self.ratio = in_channels, ratio
        self.planes = int(in_channels * ratio)
        if self.planes < 1:
            raise ConfigError(f"ContextBlock ratio={ratio} leaves no channel of {in_channels}; raise ratio")
        self.pooling_type, self.fusion_types = pooling_type, tuple(fusion_types)
        if pooling_type == "att":
            self.conv_mask = nn.Conv2d(in_channels, 1, kernel_size=1)
            nn.init.kaiming_normal_(self.conv_mask.weight, mode="fan_in", nonlinearity="relu")
            nn.init.zeros_(self.conv_mask.bias)
            self.softmax = nn.Softmax(dim=2)
        else:
            self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.channel_add_conv = _bottleneck(in_channels, self.planes) if "channel_add" in fusion_types else None
        self.channel_mul_conv = _bottleneck(in_channels, self.planes) if "channel_mul" in fusion_types else None

    def spatial_pool(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, 1, 1): the positions' features weighted by the attention map, or their mean."""
        if self.pooling_type != "att":
            return self.avg_pool(x)
        n, c = x.shape[:2]
        mask = self.softmax(self.conv_mask(x).reshape(n, 1, -1))  # N, 1, HW
        return torch.matmul(x.reshape(n, c, -1), mask.transpose(1, 2)).reshape(n, c, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        context = self.spatial_pool(x)
        out = x
        if self.channel_mul_conv is not None:
            out = out * torch.sigmoid(self.channel_mul_conv(context))
        if self.channel_add_conv is not None:
            out = out + self.channel_add_conv(context)
        return out
