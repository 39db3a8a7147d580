"""DETR's transformer encoder and decoder (MMDetection's ``DetrTransformerEncoder``/``Decoder``), as
MaskFormer uses them: post-norm layers of multi-head attention and FFN with MMCV's parameter names."""

from __future__ import annotations

import torch
from torch import nn

from seglab.models.layers import FFN, build_norm

from .parts import build_part, sub_dict
from .transformer_decoder import _attention


class DetrTransformerEncoderLayer(nn.Module):
    """Self-attention, LayerNorm, FFN, LayerNorm."""

    IGNORED_ARGS = {"init_cfg": None}

    def __init__(
        self,
        self_attn_cfg: dict | None = None,
        ffn_cfg: dict | None = None,
        norm_cfg: dict | None = dict(type="LN"),  # noqa: B006
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__()
        where = "pixel_decoder.encoder.layer_cfg"
        self.self_attn = _attention(self_attn_cfg, f"{where}.self_attn_cfg")
        self.embed_dims = self.self_attn.embed_dims
        ffn = ffn_cfg or dict(embed_dims=256, feedforward_channels=1024, num_fcs=2, ffn_drop=0.0)
        self.ffn = build_part(ffn, {"FFN": FFN}, f"{where}.ffn_cfg", default="FFN")
        self.norms = nn.ModuleList(build_norm(norm_cfg, self.embed_dims)[1] for _ in range(2))

    def forward(self, query, query_pos, key_padding_mask=None) -> torch.Tensor:
        query = self.self_attn(
            query, query, query, query_pos=query_pos, key_pos=query_pos, key_padding_mask=key_padding_mask
        )
        return self.norms[1](self.ffn(self.norms[0](query)))


class DetrTransformerEncoder(nn.Module):
    IGNORED_ARGS = {"num_cp": -1, "init_cfg": None}  # activation checkpointing (fairscale) is not offered

    def __init__(self, num_layers: int, layer_cfg: dict, num_cp: int = -1, init_cfg: dict | None = None) -> None:
        super().__init__()
        cfg = sub_dict(layer_cfg, "pixel_decoder.encoder.layer_cfg")
        self.layers = nn.ModuleList(DetrTransformerEncoderLayer(**cfg) for _ in range(num_layers))
        self.embed_dims = self.layers[0].embed_dims

    def forward(self, query, query_pos, key_padding_mask=None) -> torch.Tensor:
        for layer in self.layers:
            query = layer(query, query_pos, key_padding_mask)
        return query


class DetrTransformerDecoderLayer(nn.Module):
    """Self-attention, LayerNorm, cross-attention, LayerNorm, FFN, LayerNorm."""

    IGNORED_ARGS = {"init_cfg": None}

    def __init__(
        self,
        self_attn_cfg: dict | None = None,
        cross_attn_cfg: dict | None = None,
        ffn_cfg: dict | None = None,
        norm_cfg: dict | None = dict(type="LN"),  # noqa: B006
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__()
        where = "transformer_decoder.layer_cfg"
        self.self_attn = _attention(self_attn_cfg, f"{where}.self_attn_cfg")
        self.cross_attn = _attention(cross_attn_cfg, f"{where}.cross_attn_cfg")
        self.embed_dims = self.self_attn.embed_dims
        ffn = ffn_cfg or dict(embed_dims=256, feedforward_channels=1024, num_fcs=2, ffn_drop=0.0)
        self.ffn = build_part(ffn, {"FFN": FFN}, f"{where}.ffn_cfg", default="FFN")
        self.norms = nn.ModuleList(build_norm(norm_cfg, self.embed_dims)[1] for _ in range(3))

    def forward(self, query, key, query_pos, key_pos, key_padding_mask=None) -> torch.Tensor:
        query = self.norms[0](self.self_attn(query, query, query, query_pos=query_pos, key_pos=query_pos))
        query = self.cross_attn(
            query, key, key, query_pos=query_pos, key_pos=key_pos, key_padding_mask=key_padding_mask
        )
        return self.norms[2](self.ffn(self.norms[1](query)))


class DetrTransformerDecoder(nn.Module):
    """``num_layers`` decoder layers; ``post_norm`` of every layer's output (``return_intermediate``) or of
    the last one only, stacked as (stages, B, Q, C)."""

    IGNORED_ARGS = {"init_cfg": None}

    def __init__(
        self,
        num_layers: int,
        layer_cfg: dict,
        post_norm_cfg: dict | None = dict(type="LN"),  # noqa: B006
        return_intermediate: bool = True,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__()
        cfg = sub_dict(layer_cfg, "transformer_decoder.layer_cfg")
        self.layers = nn.ModuleList(DetrTransformerDecoderLayer(**cfg) for _ in range(num_layers))
        self.embed_dims = self.layers[0].embed_dims
        self.post_norm = build_norm(post_norm_cfg, self.embed_dims)[1]
        self.return_intermediate = return_intermediate

    def forward(self, query, key, query_pos, key_pos, key_padding_mask=None) -> torch.Tensor:
        outs = []
        for layer in self.layers:
            query = layer(query, key, query_pos, key_pos, key_padding_mask)
            if self.return_intermediate:
                outs.append(self.post_norm(query))
        return torch.stack(outs) if self.return_intermediate else self.post_norm(query).unsqueeze(0)
