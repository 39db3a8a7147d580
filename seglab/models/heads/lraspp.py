"""Lite R-ASPP head (MMSegmentation's ``LRASPPHead``, from "Searching for MobileNetV3"): the deepest
features gated by a pooled sigmoid branch, then refined with each shallower level on the way up."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.heads.decode_head import BaseDecodeHead
from seglab.models.layers import ConvModule, resize
from seglab.registry import MODELS

POOL_KERNEL = 49  # MMSegmentation's fixed AvgPool2d(49, stride=(16, 20)): trained at 512x1024 crops


@MODELS.register()
class LRASPPHead(BaseDecodeHead):
    """``aspp_conv(x) * sigmoid(image_pool(x))`` on the last input, a 1x1 ``conv_up_input``, then for
    each shallower input (deepest first): upsample, concatenate its 1x1 projection to
    ``branch_channels[i]`` and fuse with ``conv_ups[i]``. Needs ``input_transform='multiple_select'``."""

    def __init__(self, branch_channels: Sequence[int] = (32, 64), **kwargs) -> None:
        super().__init__(**kwargs)
        if self.input_transform != "multiple_select":
            raise ConfigError(f"LRASPPHead needs input_transform='multiple_select', got {self.input_transform!r}")
        if not all(isinstance(c, int) for c in branch_channels) or len(branch_channels) != len(self.in_channels) - 1:
            raise ConfigError(
                f"LRASPPHead branch_channels {tuple(branch_channels)} needs one int per input but the last "
                f"({len(self.in_channels) - 1} for in_channels {tuple(self.in_channels)})"
            )
        if len(self.in_channels) < 3:
            raise ConfigError(
                f"LRASPPHead needs at least 3 inputs (its image pool reads the third), got {len(self.in_channels)}"
            )
        self.branch_channels = tuple(branch_channels)
        self.convs = nn.Sequential()
        self.conv_ups = nn.Sequential()
        args = dict(norm_cfg=self.norm_cfg, act_cfg=self.act_cfg, bias=False)
        for i, branch in enumerate(branch_channels):
            self.convs.add_module(f"conv{i}", nn.Conv2d(self.in_channels[i], branch, 1, bias=False))
            self.conv_ups.add_module(f"conv_up{i}", ConvModule(self.channels + branch, self.channels, 1, **args))
        self.conv_up_input = nn.Conv2d(self.channels, self.channels, 1)
        self.aspp_conv = ConvModule(self.in_channels[-1], self.channels, 1, **args)
        # MMSegmentation pools in_channels[2] (equal to the last for its 3-input configs)
        pooled = ConvModule(self.in_channels[2], self.channels, 1, act_cfg=dict(type="Sigmoid"), bias=False)
        self.image_pool = nn.Sequential(nn.AvgPool2d(kernel_size=POOL_KERNEL, stride=(16, 20)), pooled)

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        inputs = self._transform_inputs(inputs)
        x = inputs[-1]
        if min(x.shape[2:]) < POOL_KERNEL:
            raise ConfigError(
                f"LRASPPHead pools the last features with a {POOL_KERNEL}x{POOL_KERNEL} window, but they are "
                f"{tuple(x.shape[2:])}: use images/crops of at least {POOL_KERNEL} x the backbone's output stride "
                "(392 px for MobileNetV3 at stride 8)"
            )
        gate = resize(self.image_pool(x), size=x.shape[2:], align_corners=self.align_corners)
        x = self.conv_up_input(self.aspp_conv(x) * gate)
        for i in range(len(self.branch_channels) - 1, -1, -1):
            x = resize(x, size=inputs[i].shape[2:], align_corners=self.align_corners)
            x = self.conv_ups[i](torch.cat([x, self.convs[i](inputs[i])], dim=1))
        return self.cls_seg(x)
