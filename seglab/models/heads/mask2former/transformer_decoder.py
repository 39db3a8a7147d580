"""The masked-attention transformer decoder of Mask2Former (MMDetection's names: ``layers.i.cross_attn``,
``self_attn``, ``ffn``, ``norms.0-2``, ``post_norm``).

Each layer attends first to one feature level, restricted to where the previous prediction's mask is
foreground (``cross_attn_mask``), then among the queries, then applies the FFN; a LayerNorm follows each."""

from __future__ import annotations

import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.layers import FFN, MultiheadAttention, build_norm

from .parts import build_part, sub_dict

ATTENTION = {"MultiheadAttention": MultiheadAttention}


def _attention(cfg: dict | None, where: str) -> nn.Module:
    cfg = dict(cfg) if cfg is not None else dict(embed_dims=256, num_heads=8)
    if not cfg.setdefault("batch_first", True):
        raise ConfigError(f"{where}.batch_first must be True (MMDetection's DETR layers are batch-first)")
    return build_part(cfg, ATTENTION, where, default="MultiheadAttention")


class Mask2FormerTransformerDecoderLayer(nn.Module):
    """Masked cross-attention, self-attention, FFN; LayerNorm after each."""

    IGNORED_ARGS = {"init_cfg": None}

    def __init__(
        self,
        self_attn_cfg: dict | None = None,
        cross_attn_cfg: dict | None = None,
        ffn_cfg: dict | None = None,
        norm_cfg: dict | None = dict(type="LN"),  # noqa: B006 (never mutated)
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

    def forward(self, query, key, query_pos, key_pos, cross_attn_mask=None) -> torch.Tensor:
        query = self.cross_attn(query, key, key, query_pos=query_pos, key_pos=key_pos, attn_mask=cross_attn_mask)
        query = self.norms[0](query)
        query = self.self_attn(query, query, query, query_pos=query_pos, key_pos=query_pos)
        query = self.norms[1](query)
        return self.norms[2](self.ffn(query))


class Mask2FormerTransformerDecoder(nn.Module):
    """``num_layers`` decoder layers and the ``post_norm`` applied before every prediction."""

    IGNORED_ARGS = {"return_intermediate": True, "init_cfg": None}  # the head always predicts after every layer

    def __init__(
        self,
        num_layers: int,
        layer_cfg: dict,
        post_norm_cfg: dict | None = dict(type="LN"),  # noqa: B006 (never mutated)
        return_intermediate: bool = True,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            Mask2FormerTransformerDecoderLayer(**sub_dict(layer_cfg, "transformer_decoder.layer_cfg"))
            for _ in range(num_layers)
        )
        self.embed_dims = self.layers[0].embed_dims
        self.post_norm = build_norm(post_norm_cfg, self.embed_dims)[1]
