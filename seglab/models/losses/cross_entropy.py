"""Cross-entropy: softmax over classes, or sigmoid BCE with ``use_sigmoid=True``.

MMSegmentation's default is kept: with ``avg_non_ignore=False`` the mean divides by all pixels,
ignored ones included; ``avg_non_ignore=True`` averages over labelled pixels only.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from seglab.errors import ConfigError
from seglab.models.losses.base import SegLoss, class_weight_list, expand_targets, reduce_loss
from seglab.registry import MODELS


@MODELS.register()
class CrossEntropyLoss(SegLoss):
    def __init__(
        self,
        use_sigmoid: bool = False,
        use_mask: bool = False,
        reduction: str = "mean",
        class_weight: Sequence[float] | None = None,
        loss_weight: float = 1.0,
        loss_name: str = "loss_ce",
        avg_non_ignore: bool = False,
        ignore_index: int | None = None,
    ) -> None:
        super().__init__(loss_weight, loss_name, reduction, avg_non_ignore, ignore_index)
        if use_mask:
            raise ConfigError("CrossEntropyLoss(use_mask=True) is for instance masks; not supported in seglab")
        self.use_sigmoid = use_sigmoid
        self.class_weight = class_weight_list(class_weight)

    def compute(self, seg_logits, seg_label, weight, ignore_index, reduction, avg_factor) -> torch.Tensor:
        class_weight = seg_logits.new_tensor(self.class_weight) if self.class_weight else None
        if self.use_sigmoid or seg_logits.shape[1] == 1:
            target, valid = expand_targets(seg_label, seg_logits.shape[1], ignore_index)
            mask = valid.unsqueeze(1).float().expand_as(seg_logits)
            if weight is not None:
                mask = mask * weight.unsqueeze(1)
            loss = F.binary_cross_entropy_with_logits(seg_logits, target, pos_weight=class_weight, reduction="none")
            loss = loss * mask
            if avg_factor is None and self.avg_non_ignore:
                avg_factor = mask.sum()
            return reduce_loss(loss, reduction, avg_factor)
        loss = F.cross_entropy(seg_logits, seg_label, weight=class_weight, reduction="none", ignore_index=ignore_index)
        if weight is not None:
            loss = loss * weight
        if avg_factor is None and self.avg_non_ignore:
            avg_factor = (seg_label != ignore_index).sum()
        return reduce_loss(loss, reduction, avg_factor)
