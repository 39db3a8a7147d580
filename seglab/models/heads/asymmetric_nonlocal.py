"""ANNNet's head (Asymmetric Non-local Networks): non-local attention whose keys are pyramid-pooled, so
attention costs ``H*W x sum(scale^2)`` instead of ``(H*W)^2``. Keys are MMSegmentation's."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.heads.decode_head import BaseDecodeHead
from seglab.models.layers import ConvModule
from seglab.models.layers.self_attention import SelfAttentionBlock
from seglab.registry import MODELS


class PPMConcat(nn.ModuleList):
    """Adaptive average pools at ``pool_scales``, flattened and concatenated: (N, C, sum(scale^2))."""

    def __init__(self, pool_scales: Sequence[int] = (1, 3, 6, 8)) -> None:
        super().__init__(nn.AdaptiveAvgPool2d(scale) for scale in pool_scales)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return torch.cat([pool(feats).flatten(2) for pool in self], dim=2)


class PyramidKeyAttention(SelfAttentionBlock):
    """ANN's attention: queries from the high-level map (max-pooled by ``query_scale`` when > 1), keys and
    values from the low-level map pooled by ``PPMConcat(key_pool_scales)``; 1x1 ConvModule key/query
    projections, plain-conv value/out projections (out starts at zero), attention scaled by 1/sqrt(channels)."""

    def __init__(
        self,
        low_in_channels: int,
        high_in_channels: int,
        channels: int,
        out_channels: int,
        share_key_query: bool,
        query_scale: int,
        key_pool_scales: Sequence[int],
        conv_cfg: dict | None,
        norm_cfg: dict | None,
        act_cfg: dict | None,
    ) -> None:
        super().__init__(
            key_in_channels=low_in_channels,
            query_in_channels=high_in_channels,
            channels=channels,
            out_channels=out_channels,
            share_key_query=share_key_query,
            query_downsample=nn.MaxPool2d(kernel_size=query_scale) if query_scale > 1 else None,
            key_downsample=PPMConcat(key_pool_scales),
            key_query_num_convs=1,
            value_out_num_convs=1,
            key_query_norm=True,
            value_out_norm=False,
            matmul_norm=True,
            with_out=True,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
        )


class AFNB(nn.Module):
    """Asymmetric Fusion Non-local Block: high-level queries attend to low-level keys; the summed contexts
    of all ``query_scales``, concatenated with the high-level map, are fused by a 1x1 ConvModule (no act)."""

    def __init__(
        self,
        low_in_channels: int,
        high_in_channels: int,
        channels: int,
        out_channels: int,
        query_scales: Sequence[int],
        key_pool_scales: Sequence[int],
        conv_cfg: dict | None,
        norm_cfg: dict | None,
        act_cfg: dict | None,
    ) -> None:
        super().__init__()
        self.stages = nn.ModuleList(
            PyramidKeyAttention(
                low_in_channels,
                high_in_channels,
                channels,
                out_channels,
                False,
                scale,
                key_pool_scales,
                conv_cfg,
                norm_cfg,
                act_cfg,
            )  # fmt: skip
            for scale in query_scales
        )
        self.bottleneck = ConvModule(
            out_channels + high_in_channels, out_channels, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=None
        )

    def forward(self, low_feats: torch.Tensor, high_feats: torch.Tensor) -> torch.Tensor:
        context = torch.stack([stage(high_feats, low_feats) for stage in self.stages]).sum(dim=0)
        return self.bottleneck(torch.cat([context, high_feats], dim=1))


class APNB(nn.Module):
    """Asymmetric Pyramid Non-local Block: self-attention with shared key/query projection, fused with
    its input by a 1x1 ConvModule."""

    def __init__(
        self,
        in_channels: int,
        channels: int,
        out_channels: int,
        query_scales: Sequence[int],
        key_pool_scales: Sequence[int],
        conv_cfg: dict | None,
        norm_cfg: dict | None,
        act_cfg: dict | None,
    ) -> None:
        super().__init__()
        self.stages = nn.ModuleList(
            PyramidKeyAttention(
                in_channels,
                in_channels,
                channels,
                out_channels,
                True,
                scale,
                key_pool_scales,
                conv_cfg,
                norm_cfg,
                act_cfg,
            )  # fmt: skip
            for scale in query_scales
        )
        self.bottleneck = ConvModule(
            2 * in_channels, out_channels, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg
        )

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        context = torch.stack([stage(feats, feats) for stage in self.stages]).sum(dim=0)
        return self.bottleneck(torch.cat([context, feats], dim=1))


def _check_scales(value: object, key: str) -> None:
    if not isinstance(value, list | tuple) or not value or not all(isinstance(s, int) and s > 0 for s in value):
        raise ConfigError(f"ANNHead {key} must be a non-empty list of positive ints, got {value!r}")


@MODELS.register()
class ANNHead(BaseDecodeHead):
    """Two input levels (``in_channels=[low, high]``, always ``input_transform='multiple_select'``): AFNB
    fuses them (``fusion``), then ``bottleneck`` (3x3) and APNB (``context``) refine before the classifier.

    ``query_scales`` may only hold 1s: MMSegmentation builds max-pooled queries for larger scales but its
    attention output then has the wrong shape, so no config or checkpoint uses them."""

    def __init__(
        self,
        project_channels: int,
        query_scales: Sequence[int] = (1,),
        key_pool_scales: Sequence[int] = (1, 3, 6, 8),
        **kwargs,
    ) -> None:
        transform = kwargs.pop("input_transform", "multiple_select")
        if transform != "multiple_select":
            raise ConfigError(
                f"ANNHead always uses input_transform='multiple_select'; remove input_transform={transform!r}"
            )
        in_channels = kwargs.get("in_channels")
        if not isinstance(in_channels, list | tuple) or len(in_channels) != 2:
            raise ConfigError(f"ANNHead needs in_channels=[low, high] (two levels), got {in_channels!r}")
        super().__init__(input_transform="multiple_select", **kwargs)
        _check_scales(query_scales, "query_scales")
        if any(scale != 1 for scale in query_scales):
            raise ConfigError(
                f"ANNHead query_scales={tuple(query_scales)!r}: only 1 works (MMSegmentation's attention cannot "
                "reshape down-sampled queries either); use query_scales=(1,)"
            )
        _check_scales(key_pool_scales, "key_pool_scales")
        low_in_channels, high_in_channels = self.in_channels
        self.project_channels = project_channels
        convs = dict(conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.fusion = AFNB(
            low_in_channels=low_in_channels,
            high_in_channels=high_in_channels,
            channels=project_channels,
            out_channels=high_in_channels,
            query_scales=query_scales,
            key_pool_scales=key_pool_scales,
            **convs,
        )
        self.bottleneck = ConvModule(high_in_channels, self.channels, 3, padding=1, **convs)
        self.context = APNB(
            in_channels=self.channels,
            channels=project_channels,
            out_channels=self.channels,
            query_scales=query_scales,
            key_pool_scales=key_pool_scales,
            **convs,
        )

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        low_feats, high_feats = self._transform_inputs(inputs)
        output = self.fusion(low_feats, high_feats)
        if self.dropout is not None:
            output = self.dropout(output)
        output = self.context(self.bottleneck(output))
        return self.cls_seg(output)
