"""Residual blocks of the real-time two-branch networks (DDRNet, PIDNet), as MMSegmentation's
``mmseg/models/utils/basic_block.py`` builds them: ConvModules (``conv1.conv``, ``conv1.bn`` ...) and an
optional activation after the sum (``act_cfg_out``), which these networks drop on a stage's last block.

They differ from ResNet's blocks (``seglab.models.backbones.resnet``) in key names and in that last
activation, so checkpoints of these families need these."""

from __future__ import annotations

import torch
from torch import nn

from seglab.models.layers.conv_module import ConvModule, build_activation

BN = dict(type="BN")
RELU = dict(type="ReLU", inplace=True)


class ResidualBlock(nn.Module):
    """``act(convs(x) + shortcut(x))``; the shortcut is ``downsample`` or the identity."""

    expansion = 1
    downsample: nn.Module | None
    act: nn.Module | None

    def __init__(self, init_cfg: dict | list | None = None) -> None:
        super().__init__()
        self.init_cfg = init_cfg  # a BaseModule in MMSegmentation: the init walk may reach it

    def _convs(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self._convs(x)
        out += self.downsample(x) if self.downsample is not None else x  # in place: the last ConvModule has no act
        return self.act(out) if self.act is not None else out


class BasicBlock(ResidualBlock):
    """Two 3x3 ConvModules; the activation after the sum defaults to ReLU."""

    expansion = 1

    def __init__(
        self,
        in_channels: int,
        channels: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        norm_cfg: dict | None = BN,
        act_cfg: dict | None = RELU,
        act_cfg_out: dict | None = RELU,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__(init_cfg)
        self.conv1 = ConvModule(in_channels, channels, 3, stride=stride, padding=1, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.conv2 = ConvModule(channels, channels, 3, padding=1, norm_cfg=norm_cfg, act_cfg=None)
        self.downsample = downsample
        self.act = build_activation(act_cfg_out) if act_cfg_out else None

    def _convs(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(x))


class Bottleneck(ResidualBlock):
    """1x1, 3x3 (strided), 1x1 ConvModules to ``channels * 2``; no activation after the sum by default."""

    expansion = 2

    def __init__(
        self,
        in_channels: int,
        channels: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        norm_cfg: dict | None = BN,
        act_cfg: dict | None = RELU,
        act_cfg_out: dict | None = None,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__(init_cfg)
        self.conv1 = ConvModule(in_channels, channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.conv2 = ConvModule(channels, channels, 3, stride, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.conv3 = ConvModule(channels, channels * self.expansion, 1, norm_cfg=norm_cfg, act_cfg=None)
        self.act = build_activation(act_cfg_out) if act_cfg_out else None
        self.downsample = downsample

    def _convs(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv3(self.conv2(self.conv1(x)))
