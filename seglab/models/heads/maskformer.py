"""``MaskFormerHead``: DETR-style queries over the last feature level predict (class, mask) pairs; the
masks are the query embeddings' products with the pixel decoder's stride-4 ``mask_feature``.

Parameter names are MMSegmentation's (MMDetection's MaskFormerHead plus MMSegmentation's ``cls_embed``):
``pixel_decoder``, ``transformer_decoder``, ``decoder_input_proj``, ``query_embed``, ``cls_embed``,
``mask_embed``. Every decoder layer's output predicts (deep supervision, ``d{i}.loss_*``)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seglab.models.mask_classification.base_head import MaskClassificationHead
from seglab.models.mask_classification.detr_layers import DetrTransformerDecoder
from seglab.models.mask_classification.fpn_pixel_decoders import PixelDecoder, TransformerEncoderPixelDecoder
from seglab.models.mask_classification.positional_encoding import SinePositionalEncoding
from seglab.models.mask_classification.stage_losses import MaskFormerStageLosses
from seglab.models.mask_classification.sub_configs import build_part, caffe2_xavier_, sub_dict
from seglab.registry import MODELS

CLS_LOSS = dict(type="CrossEntropyLoss", use_sigmoid=False, loss_weight=1.0, class_weight=[1.0] * 133 + [0.1])
MASK_LOSS = dict(type="FocalLoss", use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=20.0)
DICE_LOSS = dict(type="DiceLoss", use_sigmoid=True, activate=True, naive_dice=True, loss_weight=1.0)
PIXEL_DECODERS = {"PixelDecoder": PixelDecoder, "TransformerEncoderPixelDecoder": TransformerEncoderPixelDecoder}


@MODELS.register()
class MaskFormerHead(MaskClassificationHead):
    """MMSegmentation's MaskFormerHead (on MMDetection's)."""

    # num_things/stuff_classes size MMDetection's own classifier, which MMSegmentation replaces; MMDetection's
    # head takes every level (in_index is not read)
    IGNORED_ARGS = {
        "num_things_classes": 80,
        "num_stuff_classes": 53,
        "in_index": [0, 1, 2, 3],
        "test_cfg": None,
        "init_cfg": None,
    }
    stage_losses_type = MaskFormerStageLosses
    TRAIN_KEYS = ("assigner", "sampler")

    def __init__(
        self,
        in_channels: Sequence[int],
        feat_channels: int,
        out_channels: int,
        num_classes: int = 150,
        align_corners: bool = False,
        ignore_index: int = 255,
        num_things_classes: int = 80,
        num_stuff_classes: int = 53,
        num_queries: int = 100,
        pixel_decoder: dict | None = None,
        enforce_decoder_input_project: bool = False,
        transformer_decoder: dict | None = None,
        positional_encoding: dict | None = dict(num_feats=128, normalize=True),  # noqa: B006 (never mutated)
        loss_cls: dict = CLS_LOSS,
        loss_mask: dict = MASK_LOSS,
        loss_dice: dict = DICE_LOSS,
        train_cfg: dict | None = None,
        test_cfg: dict | None = None,
        in_index: Sequence[int] | int = (0, 1, 2, 3),
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__()
        self.num_classes = self.out_channels = num_classes
        self.align_corners, self.ignore_index, self.num_queries = align_corners, ignore_index, num_queries
        self.init_cfg = init_cfg
        self.pixel_decoder = build_part(
            sub_dict(pixel_decoder, "decode_head.pixel_decoder"),
            PIXEL_DECODERS,
            "decode_head.pixel_decoder",
            in_channels=in_channels,
            feat_channels=feat_channels,
            out_channels=out_channels,
        )
        self.transformer_decoder = build_part(
            sub_dict(transformer_decoder, "decode_head.transformer_decoder"),
            {"DetrTransformerDecoder": DetrTransformerDecoder},
            "decode_head.transformer_decoder",
            default="DetrTransformerDecoder",
        )
        embed_dims = self.transformer_decoder.embed_dims
        if type(self.pixel_decoder) is PixelDecoder and (
            embed_dims != in_channels[-1] or enforce_decoder_input_project
        ):
            self.decoder_input_proj: nn.Module = nn.Conv2d(in_channels[-1], embed_dims, kernel_size=1)
        else:
            self.decoder_input_proj = nn.Identity()
        self.decoder_pe = build_part(
            positional_encoding,
            {"SinePositionalEncoding": SinePositionalEncoding},
            "decode_head.positional_encoding",
            default="SinePositionalEncoding",
        )
        self.query_embed = nn.Embedding(num_queries, out_channels)
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
        """MMDetection's: caffe2-Xavier input projection, Xavier-uniform decoder matrices (the pixel decoder
        initialises itself; embeddings and predictors keep torch's defaults)."""
        if isinstance(self.decoder_input_proj, nn.Conv2d):
            caffe2_xavier_(self.decoder_input_proj)
        for p in self.transformer_decoder.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def forward(self, inputs: Sequence[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Class logits (B, Q, num_classes + 1) and mask logits (B, Q, H/4, W/4) of every decoder layer."""
        batch = inputs[0].shape[0]
        mask_feature, memory = self.pixel_decoder(inputs)
        h, w = inputs[-1].shape[-2:]
        key_pos = self.decoder_pe(batch, h, w, memory.device).flatten(2).permute(0, 2, 1)
        key = self.decoder_input_proj(memory).flatten(2).permute(0, 2, 1)
        query_pos = self.query_embed.weight.unsqueeze(0).repeat(batch, 1, 1)
        out = self.transformer_decoder(torch.zeros_like(query_pos), key, query_pos, key_pos)
        cls_preds = self.cls_embed(out)
        mask_preds = torch.einsum("lbqc,bchw->lbqhw", self.mask_embed(out), mask_feature)
        return list(cls_preds), list(mask_preds)
