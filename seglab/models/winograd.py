"""Winograd 3x3 convolutions for CPU prediction: fewer multiplications than the direct kernels, same results
up to rounding.

A 3x3 convolution computed with Winograd's minimal filtering (NNPACK's F(6x6, 3x3), shipped inside PyTorch's
CPU build) does about a fifth of the multiplications of the direct convolution PyTorch runs through oneDNN.
On a 2-core AMD EPYC it took 0.4-0.5x the time of a 256- or 512-channel 3x3 convolution on a 45x60 map
(``benchmarks/winograd_speed.py``). The results differ from the direct kernel by rounding only: about 1e-6
of the largest logit in the models measured there; every pixel's class was the same in the DeepLabV3+,
PSPNet, FCN and UPerNet forwards (at random weights, one or two pixels in 100,000 near a tie flipped in UNet
and HRNet).

NNPACK has no dilation, so a dilated convolution (the D8 backbones, dilation 2 and 4) runs on a mosaic: the
map's d x d phases (every d-th row and column, from each offset) side by side with a zero row and column
between them. A dilated 3x3 convolution is a plain one on each phase, and the zeros stand in for each phase's
own padding. Rearranging costs two copies of the map, so the mosaic is used only where it measured faster.

``use_winograd(model)`` turns an evaluation-only model's eligible convolutions into ``WinogradConv2d`` (same
parameters, same ``state_dict``); its forward takes the Winograd path only for CPU float32 inputs with gradients
off and no autocast, at sizes where it measured faster, and runs the ordinary convolution otherwise.
``seglab test``, ``seglab infer`` and ``inference_model`` use it on CPU unless ``test_cfg.winograd=False``.

It is measured on x86-64 only, so only x86-64 CPUs take it: NNPACK's ARM kernels may well be faster or slower
than the direct ones there, and nobody has timed them against seglab's thresholds.
"""

from __future__ import annotations

import functools
import logging
import platform

import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError

logger = logging.getLogger("seglab")

# Smallest sizes at which the Winograd path measured faster than oneDNN's direct kernel on the CPUs tried
# (benchmarks/winograd_speed.py prints the whole sweep): input and output channels, the map's height and width,
# and the work (input x output channels x height x width): 32 -> 64 channels is faster from 90x120 (a ResNet
# stem's), 32 -> 32 never was.
MIN_IN_CHANNELS = 32
MIN_OUT_CHANNELS = 64
MIN_SIDE = 45
MIN_WORK = 64 * 64 * 45 * 60
# A dilated convolution also pays for two copies of its maps: it measured faster only from as much work as
# 256 -> 512 channels on a 45x60 map (the 1/8 map of a 360x480 image): 256 -> 256 there was slower.
MIN_DILATED_WORK = 256 * 512 * 45 * 60  # input channels x output channels x height x width


MEASURED_MACHINES = ("x86_64", "amd64")  # platform.machine(), lower-cased, where the thresholds were measured
_refused: list[str] = []  # NNPACK's first refusal in this process, if any: the direct kernel from then on


@functools.cache
def _nnpack_ready() -> bool:
    try:
        return bool(torch._nnpack_available())  # also initialises NNPACK, which its convolution needs
    except (AttributeError, RuntimeError):
        return False


def available() -> bool:
    """Whether this is an x86-64 CPU where PyTorch's NNPACK initialised and has not refused a call."""
    return not _refused and platform.machine().lower() in MEASURED_MACHINES and _nnpack_ready()


def mosaic_conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, dilation: int) -> torch.Tensor:
    """A 3x3 convolution with padding and dilation ``dilation`` (stride 1) through NNPACK's Winograd kernel, one
    image at a time: NNPACK's batched path took 2.5x longer per image (4 x 512 x 45 x 60: 69.5 against 28.0 ms)."""
    if x.shape[0] > 1:
        return torch.cat([mosaic_conv(image, weight, bias, dilation) for image in x.split(1)])
    if dilation == 1:
        return torch._nnpack_spatial_convolution(x, weight, bias, [1, 1], [1, 1])
    d = dilation
    n, c, h, w = x.shape
    hq, wq = -(-h // d), -(-w // d)  # each phase's size, the map padded with zeros to a multiple of d
    x = F.pad(x, (0, wq * d - w, 0, hq * d - h))
    mosaic = x.new_zeros(n, c, d, hq + 1, d, wq + 1)  # phase (a, b) at block (a, b); a zero row/column after each
    mosaic[:, :, :, :hq, :, :wq] = x.view(n, c, hq, d, wq, d).permute(0, 1, 3, 2, 5, 4)
    y = torch._nnpack_spatial_convolution(mosaic.view(n, c, d * (hq + 1), d * (wq + 1)), weight, bias, [1, 1], [1, 1])
    co = y.shape[1]
    y = y.view(n, co, d, hq + 1, d, wq + 1)[:, :, :, :hq, :, :wq].permute(0, 1, 3, 2, 5, 4)
    return y.reshape(n, co, hq * d, wq * d)[:, :, :h, :w]


class WinogradConv2d(nn.Conv2d):
    """``nn.Conv2d`` (3x3, stride 1, one group, padding equal to dilation) that predicts on CPU through
    Winograd's algorithm where that measured faster, and is an ordinary convolution everywhere else."""

    def _conv_forward(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        if self._winograd_fits(x):
            bias = bias if bias is not None else x.new_zeros(self.out_channels)
            try:
                return mosaic_conv(x.contiguous(), weight, bias, self.dilation[0])
            except RuntimeError as error:  # NNPACK refused (it gives no reason): not asked again in this process
                _refused.append(str(error))
                logger.warning(f"Winograd convolution refused ({error}); using the direct convolution from now on")
        return super()._conv_forward(x, weight, bias)

    def _winograd_fits(self, x: torch.Tensor) -> bool:
        return (
            predicting_on_cpu(x, self.weight)
            and x.dtype == torch.float32
            and x.shape[1] >= MIN_IN_CHANNELS
            and self.out_channels >= MIN_OUT_CHANNELS
            and min(x.shape[2], x.shape[3]) >= MIN_SIDE
            and x[0].numel() * self.out_channels >= (MIN_WORK if self.dilation[0] == 1 else MIN_DILATED_WORK)
            and available()
        )


def predicting_on_cpu(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether a layer with ``weight`` only predicts on ``x``: a 4-D CPU map of the weight's dtype, no gradient
    wanted, no autocast (which asks for its own dtype). The shared gate of seglab's CPU prediction kernels."""
    return (
        x.dim() == 4
        and x.device.type == "cpu"
        and x.dtype == weight.dtype
        and not (torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad))
        and not _cpu_autocast_on()
    )


def _cpu_autocast_on() -> bool:
    try:
        return torch.is_autocast_enabled("cpu")
    except TypeError:  # torch before 2.4 takes no device type
        return torch.is_autocast_cpu_enabled()


def eligible(conv: nn.Module) -> bool:
    """A plain ``nn.Conv2d`` the Winograd path computes exactly as it does: 3x3, stride 1, one group, zero
    padding equal to its (square) dilation, no hooks that expect the module's own forward."""
    return (
        type(conv) is nn.Conv2d
        and conv.kernel_size == (3, 3)
        and conv.stride == (1, 1)
        and conv.groups == 1
        and conv.padding_mode == "zeros"
        and conv.dilation[0] == conv.dilation[1]
        and conv.padding == conv.dilation
        and not conv._forward_hooks
        and not conv._forward_pre_hooks
    )


def use_winograd(model: nn.Module) -> int:
    """Turn ``model``'s eligible convolutions into ``WinogradConv2d`` in place (parameters and ``state_dict``
    unchanged); returns how many. For models that only predict: a training forward takes the ordinary path."""
    if not available():
        return 0
    count = 0
    for module in model.modules():
        if eligible(module):
            module.__class__ = WinogradConv2d  # same attributes and parameters, another forward
            count += 1
    return count


def wants_winograd(cfg) -> bool:
    """``test_cfg.winograd`` (seglab's key, default True): whether ``seglab test`` and ``seglab infer`` use
    Winograd convolutions on CPU."""
    value = (cfg.get("test_cfg") or {}).get("winograd", True)
    if not isinstance(value, bool):
        raise ConfigError(f"test_cfg.winograd must be True or False, got {value!r}")
    return value
