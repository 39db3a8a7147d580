"""BiSeNetV1 (Yu et al. 2018): a shallow, wide spatial path beside a context path on a ResNet, fused by FFM.

Module and parameter names are MMSegmentation's (``context_path.arm16``, ``spatial_path.layer1``, ``ffm.conv1``
...), so its checkpoints load key for key. ``AttentionRefinementModule`` is also STDC's (``stdc.py`` imports it).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError
from seglab.models.layers import ConvModule
from seglab.registry import MODELS

BN = dict(type="BN")
RELU = dict(type="ReLU")


class SpatialPath(nn.Module):
    """Three stride-2 convs (7x7, 3x3, 3x3) and a 1x1: 1/8 resolution with wide channels, for detail."""

    init_cfg = None  # an MMEngine BaseModule: the init walk enters it

    def __init__(
        self,
        in_channels: int = 3,
        num_channels: Sequence[int] = (64, 64, 64, 128),
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = BN,
        act_cfg: dict | None = RELU,
    ) -> None:
        super().__init__()
        # (kernel, stride, padding) of layer1 .. layer4
        shapes = [(7, 2, 3), (3, 2, 1), (3, 2, 1), (1, 1, 0)]
        channels = [in_channels, *num_channels]
        for i, (kernel, stride, padding) in enumerate(shapes):
            conv = ConvModule(
                channels[i],
                channels[i + 1],
                kernel,
                stride,
                padding,
                conv_cfg=conv_cfg,
                norm_cfg=norm_cfg,
                act_cfg=act_cfg,
            )
            self.add_module(f"layer{i + 1}", conv)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


class AttentionRefinementModule(nn.Module):
    """A 3x3 conv, then channel attention from its global average (1x1 conv + BN + sigmoid) re-weights it.

    ``out_channel`` (singular) is MMSegmentation's argument name."""

    init_cfg = None

    def __init__(
        self,
        in_channels: int,
        out_channel: int,
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = BN,
        act_cfg: dict | None = RELU,
    ) -> None:
        super().__init__()
        self.conv_layer = ConvModule(
            in_channels, out_channel, 3, 1, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg
        )
        self.atten_conv_layer = nn.Sequential(
            nn.AdaptiveAvgPool2d((1, 1)),
            ConvModule(out_channel, out_channel, 1, bias=False, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=None),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_layer(x)
        return x * self.atten_conv_layer(x)


class ContextPath(nn.Module):
    """The ResNet's 1/16 and 1/32 features refined by ARMs plus a global-context vector, merged top-down
    (nearest upsampling); returns the merged maps at 1/8 and 1/16."""

    init_cfg = None

    def __init__(
        self,
        backbone_cfg: dict,
        context_channels: Sequence[int] = (128, 256, 512),
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = BN,
        act_cfg: dict | None = RELU,
    ) -> None:
        super().__init__()
        self.backbone = MODELS.build(backbone_cfg)
        mid, c16, c32 = context_channels
        self.arm16 = AttentionRefinementModule(c16, mid)
        self.arm32 = AttentionRefinementModule(c32, mid)
        args = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.conv_head32 = ConvModule(mid, mid, 3, 1, 1, **args)
        self.conv_head16 = ConvModule(mid, mid, 3, 1, 1, **args)
        self.gap_conv = nn.Sequential(nn.AdaptiveAvgPool2d((1, 1)), ConvModule(c32, mid, 1, 1, 0, **args))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats = self.backbone(x)
        if len(feats) != 4:
            raise ConfigError(
                f"BiSeNetV1 needs 4 feature levels from backbone_cfg (strides 4, 8, 16, 32), got {len(feats)}; "
                "set backbone_cfg.out_indices=(0, 1, 2, 3)"
            )
        _, x8, x16, x32 = feats
        up32 = self.arm32(x32) + self.gap_conv(x32)
        up32 = self.conv_head32(F.interpolate(up32, size=x16.shape[2:], mode="nearest"))
        up16 = self.arm16(x16) + up32
        up16 = self.conv_head16(F.interpolate(up16, size=x8.shape[2:], mode="nearest"))
        return up16, up32


class FeatureFusionModule(nn.Module):
    """Concatenate spatial and context features, 1x1 conv, then add a channel-attention re-weighted copy."""

    init_cfg = None

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = BN,
        act_cfg: dict | None = RELU,
    ) -> None:
        super().__init__()
        args = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.conv1 = ConvModule(in_channels, out_channels, 1, 1, 0, **args)
        self.gap = nn.AdaptiveAvgPool2d((1, 1))
        self.conv_atten = nn.Sequential(
            ConvModule(out_channels, out_channels, 1, 1, 0, bias=False, **args), nn.Sigmoid()
        )

    def forward(self, x_sp: torch.Tensor, x_cp: torch.Tensor) -> torch.Tensor:
        fused = self.conv1(torch.cat([x_sp, x_cp], dim=1))
        return fused * self.conv_atten(self.gap(fused)) + fused


@MODELS.register()
class BiSeNetV1(nn.Module):
    """Outputs (selected by ``out_indices``): the fused map (``out_channels``, 1/8), the context path's 1/8
    and 1/16 maps (``context_channels[0]`` each) for the auxiliary heads.

    As in MMSegmentation 1.2.2, the spatial path, ARMs and FFM are built with plain BN and ReLU whatever
    ``norm_cfg``/``act_cfg``/``conv_cfg`` say (only ``backbone_cfg`` carries the configs' SyncBN), and the
    context path upsamples by nearest neighbour, so ``align_corners`` changes nothing."""

    IGNORED_ARGS = {
        "align_corners": False,
        "conv_cfg": None,
        "norm_cfg": dict(type="BN", requires_grad=True),
        "act_cfg": dict(type="ReLU"),
    }

    def __init__(
        self,
        backbone_cfg: dict,
        in_channels: int = 3,
        spatial_channels: Sequence[int] = (64, 64, 64, 128),
        context_channels: Sequence[int] = (128, 256, 512),
        out_indices: Sequence[int] = (0, 1, 2),
        align_corners: bool = False,
        out_channels: int = 256,
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = dict(type="BN", requires_grad=True),  # noqa: B006
        act_cfg: dict | None = dict(type="ReLU"),  # noqa: B006
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        if len(spatial_channels) != 4:
            raise ConfigError(
                f"BiSeNetV1 spatial_channels needs 4 values (one per layer), got {tuple(spatial_channels)}"
            )
        if len(context_channels) != 3:
            raise ConfigError(
                f"BiSeNetV1 context_channels needs 3 values (ARM output, ResNet 1/16 and 1/32 channels), "
                f"got {tuple(context_channels)}"
            )
        if spatial_channels[-1] + context_channels[0] != context_channels[1]:
            # MMSegmentation sizes the FFM's input by context_channels[1]: the two paths' outputs must fill it
            raise ConfigError(
                f"BiSeNetV1: spatial_channels[-1] + context_channels[0] = {spatial_channels[-1]} + "
                f"{context_channels[0]} must equal context_channels[1] = {context_channels[1]} (the fusion "
                "module's input channels)"
            )
        self.out_indices = _check_out_indices("BiSeNetV1", out_indices, 3)
        self.init_cfg = init_cfg
        self.context_path = ContextPath(backbone_cfg, context_channels)
        self.spatial_path = SpatialPath(in_channels, spatial_channels)
        self.ffm = FeatureFusionModule(context_channels[1], out_channels)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        context8, context16 = self.context_path(x)
        outs = [self.ffm(self.spatial_path(x), context8), context8, context16]
        return tuple(outs[i] for i in self.out_indices)


def _check_out_indices(owner: str, out_indices: Sequence[int] | int, count: int) -> tuple[int, ...]:
    indices = (out_indices,) if isinstance(out_indices, int) else tuple(out_indices)
    if not all(-count <= i < count for i in indices):
        raise ConfigError(f"{owner} out_indices {indices} must name outputs 0 .. {count - 1}")
    return indices
