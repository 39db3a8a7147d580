"""SETR's multi-level aggregation (MLA) head: each MLANeck level through two 3x3 ConvModules to
``mla_channels`` and a x``up_scale`` bilinear upsample, concatenated (``channels`` = levels x
``mla_channels``) and classified."""

from __future__ import annotations

import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.heads.decode_head import BaseDecodeHead
from seglab.models.heads.semantic_fpn import Upsample
from seglab.models.layers import ConvModule
from seglab.registry import MODELS


@MODELS.register()
class SETRMLAHead(BaseDecodeHead):
    """``input_transform`` is always 'multiple_select'; ``channels`` must equal len(in_channels) * mla_channels."""

    def __init__(self, mla_channels: int = 128, up_scale: int = 4, **kwargs) -> None:
        if kwargs.pop("input_transform", "multiple_select") != "multiple_select":
            raise ConfigError("SETRMLAHead always uses input_transform='multiple_select'; remove the key")
        super().__init__(input_transform="multiple_select", **kwargs)
        self.mla_channels = mla_channels
        levels = len(self.in_channels)
        if self.channels != levels * mla_channels:
            raise ConfigError(
                f"SETRMLAHead channels={self.channels} must equal len(in_channels) * mla_channels = "
                f"{levels} * {mla_channels} = {levels * mla_channels} (the concatenated levels)"
            )
        conv_args = dict(padding=1, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.up_convs = nn.ModuleList(
            nn.Sequential(
                ConvModule(in_channels, mla_channels, 3, **conv_args),
                ConvModule(mla_channels, mla_channels, 3, **conv_args),
                Upsample(up_scale, "bilinear", self.align_corners),
            )
            for in_channels in self.in_channels
        )

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        feats = self._transform_inputs(inputs)
        return self.cls_seg(torch.cat([up_conv(x) for x, up_conv in zip(feats, self.up_convs)], dim=1))
