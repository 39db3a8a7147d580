"""SETR's naive and progressive-upsampling (PUP) heads: one ViT level, layer-normalised per token, then
``num_convs`` rounds of ConvModule + x``up_scale`` bilinear upsampling before the classifier."""

from __future__ import annotations

import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.heads.decode_head import BaseDecodeHead
from seglab.models.heads.semantic_fpn import Upsample
from seglab.models.layers import ConvModule, build_norm
from seglab.registry import MODELS

# MMSegmentation's default: LayerNorms start at (1, 0), the classifier at N(0, 0.01)
SETR_UP_INIT = [
    dict(type="Constant", val=1.0, bias=0, layer="LayerNorm"),
    dict(type="Normal", std=0.01, override=dict(name="conv_seg")),
]


@MODELS.register()
class SETRUPHead(BaseDecodeHead):
    """Naive SETR: ``num_convs=1, up_scale=4, kernel_size=1``; PUP: ``num_convs=4, up_scale=2, kernel_size=3``.
    ``norm_layer`` normalises the input tokens; ``norm_cfg``/``act_cfg`` belong to the ConvModules."""

    def __init__(
        self,
        norm_layer: dict = dict(type="LN", eps=1e-6, requires_grad=True),  # noqa: B006 (never mutated)
        num_convs: int = 1,
        up_scale: int = 4,
        kernel_size: int = 3,
        init_cfg: dict | list | None = SETR_UP_INIT,  # noqa: B006
        **kwargs,
    ) -> None:
        if kernel_size not in (1, 3):
            raise ConfigError(f"SETRUPHead kernel_size must be 1 or 3, got {kernel_size!r}")
        super().__init__(init_cfg=init_cfg, **kwargs)
        if not isinstance(self.in_channels, int):
            raise ConfigError(
                f"SETRUPHead reads one feature level: in_channels must be an int, got {self.in_channels!r} "
                "(and no input_transform)"
            )
        _, self.norm = build_norm(norm_layer, self.in_channels)
        self.up_convs = nn.ModuleList()
        in_channels = self.in_channels
        for _ in range(num_convs):
            conv = ConvModule(
                in_channels,
                self.channels,
                kernel_size,
                padding=(kernel_size - 1) // 2,
                norm_cfg=self.norm_cfg,
                act_cfg=self.act_cfg,
            )
            self.up_convs.append(nn.Sequential(conv, Upsample(up_scale, "bilinear", self.align_corners)))
            in_channels = self.channels

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        x = self._transform_inputs(inputs)
        x = self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2).contiguous()  # LayerNorm over channels
        for up_conv in self.up_convs:
            x = up_conv(x)
        return self.cls_seg(x)
