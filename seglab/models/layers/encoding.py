"""EncNet's Encoding layer (MMSegmentation's ``Encoding``): a learnable residual encoder with ``codewords``
and a per-code smoothing ``scale``, the parameter names of MMSegmentation's checkpoints."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Encoding(nn.Module):
    """(N, C, H, W) features -> (N, num_codes, C): each code's soft-assigned sum of residuals x - c_k.

    Assignment weights are softmax_k(scale_k * ||x - c_k||^2). The squared distance is expanded as
    ||x||^2 - 2 x.c_k + ||c_k||^2 and the residual sum as (A^T X)_k - (sum_i a_ik) c_k, so no
    (N, H*W, num_codes, C) tensor is ever formed (the direct form needs gigabytes at 512x1024 crops)."""

    def __init__(self, channels: int, num_codes: int) -> None:
        super().__init__()
        self.channels, self.num_codes = channels, num_codes
        bound = 1.0 / (num_codes * channels) ** 0.5
        # initialised here, as MMSegmentation does (no init_cfg reaches them)
        self.codewords = nn.Parameter(torch.empty(num_codes, channels).uniform_(-bound, bound))
        self.scale = nn.Parameter(torch.empty(num_codes).uniform_(-1, 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        x = x.reshape(n, self.channels, -1).transpose(1, 2)  # (N, HW, C)
        codes = self.codewords
        distance = (x * x).sum(-1, keepdim=True) - 2 * x @ codes.t() + (codes * codes).sum(-1)  # (N, HW, K)
        assignment = F.softmax(distance * self.scale, dim=2)
        return assignment.transpose(1, 2) @ x - assignment.sum(1).unsqueeze(2) * codes  # (N, K, C)

    def extra_repr(self) -> str:
        return f"Nx{self.channels}xHxW => Nx{self.num_codes}x{self.channels}"
