"""The ``auto_scale_lr`` config key: scale every learning rate by the real total batch size, as MMEngine's
``Runner.scale_lr`` does (the linear scaling rule of https://arxiv.org/abs/1706.02677)."""

from __future__ import annotations

import logging

import torch

from seglab import dist
from seglab.errors import ConfigError

logger = logging.getLogger("seglab")


def scale_lr(optimizer: torch.optim.Optimizer, auto_scale_lr: dict | None, batch_size: int) -> float:
    """With ``auto_scale_lr.enable``: multiply every param group's lr by
    ``batch_size x world size / base_batch_size`` and log it; returns the ratio (1.0 when off).

    Call it before the lr schedule is built: the schedule takes its base lrs from the optimizer."""
    if not auto_scale_lr or not auto_scale_lr.get("enable", False):
        return 1.0
    base = auto_scale_lr.get("base_batch_size")
    if isinstance(base, bool) or not isinstance(base, int | float) or base <= 0:
        raise ConfigError(
            f"auto_scale_lr.base_batch_size={base!r}: set the total batch size the configured lr was tuned for "
            "(e.g. auto_scale_lr=dict(enable=True, base_batch_size=16))"
        )
    real = dist.world_size() * batch_size
    ratio = float(real) / float(base)
    logger.info(
        f"auto_scale_lr: LR is set based on batch size of {base} and the current batch size is {real} "
        f"({dist.world_size()} process(es) x {batch_size}). Scaling the original LR by {ratio}."
    )
    for group in optimizer.param_groups:
        group["lr"] = group["lr"] * ratio
    return ratio
