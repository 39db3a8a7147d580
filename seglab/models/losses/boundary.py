"""Boundary loss (PIDNet): class-balanced binary cross-entropy on a one-channel boundary logit map.

Boundary pixels (label 1) weigh the share of non-boundary pixels and vice versa; any other label
(an ignored pixel) weighs 0. As MMSegmentation 1.2.2, the mean runs over every pixel of the batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from seglab.errors import ConfigError
from seglab.models.losses.base import SegLoss
from seglab.registry import MODELS


@MODELS.register()
class BoundaryLoss(SegLoss):
    def __init__(self, loss_weight: float = 1.0, loss_name: str = "loss_boundary") -> None:
        super().__init__(loss_weight, loss_name)

    def compute(self, seg_logits, seg_label, weight, ignore_index, reduction, avg_factor) -> torch.Tensor:
        if seg_logits.shape[1] != 1:
            raise ConfigError(
                f"BoundaryLoss takes one boundary logit per pixel (out_channels=1), got {seg_logits.shape[1]} channels"
            )
        logits = seg_logits.reshape(-1)
        target = seg_label.reshape(-1).float()
        positive, negative = target == 1, target == 0
        total = positive.sum() + negative.sum()
        pixel_weight = torch.zeros_like(logits)
        pixel_weight[positive] = negative.sum() / total
        pixel_weight[negative] = positive.sum() / total
        return F.binary_cross_entropy_with_logits(logits, target, pixel_weight, reduction="mean")
