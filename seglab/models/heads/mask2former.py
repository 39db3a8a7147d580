"""``Mask2FormerHead``: queries predict (class, mask) pairs; a semantic map is their class-weighted sum.

Forward: the pixel decoder gives a stride-4 ``mask_feature`` and three coarser maps; every decoder layer
cross-attends to one of them in turn, masked to the previous prediction's foreground, and each stage
(the initial queries and every layer) predicts class logits (num_classes + 1 for "no object") and mask
logits. Training matches queries to the image's classes (Hungarian, per stage) and sums class, mask and
dice losses over all stages (``d0.loss_cls`` ... for the intermediate ones). Parameter names are
MMSegmentation's (MMDetection's head plus MMSegmentation's ``cls_embed``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError
from seglab.models.mask_classification.base_head import MaskClassificationHead
from seglab.models.mask_classification.deformable_pixel_decoder import MSDeformAttnPixelDecoder
from seglab.models.mask_classification.detr_layers import Mask2FormerTransformerDecoder
from seglab.models.mask_classification.positional_encoding import SinePositionalEncoding
from seglab.models.mask_classification.sub_configs import build_part, caffe2_xavier_, sub_dict
from seglab.registry import MODELS

CLS_LOSS = dict(
    type="CrossEntropyLoss", use_sigmoid=False, loss_weight=2.0, reduction="mean", class_weight=[1.0] * 133 + [0.1]
)
MASK_LOSS = dict(type="CrossEntropyLoss", use_sigmoid=True, reduction="mean", loss_weight=5.0)
DICE_LOSS = dict(
    type="DiceLoss", use_sigmoid=True, activate=True, reduction="mean", naive_dice=True, eps=1.0, loss_weight=5.0
)


@MODELS.register()
class Mask2FormerHead(MaskClassificationHead):
    """MMSegmentation's Mask2FormerHead (on MMDetection's): ``pixel_decoder``, ``transformer_decoder``,
    ``decoder_input_projs``, ``query_embed``/``query_feat``/``level_embed``, ``cls_embed``, ``mask_embed``."""

    # num_things/stuff_classes size MMDetection's own classifier, which MMSegmentation replaces; strides are
    # not read by MMDetection's head either (the pixel decoder's reference points do not depend on them)
    IGNORED_ARGS = {
        "num_things_classes": 80,
        "num_stuff_classes": 53,
        "strides": [4, 8, 16, 32],
        "test_cfg": None,
        "init_cfg": None,
    }

    def __init__(
        self,
        num_classes: int,
        in_channels: Sequence[int],
        feat_channels: int,
        out_channels: int,
        align_corners: bool = False,
        ignore_index: int = 255,
        num_things_classes: int = 80,
        num_stuff_classes: int = 53,
        num_queries: int = 100,
        num_transformer_feat_level: int = 3,
        pixel_decoder: dict | None = None,
        enforce_decoder_input_project: bool = False,
        transformer_decoder: dict | None = None,
        positional_encoding: dict | None = dict(num_feats=128, normalize=True),  # noqa: B006 (never mutated)
        loss_cls: dict = CLS_LOSS,
        loss_mask: dict = MASK_LOSS,
        loss_dice: dict = DICE_LOSS,
        train_cfg: dict | None = None,
        test_cfg: dict | None = None,
        strides: Sequence[int] | None = None,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__()
        self.num_classes = self.out_channels = num_classes
        self.align_corners, self.ignore_index = align_corners, ignore_index
        self.num_queries, self.num_transformer_feat_level = num_queries, num_transformer_feat_level
        self.init_cfg = init_cfg
        decoder_cfg = sub_dict(transformer_decoder, "decode_head.transformer_decoder")
        self.num_heads = decoder_cfg.get("layer_cfg", {}).get("cross_attn_cfg", {}).get("num_heads", 8)
        pixel_cfg = sub_dict(pixel_decoder, "decode_head.pixel_decoder")
        levels = pixel_cfg.get("encoder", {}).get("layer_cfg", {}).get("self_attn_cfg", {}).get("num_levels", 4)
        if levels != num_transformer_feat_level:
            raise ConfigError(
                f"decode_head: pixel_decoder's num_levels={levels} must equal num_transformer_feat_level="
                f"{num_transformer_feat_level}"
            )
        self.pixel_decoder = build_part(
            pixel_cfg,
            {"MSDeformAttnPixelDecoder": MSDeformAttnPixelDecoder},
            "decode_head.pixel_decoder",
            in_channels=in_channels,
            feat_channels=feat_channels,
            out_channels=out_channels,
        )
        self.transformer_decoder = build_part(
            decoder_cfg,
            {"Mask2FormerTransformerDecoder": Mask2FormerTransformerDecoder},
            "decode_head.transformer_decoder",
            default="Mask2FormerTransformerDecoder",
        )
        self.num_transformer_decoder_layers = len(self.transformer_decoder.layers)
        embed_dims = self.transformer_decoder.embed_dims
        project = embed_dims != feat_channels or enforce_decoder_input_project
        self.decoder_input_projs = nn.ModuleList(
            nn.Conv2d(feat_channels, embed_dims, kernel_size=1) if project else nn.Identity()
            for _ in range(num_transformer_feat_level)
        )
        self.decoder_positional_encoding = build_part(
            positional_encoding,
            {"SinePositionalEncoding": SinePositionalEncoding},
            "decode_head.positional_encoding",
            default="SinePositionalEncoding",
        )
        self.query_embed = nn.Embedding(num_queries, feat_channels)
        self.query_feat = nn.Embedding(num_queries, feat_channels)
        self.level_embed = nn.Embedding(num_transformer_feat_level, feat_channels)
        self.cls_embed = nn.Linear(feat_channels, num_classes + 1)
        self.mask_embed = nn.Sequential(
            nn.Linear(feat_channels, feat_channels),
            nn.ReLU(inplace=True),
            nn.Linear(feat_channels, feat_channels),
            nn.ReLU(inplace=True),
            nn.Linear(feat_channels, out_channels),
        )
        self.stage_losses = self._build_losses(train_cfg, loss_cls, loss_mask, loss_dice)

    @torch.no_grad()
    def init_weights(self) -> None:
        """MMDetection's: caffe2-Xavier input projections, Xavier-normal decoder matrices (the pixel decoder
        initialises itself; embeddings and the predictors keep torch's defaults)."""
        for m in self.decoder_input_projs:
            if isinstance(m, nn.Conv2d):
                caffe2_xavier_(m)
        for p in self.transformer_decoder.parameters():
            if p.dim() > 1:
                nn.init.xavier_normal_(p)

    # ------------------------------------------------------------------ forward
    def _predict_stage(self, query: torch.Tensor, mask_feature: torch.Tensor, attn_size) -> tuple:
        query = self.transformer_decoder.post_norm(query)
        cls_pred = self.cls_embed(query)
        mask_pred = torch.einsum("bqc,bchw->bqhw", self.mask_embed(query), mask_feature)
        attn = F.interpolate(mask_pred, attn_size, mode="bilinear", align_corners=False)
        attn = attn.flatten(2).unsqueeze(1).repeat(1, self.num_heads, 1, 1).flatten(0, 1)
        return cls_pred, mask_pred, (attn.sigmoid() < 0.5).detach()

    def forward(self, inputs: Sequence[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Class logits (B, Q, num_classes + 1) and mask logits (B, Q, H/4, W/4) of every stage."""
        batch = inputs[0].shape[0]
        mask_feature, memories = self.pixel_decoder(inputs)
        keys, key_pos = [], []
        for i in range(self.num_transformer_feat_level):
            h, w = memories[i].shape[-2:]
            key = self.decoder_input_projs[i](memories[i]).flatten(2).permute(0, 2, 1)
            keys.append(key + self.level_embed.weight[i].view(1, 1, -1))
            pos = self.decoder_positional_encoding(batch, h, w, key.device)
            key_pos.append(pos.flatten(2).permute(0, 2, 1))
        query = self.query_feat.weight.unsqueeze(0).repeat(batch, 1, 1)
        query_pos = self.query_embed.weight.unsqueeze(0).repeat(batch, 1, 1)
        cls_pred, mask_pred, attn_mask = self._predict_stage(query, mask_feature, memories[0].shape[-2:])
        cls_preds, mask_preds = [cls_pred], [mask_pred]
        for i, layer in enumerate(self.transformer_decoder.layers):
            level = i % self.num_transformer_feat_level
            # a query whose mask is empty everywhere attends everywhere instead of nowhere
            attn_mask = attn_mask & (attn_mask.sum(-1) != attn_mask.shape[-1]).unsqueeze(-1)
            query = layer(query, keys[level], query_pos, key_pos[level], cross_attn_mask=attn_mask)
            next_size = memories[(i + 1) % self.num_transformer_feat_level].shape[-2:]
            cls_pred, mask_pred, attn_mask = self._predict_stage(query, mask_feature, next_size)
            cls_preds.append(cls_pred)
            mask_preds.append(mask_pred)
        return cls_preds, mask_preds
