"""Widely dilated depthwise convolutions as shifted sums (``seglab.models.dilated_depthwise``): the same results
as the convolution up to rounding, whatever the map, dilation, batch, bias, layout or channel grouping; a
DeepLabV3+ head with the zoo's ASPP dilations predicts the same labels through ``use_cpu_kernels``; only plain
depthwise 3x3 convolutions with a dilation of 7 or more are eligible; training and autocast keep the ordinary
convolution."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from seglab.models import dilated_depthwise
from seglab.models.cpu_kernels import use_cpu_kernels
from seglab.models.dilated_depthwise import DilatedDepthwiseConv2d, eligible, shifted_sum, use_dilated_depthwise
from seglab.registry import MODELS

from .test_fold_bn import randomise_batchnorms


@pytest.mark.parametrize("dilation", [7, 12, 36])
@pytest.mark.parametrize("size", [(45, 61), (5, 13), (40, 3)])
@pytest.mark.parametrize("bias", [True, False])
@torch.no_grad()
def test_shifted_sums_compute_the_dilated_depthwise_convolution(dilation, size, bias, monkeypatch):
    """Maps smaller than the dilation (most taps only meet the padding), a batch of two, several channel
    groups (a small cache budget), a channels-last input."""
    monkeypatch.setattr(dilated_depthwise, "CHUNK_BYTES", 2 * 2 * size[0] * size[1] * 8 * 3)  # 3 channels a group
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, 10, *size, generator=generator, dtype=torch.float64)
    weight = torch.randn(10, 1, 3, 3, generator=generator, dtype=torch.float64)
    b = torch.randn(10, generator=generator, dtype=torch.float64) if bias else None
    want = F.conv2d(x, weight, b, padding=dilation, dilation=dilation, groups=10)
    got = shifted_sum(x.contiguous(memory_format=torch.channels_last), weight, b, dilation)
    assert got.shape == want.shape and got.is_contiguous()
    assert (got - want).abs().max() <= 1e-12 * want.abs().max()


def test_only_plain_widely_dilated_depthwise_3x3_convolutions_are_eligible():
    assert eligible(nn.Conv2d(8, 8, 3, padding=12, dilation=12, groups=8))
    assert eligible(nn.Conv2d(8, 8, 3, padding=7, dilation=7, groups=8, bias=False))
    assert not eligible(nn.Conv2d(8, 8, 3, padding=6, dilation=6, groups=8))  # oneDNN's own kernel is fast
    assert not eligible(nn.Conv2d(8, 8, 3, padding=12, dilation=12))  # not depthwise
    assert not eligible(nn.Conv2d(8, 16, 3, padding=12, dilation=12, groups=8))  # two outputs per channel
    assert not eligible(nn.Conv2d(8, 8, 5, padding=24, dilation=12, groups=8))
    assert not eligible(nn.Conv2d(8, 8, 3, padding=12, dilation=12, groups=8, stride=2))
    assert not eligible(nn.Conv2d(8, 8, 3, padding=0, dilation=12, groups=8))
    assert not eligible(nn.Conv2d(8, 8, 3, padding=12, dilation=12, groups=8, padding_mode="reflect"))
    hooked = nn.Conv2d(8, 8, 3, padding=12, dilation=12, groups=8)
    hooked.register_forward_pre_hook(lambda *args: None)
    assert not eligible(hooked)


def test_training_and_autocast_keep_the_ordinary_convolution(monkeypatch):
    calls = []
    real = dilated_depthwise.shifted_sum
    monkeypatch.setattr(dilated_depthwise, "shifted_sum", lambda *args: calls.append(1) or real(*args))
    conv = nn.Conv2d(16, 16, 3, padding=12, dilation=12, groups=16)
    assert use_dilated_depthwise(conv) == 1 and type(conv) is DilatedDepthwiseConv2d
    x = torch.randn(1, 16, 30, 40)
    conv(x).sum().backward()  # training: the ordinary convolution, with its gradients
    assert not calls and conv.weight.grad is not None
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        assert conv(x).dtype == torch.bfloat16  # autocast: as asked, not float32 behind its back
    assert not calls
    with torch.inference_mode():
        got = conv(x)
    want = F.conv2d(x, conv.weight, conv.bias, padding=12, dilation=12, groups=16)
    assert calls and torch.allclose(got, want, rtol=0, atol=1e-5 * want.abs().max().item())
    assert conv.state_dict().keys() == {"weight", "bias"}


@pytest.mark.usefixtures("one_thread")
@torch.no_grad()
def test_a_deeplabv3plus_head_with_the_zoos_dilations_predicts_the_same():
    head = MODELS.build(
        dict(
            type="DepthwiseSeparableASPPHead",
            in_channels=32,
            in_index=3,
            channels=16,
            dilations=(1, 12, 24, 36),
            c1_in_channels=8,
            c1_channels=4,
            num_classes=5,
            norm_cfg=dict(type="BN", requires_grad=True),
            align_corners=False,
        )
    ).eval()
    randomise_batchnorms(head, torch.Generator().manual_seed(1))
    fast = copy.deepcopy(head)
    assert use_cpu_kernels(fast, winograd=False).dilated_depthwise == 3
    generator = torch.Generator().manual_seed(2)
    shapes = [(8, 90, 120), (8, 45, 60), (16, 45, 60), (32, 45, 60)]
    inputs = [torch.randn(1, *shape, generator=generator) for shape in shapes]
    got, want = fast(inputs), head(inputs)
    assert (got - want).abs().max() <= 1e-5 * want.abs().max()
    assert torch.equal(got.argmax(1), want.argmax(1))
