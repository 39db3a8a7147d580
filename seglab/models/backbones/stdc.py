"""STDC (Fan et al. 2021, "Rethinking BiSeNet"): STDCNet1/2, stacks of short-term dense concatenate modules,
and STDCContextPathNet, which adds BiSeNet's context path (attention refinement) and a feature fusion module.

Module and parameter names are MMSegmentation's (``backbone.stages.2.0.layers.1``, ``arms.0``, ``conv_avg``,
``ffm.attention.1`` ...), so its checkpoints and the ImageNet-pretrained STDC files load key for key.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError
from seglab.models.backbones.bisenetv1 import AttentionRefinementModule
from seglab.models.layers import ConvModule
from seglab.registry import MODELS

BN = dict(type="BN")
RELU = dict(type="ReLU")
FUSION_TYPES = ("add", "cat")


class _Container:
    """Marks MMEngine's ModuleList/Sequential (BaseModules, which the init walk enters) apart from torch's."""

    init_cfg = None


class _ModuleList(_Container, nn.ModuleList):
    pass


class _Sequential(_Container, nn.Sequential):
    pass


class STDCModule(nn.Module):
    """A 1x1 conv then ``num_convs - 1`` 3x3 convs, each halving the channels (the last keeps them); all
    outputs concatenated to ``out_channels``. With stride 2 the first output is downsampled (depthwise conv);
    'cat' fusion average-pools it, 'add' fusion adds a strided shortcut of the input instead."""

    init_cfg = None

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int,
        norm_cfg: dict | None = None,
        act_cfg: dict | None = None,
        num_convs: int = 4,
        fusion_type: str = "add",
    ) -> None:
        super().__init__()
        if num_convs < 2:
            raise ConfigError(f"STDCNet num_convs must be at least 2, got {num_convs}")
        if fusion_type not in FUSION_TYPES:
            raise ConfigError(f"STDCNet bottleneck_type must be 'add' or 'cat', got {fusion_type!r}")
        self.with_downsample = stride == 2
        self.fusion_type = fusion_type
        half = out_channels // 2
        self.layers = _ModuleList()
        conv_0 = ConvModule(in_channels, half, kernel_size=1, norm_cfg=norm_cfg)  # ReLU whatever act_cfg says
        if self.with_downsample:
            self.downsample = ConvModule(half, half, 3, 2, 1, groups=half, norm_cfg=norm_cfg, act_cfg=None)
            if fusion_type == "add":
                self.layers.append(nn.Sequential(conv_0, self.downsample))  # the same module, under both names
                self.skip = _Sequential(
                    ConvModule(in_channels, in_channels, 3, 2, 1, groups=in_channels, norm_cfg=norm_cfg, act_cfg=None),
                    ConvModule(in_channels, out_channels, 1, norm_cfg=norm_cfg, act_cfg=None),
                )
            else:
                self.layers.append(conv_0)
                self.skip = nn.AvgPool2d(kernel_size=3, stride=2, padding=1)
        else:
            self.layers.append(conv_0)
        for i in range(1, num_convs):
            out = out_channels // (2 ** (i + 1) if i != num_convs - 1 else 2**i)
            self.layers.append(ConvModule(out_channels // 2**i, out, 3, 1, 1, norm_cfg=norm_cfg, act_cfg=act_cfg))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._forward_add(x) if self.fusion_type == "add" else self._forward_cat(x)

    def _forward_add(self, inputs: torch.Tensor) -> torch.Tensor:
        outs, x = [], inputs
        for layer in self.layers:
            x = layer(x)
            outs.append(x)
        return torch.cat(outs, dim=1) + (self.skip(inputs) if self.with_downsample else inputs)

    def _forward_cat(self, inputs: torch.Tensor) -> torch.Tensor:
        x0 = self.layers[0](inputs)
        x = self.downsample(x0) if self.with_downsample else x0
        outs = [self.skip(x0) if self.with_downsample else x0]
        for layer in self.layers[1:]:
            x = layer(x)
            outs.append(x)
        return torch.cat(outs, dim=1)


class FeatureFusionModule(nn.Module):
    """STDC's fusion: concatenate, 1x1 conv, then add a copy re-weighted by channel attention from two
    bias-free 1x1 convs (``out_channels // scale_factor`` between). BiSeNetV1's has one attention conv."""

    init_cfg = None

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        scale_factor: int = 4,
        norm_cfg: dict | None = BN,
        act_cfg: dict | None = RELU,
    ) -> None:
        super().__init__()
        channels = out_channels // scale_factor
        self.conv0 = ConvModule(in_channels, out_channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.attention = nn.Sequential(
            nn.AdaptiveAvgPool2d((1, 1)),
            ConvModule(out_channels, channels, 1, norm_cfg=None, bias=False, act_cfg=act_cfg),
            ConvModule(channels, out_channels, 1, norm_cfg=None, bias=False, act_cfg=None),
            nn.Sigmoid(),
        )

    def forward(self, spatial_inputs: torch.Tensor, context_inputs: torch.Tensor) -> torch.Tensor:
        x = self.conv0(torch.cat([spatial_inputs, context_inputs], dim=1))
        return x * self.attention(x) + x


@MODELS.register()
class STDCNet(nn.Module):
    """Two strided 3x3 convs (1/2, 1/4), then three stages of STDC modules (1/8, 1/16, 1/32), the first of
    each strided; returns the three stages' outputs (``channels[2:]``). STDCNet1 has 2 modules per stage,
    STDCNet2 4, 5 and 3. ``pretrained`` is stored and never read, as in MMSegmentation (use ``init_cfg``)."""

    arch_settings = {"STDCNet1": [(2, 1), (2, 1), (2, 1)], "STDCNet2": [(2, 1, 1, 1), (2, 1, 1, 1, 1), (2, 1, 1)]}
    IGNORED_ARGS = {"pretrained": None}

    def __init__(
        self,
        stdc_type: str,
        in_channels: int,
        channels: Sequence[int],
        bottleneck_type: str,
        norm_cfg: dict | None,
        act_cfg: dict | None,
        num_convs: int = 4,
        with_final_conv: bool = False,
        pretrained: str | None = None,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        if stdc_type not in self.arch_settings:
            raise ConfigError(f"STDCNet stdc_type must be one of {sorted(self.arch_settings)}, got {stdc_type!r}")
        if bottleneck_type not in FUSION_TYPES:
            raise ConfigError(f"STDCNet bottleneck_type must be 'add' or 'cat', got {bottleneck_type!r}")
        if len(channels) != 5:
            raise ConfigError(f"STDCNet channels needs 5 values (2 stem convs, 3 stages), got {tuple(channels)}")
        self.init_cfg = init_cfg
        self.with_final_conv = with_final_conv
        args = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.stages = _ModuleList(
            [
                ConvModule(in_channels, channels[0], 3, 2, 1, **args),
                ConvModule(channels[0], channels[1], 3, 2, 1, **args),
            ]
        )
        self.num_shallow_features = len(self.stages)
        for i, strides in enumerate(self.arch_settings[stdc_type]):
            cin, cout = channels[i + 1], channels[i + 2]
            modules = [
                STDCModule(cin if j == 0 else cout, cout, stride, norm_cfg, act_cfg, num_convs, bottleneck_type)
                for j, stride in enumerate(strides)
            ]
            self.stages.append(_Sequential(*modules))
        if with_final_conv:
            self.final_conv = ConvModule(channels[-1], max(1024, channels[-1]), 1, **args)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outs = []
        for stage in self.stages:
            x = stage(x)
            outs.append(x)
        if self.with_final_conv:
            outs[-1] = self.final_conv(outs[-1])
        return tuple(outs[self.num_shallow_features :])


@MODELS.register()
class STDCContextPathNet(nn.Module):
    """STDCNet plus a context path: the last maps refined by ARMs, each added to the upsampled coarser result
    (starting from the global average), then a fusion of the finest backbone map with the last refined one.

    Outputs: the backbone's 1/8 map (for STDCHead's detail loss), the refined maps (coarse to fine, for the
    auxiliary heads) and the fused map (for the decode head)."""

    init_cfg = None

    def __init__(
        self,
        backbone_cfg: dict,
        last_in_channels: Sequence[int] = (1024, 512),
        out_channels: int = 128,
        ffm_cfg: dict = dict(in_channels=512, out_channels=256, scale_factor=4),  # noqa: B006 (never mutated)
        upsample_mode: str = "nearest",
        align_corners: bool | None = None,
        norm_cfg: dict | None = BN,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        if len(last_in_channels) < 2:
            raise ConfigError(
                f"STDCContextPathNet last_in_channels needs at least 2 values (the fusion uses the second "
                f"refined map), got {tuple(last_in_channels)}"
            )
        if upsample_mode == "nearest" and align_corners is not None:
            raise ConfigError("STDCContextPathNet align_corners must be None with upsample_mode='nearest'")
        if not isinstance(ffm_cfg, dict):
            raise ConfigError(
                f"STDCContextPathNet ffm_cfg must be a dict of FeatureFusionModule arguments, got {ffm_cfg!r}"
            )
        self.init_cfg = init_cfg
        self.backbone = MODELS.build(backbone_cfg)
        self.arms = _ModuleList()
        self.convs = _ModuleList()
        for channels in last_in_channels:
            self.arms.append(AttentionRefinementModule(channels, out_channels))
            self.convs.append(ConvModule(out_channels, out_channels, 3, padding=1, norm_cfg=norm_cfg))
        self.conv_avg = ConvModule(last_in_channels[0], out_channels, 1, norm_cfg=norm_cfg)
        try:
            self.ffm = FeatureFusionModule(**ffm_cfg)
        except TypeError as err:
            raise ConfigError(f"STDCContextPathNet ffm_cfg: {err}") from None
        self.upsample_mode = upsample_mode
        self.align_corners = align_corners

    def _resize(self, x: torch.Tensor, size: torch.Size) -> torch.Tensor:
        return F.interpolate(x, size=size, mode=self.upsample_mode, align_corners=self.align_corners)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outs = list(self.backbone(x))
        if len(outs) < len(self.arms) + 1:
            raise ConfigError(
                f"STDCContextPathNet has {len(self.arms)} ARMs (last_in_channels) but the backbone gives "
                f"{len(outs)} maps; it needs one more map than ARMs"
            )
        up = self._resize(self.conv_avg(F.adaptive_avg_pool2d(outs[-1], 1)), outs[-1].shape[2:])
        refined = []
        for i, (arm, conv) in enumerate(zip(self.arms, self.convs)):
            level = len(outs) - 1 - i
            up = conv(self._resize(arm(outs[level]) + up, outs[level - 1].shape[2:]))
            refined.append(up)
        return (outs[0], *refined, self.ffm(outs[0], refined[1]))
