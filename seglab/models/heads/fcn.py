"""FCN head: a few convolutions then the classifier (also the usual auxiliary head).

``BlockFCNHead`` is the FCN head with a context block between its two convs, the shape NLHead, DNLHead,
GCHead and CCHead share: convs[0], the block, convs[1], the optional ``conv_cat`` with the input, the
classifier; the FCN keys stay MMSegmentation's.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.heads.decode_head import BaseDecodeHead
from seglab.models.layers import ConvModule, DepthwiseSeparableConvModule
from seglab.registry import MODELS


@MODELS.register()
class FCNHead(BaseDecodeHead):
    """``num_convs`` k x k convs; ``concat_input`` fuses the input back in before classifying."""

    def __init__(
        self, num_convs: int = 2, kernel_size: int = 3, concat_input: bool = True, dilation: int = 1, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        if num_convs == 0 and self.in_channels != self.channels:
            raise ConfigError("FCNHead with num_convs=0 needs in_channels == channels")
        conv_args = dict(norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        padding = (kernel_size // 2) * dilation
        convs = [
            ConvModule(
                self.in_channels if i == 0 else self.channels,
                self.channels,
                kernel_size,
                padding=padding,
                dilation=dilation,
                **conv_args,
            )
            for i in range(num_convs)
        ]
        self.convs = nn.Sequential(*convs) if convs else nn.Identity()
        self.concat_input = concat_input
        if concat_input:
            self.conv_cat = ConvModule(
                self.in_channels + self.channels, self.channels, kernel_size, padding=kernel_size // 2, **conv_args
            )

    def _forward_feature(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """The features before the classifier (K-Net's kernel generator needs them)."""
        x = self._transform_inputs(inputs)
        feats = self.convs(x)
        if self.concat_input:
            feats = self.conv_cat(torch.cat([x, feats], dim=1))
        return feats

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.cls_seg(self._forward_feature(inputs))


@MODELS.register()
class DepthwiseSeparableFCNHead(FCNHead):
    """FCNHead with depthwise-separable convs (Fast-SCNN), built as MMSegmentation builds it.

    Each conv is a DepthwiseSeparableConvModule with ``norm_cfg``, ReLU after the pointwise conv and
    ``dw_act_cfg`` (None: no activation) after the depthwise one; ``dilation`` does not reach them, and
    neither do ``act_cfg``/``conv_cfg``, as in MMSegmentation 1.2.2."""

    IGNORED_ARGS = {"dilation": 1}

    def __init__(
        self,
        dw_act_cfg: dict | None = None,
        num_convs: int = 2,
        kernel_size: int = 3,
        concat_input: bool = True,
        **kwargs,
    ) -> None:
        if num_convs < 1:
            raise ConfigError("DepthwiseSeparableFCNHead needs num_convs >= 1 (MMSegmentation replaces convs[0])")
        super().__init__(num_convs=num_convs, kernel_size=kernel_size, concat_input=concat_input, **kwargs)

        def separable(in_channels: int) -> DepthwiseSeparableConvModule:
            return DepthwiseSeparableConvModule(
                in_channels,
                self.channels,
                kernel_size=kernel_size,
                padding=kernel_size // 2,
                norm_cfg=self.norm_cfg,
                dw_act_cfg=dw_act_cfg,
            )

        self.convs = nn.Sequential(
            *(separable(self.in_channels if i == 0 else self.channels) for i in range(num_convs))
        )
        if concat_input:
            self.conv_cat = separable(self.in_channels + self.channels)


class BlockFCNHead(FCNHead):
    """An FCN head with exactly two convs and ``apply_block`` between them."""

    def __init__(self, **kwargs) -> None:
        if "num_convs" in kwargs:
            raise ConfigError(
                f"{type(self).__name__} always has num_convs=2 (its block sits between the two convs); "
                "remove num_convs from the head's config"
            )
        super().__init__(num_convs=2, **kwargs)

    def apply_block(self, feats: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        x = self._transform_inputs(inputs)
        feats = self.convs[1](self.apply_block(self.convs[0](x)))
        if self.concat_input:
            feats = self.conv_cat(torch.cat([x, feats], dim=1))
        return self.cls_seg(feats)
