"""Semantic FPN's head (Panoptic FPN): every pyramid level upsampled to the finest one and summed."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError
from seglab.models.heads.decode_head import BaseDecodeHead
from seglab.models.layers import ConvModule, resize
from seglab.registry import MODELS


class Upsample(nn.Module):
    """Parameter-free x``scale_factor`` interpolation; a module so it holds its index in ``scale_heads``
    (``scale_heads.1.0`` conv, ``scale_heads.1.1`` upsample, ``scale_heads.2.2`` the next conv ...)."""

    def __init__(self, scale_factor: int = 2, mode: str = "bilinear", align_corners: bool = False) -> None:
        super().__init__()
        self.scale_factor, self.mode, self.align_corners = scale_factor, mode, align_corners

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = [torch.sym_int(s * self.scale_factor) for s in x.shape[-2:]]  # int(), symbolic while exporting
        return F.interpolate(x, size=size, mode=self.mode, align_corners=self.align_corners)


@MODELS.register()
class FPNHead(BaseDecodeHead):
    """Level i (stride s_i) gets max(1, log2(s_i / s_0)) 3x3 ConvModules, each followed by a x2 upsample
    unless i is the finest level; the levels are summed at the finest resolution and classified.
    ``input_transform`` is always 'multiple_select'."""

    def __init__(self, feature_strides: Sequence[int], **kwargs) -> None:
        if kwargs.pop("input_transform", "multiple_select") != "multiple_select":
            raise ConfigError("FPNHead always uses input_transform='multiple_select'; remove the key")
        super().__init__(input_transform="multiple_select", **kwargs)
        strides = list(feature_strides)
        if len(strides) != len(self.in_channels):
            raise ConfigError(
                f"FPNHead feature_strides {strides} need one stride per in_channels entry ({len(self.in_channels)})"
            )
        if min(strides) != strides[0]:
            raise ConfigError(f"FPNHead feature_strides {strides} must start with the finest (smallest) stride")
        self.feature_strides = feature_strides
        conv_args = dict(conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.scale_heads = nn.ModuleList()
        for in_channels, stride in zip(self.in_channels, strides):
            layers: list[nn.Module] = []
            for k in range(max(1, int(math.log2(stride) - math.log2(strides[0])))):
                layers.append(
                    ConvModule(in_channels if k == 0 else self.channels, self.channels, 3, padding=1, **conv_args)
                )
                if stride != strides[0]:
                    layers.append(Upsample(2, "bilinear", self.align_corners))
            self.scale_heads.append(nn.Sequential(*layers))

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        feats = self._transform_inputs(inputs)
        out = self.scale_heads[0](feats[0])
        for head, feat in zip(self.scale_heads[1:], feats[1:]):
            out = out + resize(head(feat), out.shape[2:], self.align_corners)
        return self.cls_seg(out)
