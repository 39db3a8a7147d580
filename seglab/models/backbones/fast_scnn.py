"""Fast-SCNN backbone (MMSegmentation's ``FastSCNN``): a learning-to-downsample stem (1/8), a global
feature extractor (inverted residuals + pyramid pooling, 1/32) and a feature fusion module that adds the
upsampled global features to the 1/8 ones.

Parameter names match MMSegmentation's (``learning_to_downsample.dsconv1.depthwise_conv.conv``,
``global_feature_extractor.bottleneck1.0.conv.0.conv``, ``feature_fusion.dwconv.conv`` ...)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.backbones.mobilenet_v2 import default_init_cfg
from seglab.models.layers import PPM, ConvModule, DepthwiseSeparableConvModule, resize
from seglab.models.layers.inverted_residual import InvertedResidual
from seglab.registry import MODELS


class LearningToDownsample(nn.Module):
    """3x3 stride-2 conv, then two stride-2 depthwise-separable convs (no activation after the depthwise
    part unless ``dw_act_cfg``): 1/8 of the input at ``out_channels``."""

    def __init__(
        self,
        in_channels: int,
        dw_channels: Sequence[int],
        out_channels: int,
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = dict(type="BN"),  # noqa: B006 (never mutated)
        act_cfg: dict | None = dict(type="ReLU"),  # noqa: B006
        dw_act_cfg: dict | None = None,
    ) -> None:
        super().__init__()
        first, second = dw_channels
        self.conv = ConvModule(in_channels, first, 3, 2, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        # as in MMSegmentation: the separable convs take norm_cfg and dw_act_cfg only (ReLU after pointwise)
        sep = dict(kernel_size=3, stride=2, padding=1, norm_cfg=norm_cfg, dw_act_cfg=dw_act_cfg)
        self.dsconv1 = DepthwiseSeparableConvModule(first, second, **sep)
        self.dsconv2 = DepthwiseSeparableConvModule(second, out_channels, **sep)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dsconv2(self.dsconv1(self.conv(x)))


class GlobalFeatureExtractor(nn.Module):
    """Three groups of inverted residuals (``bottleneck1..3``), a PPM on the last (``channels // 4`` per
    branch) and a 3x3 conv fusing the features with the pooled context."""

    def __init__(
        self,
        in_channels: int = 64,
        block_channels: Sequence[int] = (64, 96, 128),
        out_channels: int = 128,
        expand_ratio: int = 6,
        num_blocks: Sequence[int] = (3, 3, 3),
        strides: Sequence[int] = (2, 2, 1),
        pool_scales: Sequence[int] = (1, 2, 3, 6),
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = dict(type="BN"),  # noqa: B006 (never mutated)
        act_cfg: dict | None = dict(type="ReLU"),  # noqa: B006
        align_corners: bool = False,
    ) -> None:
        super().__init__()
        if not len(block_channels) == len(num_blocks) == len(strides) == 3:
            raise ConfigError(
                f"FastSCNN global_block_channels {tuple(block_channels)} and global_block_strides "
                f"{tuple(strides)} need 3 values each"
            )
        block = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)
        channels = [in_channels, *block_channels]
        for i in range(3):
            layers = [
                InvertedResidual(channels[i] if j == 0 else channels[i + 1], channels[i + 1],
                                 strides[i] if j == 0 else 1, expand_ratio, **block)
                for j in range(num_blocks[i])
            ]  # fmt: skip
            self.add_module(f"bottleneck{i + 1}", nn.Sequential(*layers))
        last = block_channels[2]
        self.ppm = PPM(pool_scales, last, last // 4, conv_cfg, norm_cfg, act_cfg, align_corners)
        self.out = ConvModule(
            last * 2, out_channels, 3, padding=1, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bottleneck3(self.bottleneck2(self.bottleneck1(x)))
        return self.out(torch.cat([x, *self.ppm(x)], dim=1))


class FeatureFusionModule(nn.Module):
    """Upsample the low-resolution features, 3x3 depthwise conv + 1x1 conv on them, 1x1 conv on the
    high-resolution ones, add, ReLU."""

    def __init__(
        self,
        higher_in_channels: int,
        lower_in_channels: int,
        out_channels: int,
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = dict(type="BN"),  # noqa: B006 (never mutated)
        dwconv_act_cfg: dict | None = dict(type="ReLU"),  # noqa: B006
        conv_act_cfg: dict | None = None,
        align_corners: bool = False,
    ) -> None:
        super().__init__()
        if lower_in_channels % out_channels:
            raise ConfigError(
                f"FastSCNN fusion_out_channels={out_channels} must divide lower_in_channels={lower_in_channels} "
                "(the fusion's depthwise conv has one group per output channel)"
            )
        self.align_corners = align_corners
        args = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg)
        self.dwconv = ConvModule(
            lower_in_channels, out_channels, 3, padding=1, groups=out_channels, act_cfg=dwconv_act_cfg, **args
        )
        self.conv_lower_res = ConvModule(out_channels, out_channels, 1, act_cfg=conv_act_cfg, **args)
        self.conv_higher_res = ConvModule(higher_in_channels, out_channels, 1, act_cfg=conv_act_cfg, **args)
        self.relu = nn.ReLU(True)

    def forward(self, higher: torch.Tensor, lower: torch.Tensor) -> torch.Tensor:
        lower = resize(lower, size=higher.shape[2:], align_corners=self.align_corners)
        lower = self.conv_lower_res(self.dwconv(lower))
        return self.relu(self.conv_higher_res(higher) + lower)


@MODELS.register()
class FastSCNN(nn.Module):
    """Learning to downsample -> global feature extractor -> feature fusion; returns the
    ``out_indices`` of ``(higher_res_features, lower_res_features, fusion_output)`` (auxiliary heads
    read the first two)."""

    def __init__(
        self,
        in_channels: int = 3,
        downsample_dw_channels: Sequence[int] = (32, 48),
        global_in_channels: int = 64,
        global_block_channels: Sequence[int] = (64, 96, 128),
        global_block_strides: Sequence[int] = (2, 2, 1),
        global_out_channels: int = 128,
        higher_in_channels: int = 64,
        lower_in_channels: int = 128,
        fusion_out_channels: int = 128,
        out_indices: Sequence[int] = (0, 1, 2),
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = dict(type="BN"),  # noqa: B006 (never mutated)
        act_cfg: dict | None = dict(type="ReLU"),  # noqa: B006
        align_corners: bool = False,
        dw_act_cfg: dict | None = None,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        self.init_cfg = default_init_cfg("FastSCNN", init_cfg, None)
        if global_in_channels != higher_in_channels:
            raise ConfigError(
                f"FastSCNN global_in_channels={global_in_channels} must equal higher_in_channels={higher_in_channels}"
            )
        if global_out_channels != lower_in_channels:
            raise ConfigError(
                f"FastSCNN global_out_channels={global_out_channels} must equal lower_in_channels={lower_in_channels}"
            )
        if len(downsample_dw_channels) != 2:
            raise ConfigError(f"FastSCNN downsample_dw_channels needs 2 values, got {downsample_dw_channels!r}")
        if not all(isinstance(i, int) and -3 <= i < 3 for i in out_indices):
            raise ConfigError(f"FastSCNN out_indices {tuple(out_indices)} must pick from 0, 1, 2")
        self.out_indices, self.align_corners = tuple(out_indices), align_corners
        common = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg)
        self.learning_to_downsample = LearningToDownsample(
            in_channels, downsample_dw_channels, global_in_channels, act_cfg=act_cfg, dw_act_cfg=dw_act_cfg, **common
        )
        self.global_feature_extractor = GlobalFeatureExtractor(
            global_in_channels, global_block_channels, global_out_channels, strides=global_block_strides,
            act_cfg=act_cfg, align_corners=align_corners, **common,
        )  # fmt: skip
        self.feature_fusion = FeatureFusionModule(
            higher_in_channels, lower_in_channels, fusion_out_channels, dwconv_act_cfg=act_cfg,
            align_corners=align_corners, **common,
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        higher = self.learning_to_downsample(x)
        lower = self.global_feature_extractor(higher)
        outs = [higher, lower, self.feature_fusion(higher, lower)]
        return tuple(outs[i] for i in self.out_indices)
