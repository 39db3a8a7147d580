"""Online hard example mining over pixels (MMSegmentation's ``OHEMPixelSampler``).

Only the hard labelled pixels get weight 1, the rest 0: with ``thresh``, pixels whose true-class softmax
probability is below ``thresh`` (or below the ``min_kept * batch``-th lowest probability, if that is
higher); without it, the ``min_kept * batch`` pixels with the highest summed per-pixel loss of the head's
``loss_decode``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from seglab.errors import ConfigError
from seglab.registry import MODELS


@MODELS.register()
class OHEMPixelSampler:
    """Not a module: it holds no weights, only its settings and the head (``context``) it samples for."""

    def __init__(self, context: Any, thresh: float | None = None, min_kept: int = 100000) -> None:
        if not isinstance(min_kept, int) or min_kept <= 1:
            raise ConfigError(f"OHEMPixelSampler: min_kept must be an integer > 1, got {min_kept!r}")
        self.context = context
        self.thresh = thresh
        self.min_kept = min_kept

    @torch.no_grad()
    def sample(self, seg_logit: torch.Tensor, seg_label: torch.Tensor) -> torch.Tensor:
        """(N,H,W) weights for (N,C,H,W) logits and (N,H,W) or (N,1,H,W) labels of the same size."""
        label = seg_label[:, 0] if seg_label.dim() == 4 else seg_label
        label = label.long()
        ignore_index = self.context.ignore_index
        valid = label != ignore_index
        batch_kept = self.min_kept * label.shape[0]
        weight = seg_logit.new_zeros(label.shape)
        valid_weight = weight[valid]
        if self.thresh is not None:
            safe = torch.where(valid, label, torch.zeros_like(label))
            prob = F.softmax(seg_logit, dim=1).gather(1, safe.unsqueeze(1))[:, 0][valid]
            sorted_prob = prob.sort().values
            lowest = sorted_prob[min(batch_kept, sorted_prob.numel() - 1)] if sorted_prob.numel() else 0.0
            threshold = max(float(lowest), self.thresh)
            valid_weight[prob < threshold] = 1.0
        else:
            losses = 0.0
            for loss_fn in self.context.loss_decode:
                value = loss_fn(seg_logit, label, weight=None, ignore_index=ignore_index, reduction_override="none")
                if value.shape != label.shape:
                    raise ConfigError(
                        f"OHEMPixelSampler without thresh ranks pixels by their loss, but {type(loss_fn).__name__} "
                        "gives no per-pixel loss; set the sampler's thresh or use per-pixel losses (CrossEntropyLoss)"
                    )
                losses = losses + value
            order = losses[valid].sort(descending=True).indices
            valid_weight[order[:batch_kept]] = 1.0
        weight[valid] = valid_weight
        return weight
