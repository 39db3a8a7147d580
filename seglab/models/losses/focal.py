"""Sigmoid focal loss over one-hot targets; ignored pixels do not count."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from seglab.errors import ConfigError
from seglab.models.losses.base import SegLoss, class_weight_list, expand_targets, reduce_loss
from seglab.registry import MODELS


@MODELS.register()
class FocalLoss(SegLoss):
    def __init__(
        self,
        use_sigmoid: bool = True,
        gamma: float = 2.0,
        alpha: float | Sequence[float] = 0.5,
        reduction: str = "mean",
        class_weight: Sequence[float] | None = None,
        loss_weight: float = 1.0,
        loss_name: str = "loss_focal",
        ignore_index: int | None = None,
    ) -> None:
        super().__init__(loss_weight, loss_name, reduction, ignore_index=ignore_index)
        if not use_sigmoid:
            raise ConfigError("FocalLoss supports use_sigmoid=True only")
        self.gamma = gamma
        self.alpha = alpha
        self.class_weight = class_weight_list(class_weight)

    def compute(self, seg_logits, seg_label, weight, ignore_index, reduction, avg_factor) -> torch.Tensor:
        target, valid = expand_targets(seg_label, seg_logits.shape[1], ignore_index)
        prob = seg_logits.sigmoid()
        pt = (1 - prob) * target + prob * (1 - target)
        alpha = self.alpha
        if isinstance(alpha, Sequence):
            alpha = seg_logits.new_tensor(alpha).view(1, -1, 1, 1)
        focal_weight = (alpha * target + (1 - alpha) * (1 - target)) * pt.pow(self.gamma)
        loss = F.binary_cross_entropy_with_logits(seg_logits, target, reduction="none") * focal_weight
        if self.class_weight:
            loss = loss * seg_logits.new_tensor(self.class_weight).view(1, -1, 1, 1)
        mask = valid.unsqueeze(1).float()
        if weight is not None:
            mask = mask * weight.unsqueeze(1)
        loss = loss * mask
        if avg_factor is None:
            avg_factor = valid.sum() * seg_logits.shape[1]
        return reduce_loss(loss, reduction, avg_factor)
