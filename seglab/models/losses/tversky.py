"""Tversky loss (Salehi et al., 2017): Dice with separate weights for false positives and false negatives.

As MMSegmentation 1.2.2: per class (skipping an ``ignore_index`` inside the class range) the Tversky index
over each image's labelled pixels, averaged over images, weighted by ``class_weight``, summed and divided by
the number of classes. The result is one value; per-pixel weights (a sampler's) do not apply.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from seglab.errors import ConfigError
from seglab.models.losses.base import SegLoss, class_weight_list
from seglab.registry import MODELS


@MODELS.register()
class TverskyLoss(SegLoss):
    def __init__(
        self,
        smooth: float = 1,
        class_weight: Sequence[float] | None = None,
        loss_weight: float = 1.0,
        ignore_index: int | None = None,
        alpha: float = 0.3,
        beta: float = 0.7,
        loss_name: str = "loss_tversky",
    ) -> None:
        super().__init__(loss_weight, loss_name, ignore_index=ignore_index)
        if alpha + beta != 1.0:
            raise ConfigError(f"TverskyLoss: alpha + beta must be 1.0, got alpha={alpha}, beta={beta}")
        self.smooth = smooth
        self.class_weight = class_weight_list(class_weight)
        self.alpha = alpha
        self.beta = beta

    def compute(self, seg_logits, seg_label, weight, ignore_index, reduction, avg_factor) -> torch.Tensor:
        probs = seg_logits.softmax(dim=1).flatten(2)  # (N, C, P)
        channels = probs.shape[1]
        target = F.one_hot(seg_label.long().clamp(0, channels - 1), channels).flatten(1, -2).transpose(1, 2).float()
        valid = (seg_label != ignore_index).flatten(1).unsqueeze(1).float()
        tp = (probs * target * valid).sum(2)
        fp = (probs * (1 - target) * valid).sum(2)
        fn = ((1 - probs) * target * valid).sum(2)
        tversky = (tp + self.smooth) / (tp + self.alpha * fp + self.beta * fn + self.smooth)
        per_class = (1 - tversky).mean(0)  # (C,)
        if self.class_weight:
            per_class = per_class * seg_logits.new_tensor(self.class_weight)
        keep = torch.arange(channels, device=per_class.device) != ignore_index
        return per_class[keep].sum() / channels
