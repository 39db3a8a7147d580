"""MobileNetV3 backbone (MMSegmentation's ``MobileNetV3``, arch 'small' or 'large') at output stride 8:
the last two stride-2 blocks run at stride 1 with dilation 2 and 4, as the LR-ASPP configs use it.

Parameter names match MMSegmentation's (``layer0.conv``, ``layer4.depthwise_conv.conv``, ``layer4.se.conv1``
...), so its checkpoints and the ImageNet-pretrained ``open-mmlab://contrib/mobilenet_v3_*`` weights load."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.backbones.mobilenet_v2 import default_init_cfg, set_train_mode
from seglab.models.layers import ConvModule
from seglab.models.layers.inverted_residual import InvertedResidualV3, adaptive_padding_conv
from seglab.registry import MODELS

# per block: kernel size, mid channels, out channels, with SE, activation, stride
ARCH_SETTINGS = {
    "small": [
        [3, 16, 16, True, "ReLU", 2],
        [3, 72, 24, False, "ReLU", 2],
        [3, 88, 24, False, "ReLU", 1],
        [5, 96, 40, True, "HSwish", 2],
        [5, 240, 40, True, "HSwish", 1],
        [5, 240, 40, True, "HSwish", 1],
        [5, 120, 48, True, "HSwish", 1],
        [5, 144, 48, True, "HSwish", 1],
        [5, 288, 96, True, "HSwish", 2],
        [5, 576, 96, True, "HSwish", 1],
        [5, 576, 96, True, "HSwish", 1],
    ],
    "large": [
        [3, 16, 16, False, "ReLU", 1],
        [3, 64, 24, False, "ReLU", 2],
        [3, 72, 24, False, "ReLU", 1],
        [5, 72, 40, True, "ReLU", 2],
        [5, 120, 40, True, "ReLU", 1],
        [5, 120, 40, True, "ReLU", 1],
        [3, 240, 80, False, "HSwish", 2],
        [3, 200, 80, False, "HSwish", 1],
        [3, 184, 80, False, "HSwish", 1],
        [3, 184, 80, False, "HSwish", 1],
        [3, 480, 112, True, "HSwish", 1],
        [3, 672, 112, True, "HSwish", 1],
        [5, 672, 160, True, "HSwish", 2],
        [5, 960, 160, True, "HSwish", 1],
        [5, 960, 160, True, "HSwish", 1],
    ],
}
# arch -> (first layer of the dilation-2 part, first layer of the dilation-4 part, first reduced block index)
DILATED_FROM = {"small": (4, 9, 8), "large": (7, 13, 12)}


@MODELS.register()
class MobileNetV3(nn.Module):
    """``layer0`` (3x3 stride-2 stem, HSwish), ``layer1..N`` inverted-residual blocks, a final 1x1 conv
    (576/960 channels). ``out_indices`` pick layers 0..N+1; ``reduction_factor`` divides the widths of the
    last stage's blocks (the paper's option for a lighter LR-ASPP; the final conv keeps its width)."""

    arch_settings = ARCH_SETTINGS

    def __init__(
        self,
        arch: str = "small",
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = dict(type="BN"),  # noqa: B006 (never mutated)
        out_indices: Sequence[int] = (0, 1, 12),
        frozen_stages: int = -1,
        reduction_factor: int = 1,
        norm_eval: bool = False,
        with_cp: bool = False,
        pretrained: str | None = None,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        self.init_cfg = default_init_cfg("MobileNetV3", init_cfg, pretrained)
        if arch not in ARCH_SETTINGS:
            raise ConfigError(f"MobileNetV3 arch must be one of {sorted(ARCH_SETTINGS)}, got {arch!r}")
        if not isinstance(reduction_factor, int) or reduction_factor <= 0:
            raise ConfigError(f"MobileNetV3 reduction_factor must be a positive int, got {reduction_factor!r}")
        layers = len(ARCH_SETTINGS[arch]) + 2
        if not all(isinstance(i, int) and 0 <= i < layers for i in out_indices):
            raise ConfigError(f"MobileNetV3 out_indices {tuple(out_indices)} must be ints in 0..{layers - 1} ({arch})")
        if frozen_stages not in range(-1, layers):
            raise ConfigError(f"MobileNetV3 frozen_stages must lie in -1..{layers - 1}, got {frozen_stages}")
        self.arch, self.out_indices, self.frozen_stages = arch, tuple(out_indices), frozen_stages
        self.reduction_factor, self.norm_eval, self.with_cp = reduction_factor, norm_eval, with_cp
        self.layers = self._make_layers(conv_cfg, norm_cfg)
        self.train()

    def _make_layers(self, conv_cfg: dict | None, norm_cfg: dict | None) -> list[str]:
        in_channels = 16
        stem = ConvModule(3, in_channels, 3, 2, 1, norm_cfg=norm_cfg, act_cfg=dict(type="HSwish"))
        self.layer0 = adaptive_padding_conv(stem)
        names = ["layer0"]
        d2_from, d4_from, reduce_from = DILATED_FROM[self.arch]
        for i, (kernel, mid, out, with_se, act, stride) in enumerate(ARCH_SETTINGS[self.arch]):
            if i >= reduce_from:
                mid, out = mid // self.reduction_factor, out // self.reduction_factor
            se_cfg = (
                dict(channels=mid, ratio=4, act_cfg=(dict(type="ReLU"), dict(type="HSigmoid", bias=3.0, divisor=6.0)))
                if with_se
                else None
            )
            block = InvertedResidualV3(
                in_channels, out, mid, kernel, stride, se_cfg, in_channels != mid,
                conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=dict(type=act), with_cp=self.with_cp,
            )  # fmt: skip
            in_channels = out
            self.add_module(f"layer{i + 1}", block)
            names.append(f"layer{i + 1}")
        last = ConvModule(
            in_channels, 576 if self.arch == "small" else 960, 1, dilation=4,
            conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=dict(type="HSwish"),
        )  # fmt: skip
        self.add_module(f"layer{len(names)}", last)
        names.append(f"layer{len(names)}")
        # output stride 8: the stride-2 blocks starting each dilated part run at stride 1; every conv from
        # there on is dilated (the adaptive-padding ones pad themselves; the others get padding to match)
        getattr(self, f"layer{d2_from}").depthwise_conv.conv.stride = (1, 1)
        getattr(self, f"layer{d4_from}").depthwise_conv.conv.stride = (1, 1)
        for i in range(d2_from, len(names)):
            layer = getattr(self, names[i])
            conv = layer.depthwise_conv.conv if isinstance(layer, InvertedResidualV3) else layer.conv
            dilation = 2 if i < d4_from else 4
            conv.dilation = (dilation, dilation)
            if type(conv) is nn.Conv2d:
                pad = dilation * ((conv.kernel_size[0] - 1) // 2)
                conv.padding = (pad, pad)
        return names

    def _frozen_modules(self) -> list[nn.Module]:
        return [getattr(self, f"layer{i}") for i in range(self.frozen_stages + 1)]

    def train(self, mode: bool = True) -> MobileNetV3:
        super().train(mode)
        set_train_mode(self, mode, self._frozen_modules(), self.norm_eval)
        return self

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outs = []
        for i, name in enumerate(self.layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)  # MMSegmentation returns a list; heads index either the same way
