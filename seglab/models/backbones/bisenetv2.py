"""BiSeNetV2 (Yu et al. 2020): a wide, shallow detail branch and a narrow, deep semantic branch (stem,
gather-and-expansion layers, context embedding), fused by bilateral guided aggregation (BGA).

Module and parameter names are MMSegmentation's (``detail.detail_branch.0.0``, ``semantic.stage3.1.dwconv``,
``semantic.stage4_CEBlock``, ``bga.detail_down`` ...), so its checkpoints load key for key.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError
from seglab.models.backbones.bisenetv1 import _check_out_indices
from seglab.models.layers import ConvModule, DepthwiseSeparableConvModule, build_activation, build_norm
from seglab.registry import MODELS

BN = dict(type="BN")
RELU = dict(type="ReLU")


class DetailBranch(nn.Module):
    """Stages of 3x3 convs, the first of each with stride 2 (two convs in stage 1, three after): 1/8."""

    init_cfg = None  # an MMEngine BaseModule: the init walk enters it

    def __init__(self, detail_channels: Sequence[int] = (64, 64, 128), in_channels: int = 3) -> None:
        super().__init__()
        stages = []
        for i, out in enumerate(detail_channels):
            cin = in_channels if i == 0 else detail_channels[i - 1]
            convs = [ConvModule(cin, out, 3, 2, 1, norm_cfg=BN)]
            convs += [ConvModule(out, out, 3, 1, 1, norm_cfg=BN) for _ in range(1 if i == 0 else 2)]
            stages.append(nn.Sequential(*convs))
        self.detail_branch = nn.ModuleList(stages)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for stage in self.detail_branch:
            x = stage(x)
        return x


class StemBlock(nn.Module):
    """Stride-4 stem: a strided conv, then a conv pair and a max-pool side by side, concatenated and fused."""

    init_cfg = None

    def __init__(self, in_channels: int = 3, out_channels: int = 16) -> None:
        super().__init__()
        half = out_channels // 2
        self.conv_first = ConvModule(in_channels, out_channels, 3, 2, 1, norm_cfg=BN)
        self.convs = nn.Sequential(
            ConvModule(out_channels, half, 1, 1, 0, norm_cfg=BN), ConvModule(half, out_channels, 3, 2, 1, norm_cfg=BN)
        )
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1, ceil_mode=False)
        self.fuse_last = ConvModule(out_channels * 2, out_channels, 3, 1, 1, norm_cfg=BN)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_first(x)
        return self.fuse_last(torch.cat([self.convs(x), self.pool(x)], dim=1))


class GELayer(nn.Module):
    """Gather-and-expansion: 3x3 conv, depthwise expansion by ``exp_ratio`` (two depthwise convs and a
    depthwise-separable shortcut when strided), 1x1 projection, residual add and ReLU."""

    init_cfg = None

    def __init__(self, in_channels: int, out_channels: int, exp_ratio: int = 6, stride: int = 1) -> None:
        super().__init__()
        mid = in_channels * exp_ratio
        self.conv1 = ConvModule(in_channels, in_channels, 3, 1, 1, norm_cfg=BN)
        if stride == 1:
            self.dwconv = nn.Sequential(ConvModule(in_channels, mid, 3, stride, 1, groups=in_channels, norm_cfg=BN))
            self.shortcut = None
        else:
            self.dwconv = nn.Sequential(
                ConvModule(in_channels, mid, 3, stride, 1, groups=in_channels, bias=False, norm_cfg=BN, act_cfg=None),
                ConvModule(mid, mid, 3, 1, 1, groups=mid, norm_cfg=BN),
            )
            self.shortcut = nn.Sequential(
                DepthwiseSeparableConvModule(
                    in_channels,
                    out_channels,
                    3,
                    stride,
                    1,
                    dw_norm_cfg=BN,
                    dw_act_cfg=None,
                    pw_norm_cfg=BN,
                    pw_act_cfg=None,
                )
            )
        self.conv2 = nn.Sequential(ConvModule(mid, out_channels, 1, 1, 0, bias=False, norm_cfg=BN, act_cfg=None))
        self.act = build_activation(RELU)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.dwconv(self.conv1(x)))
        return self.act(out + (x if self.shortcut is None else self.shortcut(x)))


class CEBlock(nn.Module):
    """Context embedding: the global average (after BN), 1x1 conv, added back to every position, 3x3 conv."""

    init_cfg = None

    def __init__(self, in_channels: int = 3, out_channels: int = 16) -> None:
        super().__init__()
        self.gap = nn.Sequential(nn.AdaptiveAvgPool2d((1, 1)), build_norm(BN, in_channels)[1])
        self.conv_gap = ConvModule(in_channels, out_channels, 1, 1, 0, norm_cfg=BN)
        self.conv_last = ConvModule(out_channels, out_channels, 3, 1, 1, norm_cfg=BN)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_last(x + self.conv_gap(self.gap(x)))


class SemanticBranch(nn.Module):
    """Stem (1/4), then GE stages each halving the resolution (two layers; four in the last), then the CE
    block; returns every stage's output (the earlier ones feed the auxiliary 'booster' heads)."""

    init_cfg = None

    def __init__(self, semantic_channels: Sequence[int] = (16, 32, 64, 128), in_channels: int = 3, exp_ratio: int = 6):
        super().__init__()
        self.semantic_stages = []
        last = len(semantic_channels) - 1
        for i, out in enumerate(semantic_channels):
            if i == 0:
                stage = StemBlock(in_channels, out)
            else:
                layers = [GELayer(semantic_channels[i - 1], out, exp_ratio, 2)]
                layers += [GELayer(out, out, exp_ratio, 1) for _ in range(3 if i == last else 1)]
                stage = nn.Sequential(*layers)
            self.add_module(f"stage{i + 1}", stage)
            self.semantic_stages.append(f"stage{i + 1}")
        ce_name = f"stage{len(semantic_channels)}_CEBlock"
        self.add_module(ce_name, CEBlock(semantic_channels[-1], semantic_channels[-1]))
        self.semantic_stages.append(ce_name)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = []
        for name in self.semantic_stages:
            x = getattr(self, name)(x)
            outs.append(x)
        return outs


class BGALayer(nn.Module):
    """Each branch gates the other: detail (1/8) by the upsampled semantic map, semantic (1/32) by the
    downsampled detail map; the two products are summed at 1/8 and fused by a 3x3 conv."""

    init_cfg = None

    def __init__(self, out_channels: int = 128, align_corners: bool = False) -> None:
        super().__init__()
        c = out_channels
        self.align_corners = align_corners
        separable = dict(dw_norm_cfg=BN, dw_act_cfg=None, pw_norm_cfg=None, pw_act_cfg=None)
        self.detail_dwconv = nn.Sequential(DepthwiseSeparableConvModule(c, c, 3, 1, 1, **separable))
        self.detail_down = nn.Sequential(
            ConvModule(c, c, 3, 2, 1, bias=False, norm_cfg=BN, act_cfg=None),
            nn.AvgPool2d(kernel_size=3, stride=2, padding=1, ceil_mode=False),
        )
        self.semantic_conv = nn.Sequential(ConvModule(c, c, 3, 1, 1, bias=False, norm_cfg=BN, act_cfg=None))
        self.semantic_dwconv = nn.Sequential(DepthwiseSeparableConvModule(c, c, 3, 1, 1, **separable))
        self.conv = ConvModule(c, c, 3, 1, 1, inplace=True, norm_cfg=BN, act_cfg=RELU)

    def _resize(self, x: torch.Tensor, size: torch.Size) -> torch.Tensor:
        return F.interpolate(x, size=size, mode="bilinear", align_corners=self.align_corners)

    def forward(self, x_d: torch.Tensor, x_s: torch.Tensor) -> torch.Tensor:
        detail = self.detail_dwconv(x_d)
        semantic_gate = self._resize(self.semantic_conv(x_s), detail.shape[2:])
        fuse_detail = detail * torch.sigmoid(semantic_gate)
        fuse_semantic = self.detail_down(x_d) * torch.sigmoid(self.semantic_dwconv(x_s))
        return self.conv(fuse_detail + self._resize(fuse_semantic, fuse_detail.shape[2:]))


@MODELS.register()
class BiSeNetV2(nn.Module):
    """Outputs (selected by ``out_indices``): the BGA map (``bga_channels``, 1/8), then the semantic branch's
    stem and GE stages (1/4, 1/8, 1/16, 1/32 with the default four ``semantic_channels``).

    As in MMSegmentation 1.2.2, every block is built with BN and ReLU: ``conv_cfg``/``norm_cfg``/``act_cfg``
    are stored there but reach no layer. The BGA needs ``bga_channels`` equal to the last detail and
    semantic channels."""

    IGNORED_ARGS = {"conv_cfg": None, "norm_cfg": dict(type="BN"), "act_cfg": dict(type="ReLU")}

    def __init__(
        self,
        in_channels: int = 3,
        detail_channels: Sequence[int] = (64, 64, 128),
        semantic_channels: Sequence[int] = (16, 32, 64, 128),
        semantic_expansion_ratio: int = 6,
        bga_channels: int = 128,
        out_indices: Sequence[int] = (0, 1, 2, 3, 4),
        align_corners: bool = False,
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = dict(type="BN"),  # noqa: B006
        act_cfg: dict | None = dict(type="ReLU"),  # noqa: B006
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        if not (detail_channels[-1] == semantic_channels[-1] == bga_channels):
            raise ConfigError(
                f"BiSeNetV2: detail_channels[-1] ({detail_channels[-1]}), semantic_channels[-1] "
                f"({semantic_channels[-1]}) and bga_channels ({bga_channels}) must be equal: the BGA layer gates "
                "one branch by the other"
            )
        if len(semantic_channels) < 2:
            raise ConfigError(
                f"BiSeNetV2 semantic_channels needs a stem and at least one GE stage, got {semantic_channels}"
            )
        self.out_indices = _check_out_indices("BiSeNetV2", out_indices, len(semantic_channels) + 1)
        # MMSegmentation's default: He-normal convs, unit norms (before the blocks' own ConvModule init)
        if init_cfg is None:
            init_cfg = [
                dict(type="Kaiming", layer="Conv2d"),
                dict(type="Constant", val=1, layer=["_BatchNorm", "GroupNorm"]),
            ]
        self.init_cfg = init_cfg
        self.detail = DetailBranch(detail_channels, in_channels)
        self.semantic = SemanticBranch(semantic_channels, in_channels, semantic_expansion_ratio)
        self.bga = BGALayer(bga_channels, align_corners)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        semantic = self.semantic(x)
        outs = [self.bga(self.detail(x), semantic[-1]), *semantic[:-1]]
        return tuple(outs[i] for i in self.out_indices)
