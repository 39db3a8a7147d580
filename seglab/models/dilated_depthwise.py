"""Widely dilated 3x3 depthwise convolutions for CPU prediction, as nine shifted multiply-adds.

oneDNN's fast depthwise kernel takes dilations up to 6; from 7 on (on the x86-64 CPU measured) PyTorch's CPU
convolution falls back to oneDNN's im2col + GEMM path, one small GEMM per channel. DeepLabV3+'s separable ASPP
branches (dilation 12, 24 and 36, or 6, 12 and 18) hit it: a 2048-channel branch on a 45x60 map took 12-17 ms,
four times its dilation-6 neighbour. A depthwise 3x3 convolution is a sum of nine shifted copies of its input,
each scaled per channel, and with a wide dilation part of each shift leaves the map, so computing it that way
touches little memory: 3.6-4.4 ms for that branch, 2.7-4.7x faster than the direct kernel for every dilation from
7 to 36 on maps from 45x60 to 128x256, and slower up to dilation 6 (``benchmarks/winograd_speed.py
--depthwise``). Channels go in groups small enough for one group's input and output to stay in the processor's
cache while the nine shifts pass over them (8 MiB: the fastest of 1-16 MiB tried).

The sum runs in another order than the direct kernel's, so results differ by rounding only.
``use_dilated_depthwise(model)`` turns an evaluation-only model's eligible convolutions into
``DilatedDepthwiseConv2d`` (same parameters, same ``state_dict``); its forward takes the shifted sums only for
CPU floating-point inputs with gradients off and no autocast, on x86-64 (the only machines it was measured on).
``seglab test``, ``seglab infer``, ``seglab benchmark`` and ``inference_model`` use it on CPU
(``seglab.models.cpu_kernels``).
"""

from __future__ import annotations

import platform

import torch
from torch import nn

from seglab.models.winograd import MEASURED_MACHINES, predicting_on_cpu

MIN_DILATION = 7  # the first dilation the direct kernel was slow at (6: 0.4 ms, 7: 4.2 ms, 512 channels, 45x60)
CHUNK_BYTES = 8 * 2**20  # one group of channels' input and output


def shifted_sum(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, dilation: int) -> torch.Tensor:
    """A depthwise 3x3 convolution of ``x`` (N, C, H, W) with ``weight`` (C, 1, 3, 3), padding and dilation
    ``dilation``, stride 1: per channel, the sum of the input shifted by each tap times that tap's weight."""
    n, c, h, w = x.shape
    taps = weight.reshape(c, 9)
    out = torch.empty_like(x, memory_format=torch.contiguous_format)
    chunk = max(1, CHUNK_BYTES // (2 * n * h * w * x.element_size()))
    for start in range(0, c, chunk):
        part = slice(start, min(c, start + chunk))
        src, dst, tap = x[:, part], out[:, part], taps[part]
        torch.mul(src, tap[:, 4].view(1, -1, 1, 1), out=dst)  # the centre tap covers every pixel
        if bias is not None:
            dst += bias[part].view(1, -1, 1, 1)
        for index in (0, 1, 2, 3, 5, 6, 7, 8):
            dy, dx = (index // 3 - 1) * dilation, (index % 3 - 1) * dilation
            rows, cols = slice(max(0, -dy), min(h, h - dy)), slice(max(0, -dx), min(w, w - dx))
            if rows.start >= rows.stop or cols.start >= cols.stop:
                continue  # this tap only ever meets the padding
            shifted = src[:, :, rows.start + dy : rows.stop + dy, cols.start + dx : cols.stop + dx]
            dst[:, :, rows, cols].addcmul_(shifted, tap[:, index].view(1, -1, 1, 1))
    return out


class DilatedDepthwiseConv2d(nn.Conv2d):
    """``nn.Conv2d`` (depthwise 3x3, stride 1, padding equal to a dilation of at least ``MIN_DILATION``) that
    predicts on CPU as a sum of shifted maps, and is an ordinary convolution everywhere else."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if predicting_on_cpu(x, self.weight) and x.dtype in (torch.float32, torch.float64):
            return shifted_sum(x, self.weight, self.bias, self.dilation[0])
        return super().forward(x)


def eligible(conv: nn.Module) -> bool:
    """A plain depthwise ``nn.Conv2d`` the shifted sums compute exactly as it does: 3x3, stride 1, one channel
    per group, zero padding equal to its (square) dilation, that dilation at least ``MIN_DILATION``, no hooks."""
    return (
        type(conv) is nn.Conv2d
        and conv.kernel_size == (3, 3)
        and conv.stride == (1, 1)
        and conv.groups == conv.in_channels == conv.out_channels
        and conv.padding_mode == "zeros"
        and conv.dilation[0] == conv.dilation[1] >= MIN_DILATION
        and conv.padding == conv.dilation
        and not conv._forward_hooks
        and not conv._forward_pre_hooks
    )


def use_dilated_depthwise(model: nn.Module) -> int:
    """Turn ``model``'s eligible convolutions into ``DilatedDepthwiseConv2d`` in place (parameters and
    ``state_dict`` unchanged); returns how many. Only on x86-64, where the threshold was measured."""
    if platform.machine().lower() not in MEASURED_MACHINES:
        return 0
    count = 0
    for module in model.modules():
        if eligible(module):
            module.__class__ = DilatedDepthwiseConv2d
            count += 1
    return count
