"""OCRNet's head: object-contextual representations, the second stage of a ``CascadeEncoderDecoder``.

The first stage's coarse logits softly group pixels into one region per class (``SpatialGatherModule``);
every pixel then attends over those region features (``ObjectAttentionBlock``) and is classified from its
own feature concatenated with the gathered context. Names and numbers follow MMSegmentation's OCRHead.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.heads.decode_head import BaseCascadeDecodeHead
from seglab.models.layers import ConvModule
from seglab.models.layers.self_attention import SelfAttentionBlock
from seglab.registry import MODELS


class SpatialGatherModule(nn.Module):
    """(N, C, K, 1) region features: each class's softmax-over-pixels weighted mean of the features."""

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, feats: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(self.scale * probs.flatten(2), dim=2)  # N, K, HW
        context = torch.matmul(weights, feats.flatten(2).transpose(1, 2))  # N, K, C
        return context.transpose(1, 2).unsqueeze(3)


class ObjectAttentionBlock(SelfAttentionBlock):
    """Pixels (queries) attend over region features (keys/values); the context is fused with the pixel
    feature by a 1x1 ``bottleneck`` ConvModule."""

    def __init__(
        self,
        in_channels: int,
        channels: int,
        conv_cfg: dict | None,
        norm_cfg: dict | None,
        act_cfg: dict | None,
    ) -> None:
        super().__init__(
            key_in_channels=in_channels,
            query_in_channels=in_channels,
            channels=channels,
            out_channels=in_channels,
            share_key_query=False,
            query_downsample=None,  # OCRHead rejects scale > 1, MMSegmentation's only use of a down-sampling
            key_downsample=None,
            key_query_num_convs=2,
            value_out_num_convs=1,
            key_query_norm=True,
            value_out_norm=True,
            matmul_norm=True,
            with_out=True,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
        )
        self.bottleneck = ConvModule(
            in_channels * 2, in_channels, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg
        )

    def forward(self, query_feats: torch.Tensor, key_feats: torch.Tensor) -> torch.Tensor:
        context = super().forward(query_feats, key_feats)
        return self.bottleneck(torch.cat([context, query_feats], dim=1))


@MODELS.register()
class OCRHead(BaseCascadeDecodeHead):
    """3x3 ``bottleneck`` to ``channels``, region gathering from the previous stage's logits, object
    attention with ``ocr_channels`` keys/queries, then ``cls_seg``."""

    def __init__(self, ocr_channels: int, scale: float = 1, **kwargs) -> None:
        super().__init__(**kwargs)
        if scale > 1:
            raise ConfigError(
                f"OCRHead scale={scale}: only scale <= 1 works (MMSegmentation 1.2.2 fails on a query "
                "down-sampling scale > 1 as well); remove the key"
            )
        self.ocr_channels = ocr_channels
        self.scale = scale
        convs = dict(conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.object_context_block = ObjectAttentionBlock(self.channels, ocr_channels, **convs)
        self.spatial_gather_module = SpatialGatherModule(scale)
        self.bottleneck = ConvModule(self.in_channels, self.channels, 3, padding=1, **convs)

    def forward(self, inputs: Sequence[torch.Tensor], prev_output: torch.Tensor) -> torch.Tensor:
        feats = self.bottleneck(self._transform_inputs(inputs))
        if prev_output.shape[2:] != feats.shape[2:]:
            raise ConfigError(
                f"OCRHead: the previous stage's logits are {tuple(prev_output.shape[2:])} but the features at "
                f"in_index={self.in_index} are {tuple(feats.shape[2:])}; both stages must read the same level"
            )
        context = self.spatial_gather_module(feats, prev_output)
        return self.cls_seg(self.object_context_block(feats, context))
