"""GCNet's head: an FCN head with a global context block between its two convs (MMSegmentation's GCHead)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from seglab.models.heads.fcn import BlockFCNHead
from seglab.models.layers.context_block import ContextBlock
from seglab.registry import MODELS


@MODELS.register()
class GCHead(BlockFCNHead):
    """``gc_block``: a ``ContextBlock`` on ``channels`` with ``ratio``, ``pooling_type``, ``fusion_types``."""

    def __init__(
        self,
        ratio: float = 1 / 4.0,
        pooling_type: str = "att",
        fusion_types: Sequence[str] = ("channel_add",),
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.ratio, self.pooling_type, self.fusion_types = ratio, pooling_type, fusion_types
        self.gc_block = ContextBlock(self.channels, ratio, pooling_type, fusion_types)

    def apply_block(self, feats: torch.Tensor) -> torch.Tensor:
        return self.gc_block(feats)
