"""SegFormer's all-MLP head: each level projected to ``channels`` by a 1x1 ConvModule, upsampled to the
finest level, concatenated and fused by another 1x1 ConvModule before the classifier."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError
from seglab.models.heads.decode_head import BaseDecodeHead
from seglab.models.layers import ConvModule, resize
from seglab.registry import MODELS

INTERPOLATE_MODES = ("bilinear", "nearest", "bicubic", "area", "nearest-exact")


@MODELS.register()
class SegformerHead(BaseDecodeHead):
    """``interpolate_mode`` is the upsampling mode; ``input_transform`` is always 'multiple_select'."""

    def __init__(self, interpolate_mode: str = "bilinear", **kwargs) -> None:
        if kwargs.pop("input_transform", "multiple_select") != "multiple_select":
            raise ConfigError("SegformerHead always uses input_transform='multiple_select'; remove the key")
        super().__init__(input_transform="multiple_select", **kwargs)
        if interpolate_mode not in INTERPOLATE_MODES:
            raise ConfigError(
                f"SegformerHead interpolate_mode must be one of {INTERPOLATE_MODES}, got {interpolate_mode!r}"
            )
        self.interpolate_mode = interpolate_mode
        conv_args = dict(norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.convs = nn.ModuleList(ConvModule(c, self.channels, 1, **conv_args) for c in self.in_channels)
        self.fusion_conv = ConvModule(self.channels * len(self.in_channels), self.channels, 1, norm_cfg=self.norm_cfg)

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        feats = self._transform_inputs(inputs)
        size = feats[0].shape[2:]
        outs = [self._upsample(conv(x), size) for conv, x in zip(self.convs, feats)]
        return self.cls_seg(self.fusion_conv(torch.cat(outs, dim=1)))

    def _upsample(self, x: torch.Tensor, size: torch.Size) -> torch.Tensor:
        if self.interpolate_mode == "bilinear":
            return resize(x, size, self.align_corners)
        return F.interpolate(x, size=tuple(size), mode=self.interpolate_mode)
