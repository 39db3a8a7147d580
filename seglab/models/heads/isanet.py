"""ISANet's head (Interlaced Sparse Self-Attention): dense self-attention factorised into attention
among pixels far apart (same offset in every ``down_factor`` cell), then among pixels of one cell.
Keys are MMSegmentation's."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from seglab.errors import ConfigError
from seglab.models.heads.decode_head import BaseDecodeHead
from seglab.models.layers import ConvModule
from seglab.models.layers.self_attention import SelfAttentionBlock
from seglab.registry import MODELS


class ISASelfAttention(SelfAttentionBlock):
    """Self-attention of a map with itself: two-ConvModule key/query projections to ``channels``, a plain
    1x1 value projection back to ``in_channels`` (no out projection), then ``output_project`` (ConvModule)."""

    def __init__(
        self, in_channels: int, channels: int, conv_cfg: dict | None, norm_cfg: dict | None, act_cfg: dict | None
    ) -> None:
        super().__init__(
            key_in_channels=in_channels,
            query_in_channels=in_channels,
            channels=channels,
            out_channels=in_channels,
            share_key_query=False,
            query_downsample=None,
            key_downsample=None,
            key_query_num_convs=2,
            value_out_num_convs=1,
            key_query_norm=True,
            value_out_norm=False,
            matmul_norm=True,
            with_out=False,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
        )
        self.output_project = self.build_project(in_channels, in_channels, 1, True, conv_cfg, norm_cfg, act_cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return self.output_project(super().forward(x, x))


@MODELS.register()
class ISAHead(BaseDecodeHead):
    """``in_conv`` (3x3) -> padded to multiples of ``down_factor`` (split evenly before/after) -> global
    relation (attention across cells) -> local relation (attention within a cell) -> cropped, concatenated
    with the ``in_conv`` output and fused by ``out_conv`` (1x1) before the classifier."""

    def __init__(self, isa_channels: int, down_factor: Sequence[int] = (8, 8), **kwargs) -> None:
        super().__init__(**kwargs)
        if not (
            isinstance(down_factor, list | tuple)
            and len(down_factor) == 2
            and all(isinstance(f, int) and f > 0 for f in down_factor)
        ):
            raise ConfigError(f"ISAHead down_factor must be two positive ints (height, width), got {down_factor!r}")
        self.down_factor = tuple(down_factor)
        convs = dict(conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.in_conv = ConvModule(self.in_channels, self.channels, 3, padding=1, **convs)
        self.global_relation = ISASelfAttention(self.channels, isa_channels, **convs)
        self.local_relation = ISASelfAttention(self.channels, isa_channels, **convs)
        self.out_conv = ConvModule(self.channels * 2, self.channels, 1, **convs)

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        residual = x = self.in_conv(self._transform_inputs(inputs))
        n, c, h, w = x.shape
        loc_h, loc_w = self.down_factor  # the size of a cell (a local group)
        glb_h, glb_w = math.ceil(h / loc_h), math.ceil(w / loc_w)  # the number of cells
        pad_h, pad_w = glb_h * loc_h - h, glb_w * loc_w - w
        if pad_h or pad_w:
            x = F.pad(x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))
        # global relation: one group per offset inside a cell, over all cells
        x = x.reshape(n, c, glb_h, loc_h, glb_w, loc_w).permute(0, 3, 5, 1, 2, 4).reshape(-1, c, glb_h, glb_w)
        x = self.global_relation(x)
        # local relation: one group per cell, over its offsets
        x = x.reshape(n, loc_h, loc_w, c, glb_h, glb_w).permute(0, 4, 5, 3, 1, 2).reshape(-1, c, loc_h, loc_w)
        x = self.local_relation(x)
        x = x.reshape(n, glb_h, glb_w, c, loc_h, loc_w).permute(0, 3, 1, 4, 2, 5).reshape(n, c, glb_h * loc_h, -1)
        x = x[:, :, pad_h // 2 : pad_h // 2 + h, pad_w // 2 : pad_w // 2 + w]
        return self.cls_seg(self.out_conv(torch.cat([x, residual], dim=1)))
