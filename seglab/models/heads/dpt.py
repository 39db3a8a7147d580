"""DPT's head (Dense Prediction Transformer): four ViT levels, each a (feature map, class token) pair,
reassembled into a stride-4/8/16/32 pyramid, projected to ``channels`` and fused coarse to fine by
residual units before the classifier."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError
from seglab.models.heads.decode_head import BaseDecodeHead
from seglab.models.layers import ConvModule, resize
from seglab.registry import MODELS

READOUT_TYPES = ("ignore", "add", "project")


class ReassembleBlocks(nn.Module):
    """Per level: use the class token as ``readout_type`` says, 1x1 ``projects`` conv to its
    ``out_channels``, then ``resize_layers`` (x4 and x2 transposed convs, identity, a stride-2 conv)."""

    def __init__(
        self,
        in_channels: int = 768,
        out_channels: Sequence[int] = (96, 192, 384, 768),
        readout_type: str = "ignore",
        patch_size: int = 16,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__()
        if readout_type not in READOUT_TYPES:
            raise ConfigError(f"DPTHead readout_type must be one of {READOUT_TYPES}, got {readout_type!r}")
        self.readout_type, self.patch_size, self.init_cfg = readout_type, patch_size, init_cfg
        self.projects = nn.ModuleList(ConvModule(in_channels, c, 1, act_cfg=None) for c in out_channels)
        self.resize_layers = nn.ModuleList(
            [
                nn.ConvTranspose2d(out_channels[0], out_channels[0], kernel_size=4, stride=4),
                nn.ConvTranspose2d(out_channels[1], out_channels[1], kernel_size=2, stride=2),
                nn.Identity(),
                nn.Conv2d(out_channels[3], out_channels[3], kernel_size=3, stride=2, padding=1),
            ]
        )
        if readout_type == "project":
            self.readout_projects = nn.ModuleList(
                nn.Sequential(nn.Linear(2 * in_channels, in_channels), nn.GELU()) for _ in out_channels
            )

    def forward(self, inputs: Sequence[Sequence[torch.Tensor]]) -> list[torch.Tensor]:
        out = []
        for i, pair in enumerate(inputs):
            if not isinstance(pair, list | tuple) or len(pair) != 2:
                raise ValueError(
                    "DPTHead takes (feature map, class token) pairs per level: set the VisionTransformer's "
                    "with_cls_token=True and output_cls_token=True"
                )
            x, cls_token = pair
            if self.readout_type == "project":
                tokens = x.flatten(2).transpose(1, 2)
                readout = cls_token.unsqueeze(1).expand_as(tokens)
                x = self.readout_projects[i](torch.cat((tokens, readout), -1)).transpose(1, 2).reshape(x.shape)
            elif self.readout_type == "add":
                x = (x.flatten(2) + cls_token.unsqueeze(-1)).reshape(x.shape)
            out.append(self.resize_layers[i](self.projects[i](x)))
        return out


class PreActResidualConvUnit(nn.Module):
    """``x + conv2(conv1(x))``, each conv pre-activated: activation, 3x3 conv (no bias), norm."""

    def __init__(
        self,
        in_channels: int,
        act_cfg: dict | None,
        norm_cfg: dict | None,
        stride: int = 1,
        dilation: int = 1,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__()
        self.init_cfg = init_cfg
        args = dict(norm_cfg=norm_cfg, act_cfg=act_cfg, bias=False, order=("act", "conv", "norm"))
        self.conv1 = ConvModule(in_channels, in_channels, 3, stride=stride, padding=dilation, dilation=dilation, **args)
        self.conv2 = ConvModule(in_channels, in_channels, 3, padding=1, **args)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x.clone()  # the in-place activation of conv1 overwrites x, as in MMSegmentation
        return self.conv2(self.conv1(x)) + identity


class FeatureFusionBlock(nn.Module):
    """Adds the residual-refined finer level (resized to the coarser one if they differ), refines again,
    upsamples x2 and projects with a 1x1 conv (to half the channels when ``expand``)."""

    def __init__(
        self,
        in_channels: int,
        act_cfg: dict | None,
        norm_cfg: dict | None,
        expand: bool = False,
        align_corners: bool = True,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__()
        self.in_channels, self.expand, self.align_corners, self.init_cfg = in_channels, expand, align_corners, init_cfg
        self.out_channels = in_channels // 2 if expand else in_channels
        self.project = ConvModule(in_channels, self.out_channels, 1, act_cfg=None, bias=True)
        self.res_conv_unit1: nn.Module | None = PreActResidualConvUnit(in_channels, act_cfg, norm_cfg)
        self.res_conv_unit2 = PreActResidualConvUnit(in_channels, act_cfg, norm_cfg)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        x = inputs[0]
        if len(inputs) == 2:
            x = x + self.res_conv_unit1(resize(inputs[1], x.shape[2:], align_corners=False))
        x = self.res_conv_unit2(x)
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=self.align_corners)
        return self.project(x)


@MODELS.register()
class DPTHead(BaseDecodeHead):
    """``embed_dims`` is the ViT width; ``post_process_channels`` the four reassembled widths; ``act_cfg`` and
    ``norm_cfg`` belong to the residual units and the closing ``project`` ConvModule (not to the base head)."""

    def __init__(
        self,
        embed_dims: int = 768,
        post_process_channels: Sequence[int] = (96, 192, 384, 768),
        readout_type: str = "ignore",
        patch_size: int = 16,
        expand_channels: bool = False,
        act_cfg: dict | None = dict(type="ReLU"),  # noqa: B006 (never mutated)
        norm_cfg: dict | None = dict(type="BN"),  # noqa: B006
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if expand_channels:
            raise ConfigError(
                "DPTHead expand_channels=True cannot be built (its convs would expect more channels than the "
                "reassembled levels have; MMSegmentation's fails too); remove the key"
            )
        if len(post_process_channels) != 4:
            raise ConfigError(
                f"DPTHead post_process_channels needs 4 entries (one per reassembled level), got {post_process_channels!r}"
            )
        self.expand_channels = expand_channels
        self.reassemble_blocks = ReassembleBlocks(embed_dims, post_process_channels, readout_type, patch_size)
        self.post_process_channels = list(post_process_channels)
        self.convs = nn.ModuleList(
            ConvModule(c, self.channels, 3, padding=1, act_cfg=None, bias=False) for c in self.post_process_channels
        )
        self.fusion_blocks = nn.ModuleList(FeatureFusionBlock(self.channels, act_cfg, norm_cfg) for _ in self.convs)
        self.fusion_blocks[0].res_conv_unit1 = None  # the coarsest level has nothing to fuse
        self.project = ConvModule(self.channels, self.channels, 3, padding=1, norm_cfg=norm_cfg)

    def forward(self, inputs: Sequence) -> torch.Tensor:
        if len(inputs) != 4:
            raise ValueError(f"DPTHead expects 4 backbone levels, got {len(inputs)}")
        feats = self.reassemble_blocks(self._transform_inputs(inputs))
        feats = [conv(x) for conv, x in zip(self.convs, feats)]
        out = self.fusion_blocks[0](feats[-1])
        for i in range(1, len(self.fusion_blocks)):
            out = self.fusion_blocks[i](out, feats[-(i + 1)])
        return self.cls_seg(self.project(out))
