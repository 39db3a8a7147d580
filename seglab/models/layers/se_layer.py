"""Squeeze-and-excitation (MMSegmentation's ``SELayer``) and ``make_divisible``, shared by MobileNetV3
and the other families whose blocks re-weight channels by a pooled gate."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.layers.conv_module import ConvModule


def make_divisible(value: float, divisor: int, min_value: int | None = None, min_ratio: float = 0.9) -> int:
    """Round a channel count to a multiple of ``divisor`` (at least ``min_value``, default ``divisor``),
    going up one step when rounding would lose more than ``1 - min_ratio`` of it (MMSegmentation's rule,
    which fixes MobileNet/SE widths and so checkpoint shapes)."""
    if min_value is None:
        min_value = divisor
    new_value = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new_value < min_ratio * value:
        new_value += divisor
    return new_value


class SELayer(nn.Module):
    """Global average pool -> 1x1 ConvModule (``channels // ratio``, made divisible by 8) -> 1x1
    ConvModule back to ``channels`` -> multiply the input by it. ``act_cfg`` is one dict for both
    convs or a pair (default ReLU then MMCV's HSigmoid(3, 6)); children ``conv1``/``conv2`` as in MMSeg."""

    def __init__(
        self,
        channels: int,
        ratio: int = 16,
        conv_cfg: dict | None = None,
        act_cfg: dict | Sequence[dict] = (dict(type="ReLU"), dict(type="HSigmoid", bias=3.0, divisor=6.0)),
    ) -> None:
        super().__init__()
        if isinstance(act_cfg, Mapping):
            act_cfg = (act_cfg, act_cfg)
        if len(act_cfg) != 2 or not all(isinstance(a, Mapping) for a in act_cfg):
            raise ConfigError(f"SELayer act_cfg must be a dict or two dicts, got {act_cfg!r}")
        if ratio <= 0:
            raise ConfigError(f"SELayer ratio must be a positive int, got {ratio!r}")
        squeezed = make_divisible(channels // ratio, 8)
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.conv1 = ConvModule(channels, squeezed, 1, conv_cfg=conv_cfg, act_cfg=act_cfg[0])
        self.conv2 = ConvModule(squeezed, channels, 1, conv_cfg=conv_cfg, act_cfg=act_cfg[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.conv2(self.conv1(self.global_avgpool(x)))
