"""UPerNet's head: a pyramid pooling module on the last level, a top-down FPN over all levels, fused."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.heads.decode_head import BaseDecodeHead
from seglab.models.heads.pspnet import check_pool_scales
from seglab.models.layers import PPM, ConvModule, resize
from seglab.registry import MODELS


@MODELS.register()
class UPerHead(BaseDecodeHead):
    """Takes every level in ``in_index`` (``input_transform`` is always 'multiple_select').

    The last level goes through PSP (``psp_modules`` + ``bottleneck``); the others through 1x1
    ``lateral_convs``; a top-down pass adds each coarser level to the next finer one, 3x3 ``fpn_convs``
    smooth them, and ``fpn_bottleneck`` fuses all levels at the finest resolution."""

    def __init__(self, pool_scales: Sequence[int] = (1, 2, 3, 6), **kwargs) -> None:
        if kwargs.pop("input_transform", "multiple_select") != "multiple_select":
            raise ConfigError("UPerHead always uses input_transform='multiple_select'; remove the key")
        super().__init__(input_transform="multiple_select", **kwargs)
        check_pool_scales(pool_scales, "UPerHead")
        conv_args = dict(conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        top = self.in_channels[-1]
        self.psp_modules = PPM(pool_scales, top, self.channels, align_corners=self.align_corners, **conv_args)
        self.bottleneck = ConvModule(top + len(pool_scales) * self.channels, self.channels, 3, padding=1, **conv_args)
        # plain ModuleLists, as in MMSegmentation: the init walk does not enter them (the convs keep MMCV's init)
        self.lateral_convs = nn.ModuleList(
            ConvModule(c, self.channels, 1, inplace=False, **conv_args) for c in self.in_channels[:-1]
        )
        self.fpn_convs = nn.ModuleList(
            ConvModule(self.channels, self.channels, 3, padding=1, inplace=False, **conv_args)
            for _ in self.in_channels[:-1]
        )
        self.fpn_bottleneck = ConvModule(
            len(self.in_channels) * self.channels, self.channels, 3, padding=1, **conv_args
        )

    def psp_forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        x = inputs[-1]
        return self.bottleneck(torch.cat([x, *self.psp_modules(x)], dim=1))

    def _forward_feature(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        feats = self._transform_inputs(inputs)
        laterals = [conv(feats[i]) for i, conv in enumerate(self.lateral_convs)]
        laterals.append(self.psp_forward(feats))
        for i in range(len(laterals) - 1, 0, -1):  # top-down; a new tensor, so the coarser level stays intact
            laterals[i - 1] = laterals[i - 1] + resize(laterals[i], laterals[i - 1].shape[2:], self.align_corners)
        outs = [conv(laterals[i]) for i, conv in enumerate(self.fpn_convs)] + [laterals[-1]]
        size = outs[0].shape[2:]
        outs = [outs[0]] + [resize(out, size, self.align_corners) for out in outs[1:]]
        return self.fpn_bottleneck(torch.cat(outs, dim=1))

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.cls_seg(self._forward_feature(inputs))
