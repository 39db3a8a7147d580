"""FastFCN's Joint Pyramid Upsampling neck (MMSegmentation's ``JPU``)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.layers import ConvModule, DepthwiseSeparableConvModule, resize
from seglab.registry import MODELS


@MODELS.register()
class JPU(nn.Module):
    """Recovers a stride-8 map from a stride-32 backbone instead of dilating it: a 3x3 ``conv_layers`` ConvModule
    per level ``start_level``..``end_level``, all resized to the finest and concatenated, then parallel dilated
    depthwise-separable convs (``dilation_layers``, one per ``dilations``) concatenated into one map of
    ``len(dilations) * mid_channels`` channels. Outputs: the untouched inputs of the used levels but the last,
    then that map (so heads read it at index ``end_level - start_level - 1``)."""

    def __init__(
        self,
        in_channels: Sequence[int] = (512, 1024, 2048),
        mid_channels: int = 512,
        start_level: int = 0,
        end_level: int = -1,
        dilations: Sequence[int] = (1, 2, 4, 8),
        align_corners: bool = False,
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = dict(type="BN"),  # noqa: B006 (never mutated)
        act_cfg: dict | None = dict(type="ReLU"),  # noqa: B006
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(in_channels, list | tuple) or not in_channels:
            raise ConfigError(f"JPU in_channels must be a tuple of channel counts per level, got {in_channels!r}")
        if not isinstance(dilations, list | tuple) or not dilations:
            raise ConfigError(f"JPU dilations must be a tuple of ints such as (1, 2, 4, 8), got {dilations!r}")
        self.in_channels, self.mid_channels = tuple(in_channels), mid_channels
        self.num_ins = len(in_channels)
        self.backbone_end_level = self.num_ins if end_level == -1 else end_level
        if not 0 <= start_level < self.backbone_end_level <= self.num_ins:
            raise ConfigError(
                f"JPU start_level={start_level}, end_level={end_level} must pick at least one of the "
                f"{self.num_ins} levels of in_channels (0 <= start_level < end_level <= {self.num_ins}, or -1)"
            )
        self.start_level, self.dilations, self.align_corners = start_level, tuple(dilations), align_corners
        self.init_cfg = init_cfg
        conv_args = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        levels = range(start_level, self.backbone_end_level)
        self.conv_layers = nn.ModuleList(
            nn.Sequential(ConvModule(self.in_channels[i], mid_channels, 3, padding=1, **conv_args)) for i in levels
        )
        self.dilation_layers = nn.ModuleList(
            nn.Sequential(
                DepthwiseSeparableConvModule(
                    len(levels) * mid_channels,
                    mid_channels,
                    3,
                    stride=1,
                    padding=d,
                    dilation=d,
                    conv_cfg=conv_cfg,
                    dw_norm_cfg=norm_cfg,
                    dw_act_cfg=None,
                    pw_norm_cfg=norm_cfg,
                    pw_act_cfg=act_cfg,
                )
            )
            for d in self.dilations
        )

    def forward(self, inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        if len(inputs) != self.num_ins:
            raise ConfigError(
                f"JPU got {len(inputs)} feature levels but in_channels lists {self.num_ins}; make the backbone's "
                "out_indices and the neck's in_channels agree"
            )
        levels = range(self.start_level, self.backbone_end_level)
        feats = [self.conv_layers[i - self.start_level](inputs[i]) for i in levels]
        size = feats[0].shape[2:]
        feat = torch.cat([feats[0], *(resize(f, size, self.align_corners) for f in feats[1:])], dim=1)
        fused = torch.cat([layer(feat) for layer in self.dilation_layers], dim=1)
        return (*(inputs[i] for i in levels[:-1]), fused)
