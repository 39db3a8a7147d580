"""MobileNet inverted-residual blocks (MMSegmentation's ``InvertedResidual`` for V2 and
``InvertedResidualV3`` for V3), with its child names (``conv.0``, ``expand_conv``, ``depthwise_conv``,
``se``, ``linear_conv``) so checkpoints load. Fast-SCNN, BiSeNetV2, CGNet-style families reuse them."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from seglab.errors import ConfigError
from seglab.models.layers.conv_module import ConvModule
from seglab.models.layers.se_layer import SELayer, make_divisible

__all__ = ["Conv2dAdaptivePadding", "InvertedResidual", "InvertedResidualV3", "make_divisible"]


class Conv2dAdaptivePadding(nn.Conv2d):
    """MMCV's ``Conv2dAdaptivePadding``: TensorFlow 'SAME' padding computed from the input size (extra
    row/column at the bottom/right), which MobileNetV3's stride-2 depthwise convs were trained with.
    Its own ``padding`` is 0, as MMCV builds it; MobileNetV3 later changes only its stride and dilation."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        img_h, img_w = x.shape[-2:]  # ceil division in integers, so traced/symbolic sizes stay exact
        kernel_h, kernel_w = self.weight.shape[-2:]
        stride_h, stride_w = self.stride
        pad_h = max((-(-img_h // stride_h) - 1) * stride_h + (kernel_h - 1) * self.dilation[0] + 1 - img_h, 0)
        pad_w = max((-(-img_w // stride_w) - 1) * stride_w + (kernel_w - 1) * self.dilation[1] + 1 - img_w, 0)
        if pad_h > 0 or pad_w > 0:
            x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


def adaptive_padding_conv(module: ConvModule) -> ConvModule:
    """Turn a ConvModule's conv into a Conv2dAdaptivePadding sharing its (already initialised) parameters,
    with padding 0 as MMCV builds it. Returns the module (its ``padding`` attribute is set to 0 too)."""
    conv = module.conv
    new = Conv2dAdaptivePadding(
        conv.in_channels,
        conv.out_channels,
        conv.kernel_size,
        conv.stride,
        0,
        conv.dilation,
        conv.groups,
        bias=conv.bias is not None,
    )
    new.weight = conv.weight
    if conv.bias is not None:
        new.bias = conv.bias
    module.conv = new
    module.padding = 0
    return module


class InvertedResidual(nn.Module):
    """MobileNetV2 block: optional 1x1 expansion (when ``expand_ratio != 1``), 3x3 depthwise conv
    (``stride``, ``dilation``), linear 1x1 projection; adds the input when the shape is unchanged.
    Extra keyword arguments go to every ConvModule, as in MMSegmentation."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int,
        expand_ratio: float,
        dilation: int = 1,
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = dict(type="BN"),  # noqa: B006 (never mutated)
        act_cfg: dict | None = dict(type="ReLU6"),  # noqa: B006
        with_cp: bool = False,
        **kwargs,
    ) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ConfigError(f"InvertedResidual stride must be 1 or 2, got {stride!r}")
        self.stride, self.with_cp = stride, with_cp
        self.use_res_connect = stride == 1 and in_channels == out_channels
        hidden = int(round(in_channels * expand_ratio))
        common = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, **kwargs)
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(ConvModule(in_channels, hidden, 1, act_cfg=act_cfg, **common))
        layers.append(
            ConvModule(hidden, hidden, 3, stride, dilation, dilation, groups=hidden, act_cfg=act_cfg, **common)
        )
        layers.append(ConvModule(hidden, out_channels, 1, act_cfg=None, **common))
        self.conv = nn.Sequential(*layers)

    def _inner(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            return checkpoint(self._inner, x, use_reentrant=False)
        return self._inner(x)


class InvertedResidualV3(nn.Module):
    """MobileNetV3 block: optional 1x1 ``expand_conv`` to ``mid_channels``, ``kernel_size`` depthwise conv
    (TF 'SAME' padding when ``stride`` is 2), optional ``se`` (an SELayer from ``se_cfg``), linear 1x1
    ``linear_conv``; adds the input when the shape is unchanged."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        mid_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        se_cfg: dict | None = None,
        with_expand_conv: bool = True,
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = dict(type="BN"),  # noqa: B006 (never mutated)
        act_cfg: dict | None = dict(type="ReLU"),  # noqa: B006
        with_cp: bool = False,
    ) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ConfigError(f"InvertedResidualV3 stride must be 1 or 2, got {stride!r}")
        if se_cfg is not None and not isinstance(se_cfg, dict):
            raise ConfigError(f"InvertedResidualV3 se_cfg must be a dict or None, got {se_cfg!r}")
        if not with_expand_conv and mid_channels != in_channels:
            raise ConfigError(
                f"InvertedResidualV3 without expand conv needs mid_channels == in_channels "
                f"({mid_channels} != {in_channels})"
            )
        self.with_res_shortcut = stride == 1 and in_channels == out_channels
        self.with_cp, self.with_se, self.with_expand_conv = with_cp, se_cfg is not None, with_expand_conv
        common = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg)
        if with_expand_conv:
            self.expand_conv = ConvModule(in_channels, mid_channels, 1, act_cfg=act_cfg, **common)
        self.depthwise_conv = ConvModule(
            mid_channels,
            mid_channels,
            kernel_size,
            stride,
            kernel_size // 2,
            groups=mid_channels,
            act_cfg=act_cfg,
            **common,
        )
        if stride == 2:
            adaptive_padding_conv(self.depthwise_conv)
        if self.with_se:
            self.se = SELayer(**se_cfg)
        self.linear_conv = ConvModule(mid_channels, out_channels, 1, act_cfg=None, **common)

    def _inner(self, x: torch.Tensor) -> torch.Tensor:
        out = self.expand_conv(x) if self.with_expand_conv else x
        out = self.depthwise_conv(out)
        if self.with_se:
            out = self.se(out)
        out = self.linear_conv(out)
        return x + out if self.with_res_shortcut else out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            return checkpoint(self._inner, x, use_reentrant=False)
        return self._inner(x)
