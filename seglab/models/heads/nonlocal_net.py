"""NLNet's head: an FCN head whose two convs hold a non-local block between them (MMSegmentation's NLHead)."""

from __future__ import annotations

import torch

from seglab.models.heads.fcn import BlockFCNHead
from seglab.models.layers.non_local import NonLocal2d
from seglab.registry import MODELS


@MODELS.register()
class NLHead(BlockFCNHead):
    """``nl_block``: a ``NonLocal2d`` on ``channels`` with ``reduction``, ``use_scale``, ``mode``; its
    ``conv_out`` takes the head's ``norm_cfg``."""

    def __init__(self, reduction: int = 2, use_scale: bool = True, mode: str = "embedded_gaussian", **kwargs) -> None:
        super().__init__(**kwargs)
        self.reduction, self.use_scale, self.mode = reduction, use_scale, mode
        self.nl_block = NonLocal2d(
            self.channels, reduction, use_scale, conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, mode=mode
        )

    def apply_block(self, feats: torch.Tensor) -> torch.Tensor:
        return self.nl_block(feats)
