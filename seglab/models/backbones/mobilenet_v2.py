"""MobileNetV2 backbone (MMSegmentation's ``MobileNetV2``): a stride-2 stem and seven stages of
inverted-residual blocks, with per-stage ``strides``/``dilations`` for dense prediction (the -d8 configs).

Parameter names match MMSegmentation's (``conv1.conv``, ``layer2.0.conv.0.bn`` ...), so its checkpoints
and the ImageNet-pretrained ``mmcls://mobilenet_v2`` weights load as they are."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.layers import ConvModule
from seglab.models.layers.inverted_residual import InvertedResidual, make_divisible
from seglab.registry import MODELS

# MMSegmentation's defaults for every MobileNet-style backbone: He-normal convs, unit norms
BACKBONE_INIT = [dict(type="Kaiming", layer="Conv2d"), dict(type="Constant", val=1, layer=["_BatchNorm", "GroupNorm"])]


def default_init_cfg(name: str, init_cfg: dict | list | None, pretrained: str | None) -> dict | list:
    """``init_cfg`` as MMSegmentation resolves it: ``pretrained`` becomes a Pretrained entry, neither gives
    He-normal convs and unit norms. Both at once is a user mistake."""
    if init_cfg and pretrained:
        raise ConfigError(f"{name}: give init_cfg or pretrained, not both (init_cfg=dict(type='Pretrained', ...))")
    if pretrained is not None and not isinstance(pretrained, str):
        raise ConfigError(f"{name} pretrained must be a checkpoint path or URL, got {pretrained!r}")
    if pretrained:
        return dict(type="Pretrained", checkpoint=pretrained)
    return init_cfg if init_cfg is not None else [dict(cfg) for cfg in BACKBONE_INIT]


def set_train_mode(model: nn.Module, mode: bool, frozen: Sequence[nn.Module], norm_eval: bool) -> None:
    """Frozen modules stay in eval mode without gradients; ``norm_eval`` keeps every BatchNorm's statistics."""
    for module in frozen:
        module.eval()
        for param in module.parameters():
            param.requires_grad = False
    if mode and norm_eval:
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.eval()


@MODELS.register()
class MobileNetV2(nn.Module):
    """Stem conv (stride 2) then seven stages ``[expand_ratio, channels, blocks]``; ``widen_factor``
    scales widths (rounded to multiples of 8). As in MMSegmentation, a stage's stride and dilation
    apply to its first block only; ``out_indices`` pick stages 0-6."""

    arch_settings = [[1, 16, 1], [6, 24, 2], [6, 32, 3], [6, 64, 4], [6, 96, 3], [6, 160, 3], [6, 320, 1]]

    def __init__(
        self,
        widen_factor: float = 1.0,
        strides: Sequence[int] = (1, 2, 2, 2, 1, 2, 1),
        dilations: Sequence[int] = (1, 1, 1, 1, 1, 1, 1),
        out_indices: Sequence[int] = (1, 2, 4, 6),
        frozen_stages: int = -1,
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = dict(type="BN"),  # noqa: B006 (never mutated)
        act_cfg: dict | None = dict(type="ReLU6"),  # noqa: B006
        norm_eval: bool = False,
        with_cp: bool = False,
        pretrained: str | None = None,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        self.init_cfg = default_init_cfg("MobileNetV2", init_cfg, pretrained)
        stages = len(self.arch_settings)
        if len(strides) != stages or len(dilations) != stages:
            raise ConfigError(
                f"MobileNetV2 strides {tuple(strides)} and dilations {tuple(dilations)} need {stages} values each"
            )
        if any(index not in range(stages) for index in out_indices):
            raise ConfigError(f"MobileNetV2 out_indices {tuple(out_indices)} must lie in 0..{stages - 1}")
        if frozen_stages not in range(-1, stages):
            raise ConfigError(f"MobileNetV2 frozen_stages must lie in -1..{stages - 1}, got {frozen_stages}")
        self.widen_factor, self.strides, self.dilations = widen_factor, tuple(strides), tuple(dilations)
        self.out_indices, self.frozen_stages, self.norm_eval = tuple(out_indices), frozen_stages, norm_eval
        block_args = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg, with_cp=with_cp)
        in_channels = make_divisible(32 * widen_factor, 8)
        self.conv1 = ConvModule(3, in_channels, 3, 2, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.layers: list[str] = []
        for i, (expand_ratio, channels, num_blocks) in enumerate(self.arch_settings):
            out_channels = make_divisible(channels * widen_factor, 8)
            blocks = []
            for j in range(num_blocks):
                stride, dilation = (strides[i], dilations[i]) if j == 0 else (1, 1)
                blocks.append(InvertedResidual(in_channels, out_channels, stride, expand_ratio, dilation, **block_args))
                in_channels = out_channels
            self.add_module(f"layer{i + 1}", nn.Sequential(*blocks))
            self.layers.append(f"layer{i + 1}")
        self.train()

    def _frozen_modules(self) -> list[nn.Module]:
        frozen = [self.conv1] if self.frozen_stages >= 0 else []
        return frozen + [getattr(self, f"layer{i}") for i in range(1, self.frozen_stages + 1)]

    def train(self, mode: bool = True) -> MobileNetV2:
        super().train(mode)
        set_train_mode(self, mode, self._frozen_modules(), self.norm_eval)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        x = self.conv1(x)
        outs = []
        for i, name in enumerate(self.layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return outs[0] if len(outs) == 1 else tuple(outs)
