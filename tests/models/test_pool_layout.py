"""Channels-last max pooling for CPU prediction (``seglab.models.pool_layout``): the same values to the last
bit as ``nn.MaxPool2d`` for every shape of pooling the zoo uses, every registered model type predicts exactly
the same with it, and training, indices and hooks keep the ordinary layer."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from seglab.models.pool_layout import ChannelsLastMaxPool2d, use_channels_last_pooling

from .test_fold_bn import built_types, tiny_case


@pytest.mark.parametrize(
    "settings",
    [
        dict(kernel_size=3, stride=2, padding=1),  # ResNet's stem
        dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),  # ICNet
        dict(kernel_size=2),  # UNet, non-local
        dict(kernel_size=4, stride=4),
        dict(kernel_size=3, stride=1, padding=1, dilation=2),
    ],
)
@pytest.mark.parametrize("shape", [(1, 64, 45, 61), (2, 5, 7, 9)])
@torch.no_grad()
def test_the_same_values_as_max_pooling(settings, shape):
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    x[0, 0, 0, 0] = float("nan")  # a NaN wins its windows in both
    plain = nn.MaxPool2d(**settings)
    fast = copy.deepcopy(plain)
    assert use_channels_last_pooling(fast) == 1 and type(fast) is ChannelsLastMaxPool2d
    got, want = fast(x), plain(x)
    assert got.is_contiguous() and torch.equal(got.isnan(), want.isnan())
    assert torch.equal(got.nan_to_num(), want.nan_to_num())


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("name", built_types())
@torch.no_grad()
def test_every_model_type_predicts_exactly_the_same(name):
    model, run = tiny_case(name)
    model.eval()
    fast = copy.deepcopy(model)
    if use_channels_last_pooling(fast) == 0:
        pytest.skip("no nn.MaxPool2d")
    got, want = run(fast), run(model)
    flat_got, flat_want = torch.utils._pytree.tree_leaves(got), torch.utils._pytree.tree_leaves(want)
    assert all(torch.equal(g, w) for g, w in zip(flat_got, flat_want, strict=True) if isinstance(g, torch.Tensor))


def test_training_indices_and_hooks_keep_the_ordinary_layer():
    pool = nn.MaxPool2d(2)
    use_channels_last_pooling(pool)
    x = torch.randn(1, 3, 8, 8, requires_grad=True)
    pool(x).sum().backward()  # with gradients: the ordinary kernel and its indices
    assert x.grad is not None and x.grad.sum() == 3 * 4 * 4  # one maximum per window
    with_indices = nn.MaxPool2d(2, return_indices=True)
    hooked = nn.MaxPool2d(2)
    hooked.register_forward_hook(lambda *args: None)
    assert use_channels_last_pooling(nn.Sequential(with_indices, hooked)) == 0
