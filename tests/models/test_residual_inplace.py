"""The residual blocks add the shortcut in place (as MMSegmentation does, for speed): training must still
backpropagate through every block kind, with and without ``with_cp`` checkpointing, to the same gradients."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from seglab.models.backbones import resnest, resnet, resnext
from seglab.models.layers import basic_block

BN = dict(type="BN")
GROUPED = dict(dilation=1, norm_cfg=BN, style="pytorch", groups=2, width=8)


def _down(cin: int, cout: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))


BLOCKS = {
    "resnet-basic": lambda cp: resnet.BasicBlock(8, 8, with_cp=cp, norm_cfg=BN),
    "resnet-bottleneck": lambda cp: resnet.Bottleneck(8, 2, with_cp=cp, norm_cfg=BN),
    "resnet-bottleneck-down": lambda cp: resnet.Bottleneck(8, 4, downsample=_down(8, 16), with_cp=cp, norm_cfg=BN),
    "resnext": lambda cp: resnext.ResNeXtBottleneck(8, 2, 1, downsample=None, with_cp=cp, **GROUPED),
    "resnest": lambda cp: resnest.ResNeStBottleneck(
        8, 2, 1, downsample=None, with_cp=cp, radix=2, reduction_factor=4, avg_down_stride=True, **GROUPED
    ),
    "layers-basic": lambda cp: basic_block.BasicBlock(8, 8),
    "layers-bottleneck": lambda cp: basic_block.Bottleneck(8, 4),
}


def _grads(block: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    x = x.clone().requires_grad_(True)
    block(x).square().sum().backward()
    return [x.grad, *(p.grad for p in block.parameters())]


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_inplace_residual_trains_with_and_without_checkpointing(name: str) -> None:
    torch.manual_seed(0)
    plain, checkpointed = BLOCKS[name](False).train(), BLOCKS[name](True).train()
    checkpointed.load_state_dict(plain.state_dict())
    x = torch.randn(2, 8, 6, 6)
    ref = _grads(plain, x)
    assert all(g is not None and g.abs().sum() > 0 for g in ref[:1])
    for ours, theirs in zip(_grads(checkpointed, x), ref):
        torch.testing.assert_close(ours, theirs)
    with torch.no_grad():  # the shortcut input itself is never overwritten
        before = x.clone()
        plain.eval()(x)
        assert torch.equal(x, before)
