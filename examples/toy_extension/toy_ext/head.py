"""ToyHead: one 3x3 conv on the selected feature map, then seglab's shared classifier and losses."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seglab.models.heads.decode_head import BaseDecodeHead
from seglab.registry import MODELS


@MODELS.register(kind="head")
class ToyHead(BaseDecodeHead):
    """``BaseDecodeHead`` gives feature selection (``in_index``), ``conv_seg``, losses and prediction;
    the head itself only says how features become the classifier's input."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.conv = nn.Sequential(nn.Conv2d(self.in_channels, self.channels, 3, padding=1), nn.ReLU(inplace=True))

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.cls_seg(self.conv(self._transform_inputs(inputs)))
