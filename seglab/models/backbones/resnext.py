"""ResNeXt: ResNet whose bottleneck 3x3 conv is grouped (``groups`` x ``base_width``-wide paths).

Parameter names are MMSegmentation's ResNeXt's (``layer1.0.conv2`` grouped, ``bn1``/``bn2``/``bn3``), so its
checkpoints load as they are. ``GroupedStages`` is the stage builder ResNeSt reuses with its own block.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.backbones.resnet import ResidualBlock, ResNet
from seglab.models.layers import build_norm
from seglab.registry import MODELS

BLOCKS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


def group_width(planes: int, groups: int, base_width: int, base_channels: int) -> int:
    """The bottleneck's inner width: ``planes`` for one group, else ``floor(planes * base_width / base_channels) * groups``."""
    return planes if groups == 1 else math.floor(planes * (base_width / base_channels)) * groups


class ResNeXtBottleneck(ResidualBlock):
    """1x1 -> grouped 3x3 -> 1x1 (x4); 'pytorch' style strides the 3x3 conv, 'caffe' the first 1x1."""

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
    ) -> None:
        super().__init__()
        stride1, stride2 = (1, stride) if style == "pytorch" else (stride, 1)
        self.conv1 = nn.Conv2d(inplanes, width, 1, stride=stride1, bias=False)
        self.bn1 = build_norm(norm_cfg, width)[1]
        self.conv2 = nn.Conv2d(
            width, width, 3, stride=stride2, padding=dilation, dilation=dilation, groups=groups, bias=False
        )
        self.bn2 = build_norm(norm_cfg, width)[1]
        self.conv3 = nn.Conv2d(width, planes * self.expansion, 1, bias=False)
        self.bn3 = build_norm(norm_cfg, planes * self.expansion)[1]
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.with_cp = with_cp

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += x if self.downsample is None else self.downsample(x)  # in place: bn3's backward keeps no output
        return out


class GroupedStages:
    """Mixin for ResNet subclasses with their own bottleneck: ResNet's stage builder (its shortcut,
    ``avg_down``, dilation, ``contract_dilation`` and ``multi_grid`` rules) with ``self._block`` as the
    block. ``_stage_blocks`` is the family's depth table, which ResNet uses for the stage lengths (it
    lacks depth 200)."""

    def _block(self, inplanes, planes, stride, dilation, downsample, norm_cfg, with_cp, style) -> nn.Module:
        raise NotImplementedError

    def _make_layer(
        self,
        block,
        inplanes,
        planes,
        num_blocks,
        stride,
        dilation,
        avg_down,
        contract_dilation,
        norm_cfg,
        with_cp,
        style,
        multi_grid=None,
    ) -> nn.Sequential:
        """``ResNet._make_layer`` with this family's block in place of ResNet's ``block``."""

        def family_block(inplanes, planes, stride, dilation, downsample, norm_cfg, with_cp) -> nn.Module:
            return self._block(inplanes, planes, stride, dilation, downsample, norm_cfg, with_cp, style)

        family_block.expansion = block.expansion
        return ResNet._make_layer(
            family_block,
            inplanes,
            planes,
            num_blocks,
            stride,
            dilation,
            avg_down,
            contract_dilation,
            norm_cfg,
            with_cp,
            style,
            multi_grid,
        )


def check_depth(name: str, depth: int, table: dict) -> int:
    """The depth ResNet's own table knows with the same last stage (it only checks ``multi_grid`` with it)."""
    if depth not in table:
        raise ConfigError(f"{name} depth {depth} is not one of {sorted(table)} (bottleneck depths only)")
    return 152 if depth == 200 else depth


def no_zero_init(backbone: nn.Module) -> None:
    """MMSegmentation zero-initialises the last norm of ResNet's own blocks only (an ``is Bottleneck`` test),
    so its ResNeXt/ResNeSt blocks keep unit norms: clear the block cfg ResNet set."""
    for name in backbone.res_layers:
        for block in getattr(backbone, name):
            block.init_cfg = None


@MODELS.register()
class ResNeXt(GroupedStages, ResNet):
    """ResNet (plain stem, 'pytorch' or 'caffe' style) with ``groups`` paths of ``base_width`` channels
    per ``base_channels`` in each bottleneck; depths 50, 101, 152."""

    def __init__(self, groups: int = 1, base_width: int = 4, **kwargs) -> None:
        depth = kwargs.pop("depth", None)
        self.groups, self.base_width = groups, base_width
        self._base_channels = kwargs.get("base_channels", 64)
        base_depth = check_depth("ResNeXt", depth, BLOCKS)
        self._stage_blocks = BLOCKS[depth]
        super().__init__(depth=base_depth, **kwargs)
        self.depth = depth
        no_zero_init(self)

    def _block(self, inplanes, planes, stride, dilation, downsample, norm_cfg, with_cp, style) -> nn.Module:
        width = group_width(planes, self.groups, self.base_width, self._base_channels)
        return ResNeXtBottleneck(
            inplanes, planes, stride, dilation, downsample, norm_cfg, with_cp, style, self.groups, width
        )
