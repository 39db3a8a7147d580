"""OHEM cross-entropy (DDRNet, PIDNet): cross-entropy over the hardest labelled pixels only.

Pixels are ranked by the softmax probability of their true class; those below ``thres`` are kept, or the
``min_kept`` least confident if that reaches higher. The loss owns its ``ignore_label`` (MMSegmentation's
name), so the head's ``ignore_index`` does not apply; per-pixel weights and reductions do not either.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from seglab.models.losses.base import SegLoss, class_weight_list
from seglab.registry import MODELS


@MODELS.register()
class OhemCrossEntropy(SegLoss):
    def __init__(
        self,
        ignore_label: int = 255,
        thres: float = 0.7,
        min_kept: int = 100000,
        loss_weight: float = 1.0,
        class_weight: Sequence[float] | None = None,
        loss_name: str = "loss_ohem",
    ) -> None:
        super().__init__(loss_weight, loss_name, ignore_index=ignore_label)
        self.thresh = thres
        self.min_kept = max(1, min_kept)
        self.class_weight = class_weight_list(class_weight)

    def compute(self, seg_logits, seg_label, weight, ignore_index, reduction, avg_factor) -> torch.Tensor:
        class_weight = seg_logits.new_tensor(self.class_weight) if self.class_weight else None
        pixel_losses = F.cross_entropy(
            seg_logits, seg_label, weight=class_weight, ignore_index=ignore_index, reduction="none"
        ).reshape(-1)
        valid = seg_label.reshape(-1) != ignore_index
        if not valid.any():
            return seg_logits.sum() * 0.0
        safe = torch.where(seg_label == ignore_index, torch.zeros_like(seg_label), seg_label)
        true_prob = seg_logits.detach().softmax(dim=1).gather(1, safe.unsqueeze(1)).reshape(-1)[valid]
        true_prob, order = true_prob.sort()
        threshold = true_prob[min(self.min_kept, true_prob.numel() - 1)].clamp(min=self.thresh)
        return pixel_losses[valid][order][true_prob < threshold].mean()
