"""APCNet's head (Adaptive Pyramid Context): per pool scale, an Adaptive Context Module lets each pixel
weigh the ``scale x scale`` pooled regions by a learned affinity. Keys are MMSegmentation's."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seglab.models.heads.decode_head import BaseDecodeHead
from seglab.models.heads.pspnet import check_pool_scales
from seglab.models.layers import ConvModule
from seglab.registry import MODELS


class ACM(nn.Module):
    """Adaptive Context Module: a sigmoid affinity (``gla``, from the local plus global feature) between
    each pixel and the ``pool_scale^2`` pooled regions gathers region features; a residual 1x1 conv, the
    reduced input and a ReLU follow, then ``fusion_conv`` when ``fusion``."""

    def __init__(
        self,
        pool_scale: int,
        fusion: bool,
        in_channels: int,
        channels: int,
        conv_cfg: dict | None,
        norm_cfg: dict | None,
        act_cfg: dict | None,
    ) -> None:
        super().__init__()
        self.pool_scale, self.fusion = pool_scale, fusion
        self.in_channels, self.channels = in_channels, channels
        self.conv_cfg, self.norm_cfg, self.act_cfg = conv_cfg, norm_cfg, act_cfg
        convs = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.pooled_redu_conv = ConvModule(in_channels, channels, 1, **convs)
        self.input_redu_conv = ConvModule(in_channels, channels, 1, **convs)
        self.global_info = ConvModule(channels, channels, 1, **convs)
        self.gla = nn.Conv2d(channels, pool_scale**2, 1, 1, 0)
        self.residual_conv = ConvModule(channels, channels, 1, **convs)
        if fusion:
            self.fusion_conv = ConvModule(channels, channels, 1, **convs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.pooled_redu_conv(F.adaptive_avg_pool2d(x, self.pool_scale))
        x = self.input_redu_conv(x)
        n, c, h, w = x.shape
        pooled = pooled.flatten(2).transpose(1, 2)  # N, scale^2, C
        global_info = self.global_info(F.adaptive_avg_pool2d(x, 1))  # broadcast = MMSeg's nearest resize
        affinity = self.gla(x + global_info).permute(0, 2, 3, 1).reshape(n, -1, self.pool_scale**2)
        context = torch.matmul(affinity.sigmoid(), pooled)  # N, H*W, C
        context = context.transpose(1, 2).reshape(n, c, h, w)
        out = F.relu(self.residual_conv(context) + x)
        return self.fusion_conv(out) if self.fusion else out


@MODELS.register()
class APCHead(BaseDecodeHead):
    """The input and one ACM output per ``pool_scales`` entry, concatenated, go through a 3x3
    ``bottleneck`` and the classifier. Keys: ``acm_modules.<i>.<conv>``, ``bottleneck``."""

    def __init__(self, pool_scales: Sequence[int] = (1, 2, 3, 6), fusion: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        check_pool_scales(pool_scales, "APCHead")
        self.pool_scales, self.fusion = pool_scales, fusion
        convs = dict(conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.acm_modules = nn.ModuleList(
            ACM(scale, fusion, self.in_channels, self.channels, **convs) for scale in pool_scales
        )
        self.bottleneck = ConvModule(
            self.in_channels + len(pool_scales) * self.channels, self.channels, 3, padding=1, **convs
        )

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        x = self._transform_inputs(inputs)
        out = self.bottleneck(torch.cat([x, *(acm(x) for acm in self.acm_modules)], dim=1))
        return self.cls_seg(out)
