"""PSPNet's head: the pyramid pooling module on the last backbone level, fused by a 3x3 bottleneck."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from seglab.errors import ConfigError
from seglab.models.heads.decode_head import BaseDecodeHead
from seglab.models.layers import PPM, ConvModule
from seglab.registry import MODELS


def check_pool_scales(pool_scales: object, head: str) -> None:
    if not isinstance(pool_scales, list | tuple) or not all(isinstance(s, int) and s > 0 for s in pool_scales):
        raise ConfigError(
            f"{head} pool_scales must be a list of positive ints such as (1, 2, 3, 6), got {pool_scales!r}"
        )


@MODELS.register()
class PSPHead(BaseDecodeHead):
    """The input, concatenated with its average pools at ``pool_scales`` (each a 1x1 ConvModule, resized
    back), goes through ``bottleneck`` and the classifier. Keys: ``psp_modules.<i>.1.conv``, ``bottleneck``."""

    def __init__(self, pool_scales: Sequence[int] = (1, 2, 3, 6), **kwargs) -> None:
        super().__init__(**kwargs)
        check_pool_scales(pool_scales, "PSPHead")
        self.pool_scales = pool_scales
        conv_args = dict(conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.psp_modules = PPM(
            pool_scales, self.in_channels, self.channels, align_corners=self.align_corners, **conv_args
        )
        self.bottleneck = ConvModule(
            self.in_channels + len(pool_scales) * self.channels, self.channels, 3, padding=1, **conv_args
        )

    def _forward_feature(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """The fused features before the classifier (what MMSegmentation's heads call ``_forward_feature``)."""
        x = self._transform_inputs(inputs)
        return self.bottleneck(torch.cat([x, *self.psp_modules(x)], dim=1))

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.cls_seg(self._forward_feature(inputs))
