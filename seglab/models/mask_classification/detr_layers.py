"""DETR-style transformer layers with MMDetection's parameter names (``self_attn``, ``cross_attn``, ``ffn``,
``norms.i``, ``post_norm``), post-norm and batch-first.

``DetrLayer`` is the set-up every layer shares: its attention modules, the FFN from ``ffn_cfg`` and one
LayerNorm per sub-layer. The layers differ only in the order they apply them:

- ``DetrTransformerEncoderLayer`` (MaskFormer's pixel decoder): self-attention, FFN;
- ``DetrTransformerDecoderLayer`` (MaskFormer): self-attention, cross-attention, FFN;
- ``Mask2FormerTransformerDecoderLayer``: cross-attention masked to the previous prediction's foreground
  (``cross_attn_mask``), self-attention, FFN.
"""

from __future__ import annotations

import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.layers import FFN, MultiheadAttention, build_norm

from .sub_configs import build_part, sub_dict

DEFAULT_FFN = dict(embed_dims=256, feedforward_channels=1024, num_fcs=2, ffn_drop=0.0)


def build_attention(cfg: dict | None, where: str) -> nn.Module:
    """A batch-first ``MultiheadAttention`` from its sub-config (256 dims, 8 heads when not given)."""
    cfg = dict(cfg) if cfg is not None else dict(embed_dims=256, num_heads=8)
    if not cfg.setdefault("batch_first", True):
        raise ConfigError(f"{where}.batch_first must be True (MMDetection's DETR layers are batch-first)")
    return build_part(cfg, {"MultiheadAttention": MultiheadAttention}, where, default="MultiheadAttention")


class DetrLayer(nn.Module):
    """``self_attn`` (and ``cross_attn`` when given), ``ffn`` from ``ffn_cfg`` and a LayerNorm after each
    sub-layer (``norms``), registered in that order so checkpoints and seeded initialisation match."""

    IGNORED_ARGS = {"init_cfg": None}

    def __init__(
        self,
        self_attn: nn.Module,
        cross_attn: nn.Module | None,
        ffn_cfg: dict | None,
        norm_cfg: dict | None,
        where: str,
    ) -> None:
        super().__init__()
        self.self_attn = self_attn
        if cross_attn is not None:
            self.cross_attn = cross_attn
        self.embed_dims = self_attn.embed_dims
        self.ffn = build_part(ffn_cfg or DEFAULT_FFN, {"FFN": FFN}, f"{where}.ffn_cfg", default="FFN")
        num_norms = 2 if cross_attn is None else 3
        self.norms = nn.ModuleList(build_norm(norm_cfg, self.embed_dims)[1] for _ in range(num_norms))


class DetrTransformerEncoderLayer(DetrLayer):
    """Self-attention, LayerNorm, FFN, LayerNorm."""

    def __init__(
        self,
        self_attn_cfg: dict | None = None,
        ffn_cfg: dict | None = None,
        norm_cfg: dict | None = dict(type="LN"),  # noqa: B006 (never mutated)
        init_cfg: dict | None = None,
    ) -> None:
        where = "pixel_decoder.encoder.layer_cfg"
        super().__init__(build_attention(self_attn_cfg, f"{where}.self_attn_cfg"), None, ffn_cfg, norm_cfg, where)

    def forward(self, query, query_pos, key_padding_mask=None) -> torch.Tensor:
        query = self.self_attn(
            query, query, query, query_pos=query_pos, key_pos=query_pos, key_padding_mask=key_padding_mask
        )
        return self.norms[1](self.ffn(self.norms[0](query)))


class DetrTransformerEncoder(nn.Module):
    """``num_layers`` encoder layers (``layers``)."""

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


class _DecoderLayer(DetrLayer):
    """A decoder layer's arguments: self- and cross-attention sub-configs, read under ``transformer_decoder``."""

    def __init__(
        self,
        self_attn_cfg: dict | None = None,
        cross_attn_cfg: dict | None = None,
        ffn_cfg: dict | None = None,
        norm_cfg: dict | None = dict(type="LN"),  # noqa: B006 (never mutated)
        init_cfg: dict | None = None,
    ) -> None:
        where = "transformer_decoder.layer_cfg"
        self_attn = build_attention(self_attn_cfg, f"{where}.self_attn_cfg")
        cross_attn = build_attention(cross_attn_cfg, f"{where}.cross_attn_cfg")
        super().__init__(self_attn, cross_attn, ffn_cfg, norm_cfg, where)


class DetrTransformerDecoderLayer(_DecoderLayer):
    """Self-attention, LayerNorm, cross-attention, LayerNorm, FFN, LayerNorm."""

    def forward(self, query, key, query_pos, key_pos, key_padding_mask=None) -> torch.Tensor:
        query = self.norms[0](self.self_attn(query, query, query, query_pos=query_pos, key_pos=query_pos))
        query = self.cross_attn(
            query, key, key, query_pos=query_pos, key_pos=key_pos, key_padding_mask=key_padding_mask
        )
        return self.norms[2](self.ffn(self.norms[1](query)))


class Mask2FormerTransformerDecoderLayer(_DecoderLayer):
    """Masked cross-attention, LayerNorm, self-attention, LayerNorm, FFN, LayerNorm."""

    def forward(self, query, key, query_pos, key_pos, cross_attn_mask=None) -> torch.Tensor:
        query = self.cross_attn(query, key, key, query_pos=query_pos, key_pos=key_pos, attn_mask=cross_attn_mask)
        query = self.norms[0](query)
        query = self.self_attn(query, query, query, query_pos=query_pos, key_pos=query_pos)
        query = self.norms[1](query)
        return self.norms[2](self.ffn(query))


class _Decoder(nn.Module):
    """``num_layers`` decoder layers (``layers``) of ``layer_type`` and the ``post_norm`` after them."""

    IGNORED_ARGS = {"init_cfg": None}
    layer_type: type[_DecoderLayer]

    def __init__(
        self,
        num_layers: int,
        layer_cfg: dict,
        post_norm_cfg: dict | None = dict(type="LN"),  # noqa: B006 (never mutated)
        return_intermediate: bool = True,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__()
        cfg = sub_dict(layer_cfg, "transformer_decoder.layer_cfg")
        self.layers = nn.ModuleList(self.layer_type(**cfg) for _ in range(num_layers))
        self.embed_dims = self.layers[0].embed_dims
        self.post_norm = build_norm(post_norm_cfg, self.embed_dims)[1]
        self.return_intermediate = return_intermediate


class DetrTransformerDecoder(_Decoder):
    """MaskFormer's decoder: ``post_norm`` of every layer's output (``return_intermediate``) or of the last
    one only, stacked as (stages, B, Q, C)."""

    layer_type = DetrTransformerDecoderLayer

    def forward(self, query, key, query_pos, key_pos, key_padding_mask=None) -> torch.Tensor:
        outs = []
        for layer in self.layers:
            query = layer(query, key, query_pos, key_pos, key_padding_mask)
            if self.return_intermediate:
                outs.append(self.post_norm(query))
        return torch.stack(outs) if self.return_intermediate else self.post_norm(query).unsqueeze(0)


class Mask2FormerTransformerDecoder(_Decoder):
    """Mask2Former's decoder: the head runs ``layers`` itself (each cross-attends to one feature level,
    masked by the previous prediction) and applies ``post_norm`` before every prediction."""

    IGNORED_ARGS = {"return_intermediate": True, "init_cfg": None}  # the head always predicts after every layer
    layer_type = Mask2FormerTransformerDecoderLayer
