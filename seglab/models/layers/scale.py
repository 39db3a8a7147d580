"""MMCV's ``Scale``: one learnable scalar multiplier, shared by DANet's attention modules and CCNet's
criss-cross attention (``gamma.scale`` in their checkpoints)."""

from __future__ import annotations

import torch
from torch import nn


class Scale(nn.Module):
    """Multiplies its input by one learnable scalar ``scale`` (a 0-d parameter, as MMCV stores it)."""

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(scale, dtype=torch.float))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale
