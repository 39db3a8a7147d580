"""Optimizers and learning-rate schedules follow MMEngine's definitions."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from seglab.engine.optim import LRSchedule, build_optim_wrapper, param_groups
from seglab.errors import ConfigError


def mmengine_poly(base: float, eta_min: float, power: float, begin: int, end: int, steps: int) -> list[float]:
    """MMEngine's recursive PolyLR update, stepped one iteration at a time."""
    total = end - begin - 1
    lr, out = base, []
    for step in range(steps):
        if begin < step < end:
            lr = (lr - eta_min) * (1 - 1 / (total - (step - begin) + 1)) ** power + eta_min
        out.append(lr)
    return out


def lrs(cfgs, steps: int, base: float = 0.01) -> list[float]:
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=base)
    schedule = LRSchedule(cfgs, optimizer, by_epoch_loop=False, epoch_length=1)
    values = []
    for step in range(steps):
        schedule.set_step(step, 0)
        values.append(optimizer.param_groups[0]["lr"])
    return values


def test_poly_matches_mmengine_recursion():
    ours = lrs([dict(type="PolyLR", eta_min=1e-4, power=0.9, begin=0, end=200, by_epoch=False)], 220)
    theirs = mmengine_poly(0.01, 1e-4, 0.9, 0, 200, 220)
    assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-12)
    assert ours[0] == 0.01 and ours[1] == pytest.approx(0.01 - 0.0099 * 0.9 / 199, rel=1e-3)


def test_linear_warmup_then_poly():
    values = lrs(
        [
            dict(type="LinearLR", start_factor=0.1, begin=0, end=11, by_epoch=False),
            dict(type="PolyLR", eta_min=0.0, power=1.0, begin=10, end=111, by_epoch=False),
        ],
        120,
    )
    assert (
        values[0] == pytest.approx(0.001) and values[5] == pytest.approx(0.0055) and values[10] == pytest.approx(0.01)
    )
    assert values[60] == pytest.approx(0.005) and values[115] == pytest.approx(0.0)


def test_multistep_and_cosine():
    steps = lrs([dict(type="MultiStepLR", milestones=[3, 6], gamma=0.1, by_epoch=False)], 8)
    assert [steps[2], steps[3], steps[6]] == pytest.approx([0.01, 0.001, 0.0001])
    cosine = lrs([dict(type="CosineAnnealingLR", T_max=10, eta_min=0.0, begin=0, end=10, by_epoch=False)], 11)
    assert cosine[5] == pytest.approx(0.005) and cosine[0] == 0.01


def test_paramwise_multipliers():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    groups = {
        g["name"]: g
        for g in param_groups(
            model, 0.1, 0.01, dict(norm_decay_mult=0.0, bias_lr_mult=2.0, custom_keys={"0.weight": dict(lr_mult=0.5)})
        )
    }
    assert groups["0.weight"]["lr"] == 0.05 and groups["0.bias"]["lr"] == 0.2
    assert groups["1.weight"]["weight_decay"] == 0.0 and groups["0.weight"]["weight_decay"] == 0.01
    with pytest.raises(ConfigError, match="paramwise_cfg"):
        param_groups(model, 0.1, 0.0, dict(norm_decay=0.0))


def test_optim_wrapper_errors_and_clipping():
    model = nn.Linear(2, 1)
    with pytest.raises(ConfigError, match="unknown optimizer type 'SDG'"):
        build_optim_wrapper(model, dict(optimizer=dict(type="SDG", lr=0.1)))
    with pytest.raises(ConfigError, match="'momentun'"):
        build_optim_wrapper(model, dict(optimizer=dict(type="SGD", lr=0.1, momentun=0.9)))
    wrapper = build_optim_wrapper(model, dict(optimizer=dict(type="SGD", lr=1.0), clip_grad=dict(max_norm=0.1)))
    before = model.weight.detach().clone()
    wrapper.update((model(torch.full((1, 2), 100.0)) ** 2).sum())
    assert (model.weight.detach() - before).norm() <= 0.1 + 1e-6
