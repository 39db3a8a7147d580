"""``MSDeformAttnPixelDecoder``: a deformable-attention encoder over the coarsest feature levels, then an
FPN-style path down to stride 4 whose output ``mask_feature`` the mask predictions read.

Parameter names are MMDetection's (``input_convs``, ``encoder.layers.i.self_attn``, ``level_encoding``,
``lateral_convs``, ``output_convs``, ``mask_feature``; ``postional_encoding`` keeps its spelling)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError
from seglab.models.layers import ConvModule

from .deformable_attention import MultiScaleDeformableAttention
from .detr_layers import DetrLayer
from .positional_encoding import SinePositionalEncoding
from .sub_configs import build_part, sub_dict


class DeformableDetrTransformerEncoderLayer(DetrLayer):
    """Deformable self-attention over all levels' tokens, then the FFN, each followed by a LayerNorm."""

    def __init__(
        self,
        self_attn_cfg: dict | None = None,
        ffn_cfg: dict | None = None,
        norm_cfg: dict | None = dict(type="LN"),  # noqa: B006 (never mutated)
        init_cfg: dict | None = None,
    ) -> None:
        attn = {"embed_dims": 256, "num_heads": 8, "dropout": 0.0, "batch_first": True, **(self_attn_cfg or {})}
        if not attn["batch_first"]:
            raise ConfigError("self_attn_cfg.batch_first must be True (MMDetection's DETR layers are batch-first)")
        self_attn = build_part(
            attn,
            {"MultiScaleDeformableAttention": MultiScaleDeformableAttention},
            "encoder.layer_cfg.self_attn_cfg",
            default="MultiScaleDeformableAttention",
        )
        super().__init__(self_attn, None, ffn_cfg, norm_cfg, "encoder.layer_cfg")

    def forward(self, query, query_pos, reference_points, spatial_shapes) -> torch.Tensor:
        query = self.self_attn(
            query, query_pos=query_pos, reference_points=reference_points, spatial_shapes=spatial_shapes
        )
        return self.norms[1](self.ffn(self.norms[0](query)))


class Mask2FormerTransformerEncoder(nn.Module):
    """``num_layers`` deformable encoder layers (``layers``)."""

    IGNORED_ARGS = {"num_cp": -1, "init_cfg": None}  # activation checkpointing (fairscale) is not offered

    def __init__(self, num_layers: int, layer_cfg: dict, num_cp: int = -1, init_cfg: dict | None = None) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            DeformableDetrTransformerEncoderLayer(**sub_dict(layer_cfg, "encoder.layer_cfg")) for _ in range(num_layers)
        )
        self.embed_dims = self.layers[0].embed_dims

    def forward(self, query, query_pos, reference_points, spatial_shapes) -> torch.Tensor:
        for layer in self.layers:
            query = layer(query, query_pos, reference_points, spatial_shapes)
        return query


class MSDeformAttnPixelDecoder(nn.Module):
    """The last ``num_levels`` inputs (coarsest first) go through the deformable encoder; the finer ones
    are added top-down (lateral 1x1 + upsampled coarser, then a 3x3). Returns ``(mask_feature, the first
    num_outs maps coarsest first)``."""

    IGNORED_ARGS = {"strides": [4, 8, 16, 32], "init_cfg": None}  # strides cancel in the normalised reference points

    def __init__(
        self,
        in_channels: Sequence[int] = (256, 512, 1024, 2048),
        strides: Sequence[int] = (4, 8, 16, 32),
        feat_channels: int = 256,
        out_channels: int = 256,
        num_outs: int = 3,
        norm_cfg: dict | None = dict(type="GN", num_groups=32),  # noqa: B006 (never mutated)
        act_cfg: dict | None = dict(type="ReLU"),  # noqa: B006
        encoder: dict | None = None,
        positional_encoding: dict | None = dict(num_feats=128, normalize=True),  # noqa: B006
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__()
        encoder = sub_dict(encoder, "pixel_decoder.encoder")
        levels = encoder.get("layer_cfg", {}).get("self_attn_cfg", {}).get("num_levels", 4)
        n = len(in_channels)
        if not 1 <= levels <= n:
            raise ConfigError(f"pixel_decoder: num_levels={levels} must lie in 1..{n} (the number of in_channels)")
        self.num_input_levels, self.num_encoder_levels, self.num_outs = n, levels, num_outs
        self.input_convs = nn.ModuleList(
            ConvModule(in_channels[i], feat_channels, 1, norm_cfg=norm_cfg, act_cfg=None, bias=True)
            for i in range(n - 1, n - levels - 1, -1)
        )
        self.encoder = Mask2FormerTransformerEncoder(**encoder)
        self.postional_encoding = build_part(
            positional_encoding,
            {"SinePositionalEncoding": SinePositionalEncoding},
            "pixel_decoder.positional_encoding",
            default="SinePositionalEncoding",
        )
        self.level_encoding = nn.Embedding(levels, feat_channels)
        self.use_bias = norm_cfg is None
        # built finest-last as MMDetection builds them, indexed by input level in forward (as MMDetection does)
        self.lateral_convs, self.output_convs = nn.ModuleList(), nn.ModuleList()
        for i in range(n - levels - 1, -1, -1):
            self.lateral_convs.append(
                ConvModule(in_channels[i], feat_channels, 1, bias=self.use_bias, norm_cfg=norm_cfg, act_cfg=None)
            )
            self.output_convs.append(
                ConvModule(
                    feat_channels, feat_channels, 3, padding=1, bias=self.use_bias, norm_cfg=norm_cfg, act_cfg=act_cfg
                )
            )
        self.mask_feature = nn.Conv2d(feat_channels, out_channels, kernel_size=1)
        self.init_cfg = None

    @torch.no_grad()
    def init_weights(self) -> None:
        """MMDetection's: Xavier on the convs, N(0, 1) level encoding, Xavier-normal encoder matrices, then
        the deformable attention's own initialisation."""
        for module in self.input_convs:
            nn.init.xavier_uniform_(module.conv.weight)
            nn.init.zeros_(module.conv.bias)
        for module in [*(m.conv for m in self.lateral_convs), *(m.conv for m in self.output_convs), self.mask_feature]:
            nn.init.kaiming_uniform_(module.weight, a=1, mode="fan_in", nonlinearity="leaky_relu")  # caffe2 Xavier
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        nn.init.normal_(self.level_encoding.weight, 0, 1)
        for p in self.encoder.parameters():
            if p.dim() > 1:
                nn.init.xavier_normal_(p)
        for m in self.encoder.layers.modules():
            if isinstance(m, MultiScaleDeformableAttention):
                m.init_weights()

    def forward(self, feats: Sequence[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        batch = feats[0].shape[0]
        tokens, positions, references, shapes = [], [], [], []
        for i in range(self.num_encoder_levels):
            level = self.num_input_levels - i - 1
            feat = feats[level]
            h, w = feat.shape[-2:]
            pos = self.postional_encoding(batch, h, w, feat.device)
            pos = self.level_encoding.weight[i].view(1, -1, 1, 1) + pos
            ys, xs = torch.meshgrid(
                torch.arange(h, device=feat.device), torch.arange(w, device=feat.device), indexing="ij"
            )
            ref = torch.stack([(xs.flatten() + 0.5) / w, (ys.flatten() + 0.5) / h], -1).to(feat.dtype)
            tokens.append(self.input_convs[i](feat).flatten(2).permute(0, 2, 1))
            positions.append(pos.flatten(2).permute(0, 2, 1))
            references.append(ref)
            shapes.append((int(h), int(w)))
        reference_points = torch.cat(references)[None, :, None].repeat(batch, 1, self.num_encoder_levels, 1)
        memory = self.encoder(torch.cat(tokens, 1), torch.cat(positions, 1), reference_points, shapes)
        memory = memory.permute(0, 2, 1)
        outs = [
            x.reshape(batch, -1, h, w)
            for x, (h, w) in zip(memory.split([h * w for h, w in shapes], dim=-1), shapes, strict=True)
        ]
        for i in range(self.num_input_levels - self.num_encoder_levels - 1, -1, -1):
            lateral = self.lateral_convs[i](feats[i])
            up = F.interpolate(outs[-1], size=lateral.shape[-2:], mode="bilinear", align_corners=False)
            outs.append(self.output_convs[i](lateral + up))
        return self.mask_feature(outs[-1]), outs[: self.num_outs]
