"""Multi-scale deformable attention (Deformable DETR) in PyTorch, with MMCV's parameter names.

Each query attends to ``num_points`` sampled locations per level and head, at its reference point plus
learned offsets; the sampled values (bilinear, zero outside) are averaged with softmax weights.
``grid_sample`` does the sampling, so it runs and differentiates on any device without compiled ops.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError


def multi_scale_deformable_attn(
    value: torch.Tensor,
    spatial_shapes: Sequence[tuple[int, int]],
    sampling_locations: torch.Tensor,
    attention_weights: torch.Tensor,
) -> torch.Tensor:
    """value (B, sum HW, heads, C), locations (B, Q, heads, levels, points, 2) in [0, 1] as (x, y),
    weights (B, Q, heads, levels, points) -> (B, Q, heads * C)."""
    batch, _, heads, channels = value.shape
    _, queries, _, levels, points, _ = sampling_locations.shape
    values = value.split([int(h) * int(w) for h, w in spatial_shapes], dim=1)
    grids = 2 * sampling_locations - 1  # grid_sample's [-1, 1], pixel centres (align_corners=False)
    sampled = []
    for level, (h, w) in enumerate(spatial_shapes):
        v = values[level].flatten(2).transpose(1, 2).reshape(batch * heads, channels, int(h), int(w))
        g = grids[:, :, :, level].transpose(1, 2).flatten(0, 1)  # (B*heads, Q, points, 2)
        sampled.append(F.grid_sample(v, g, mode="bilinear", padding_mode="zeros", align_corners=False))
    weights = attention_weights.transpose(1, 2).reshape(batch * heads, 1, queries, levels * points)
    out = (torch.stack(sampled, dim=-2).flatten(-2) * weights).sum(-1)  # (B*heads, C, Q)
    return out.view(batch, heads * channels, queries).transpose(1, 2).contiguous()


class MultiScaleDeformableAttention(nn.Module):
    """MMCV's ``MultiScaleDeformableAttention`` (``sampling_offsets``, ``attention_weights``,
    ``value_proj``, ``output_proj``): ``identity + dropout(output_proj(attention))``."""

    IGNORED_ARGS = {"im2col_step": 64, "norm_cfg": None, "init_cfg": None}  # CUDA kernel chunking; unused in MMCV

    def __init__(
        self,
        embed_dims: int = 256,
        num_heads: int = 8,
        num_levels: int = 4,
        num_points: int = 4,
        im2col_step: int = 64,
        dropout: float = 0.1,
        batch_first: bool = False,
        norm_cfg: dict | None = None,
        init_cfg: dict | None = None,
        value_proj_ratio: float = 1.0,
    ) -> None:
        super().__init__()
        if embed_dims % num_heads:
            raise ConfigError(
                f"MultiScaleDeformableAttention embed_dims={embed_dims} must divide by num_heads={num_heads}"
            )
        self.embed_dims, self.num_heads = embed_dims, num_heads
        self.num_levels, self.num_points = num_levels, num_points
        self.batch_first = batch_first
        self.dropout = nn.Dropout(dropout)
        self.sampling_offsets = nn.Linear(embed_dims, num_heads * num_levels * num_points * 2)
        self.attention_weights = nn.Linear(embed_dims, num_heads * num_levels * num_points)
        value_size = int(embed_dims * value_proj_ratio)
        self.value_proj = nn.Linear(embed_dims, value_size)
        self.output_proj = nn.Linear(value_size, embed_dims)
        self.init_weights()

    @torch.no_grad()
    def init_weights(self) -> None:
        """Offsets start on a ring per head (point i at distance i+1), weights uniform, projections Xavier."""
        nn.init.zeros_(self.sampling_offsets.weight)
        thetas = torch.arange(self.num_heads, dtype=torch.float32) * (2.0 * math.pi / self.num_heads)
        grid = torch.stack([thetas.cos(), thetas.sin()], -1)
        grid = (grid / grid.abs().max(-1, keepdim=True)[0]).view(self.num_heads, 1, 1, 2)
        grid = grid.repeat(1, self.num_levels, self.num_points, 1)
        grid *= torch.arange(1, self.num_points + 1, dtype=torch.float32).view(1, 1, -1, 1)
        self.sampling_offsets.bias.copy_(grid.view(-1))
        nn.init.zeros_(self.attention_weights.weight)
        nn.init.zeros_(self.attention_weights.bias)
        for proj in (self.value_proj, self.output_proj):
            nn.init.xavier_uniform_(proj.weight)
            nn.init.zeros_(proj.bias)

    def forward(
        self,
        query: torch.Tensor,
        value: torch.Tensor | None = None,
        identity: torch.Tensor | None = None,
        query_pos: torch.Tensor | None = None,
        key_padding_mask: torch.Tensor | None = None,
        reference_points: torch.Tensor | None = None,
        spatial_shapes: Sequence[tuple[int, int]] = (),
    ) -> torch.Tensor:
        """``reference_points`` (B, Q, levels, 2) in [0, 1]; ``spatial_shapes`` the levels' (H, W)."""
        value = query if value is None else value
        identity = query if identity is None else identity
        if query_pos is not None:
            query = query + query_pos
        if not self.batch_first:
            query, value = query.transpose(0, 1), value.transpose(0, 1)
        batch, num_query, _ = query.shape
        num_value = value.shape[1]
        value = self.value_proj(value)
        if key_padding_mask is not None:
            value = value.masked_fill(key_padding_mask[..., None], 0.0)
        value = value.view(batch, num_value, self.num_heads, -1)
        shape = (batch, num_query, self.num_heads, self.num_levels, self.num_points)
        offsets = self.sampling_offsets(query).view(*shape, 2)
        weights = self.attention_weights(query).view(batch, num_query, self.num_heads, -1).softmax(-1).view(shape)
        if reference_points.shape[-1] == 2:
            normalizer = torch.tensor([[w, h] for h, w in spatial_shapes], dtype=query.dtype, device=query.device)
            locations = reference_points[:, :, None, :, None, :] + offsets / normalizer[None, None, None, :, None, :]
        else:  # boxes (cx, cy, w, h): offsets scale with the box
            ref = reference_points[:, :, None, :, None]
            locations = ref[..., :2] + offsets / self.num_points * ref[..., 2:] * 0.5
        out = self.output_proj(multi_scale_deformable_attn(value, spatial_shapes, locations, weights))
        if not self.batch_first:
            out = out.transpose(0, 1)
        return self.dropout(out) + identity
