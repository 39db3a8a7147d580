"""Dice loss as MMSegmentation 1.2.2 defines it: 1 - Dice coefficient per image over all classes.

The V-Net form divides by sum(p^2) + sum(t^2) (each plus ``eps``); ``naive_dice`` uses plain sums with ``eps``
in numerator and denominator. Pixels labelled outside the classes (255) have an all-zero target but their
predictions still count in the denominator. An ``ignore_index`` inside the class range also drops that
class's channel, as in MMSegmentation. One deliberate difference: with one output channel the target is
the foreground (label 1) map — MMSegmentation 1.2.2 one-hot encodes label 0 there, which trains the
background into the foreground logit.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from seglab.models.losses.base import SegLoss, reduce_loss
from seglab.registry import MODELS


def dice_targets(seg_label: torch.Tensor, num_channels: int) -> torch.Tensor:
    """(N,C,H,W) one-hot targets; labels >= C (ignored pixels) give all-zero rows, negative ones count as 0."""
    if num_channels == 1:
        return (seg_label == 1).unsqueeze(1).float()
    safe = seg_label.long().clamp(0, num_channels)
    return F.one_hot(safe, num_channels + 1)[..., :num_channels].permute(0, 3, 1, 2).float()


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
        channels = seg_logits.shape[1]
        target = seg_label.float() if seg_label.shape == seg_logits.shape else dice_targets(seg_label, channels)
        pred = seg_logits
        if self.activate:
            if self.use_sigmoid:
                pred = pred.sigmoid()
            elif channels != 1:
                pred = pred.softmax(dim=1)
        if 0 <= ignore_index < channels and channels > 1:
            keep = torch.arange(channels, device=pred.device) != ignore_index
            pred, target = pred[:, keep], target[:, keep]
        pred, target = pred.flatten(1), target.flatten(1)
        inter = (pred * target).sum(1)
        if self.naive_dice:
            dice = (2 * inter + self.eps) / (pred.sum(1) + target.sum(1) + self.eps)
        else:
            dice = 2 * inter / ((pred * pred).sum(1) + self.eps + (target * target).sum(1) + self.eps)
        loss = 1 - dice
        if weight is not None and weight.dim() == 1:  # per-image weights; per-pixel (sampler) weights do not apply
            loss = loss * weight
        return reduce_loss(loss, reduction, avg_factor)
