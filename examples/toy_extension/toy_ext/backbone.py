"""ToyBackbone: a stack of stride-2 conv blocks, one feature map per stage (what a decode head selects from)."""

from __future__ import annotations

import torch
from torch import nn

from seglab.registry import MODELS


@MODELS.register(kind="backbone")
class ToyBackbone(nn.Module):
    """``len(channels)`` stages of conv-BN-ReLU with stride 2; returns every stage's output, finest first."""

    def __init__(self, in_channels: int = 3, channels: tuple[int, ...] = (8, 16), init_cfg: dict | None = None) -> None:
        super().__init__()
        self.init_cfg = init_cfg  # seglab's init walk reads it (None: PyTorch's default initialisation)
        stages, previous = [], in_channels
        for width in channels:
            stages.append(
                nn.Sequential(
                    nn.Conv2d(previous, width, 3, stride=2, padding=1, bias=False),
                    nn.BatchNorm2d(width),
                    nn.ReLU(inplace=True),
                )
            )
            previous = width
        self.stages = nn.ModuleList(stages)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outs = []
        for stage in self.stages:
            x = stage(x)
            outs.append(x)
        return tuple(outs)
