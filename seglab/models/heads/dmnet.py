"""DMNet's head (Dynamic Multi-scale filters): per filter size, a depthwise filter generated from the
input's pooled content convolves the reduced input. Keys are MMSegmentation's."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError
from seglab.models.heads.decode_head import BaseDecodeHead
from seglab.models.layers import ConvModule, build_activation, build_norm
from seglab.registry import MODELS


class DCM(nn.Module):
    """Dynamic Convolutional Module: ``filter_gen_conv`` turns the ``filter_size``-pooled input into one
    ``filter_size x filter_size`` filter per sample and channel, applied depthwise (zero padding, one extra
    row/column before for even sizes) to ``input_redu_conv``'s output; then ``norm``, ``activate`` and,
    with ``fusion``, ``fusion_conv``."""

    def __init__(
        self,
        filter_size: int,
        fusion: bool,
        in_channels: int,
        channels: int,
        conv_cfg: dict | None,
        norm_cfg: dict | None,
        act_cfg: dict | None,
    ) -> None:
        super().__init__()
        self.filter_size, self.fusion = filter_size, fusion
        self.in_channels, self.channels = in_channels, channels
        self.conv_cfg, self.norm_cfg, self.act_cfg = conv_cfg, norm_cfg, act_cfg
        self.filter_gen_conv = nn.Conv2d(in_channels, channels, 1, 1, 0)
        convs = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.input_redu_conv = ConvModule(in_channels, channels, 1, **convs)
        self.norm = build_norm(norm_cfg, channels)[1] if norm_cfg is not None else None
        self.activate = build_activation(act_cfg)
        if fusion:
            self.fusion_conv = ConvModule(channels, channels, 1, **convs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.filter_size
        filters = self.filter_gen_conv(F.adaptive_avg_pool2d(x, k))  # N, C, k, k
        x = self.input_redu_conv(x)
        n, c, h, w = x.shape
        before, after = k // 2, (k - 1) // 2  # MMSegmentation pads one more before for even sizes
        x = F.pad(x.reshape(1, n * c, h, w), (before, after, before, after))
        out = F.conv2d(x, filters.reshape(n * c, 1, k, k), groups=n * c).reshape(n, c, h, w)
        if self.norm is not None:
            out = self.norm(out)
        if self.activate is not None:
            out = self.activate(out)
        return self.fusion_conv(out) if self.fusion else out


@MODELS.register()
class DMHead(BaseDecodeHead):
    """The input and one DCM output per ``filter_sizes`` entry, concatenated, go through a 3x3
    ``bottleneck`` and the classifier. Keys: ``dcm_modules.<i>.<layer>``, ``bottleneck``."""

    def __init__(self, filter_sizes: Sequence[int] = (1, 3, 5, 7), fusion: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        if not isinstance(filter_sizes, list | tuple) or not all(isinstance(s, int) and s > 0 for s in filter_sizes):
            raise ConfigError(
                f"DMHead filter_sizes must be a list of positive ints such as (1, 3, 5, 7), got {filter_sizes!r}"
            )
        self.filter_sizes, self.fusion = filter_sizes, fusion
        convs = dict(conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.dcm_modules = nn.ModuleList(
            DCM(size, fusion, self.in_channels, self.channels, **convs) for size in filter_sizes
        )
        self.bottleneck = ConvModule(
            self.in_channels + len(filter_sizes) * self.channels, self.channels, 3, padding=1, **convs
        )

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        x = self._transform_inputs(inputs)
        out = self.bottleneck(torch.cat([x, *(dcm(x) for dcm in self.dcm_modules)], dim=1))
        return self.cls_seg(out)
