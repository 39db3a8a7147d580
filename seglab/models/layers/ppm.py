"""Pyramid pooling module (MMSegmentation's PPM), shared by PSPNet's head, UPerNet's head and others."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seglab.models.layers.conv_module import ConvModule
from seglab.models.layers.wrappers import resize


class PPM(nn.ModuleList):
    """One branch per pool scale: adaptive average pooling to ``scale x scale``, then a 1x1 ConvModule.

    A ModuleList of ``Sequential(AdaptiveAvgPool2d, ConvModule)``, so a head holding it as
    ``psp_modules`` has MMSegmentation's keys (``psp_modules.0.1.conv.weight``). ``forward`` returns
    the branch outputs resized back to the input size (bilinear), in ``pool_scales`` order; extra
    keyword arguments go to every ConvModule."""

    def __init__(
        self,
        pool_scales: Sequence[int],
        in_channels: int,
        channels: int,
        conv_cfg: dict | None,
        norm_cfg: dict | None,
        act_cfg: dict | None,
        align_corners: bool,
        **kwargs,
    ) -> None:
        super().__init__()
        self.pool_scales, self.align_corners = pool_scales, align_corners
        self.in_channels, self.channels = in_channels, channels
        self.conv_cfg, self.norm_cfg, self.act_cfg = conv_cfg, norm_cfg, act_cfg
        for scale in pool_scales:
            conv = ConvModule(in_channels, channels, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg, **kwargs)
            self.append(nn.Sequential(nn.AdaptiveAvgPool2d(scale), conv))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        size = x.shape[2:]
        return [resize(branch(x), size, align_corners=self.align_corners) for branch in self]
