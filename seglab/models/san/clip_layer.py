"""The pre-norm transformer layer of OpenAI's CLIP in MMCV's ``BaseTransformerLayer`` layout
(``norms.0``, ``attentions.0.attn``, ``norms.1``, ``ffns.0.layers``) with operation order
(norm, self_attn, norm, ffn): what SAN's text encoder and its mask-recognition layers are made of."""

from __future__ import annotations

import torch
from torch import nn

from seglab.models.layers.conv_module import build_norm
from seglab.models.layers.transformer import FFN, MultiheadAttention


class CLIPLayer(nn.Module):
    """``x + attn(norm0(x))`` then ``x + ffn(norm1(x))``; sequence-first (L, N, C) like CLIP."""

    def __init__(
        self,
        embed_dims: int,
        num_heads: int,
        feedforward_channels: int,
        qkv_bias: bool = True,
        act_cfg: dict | None = None,
        norm_cfg: dict | None = None,
    ) -> None:
        super().__init__()
        norm_cfg = norm_cfg or dict(type="LN")
        self.attentions = nn.ModuleList([MultiheadAttention(embed_dims, num_heads, batch_first=False, bias=qkv_bias)])
        self.ffns = nn.ModuleList([FFN(embed_dims, feedforward_channels, act_cfg=act_cfg or dict(type="QuickGELU"))])
        self.norms = nn.ModuleList([build_norm(norm_cfg, embed_dims)[1] for _ in range(2)])

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        y = self.norms[0](x)
        x = self.attentions[0](y, y, y, identity=x, attn_mask=attn_mask)
        return self.ffns[0](self.norms[1](x), identity=x)
