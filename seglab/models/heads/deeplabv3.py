"""ASPP heads: DeepLabV3 (``ASPPHead``) and DeepLabV3+ (``DepthwiseSeparableASPPHead``)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seglab.models.heads.decode_head import BaseDecodeHead
from seglab.models.layers import ConvModule, DepthwiseSeparableConvModule, resize
from seglab.registry import MODELS


@MODELS.register()
class ASPPHead(BaseDecodeHead):
    """Image pooling plus parallel atrous convolutions, fused by a 3x3 bottleneck."""

    separable = False

    def __init__(self, dilations: Sequence[int] = (1, 6, 12, 18), **kwargs) -> None:
        super().__init__(**kwargs)
        conv_args = dict(norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.image_pool = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), ConvModule(self.in_channels, self.channels, 1, **conv_args)
        )
        branches = []
        for d in dilations:
            if d == 1:
                branches.append(ConvModule(self.in_channels, self.channels, 1, **conv_args))
            elif self.separable:
                branches.append(
                    DepthwiseSeparableConvModule(self.in_channels, self.channels, 3, dilation=d, padding=d, **conv_args)
                )
            else:
                branches.append(ConvModule(self.in_channels, self.channels, 3, dilation=d, padding=d, **conv_args))
        self.aspp_modules = nn.ModuleList(branches)
        self.bottleneck = ConvModule((len(dilations) + 1) * self.channels, self.channels, 3, padding=1, **conv_args)

    def aspp(self, x: torch.Tensor) -> torch.Tensor:
        pooled = resize(self.image_pool(x), x.shape[2:], self.align_corners)
        return self.bottleneck(torch.cat([pooled, *(branch(x) for branch in self.aspp_modules)], dim=1))

    def _forward_feature(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """The features before the classifier (K-Net's kernel generator needs them)."""
        return self.aspp(self._transform_inputs(inputs))

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.cls_seg(self._forward_feature(inputs))


@MODELS.register()
class DepthwiseSeparableASPPHead(ASPPHead):
    """DeepLabV3+: separable ASPP, then a decoder that fuses low-level features (``c1``)."""

    separable = True

    def __init__(self, c1_in_channels: int, c1_channels: int, **kwargs) -> None:
        super().__init__(**kwargs)
        conv_args = dict(norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.c1_bottleneck = ConvModule(c1_in_channels, c1_channels, 1, **conv_args) if c1_in_channels > 0 else None
        self.sep_bottleneck = nn.Sequential(
            DepthwiseSeparableConvModule(self.channels + c1_channels, self.channels, 3, padding=1, **conv_args),
            DepthwiseSeparableConvModule(self.channels, self.channels, 3, padding=1, **conv_args),
        )

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        out = self.aspp(self._transform_inputs(inputs))
        if self.c1_bottleneck is not None:
            low = self.c1_bottleneck(inputs[0])
            out = torch.cat([resize(out, low.shape[2:], self.align_corners), low], dim=1)
        return self.cls_seg(self.sep_bottleneck(out))
