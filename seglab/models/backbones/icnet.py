"""ICNet (Zhao et al., "ICNet for Real-Time Semantic Segmentation on High-Resolution Images"), as
MMSegmentation builds it: same type name, arguments and parameter keys (``backbone.layer1``, ``psp_modules``,
``psp_bottleneck``, ``conv_sub1.0`` ...), so its Cityscapes checkpoints load as they are.

Three branches at three input resolutions: a light 3-conv branch on the full image (stride 8), the ResNet's
stem to layer2 on the half-size image (stride 16) and its layer3-4 + a pyramid pooling module on a further
halved map (stride 32). ``ICNeck`` (seglab/models/necks/ic_neck.py) fuses the three."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError
from seglab.models.layers import PPM, ConvModule
from seglab.registry import MODELS

BN = dict(type="BN", requires_grad=True)
RELU = dict(type="ReLU")
RESNET_PARTS = ("stem", "maxpool", "layer1", "layer2", "layer3", "layer4")


def _half(x: torch.Tensor, align_corners: bool) -> torch.Tensor:
    """Bilinear x0.5 by scale factor, as MMSegmentation resizes: on odd sizes the sampling grid is that of
    a factor of exactly 2, not of the rounded output size."""
    return F.interpolate(x, scale_factor=0.5, mode="bilinear", align_corners=align_corners)


@MODELS.register()
class ICNet(nn.Module):
    """ICNet backbone; returns the three branches' features (strides 8, 16, 32) with ``out_channels``.

    ``backbone_cfg`` is a ResNet with a deep stem (ResNetV1c/ResNetV1d, usually dilated to stride 8): ICNet
    runs its stem, max pool (made ``ceil_mode``) and layers itself; ``layer_channels`` are the widths of its
    layer2 and layer4. The light branch and the 1x1 projections use ReLU; ``act_cfg`` reaches only the
    pyramid pooling and its bottleneck (as in MMSegmentation)."""

    def __init__(
        self,
        backbone_cfg: dict,
        in_channels: int = 3,
        layer_channels: Sequence[int] = (512, 2048),
        light_branch_middle_channels: int = 32,
        psp_out_channels: int = 512,
        out_channels: Sequence[int] = (64, 256, 256),
        pool_scales: Sequence[int] = (1, 2, 3, 6),
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = BN,
        act_cfg: dict | None = RELU,
        align_corners: bool = False,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(backbone_cfg, dict):
            raise ConfigError("ICNet needs backbone_cfg, e.g. dict(type='ResNetV1c', depth=50, ...)")
        if len(layer_channels) != 2 or len(out_channels) != 3:
            raise ConfigError(
                f"ICNet layer_channels={tuple(layer_channels)} needs 2 widths (layer2, layer4) and "
                f"out_channels={tuple(out_channels)} 3 (one per branch)"
            )
        self.init_cfg = (
            init_cfg
            if init_cfg is not None
            else [
                dict(type="Kaiming", mode="fan_out", layer="Conv2d"),
                dict(type="Constant", val=1, layer="_BatchNorm"),
                dict(type="Normal", mean=0.01, layer="Linear"),
            ]
        )
        self.align_corners = align_corners
        self.backbone = MODELS.build(backbone_cfg)
        missing = [part for part in RESNET_PARTS if not hasattr(self.backbone, part)]
        if missing:
            raise ConfigError(
                f"ICNet backbone_cfg type '{backbone_cfg.get('type')}' lacks {missing}: ICNet runs a ResNet's stem "
                "and layers itself, so it needs a ResNet with a deep stem (type='ResNetV1c' or 'ResNetV1d')"
            )
        self.backbone.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1, ceil_mode=True)
        conv_args = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg)
        self.psp_modules = PPM(
            pool_scales, layer_channels[1], psp_out_channels, act_cfg=act_cfg, align_corners=align_corners, **conv_args
        )
        self.psp_bottleneck = ConvModule(
            layer_channels[1] + len(pool_scales) * psp_out_channels,
            psp_out_channels,
            3,
            padding=1,
            act_cfg=act_cfg,
            **conv_args,
        )
        middle = light_branch_middle_channels
        self.conv_sub1 = nn.Sequential(
            ConvModule(in_channels, middle, 3, stride=2, padding=1, **conv_args),
            ConvModule(middle, middle, 3, stride=2, padding=1, **conv_args),
            ConvModule(middle, out_channels[0], 3, stride=2, padding=1, **conv_args),
        )
        self.conv_sub2 = ConvModule(layer_channels[0], out_channels[1], 1, **conv_args)
        self.conv_sub4 = ConvModule(psp_out_channels, out_channels[2], 1, **conv_args)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outs = [self.conv_sub1(x)]
        resnet = self.backbone
        x = resnet.layer2(resnet.layer1(resnet.maxpool(resnet.stem(_half(x, self.align_corners)))))
        outs.append(self.conv_sub2(x))
        x = resnet.layer4(resnet.layer3(_half(x, self.align_corners)))
        x = self.psp_bottleneck(torch.cat([*self.psp_modules(x), x], dim=1))
        outs.append(self.conv_sub4(x))
        return tuple(outs)
