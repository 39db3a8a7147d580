"""Lovasz losses: a convex surrogate of the IoU (Berman et al., 2018), under MMSegmentation's names.

``loss_type='multi_class'`` is Lovasz-Softmax over softmax probabilities, averaged over the classes
(``classes='present'``: those in the labels; ``'all'``; or a list). ``'binary'`` is the Lovasz hinge on a
single foreground logit. Without ``per_image`` the whole batch is one set of pixels and MMSegmentation
requires ``reduction='none'``; with it, the per-image losses are reduced.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from seglab.errors import ConfigError
from seglab.models.losses.base import SegLoss, class_weight_list, reduce_loss
from seglab.registry import MODELS


def lovasz_grad(gt_sorted: torch.Tensor) -> torch.Tensor:
    """Gradient of the Lovasz extension of the Jaccard loss at errors sorted in decreasing order."""
    gt = gt_sorted.float()
    total = gt.sum()
    intersection = total - gt.cumsum(0)
    union = total + (1 - gt).cumsum(0)
    jaccard = 1.0 - intersection / union
    if len(gt) > 1:
        jaccard = torch.cat([jaccard[:1], jaccard[1:] - jaccard[:-1]])
    return jaccard


def lovasz_hinge_flat(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    if len(labels) == 0:
        return logits.sum() * 0.0
    errors = 1.0 - logits * (2.0 * labels.float() - 1.0)
    errors_sorted, perm = torch.sort(errors, descending=True)
    return torch.dot(F.relu(errors_sorted), lovasz_grad(labels[perm]))


def lovasz_softmax_flat(
    probs: torch.Tensor, labels: torch.Tensor, classes: str | list[int], class_weight: torch.Tensor | None
) -> torch.Tensor:
    if probs.numel() == 0:
        return probs.sum() * 0.0
    losses = []
    for c in range(probs.shape[1]) if isinstance(classes, str) else classes:
        fg = (labels == c).float()
        if classes == "present" and fg.sum() == 0:
            continue
        errors_sorted, perm = torch.sort((fg - probs[:, c]).abs(), descending=True)
        loss = torch.dot(errors_sorted, lovasz_grad(fg[perm]))
        losses.append(loss * class_weight[c] if class_weight is not None else loss)
    return torch.stack(losses).mean() if losses else probs.sum() * 0.0


@MODELS.register()
class LovaszLoss(SegLoss):
    def __init__(
        self,
        loss_type: str = "multi_class",
        classes: str | Sequence[int] = "present",
        per_image: bool = False,
        reduction: str = "mean",
        class_weight: Sequence[float] | None = None,
        loss_weight: float = 1.0,
        loss_name: str = "loss_lovasz",
    ) -> None:
        super().__init__(loss_weight, loss_name, reduction)
        if loss_type not in ("binary", "multi_class"):
            raise ConfigError(f"LovaszLoss: loss_type must be 'binary' or 'multi_class', got {loss_type!r}")
        is_list = isinstance(classes, list | tuple) and all(isinstance(c, int) for c in classes)
        if not (is_list or classes in ("all", "present")):
            raise ConfigError(
                f"LovaszLoss: classes must be 'all', 'present' or a list of class indices, got {classes!r}"
            )
        if not per_image and reduction != "none":
            raise ConfigError(
                "LovaszLoss: with per_image=False the loss is one value for the whole batch, so MMSegmentation "
                f"requires reduction='none' (got {reduction!r}); set reduction='none' or per_image=True"
            )
        self.loss_type = loss_type
        self.classes = classes if isinstance(classes, str) else list(classes)
        self.per_image = per_image
        self.class_weight = class_weight_list(class_weight)

    def compute(self, seg_logits, seg_label, weight, ignore_index, reduction, avg_factor) -> torch.Tensor:
        channels = seg_logits.shape[1]
        if self.loss_type == "binary" and channels != 1:
            raise ConfigError(
                f"LovaszLoss(loss_type='binary') needs one output channel (out_channels=1), got {channels}"
            )
        if self.loss_type == "multi_class" and channels == 1:
            raise ConfigError("LovaszLoss(loss_type='multi_class') needs 2+ output channels; use loss_type='binary'")
        class_weight = seg_logits.new_tensor(self.class_weight) if self.class_weight else None
        scores = seg_logits.softmax(dim=1) if self.loss_type == "multi_class" else seg_logits
        images = zip(scores, seg_label) if self.per_image else [(scores, seg_label)]
        losses = []
        for score, label in images:
            label = label.reshape(-1)
            valid = label != ignore_index
            if self.loss_type == "binary":
                losses.append(lovasz_hinge_flat(score.reshape(-1)[valid], label[valid]))
            else:
                probs = score.movedim(-3, -1).reshape(-1, channels)  # (pixels, C) for a batch or one image
                losses.append(lovasz_softmax_flat(probs[valid], label[valid], self.classes, class_weight))
        if not self.per_image:
            return losses[0]
        return reduce_loss(torch.stack(losses), reduction, avg_factor)
