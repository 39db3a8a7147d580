"""Segmentation losses with MMSegmentation's arguments and reduction rules, plus pixel accuracy.

Note the MMSegmentation default kept here: with ``avg_non_ignore=False`` the cross-entropy mean
divides by all pixels, ignored ones included; set ``avg_non_ignore=True`` to average over
labelled pixels only.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError
from seglab.registry import MODELS


def _class_weight(weight: Sequence[float] | str | None) -> list[float] | None:
    if isinstance(weight, str):
        raise ConfigError("class_weight as a file name is not supported; give a list of numbers")
    return None if weight is None else [float(w) for w in weight]


def _reduce(loss: torch.Tensor, reduction: str, avg_factor: torch.Tensor | float | None = None) -> torch.Tensor:
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if avg_factor is None:
        return loss.mean()
    return loss.sum() / (avg_factor + torch.finfo(torch.float32).eps)


def one_hot_labels(label: torch.Tensor, num_classes: int, ignore_index: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(N,C,H,W) one-hot of an (N,H,W) label map, and the mask of pixels that are not ignored."""
    valid = (label >= 0) & (label != ignore_index)
    safe = torch.where(valid, label, torch.zeros_like(label)).clamp(max=num_classes - 1)
    one_hot = F.one_hot(safe, num_classes).permute(0, 3, 1, 2).float() * valid.unsqueeze(1)
    return one_hot, valid


@MODELS.register()
class CrossEntropyLoss(nn.Module):
    """Softmax cross-entropy (or sigmoid BCE with ``use_sigmoid=True``) over pixels."""

    def __init__(
        self,
        use_sigmoid: bool = False,
        use_mask: bool = False,
        reduction: str = "mean",
        class_weight: Sequence[float] | None = None,
        loss_weight: float = 1.0,
        loss_name: str = "loss_ce",
        avg_non_ignore: bool = False,
    ) -> None:
        super().__init__()
        if use_mask:
            raise ConfigError("CrossEntropyLoss(use_mask=True) is for instance masks; not supported in seglab")
        self.use_sigmoid = use_sigmoid
        self.reduction = reduction
        self.class_weight = _class_weight(class_weight)
        self.loss_weight = loss_weight
        self.loss_name = loss_name
        self.avg_non_ignore = avg_non_ignore

    def forward(self, logits: torch.Tensor, label: torch.Tensor, ignore_index: int = 255) -> torch.Tensor:
        weight = logits.new_tensor(self.class_weight) if self.class_weight else None
        if self.use_sigmoid:
            return self.loss_weight * self._binary(logits, label, weight, ignore_index)
        loss = F.cross_entropy(logits, label, weight=weight, reduction="none", ignore_index=ignore_index)
        avg_factor = (label != ignore_index).sum() if self.avg_non_ignore else None
        return self.loss_weight * _reduce(loss, self.reduction, avg_factor)

    def _binary(self, logits, label, weight, ignore_index) -> torch.Tensor:
        if logits.shape[1] == 1:
            valid = (label >= 0) & (label != ignore_index)
            target = torch.where(valid, label, torch.zeros_like(label)).float()
            logits = logits[:, 0]
            mask = valid.float()
        else:
            target, valid = one_hot_labels(label, logits.shape[1], ignore_index)
            mask = valid.unsqueeze(1).float().expand_as(logits)
        loss = F.binary_cross_entropy_with_logits(logits, target, pos_weight=weight, reduction="none") * mask
        avg_factor = mask.sum() if self.avg_non_ignore else None
        return _reduce(loss, self.reduction, avg_factor)


@MODELS.register()
class DiceLoss(nn.Module):
    """1 - Dice coefficient per image and class (``naive_dice`` uses sums, else squared sums)."""

    def __init__(
        self,
        use_sigmoid: bool = True,
        activate: bool = True,
        reduction: str = "mean",
        naive_dice: bool = False,
        loss_weight: float = 1.0,
        ignore_index: int = 255,
        eps: float = 1e-3,
        loss_name: str = "loss_dice",
    ) -> None:
        super().__init__()
        self.use_sigmoid = use_sigmoid
        self.activate = activate
        self.reduction = reduction
        self.naive_dice = naive_dice
        self.loss_weight = loss_weight
        self.ignore_index = ignore_index
        self.eps = eps
        self.loss_name = loss_name

    def forward(self, logits: torch.Tensor, label: torch.Tensor, ignore_index: int | None = None) -> torch.Tensor:
        ignore = self.ignore_index if ignore_index is None else ignore_index
        target, _ = one_hot_labels(label, logits.shape[1], ignore)
        pred = logits
        if self.activate:
            pred = logits.sigmoid() if self.use_sigmoid or logits.shape[1] == 1 else logits.softmax(dim=1)
        pred, target = pred.flatten(1), target.flatten(1)
        inter = (pred * target).sum(1)
        if self.naive_dice:
            dice = (2 * inter + self.eps) / (pred.sum(1) + target.sum(1) + self.eps)
        else:
            dice = 2 * inter / ((pred * pred).sum(1) + self.eps + (target * target).sum(1) + self.eps)
        return self.loss_weight * _reduce(1 - dice, self.reduction)


@MODELS.register()
class FocalLoss(nn.Module):
    """Sigmoid focal loss over one-hot targets; ignored pixels do not count."""

    def __init__(
        self,
        use_sigmoid: bool = True,
        gamma: float = 2.0,
        alpha: float | Sequence[float] = 0.5,
        reduction: str = "mean",
        class_weight: Sequence[float] | None = None,
        loss_weight: float = 1.0,
        loss_name: str = "loss_focal",
    ) -> None:
        super().__init__()
        if not use_sigmoid:
            raise ConfigError("FocalLoss supports use_sigmoid=True only")
        self.gamma = gamma
        self.alpha = alpha
        self.reduction = reduction
        self.class_weight = _class_weight(class_weight)
        self.loss_weight = loss_weight
        self.loss_name = loss_name

    def forward(self, logits: torch.Tensor, label: torch.Tensor, ignore_index: int = 255) -> torch.Tensor:
        target, valid = one_hot_labels(label, logits.shape[1], ignore_index)
        prob = logits.sigmoid()
        pt = (1 - prob) * target + prob * (1 - target)
        alpha = logits.new_tensor(self.alpha).view(1, -1, 1, 1) if isinstance(self.alpha, Sequence) else self.alpha
        weight = (alpha * target + (1 - alpha) * (1 - target)) * pt.pow(self.gamma)
        loss = F.binary_cross_entropy_with_logits(logits, target, reduction="none") * weight
        if self.class_weight:
            loss = loss * logits.new_tensor(self.class_weight).view(1, -1, 1, 1)
        loss = loss * valid.unsqueeze(1)
        return self.loss_weight * _reduce(loss, self.reduction, valid.sum() * logits.shape[1])


def accuracy(logits: torch.Tensor, label: torch.Tensor, ignore_index: int = 255) -> torch.Tensor:
    """Top-1 pixel accuracy in percent over pixels that are not ignored."""
    valid = label != ignore_index
    if logits.shape[1] == 1:
        pred = (logits[:, 0] > 0).long()
    else:
        pred = logits.argmax(dim=1)
    correct = ((pred == label) & valid).sum().float()
    return correct * 100.0 / valid.sum().clamp(min=1)
