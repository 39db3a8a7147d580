"""ICNet's neck (MMSegmentation's ``ICNeck``): cascade feature fusion of the three ICNet branches, with
MMSegmentation's parameter keys (``cff_24.conv_low``, ``cff_12.conv_high`` ...)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError
from seglab.models.layers import ConvModule, resize
from seglab.registry import MODELS

BN = dict(type="BN")
RELU = dict(type="ReLU")


class CascadeFeatureFusion(nn.Module):
    """The coarser map upsampled to the finer one's size through a dilated 3x3 conv, added to a 1x1 conv of
    the finer map, then ReLU. Returns the fusion and the upsampled coarse branch (for label guidance)."""

    init_cfg: dict | None = None  # a BaseModule in MMSegmentation: the init walk enters it

    def __init__(
        self,
        low_channels: int,
        high_channels: int,
        out_channels: int,
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = BN,
        act_cfg: dict | None = RELU,
        align_corners: bool = False,
    ) -> None:
        super().__init__()
        self.align_corners = align_corners
        args = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.conv_low = ConvModule(low_channels, out_channels, 3, padding=2, dilation=2, **args)
        self.conv_high = ConvModule(high_channels, out_channels, 1, **args)

    def forward(self, x_low: torch.Tensor, x_high: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x_low = self.conv_low(resize(x_low, x_high.shape[2:], align_corners=self.align_corners))
        return F.relu(x_low + self.conv_high(x_high)), x_low


@MODELS.register()
class ICNeck(nn.Module):
    """Fuses ICNet's (stride 8, 16, 32) features coarse to fine; returns ``(x_24, x_12, x_cff_12)``: the two
    upsampled coarse branches (for the auxiliary heads) and the final fusion (for the decode head), each with
    ``out_channels`` channels."""

    def __init__(
        self,
        in_channels: Sequence[int] = (64, 256, 256),
        out_channels: int = 128,
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = BN,
        act_cfg: dict | None = RELU,
        align_corners: bool = False,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        if len(in_channels) != 3:
            raise ConfigError(f"ICNeck in_channels={tuple(in_channels)} needs 3 widths, one per ICNet branch")
        self.init_cfg = init_cfg
        self.in_channels, self.out_channels, self.align_corners = in_channels, out_channels, align_corners
        args = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg, align_corners=align_corners)
        self.cff_24 = CascadeFeatureFusion(in_channels[2], in_channels[1], out_channels, **args)
        self.cff_12 = CascadeFeatureFusion(out_channels, in_channels[0], out_channels, **args)

    def forward(self, inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if len(inputs) != 3:
            raise ConfigError(f"ICNeck got {len(inputs)} feature maps; it fuses ICNet's 3 branches (backbone ICNet)")
        x_sub1, x_sub2, x_sub4 = inputs
        x_cff_24, x_24 = self.cff_24(x_sub4, x_sub2)
        x_cff_12, x_12 = self.cff_12(x_cff_24, x_sub1)
        return x_24, x_12, x_cff_12
