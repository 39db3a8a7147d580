"""MMSegmentation's ``MultiLevelNeck``: turns a plain ViT's same-stride maps into a pyramid for UPerNet."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError
from seglab.models.layers import ConvModule
from seglab.registry import MODELS


@MODELS.register()
class MultiLevelNeck(nn.Module):
    """Per input a 1x1 ``lateral_convs`` ConvModule to ``out_channels``; output i is input i (or the only
    input, repeated) resized bilinearly by ``scales[i]`` and passed through a 3x3 ``convs`` ConvModule.
    Norm and activation are off by default, as in MMSegmentation."""

    def __init__(
        self,
        in_channels: Sequence[int],
        out_channels: int,
        scales: Sequence[float] = (0.5, 1, 2, 4),
        norm_cfg: dict | None = None,
        act_cfg: dict | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(in_channels, list | tuple) or not in_channels:
            raise ConfigError(f"MultiLevelNeck in_channels must be a list of channel counts, got {in_channels!r}")
        if not isinstance(scales, list | tuple) or not scales:
            raise ConfigError(f"MultiLevelNeck scales must be a list of scale factors, got {scales!r}")
        if 1 < len(in_channels) < len(scales):
            raise ConfigError(
                f"MultiLevelNeck has {len(in_channels)} in_channels for {len(scales)} scales; "
                "give one input, or one per scale"
            )
        self.in_channels, self.out_channels = list(in_channels), out_channels
        self.scales, self.num_outs = list(scales), len(scales)
        args = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.lateral_convs = nn.ModuleList(ConvModule(c, out_channels, kernel_size=1, **args) for c in in_channels)
        self.convs = nn.ModuleList(
            ConvModule(out_channels, out_channels, kernel_size=3, padding=1, stride=1, **args)
            for _ in range(self.num_outs)
        )

    def init_weights(self) -> None:
        """Xavier-uniform convs with zero biases (norms keep ConvModule's init), as MMSegmentation."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def forward(self, inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        if len(inputs) != len(self.in_channels):
            raise ConfigError(
                f"MultiLevelNeck got {len(inputs)} feature maps but in_channels lists {len(self.in_channels)}; "
                "match in_channels to the backbone's out_indices"
            )
        laterals = [conv(x) for conv, x in zip(self.lateral_convs, inputs)]
        if len(laterals) == 1:
            laterals = laterals * self.num_outs
        return tuple(
            conv(F.interpolate(laterals[i], scale_factor=self.scales[i], mode="bilinear"))
            for i, conv in enumerate(self.convs)
        )
