"""Segmenter's mask transformer head: the ViT's patch tokens and one learned embedding per class go through
``num_layers`` transformer encoder layers together; each class's mask is the cosine similarity of the
projected patch tokens with that class's projected embedding, layer-normalised over the classes."""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torch import nn

from seglab.models.backbones.vit import TransformerEncoderLayer
from seglab.models.heads.decode_head import BaseDecodeHead
from seglab.models.layers import build_norm
from seglab.models.weight_init import INIT_TYPES
from seglab.registry import MODELS

logger = logging.getLogger("seglab")


@MODELS.register()
class SegmenterMaskTransformerHead(BaseDecodeHead):
    """Outputs per-class masks directly (no ``conv_seg`` classifier). ``norm_cfg``/``act_cfg`` belong to the
    transformer layers and the two closing norms; ``init_cfg`` is ignored, as in MMSegmentation, whose
    ``init_weights`` replaces it: truncated-normal (``init_std``) class embeddings and Linear weights, zero
    biases, unit LayerNorms."""

    uses_conv_seg = False

    def __init__(
        self,
        in_channels: int,
        num_layers: int,
        num_heads: int,
        embed_dims: int,
        mlp_ratio: int = 4,
        drop_path_rate: float = 0.1,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        num_fcs: int = 2,
        qkv_bias: bool = True,
        act_cfg: dict = dict(type="GELU"),  # noqa: B006 (never mutated)
        norm_cfg: dict = dict(type="LN"),  # noqa: B006
        init_std: float = 0.02,
        **kwargs,
    ) -> None:
        if kwargs.pop("init_cfg", None) is not None:  # replaced by init_weights, as MMSegmentation's head does
            logger.warning("SegmenterMaskTransformerHead: init_cfg is ignored (its init_weights sets every layer)")
        super().__init__(in_channels=in_channels, init_cfg=None, **kwargs)
        rates = torch.linspace(0, drop_path_rate, num_layers, device="cpu").tolist()
        layer_args = dict(drop_rate=drop_rate, attn_drop_rate=attn_drop_rate, num_fcs=num_fcs, qkv_bias=qkv_bias,
                          act_cfg=act_cfg, norm_cfg=norm_cfg, batch_first=True)  # fmt: skip
        self.layers = nn.ModuleList(
            TransformerEncoderLayer(embed_dims, num_heads, mlp_ratio * embed_dims, drop_path_rate=rate, **layer_args)
            for rate in rates
        )
        self.dec_proj = nn.Linear(in_channels, embed_dims)
        self.cls_emb = nn.Parameter(torch.randn(1, self.num_classes, embed_dims))
        self.patch_proj = nn.Linear(embed_dims, embed_dims, bias=False)
        self.classes_proj = nn.Linear(embed_dims, embed_dims, bias=False)
        self.decoder_norm = build_norm(norm_cfg, embed_dims, postfix=1)[1]
        self.mask_norm = build_norm(norm_cfg, self.num_classes, postfix=2)[1]
        self.init_std = init_std

    def init_weights(self) -> None:
        trunc_normal, _ = INIT_TYPES["TruncNormal"]
        with torch.no_grad():
            trunc_normal(self.cls_emb, 0.0, self.init_std, -2.0, 2.0)
            for module in self.modules():
                if isinstance(module, nn.Linear):
                    trunc_normal(module.weight, 0.0, self.init_std, -2.0, 2.0)
                    if module.bias is not None:
                        module.bias.zero_()
                elif isinstance(module, nn.LayerNorm):
                    module.weight.fill_(1.0)
                    module.bias.zero_()

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        x = self._transform_inputs(inputs)
        batch, channels, height, width = x.shape
        x = self.dec_proj(x.permute(0, 2, 3, 1).reshape(batch, height * width, channels))
        x = torch.cat((x, self.cls_emb.expand(batch, -1, -1)), dim=1)
        for layer in self.layers:
            x = layer(x)
        x = self.decoder_norm(x)
        patches = F.normalize(self.patch_proj(x[:, : -self.num_classes]), dim=2, p=2)
        classes = F.normalize(self.classes_proj(x[:, -self.num_classes :]), dim=2, p=2)
        masks = self.mask_norm(patches @ classes.transpose(1, 2))  # (N, H*W, classes)
        return masks.transpose(1, 2).reshape(batch, self.num_classes, height, width)
