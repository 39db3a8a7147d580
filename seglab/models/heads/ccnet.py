"""CCNet's head: an FCN head applying criss-cross attention ``recurrence`` times between its two convs."""

from __future__ import annotations

import torch

from seglab.errors import ConfigError
from seglab.models.heads.fcn import BlockFCNHead
from seglab.models.layers.criss_cross import CrissCrossAttention
from seglab.registry import MODELS


@MODELS.register()
class CCHead(BlockFCNHead):
    """``cca``: one ``CrissCrossAttention`` on ``channels`` (query/key at channels // 8), applied
    ``recurrence`` times with the same weights (2 lets every position reach every other)."""

    def __init__(self, recurrence: int = 2, **kwargs) -> None:
        super().__init__(**kwargs)
        if not isinstance(recurrence, int) or recurrence < 0:
            raise ConfigError(f"CCHead recurrence must be an int >= 0, got {recurrence!r}")
        if self.channels < 8:
            raise ConfigError(f"CCHead needs channels >= 8 (query/key use channels // 8), got {self.channels}")
        self.recurrence = recurrence
        self.cca = CrissCrossAttention(self.channels)

    def apply_block(self, feats: torch.Tensor) -> torch.Tensor:
        for _ in range(self.recurrence):
            feats = self.cca(feats)
        return feats
