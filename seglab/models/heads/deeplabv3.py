"""ASPP heads: DeepLabV3 (``ASPPHead``) and DeepLabV3+ (``DepthwiseSeparableASPPHead``)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seglab.models.heads.decode_head import BaseDecodeHead
from seglab.models.layers import ConvModule, DepthwiseSeparableConvModule, resize
from seglab.registry import MODELS


def _eager() -> bool:
    """Not inside ``torch.compile``, ``torch.export``, TorchScript tracing or a dispatch mode such as FLOP
    counting: those record or count the plain graph."""
    flags = (getattr(torch.compiler, name, None) for name in ("is_compiling", "is_exporting"))  # newer torch
    return not (torch.jit.is_tracing() or any(flag() for flag in flags if flag is not None) or _dispatch_mode())


def _dispatch_mode() -> bool:
    try:
        from torch.utils._python_dispatch import _get_current_dispatch_mode
    except ImportError:
        return False
    return _get_current_dispatch_mode() is not None


def _taps_inside(size: int, like: torch.Tensor) -> torch.Tensor:
    """(size, 3): 1 where tap k (offset k - 1) of a 3x3 'same' convolution at that position lands inside the map."""
    position = torch.arange(size, device=like.device).unsqueeze(1) + torch.arange(-1, 2, device=like.device)
    return ((position >= 0) & (position < size)).to(like.dtype)


@MODELS.register()
class ASPPHead(BaseDecodeHead):
    """Image pooling plus parallel atrous convolutions, fused by a 3x3 bottleneck."""

    separable = False

    def __init__(self, dilations: Sequence[int] = (1, 6, 12, 18), **kwargs) -> None:
        super().__init__(**kwargs)
        conv_args = dict(norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.image_pool = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), ConvModule(self.in_channels, self.channels, 1, **conv_args)
        )
        branches = []
        for d in dilations:
            if d == 1:
                branches.append(ConvModule(self.in_channels, self.channels, 1, **conv_args))
            elif self.separable:
                branches.append(
                    DepthwiseSeparableConvModule(self.in_channels, self.channels, 3, dilation=d, padding=d, **conv_args)
                )
            else:
                branches.append(ConvModule(self.in_channels, self.channels, 3, dilation=d, padding=d, **conv_args))
        self.aspp_modules = nn.ModuleList(branches)
        self.bottleneck = ConvModule((len(dilations) + 1) * self.channels, self.channels, 3, padding=1, **conv_args)

    def aspp(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.image_pool(x)
        branches = torch.cat([branch(x) for branch in self.aspp_modules], dim=1)
        if not torch.is_grad_enabled() and _eager() and self._bottleneck_splits():
            return self._split_bottleneck(pooled, branches)
        return self.bottleneck(torch.cat([resize(pooled, x.shape[2:], self.align_corners), branches], dim=1))

    def _bottleneck_splits(self) -> bool:
        """Whether the bottleneck is a plain 3x3 'same' convolution, then its norm and activation, and no hook
        expects to see the bottleneck or its convolution called."""
        block = self.bottleneck
        return (
            isinstance(block.conv, nn.Conv2d)
            and not any(m._forward_hooks or m._forward_pre_hooks for m in (block, block.conv))
            and not (nn.modules.module._global_forward_hooks or nn.modules.module._global_forward_pre_hooks)
            and block.order == ("conv", "norm", "act")
            and not (block.with_explicit_padding or block.efficient_conv_bn_eval or block.with_spectral_norm)
            and block.conv.kernel_size == (3, 3)
            and block.conv.padding == (1, 1)
            and block.conv.stride == block.conv.dilation == (1, 1)
            and block.conv.groups == 1
        )

    def _split_bottleneck(self, pooled: torch.Tensor, branches: torch.Tensor) -> torch.Tensor:
        """The bottleneck of the image-pooling map concatenated with the branches, with less arithmetic. The
        pooled map is one value per channel everywhere, so its share of the 3x3 convolution is, per output
        channel, the sum of the taps that land inside the map: one value inside, others along the border. Only
        the branches go through the convolution (a fifth fewer input channels); the same result up to rounding.
        Used to predict (no gradients): DeepLabV3+ R50-D8's bottleneck is a fifth of its forward on CPU."""
        conv, c = self.bottleneck.conv, pooled.shape[1]
        out = conv._conv_forward(branches, self._branch_weight(conv.weight, c), conv.bias)
        h, w = out.shape[2:]
        taps = torch.einsum("oikl,ni->nokl", conv.weight[:, :c], pooled.flatten(1))  # (N, out, 3, 3)
        rows, cols = (_taps_inside(size, out) for size in (h, w))  # (size, 3): tap k reaches inside at position
        out += torch.einsum("yk,nokl->noyl", rows, taps) @ cols.T
        if self.bottleneck.norm is not None:
            out = self.bottleneck.norm(out)
        return self.bottleneck.activate(out) if self.bottleneck.activate is not None else out

    def _branch_weight(self, weight: torch.Tensor, pooled_channels: int) -> torch.Tensor:
        """The bottleneck's weights for the branches' channels, as one contiguous tensor, kept until the
        weights change (a new tensor, or an in-place update)."""
        key = (weight.data_ptr(), weight._version, weight.dtype, weight.device, pooled_channels)
        kept = self.__dict__.get("_seglab_branch_weight")  # in __dict__: not a parameter, not in state_dict
        if kept is None or kept[0] != key:
            kept = (key, weight[:, pooled_channels:].contiguous())
            self.__dict__["_seglab_branch_weight"] = kept
        return kept[1]

    def _forward_feature(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """The features before the classifier (K-Net's kernel generator needs them)."""
        return self.aspp(self._transform_inputs(inputs))

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.cls_seg(self._forward_feature(inputs))


@MODELS.register()
class DepthwiseSeparableASPPHead(ASPPHead):
    """DeepLabV3+: separable ASPP, then a decoder that fuses low-level features (``c1``)."""

    separable = True

    def __init__(self, c1_in_channels: int, c1_channels: int, **kwargs) -> None:
        super().__init__(**kwargs)
        conv_args = dict(norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.c1_bottleneck = ConvModule(c1_in_channels, c1_channels, 1, **conv_args) if c1_in_channels > 0 else None
        self.sep_bottleneck = nn.Sequential(
            DepthwiseSeparableConvModule(self.channels + c1_channels, self.channels, 3, padding=1, **conv_args),
            DepthwiseSeparableConvModule(self.channels, self.channels, 3, padding=1, **conv_args),
        )

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        out = self.aspp(self._transform_inputs(inputs))
        if self.c1_bottleneck is not None:
            low = self.c1_bottleneck(inputs[0])
            out = torch.cat([resize(out, low.shape[2:], self.align_corners), low], dim=1)
        return self.cls_seg(self.sep_bottleneck(out))
