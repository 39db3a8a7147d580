"""CCNet's criss-cross attention (MMCV's ``CrissCrossAttention``) in plain PyTorch.

Parameter names are MMCV's (``query_conv``, ``key_conv``, ``value_conv``, ``gamma.scale``), so CCNet
checkpoints load as they are. Each position attends, in one softmax, to every position of its row and to the
other positions of its column (itself counted once, in the row); the result, scaled by the learnable
``gamma`` (0 at first), is added to the input. Applied twice, information reaches every position.
"""

from __future__ import annotations

import torch
from torch import nn

from seglab.models.layers.scale import Scale


class CrissCrossAttention(nn.Module):
    """Criss-cross attention with query/key at ``in_channels // 8`` channels and a full-width value."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.query_conv = nn.Conv2d(in_channels, in_channels // 8, 1)
        self.key_conv = nn.Conv2d(in_channels, in_channels // 8, 1)
        self.value_conv = nn.Conv2d(in_channels, in_channels, 1)
        self.gamma = Scale(0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height = x.shape[2]
        query, key, value = self.query_conv(x), self.key_conv(x), self.value_conv(x)
        # rows: (N, H, W, C) against (N, H, C, W) -> (N, H, W, W'): position (h, w) with (h, w')
        q_rows = query.permute(0, 2, 3, 1)
        row_energy = q_rows @ key.permute(0, 2, 1, 3)
        # columns: (N, W, H, C) against (N, W, C, H) -> (N, W, H, H'), then (N, H, W, H'): (h, w) with (h', w)
        q_cols = query.permute(0, 3, 2, 1)
        col_energy = q_cols @ key.permute(0, 3, 1, 2)
        self_mask = torch.eye(height, dtype=torch.bool, device=x.device)
        col_energy = col_energy.masked_fill(self_mask, float("-inf")).transpose(1, 2)
        attention = torch.cat([col_energy, row_energy], dim=-1).softmax(dim=-1)
        col_attention, row_attention = attention[..., :height], attention[..., height:]
        # (N, H, W, W') @ (N, H, W', C) -> (N, H, W, C); (N, W, H, H') @ (N, W, H', C) -> (N, W, H, C)
        from_rows = row_attention @ value.permute(0, 2, 3, 1)
        from_cols = col_attention.transpose(1, 2) @ value.permute(0, 3, 2, 1)
        out = from_rows.permute(0, 3, 1, 2) + from_cols.permute(0, 3, 2, 1)
        return self.gamma(out) + x

    def extra_repr(self) -> str:
        return f"in_channels={self.in_channels}"
