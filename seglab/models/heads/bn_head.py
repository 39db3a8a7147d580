"""The DINOv2 authors' linear segmentation probe (``BNHead``): the selected backbone maps (resized to the first
one and concatenated, e.g. the last four blocks) through one BatchNorm, then the 1x1 classifier. With a
frozen backbone it is the paper's "linear" / "+ms" evaluation; with a trainable one, a minimal head."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from seglab.models.heads.decode_head import BaseDecodeHead
from seglab.models.layers.conv_module import build_norm
from seglab.registry import MODELS


@MODELS.register()
class BNHead(BaseDecodeHead):
    """BatchNorm (``bn``, of ``norm_cfg``'s type) over the ``in_channels`` features, then ``conv_seg``;
    ``channels`` must equal the (summed) ``in_channels``, as no conv changes the width."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("norm_cfg", dict(type="SyncBN", requires_grad=True))
        super().__init__(**kwargs)
        self.bn = build_norm(self.norm_cfg, self.in_channels)[1]

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.cls_seg(self.bn(self._transform_inputs(inputs)))
