"""Dice loss: 1 - Dice coefficient per image over all classes (``naive_dice`` uses plain sums)."""

from __future__ import annotations

import torch

from seglab.models.losses.base import SegLoss, expand_targets, reduce_loss
from seglab.registry import MODELS


@MODELS.register()
class DiceLoss(SegLoss):
    def __init__(
        self,
        use_sigmoid: bool = True,
        activate: bool = True,
        reduction: str = "mean",
        naive_dice: bool = False,
        loss_weight: float = 1.0,
        ignore_index: int | None = None,
        eps: float = 1e-3,
        loss_name: str = "loss_dice",
    ) -> None:
        super().__init__(loss_weight, loss_name, reduction, ignore_index=ignore_index)
        self.use_sigmoid = use_sigmoid
        self.activate = activate
        self.naive_dice = naive_dice
        self.eps = eps

    def compute(self, seg_logits, seg_label, weight, ignore_index, reduction, avg_factor) -> torch.Tensor:
        target, _ = expand_targets(seg_label, seg_logits.shape[1], ignore_index)
        pred = seg_logits
        if self.activate:
            pred = seg_logits.sigmoid() if self.use_sigmoid or seg_logits.shape[1] == 1 else seg_logits.softmax(1)
        pred, target = pred.flatten(1), target.flatten(1)
        inter = (pred * target).sum(1)
        if self.naive_dice:
            dice = (2 * inter + self.eps) / (pred.sum(1) + target.sum(1) + self.eps)
        else:
            dice = 2 * inter / ((pred * pred).sum(1) + self.eps + (target * target).sum(1) + self.eps)
        loss = 1 - dice
        if weight is not None and weight.dim() == 1:
            loss = loss * weight
        return reduce_loss(loss, reduction, avg_factor)
