"""ResNeSt: ResNetV1d whose bottleneck 3x3 conv is a split-attention conv (``radix`` feature-map splits
weighted by a channel attention computed from their sum).

Parameter names are MMSegmentation's (``layer1.0.conv2.conv``, ``.bn0``, ``.fc1``, ``.bn1``, ``.fc2``; no
``bn2``), so its checkpoints, e.g. ``open-mmlab://resnest101``, load as they are.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seglab.models.backbones.resnet import ResidualBlock, ResNetV1d
from seglab.models.backbones.resnext import GroupedStages, check_depth, group_width, no_zero_init
from seglab.models.layers import build_norm
from seglab.registry import MODELS

BLOCKS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3), 200: (3, 24, 36, 3)}


class SplitAttentionConv2d(nn.Module):
    """A grouped conv to ``radix`` x ``channels``; the splits' sum, pooled, gives per-split channel weights
    (softmax over the splits, sigmoid for radix 1) through ``fc1`` (to ``max(in*radix/reduction, 32)``)
    and ``fc2``; the output is the weighted sum of the splits."""

    def __init__(
        self,
        in_channels: int,
        channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        dilation: int = 1,
        groups: int = 1,
        radix: int = 2,
        reduction_factor: int = 4,
        norm_cfg: dict | None = None,
    ) -> None:
        super().__init__()
        inter_channels = max(in_channels * radix // reduction_factor, 32)
        self.radix, self.groups, self.channels = radix, groups, channels
        self.conv = nn.Conv2d(
            in_channels,
            channels * radix,
            kernel_size,
            stride=stride,
            padding=padding,
            dilation=dilation,
            groups=groups * radix,
            bias=False,
        )
        self.bn0 = build_norm(norm_cfg, channels * radix)[1]
        self.relu = nn.ReLU(inplace=True)
        self.fc1 = nn.Conv2d(channels, inter_channels, 1, groups=groups)
        self.bn1 = build_norm(norm_cfg, inter_channels)[1]
        self.fc2 = nn.Conv2d(inter_channels, channels * radix, 1, groups=groups)

    def _attention(self, logits: torch.Tensor) -> torch.Tensor:
        """(N, radix * channels) split weights, ordered split-major like the conv's output channels."""
        n = logits.shape[0]
        if self.radix == 1:
            return torch.sigmoid(logits).reshape(n, -1)
        # fc2's channels are ordered (group, split, c): softmax over the splits, then split-major
        weights = logits.view(n, self.groups, self.radix, -1).transpose(1, 2).softmax(dim=1)
        return weights.reshape(n, -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn0(self.conv(x)))
        n = x.shape[0]
        splits = x.view(n, self.radix, -1, *x.shape[2:]) if self.radix > 1 else None
        pooled = F.adaptive_avg_pool2d(splits.sum(dim=1) if splits is not None else x, 1)
        weights = self._attention(self.fc2(self.relu(self.bn1(self.fc1(pooled))))).view(n, -1, 1, 1)
        if splits is None:
            return (weights * x).contiguous()
        return (weights.view(n, self.radix, -1, 1, 1) * splits).sum(dim=1).contiguous()


class ResNeStBottleneck(ResidualBlock):
    """1x1 -> split-attention 3x3 (stride moved to a 3x3 average pool ``avd_layer`` with
    ``avg_down_stride``) -> 1x1 (x4)."""

    expansion = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int,
        dilation: int,
        downsample: nn.Module | None,
        norm_cfg: dict | None,
        with_cp: bool,
        style: str,
        groups: int,
        width: int,
        radix: int,
        reduction_factor: int,
        avg_down_stride: bool,
    ) -> None:
        super().__init__()
        stride1, stride2 = (1, stride) if style == "pytorch" else (stride, 1)
        self.avg_down_stride = avg_down_stride and stride2 > 1
        self.conv1 = nn.Conv2d(inplanes, width, 1, stride=stride1, bias=False)
        self.bn1 = build_norm(norm_cfg, width)[1]
        self.conv2 = SplitAttentionConv2d(
            width,
            width,
            3,
            stride=1 if self.avg_down_stride else stride2,
            padding=dilation,
            dilation=dilation,
            groups=groups,
            radix=radix,
            reduction_factor=reduction_factor,
            norm_cfg=norm_cfg,
        )
        if self.avg_down_stride:
            self.avd_layer = nn.AvgPool2d(3, stride2, padding=1)
        self.conv3 = nn.Conv2d(width, planes * self.expansion, 1, bias=False)
        self.bn3 = build_norm(norm_cfg, planes * self.expansion)[1]
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.with_cp = with_cp

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.relu(self.bn1(self.conv1(x))))
        if self.avg_down_stride:
            out = self.avd_layer(out)
        out = self.bn3(self.conv3(out))
        out += x if self.downsample is None else self.downsample(x)  # in place: bn3's backward keeps no output
        return out


@MODELS.register()
class ResNeSt(GroupedStages, ResNetV1d):
    """ResNetV1d (deep stem, average-pool shortcuts) with split-attention bottlenecks; depths 50-200.
    MMSegmentation's configs use ``stem_channels=128, radix=2, reduction_factor=4, avg_down_stride=True``."""

    def __init__(
        self,
        groups: int = 1,
        base_width: int = 4,
        radix: int = 2,
        reduction_factor: int = 4,
        avg_down_stride: bool = True,
        **kwargs,
    ) -> None:
        depth = kwargs.pop("depth", None)
        base_depth = check_depth("ResNeSt", depth, BLOCKS)
        self.groups, self.base_width, self.radix = groups, base_width, radix
        self.reduction_factor, self.avg_down_stride = reduction_factor, avg_down_stride
        self._base_channels = kwargs.get("base_channels", 64)
        self._stage_blocks = BLOCKS[depth]
        super().__init__(depth=base_depth, **kwargs)
        self.depth = depth
        no_zero_init(self)

    def _block(self, inplanes, planes, stride, dilation, downsample, norm_cfg, with_cp, style) -> nn.Module:
        width = group_width(planes, self.groups, self.base_width, self._base_channels)
        return ResNeStBottleneck(
            inplanes,
            planes,
            stride,
            dilation,
            downsample,
            norm_cfg,
            with_cp,
            style,
            self.groups,
            width,
            self.radix,
            self.reduction_factor,
            self.avg_down_stride,
        )
