"""SETR's multi-level feature aggregation neck (``MLANeck``): ViT levels layer-normalised, projected to
``out_channels``, summed top-down (deepest first) and each sum refined by a 3x3 ConvModule."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.layers import ConvModule, build_norm
from seglab.registry import MODELS


class MLAModule(nn.Module):
    """1x1 ``channel_proj`` per level, cumulative sums from the deepest level, 3x3 ``feat_extract`` per sum.

    Output i is the refined sum of the levels from the deepest down to level ``n - 1 - i``, so output 0 holds
    the deepest level alone, as MMSegmentation orders them."""

    def __init__(
        self, in_channels: Sequence[int], out_channels: int, norm_cfg: dict | None, act_cfg: dict | None
    ) -> None:
        super().__init__()
        conv_args = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.channel_proj = nn.ModuleList(ConvModule(c, out_channels, 1, **conv_args) for c in in_channels)
        self.feat_extract = nn.ModuleList(
            ConvModule(out_channels, out_channels, 3, padding=1, **conv_args) for _ in in_channels
        )

    def forward(self, inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        projected = [conv(x) for x, conv in zip(inputs, self.channel_proj)][::-1]  # deepest first
        sums = [projected[0]]
        for feat in projected[1:]:
            sums.append(sums[-1] + feat)
        return tuple(conv(x) for x, conv in zip(sums, self.feat_extract))


@MODELS.register()
class MLANeck(nn.Module):
    """``norm_layer`` normalises each input level's tokens (one LayerNorm per level, ``norm.i``); ``norm_cfg``
    and ``act_cfg`` belong to the ConvModules of ``mla``. Like MMSegmentation's (a plain module), it takes no
    part in the model's init walk: its layers keep the initialisation they were built with."""

    def __init__(
        self,
        in_channels: Sequence[int],
        out_channels: int,
        norm_layer: dict = dict(type="LN", eps=1e-6, requires_grad=True),  # noqa: B006 (never mutated)
        norm_cfg: dict | None = None,
        act_cfg: dict | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(in_channels, list | tuple) or not in_channels:
            raise ConfigError(f"MLANeck in_channels must be a list of channel counts per level, got {in_channels!r}")
        self.in_channels, self.out_channels = list(in_channels), out_channels
        self.norm = nn.ModuleList(build_norm(norm_layer, c)[1] for c in self.in_channels)
        self.mla = MLAModule(self.in_channels, out_channels, norm_cfg, act_cfg)

    def forward(self, inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        if len(inputs) != len(self.in_channels):
            raise ValueError(f"MLANeck expects {len(self.in_channels)} feature levels, got {len(inputs)}")
        normed = [norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2).contiguous() for x, norm in zip(inputs, self.norm)]
        return self.mla(normed)
