"""The loss contract: what every segmentation loss owns, so heads can treat them alike.

A head calls ``loss(seg_logits, seg_label, weight=..., ignore_index=head.ignore_index)``. The loss
multiplies by ``loss_weight``, reports under ``loss_name`` and reduces with ``reduction``. Who owns
``ignore_index``: a value set on the loss in the config wins (it was written on purpose); otherwise
the head's value applies. ``avg_non_ignore`` averages over labelled pixels only.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError

REDUCTIONS = ("none", "mean", "sum")


class SegLoss(nn.Module):
    """Base of every loss; subclasses implement ``compute`` on (N,C,H,W) logits and (N,H,W) labels."""

    def __init__(
        self,
        loss_weight: float = 1.0,
        loss_name: str = "loss",
        reduction: str = "mean",
        avg_non_ignore: bool = False,
        ignore_index: int | None = None,
    ) -> None:
        super().__init__()
        if reduction not in REDUCTIONS:
            raise ConfigError(f"{type(self).__name__}: reduction must be one of {REDUCTIONS}, got '{reduction}'")
        self.loss_weight = float(loss_weight)
        self.loss_name = loss_name
        self.reduction = reduction
        self.avg_non_ignore = avg_non_ignore
        self.ignore_index = ignore_index

    def forward(
        self,
        seg_logits: torch.Tensor,
        seg_label: torch.Tensor,
        weight: torch.Tensor | None = None,
        ignore_index: int | None = 255,
        avg_factor: float | None = None,
        reduction_override: str | None = None,
    ) -> torch.Tensor:
        ignore = self.ignore_index if self.ignore_index is not None else ignore_index
        reduction = reduction_override or self.reduction
        if reduction not in REDUCTIONS:
            raise ConfigError(f"{type(self).__name__}: reduction must be one of {REDUCTIONS}, got '{reduction}'")
        ignore = 255 if ignore is None else int(ignore)
        return self.loss_weight * self.compute(seg_logits, seg_label, weight, ignore, reduction, avg_factor)

    def compute(
        self,
        seg_logits: torch.Tensor,
        seg_label: torch.Tensor,
        weight: torch.Tensor | None,
        ignore_index: int,
        reduction: str,
        avg_factor: float | None,
    ) -> torch.Tensor:
        raise NotImplementedError


def reduce_loss(loss: torch.Tensor, reduction: str, avg_factor: torch.Tensor | float | None = None) -> torch.Tensor:
    """MMSegmentation's reduction: ``mean`` divides by ``avg_factor`` when one is given."""
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if avg_factor is None:
        return loss.mean()
    return loss.sum() / (avg_factor + torch.finfo(torch.float32).eps)


def expand_targets(label: torch.Tensor, num_channels: int, ignore_index: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(N,C,H,W) float targets for (N,H,W) labels, and the (N,H,W) mask of pixels that are not ignored.

    With one channel (binary heads) the target is the foreground (label 1) map; otherwise one-hot."""
    valid = (label >= 0) & (label != ignore_index)
    safe = torch.where(valid, label, torch.zeros_like(label))
    if num_channels == 1:
        return (safe == 1).unsqueeze(1).float(), valid
    one_hot = F.one_hot(safe.clamp(max=num_channels - 1), num_channels).permute(0, 3, 1, 2).float()
    return one_hot * valid.unsqueeze(1), valid


def class_weight_list(weight: Sequence[float] | str | None) -> list[float] | None:
    if isinstance(weight, str):
        raise ConfigError("class_weight as a file name is not supported; give a list of numbers")
    return None if weight is None else [float(w) for w in weight]
