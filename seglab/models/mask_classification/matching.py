"""Hungarian matching of queries to ground-truth masks (MMDetection's ``HungarianAssigner`` with
``ClassificationCost``, ``CrossEntropyLossCost`` and ``DiceCost``); scipy solves the assignment."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment

from seglab.errors import ConfigError

from .sub_configs import build_part


class ClassificationCost:
    """-softmax probability of the ground truth's class."""

    def __init__(self, weight: float = 1.0) -> None:
        self.weight = weight

    def __call__(self, scores: torch.Tensor, masks: torch.Tensor, gt_labels: torch.Tensor, gt_masks) -> torch.Tensor:
        return -scores.softmax(-1)[:, gt_labels] * self.weight


class CrossEntropyLossCost:
    """Mean binary cross-entropy between each predicted mask (logits) and each ground-truth mask."""

    def __init__(self, use_sigmoid: bool = True, weight: float = 1.0) -> None:
        if not use_sigmoid:
            raise ConfigError("CrossEntropyLossCost: only use_sigmoid=True is defined (as in MMDetection)")
        self.weight = weight

    def __call__(self, scores, masks: torch.Tensor, gt_labels, gt_masks: torch.Tensor) -> torch.Tensor:
        pred, gt = masks.flatten(1).float(), gt_masks.flatten(1).float()
        pos = F.binary_cross_entropy_with_logits(pred, torch.ones_like(pred), reduction="none")
        neg = F.binary_cross_entropy_with_logits(pred, torch.zeros_like(pred), reduction="none")
        cost = torch.einsum("nc,mc->nm", pos, gt) + torch.einsum("nc,mc->nm", neg, 1 - gt)
        return cost / pred.shape[1] * self.weight


class DiceCost:
    """1 - dice coefficient between each predicted mask (sigmoid of logits with ``pred_act``) and each
    ground-truth mask."""

    def __init__(self, pred_act: bool = False, eps: float = 1e-3, naive_dice: bool = True, weight: float = 1.0) -> None:
        self.pred_act, self.eps, self.naive_dice, self.weight = pred_act, eps, naive_dice, weight

    def __call__(self, scores, masks: torch.Tensor, gt_labels, gt_masks: torch.Tensor) -> torch.Tensor:
        pred = (masks.sigmoid() if self.pred_act else masks).flatten(1)
        gt = gt_masks.flatten(1).float()
        numerator = 2 * torch.einsum("nc,mc->nm", pred, gt)
        if self.naive_dice:
            denominator = pred.sum(-1)[:, None] + gt.sum(-1)[None, :]
        else:
            denominator = pred.pow(2).sum(1)[:, None] + gt.pow(2).sum(1)[None, :]
        return (1 - (numerator + self.eps) / (denominator + self.eps)) * self.weight


class FocalLossCost:
    """Focal-loss cost; MaskFormer uses it on masks (``binary_input``): mean over pixels of the focal
    terms of each predicted mask against each ground-truth mask."""

    def __init__(
        self, alpha: float = 0.25, gamma: float = 2, eps: float = 1e-12, binary_input: bool = False, weight: float = 1.0
    ) -> None:
        if not binary_input:
            raise ConfigError("FocalLossCost: only binary_input=True (mask costs) is used by mask classification heads")
        self.alpha, self.gamma, self.eps, self.weight = alpha, gamma, eps, weight

    def __call__(self, scores, masks: torch.Tensor, gt_labels, gt_masks: torch.Tensor) -> torch.Tensor:
        prob, gt = masks.flatten(1).sigmoid(), gt_masks.flatten(1).float()
        neg = -(1 - prob + self.eps).log() * (1 - self.alpha) * prob.pow(self.gamma)
        pos = -(prob + self.eps).log() * self.alpha * (1 - prob).pow(self.gamma)
        cost = torch.einsum("nc,mc->nm", pos, gt) + torch.einsum("nc,mc->nm", neg, 1 - gt)
        return cost / prob.shape[1] * self.weight


COSTS = {
    "ClassificationCost": ClassificationCost,
    "CrossEntropyLossCost": CrossEntropyLossCost,
    "DiceCost": DiceCost,
    "FocalLossCost": FocalLossCost,
}


class HungarianAssigner:
    """The one-to-one query -> ground truth matching of least summed cost."""

    def __init__(self, match_costs: list[dict] | dict) -> None:
        costs = [match_costs] if isinstance(match_costs, dict) else list(match_costs)
        self.match_costs = [build_part(c, COSTS, f"train_cfg.assigner.match_costs[{i}]") for i, c in enumerate(costs)]

    @torch.no_grad()
    def assign(self, scores, masks, gt_labels, gt_masks) -> tuple[torch.Tensor, torch.Tensor]:
        """(query indices, their ground-truth indices), ordered by query."""
        if len(gt_labels) == 0 or len(scores) == 0:
            empty = torch.zeros(0, dtype=torch.long, device=scores.device)
            return empty, empty
        cost = sum(c(scores, masks, gt_labels, gt_masks) for c in self.match_costs)
        rows, cols = linear_sum_assignment(cost.detach().cpu().numpy())
        device = scores.device
        return torch.as_tensor(rows, dtype=torch.long, device=device), torch.as_tensor(
            cols, dtype=torch.long, device=device
        )


SAMPLERS = ("MaskPseudoSampler",)  # MMDetection's sampler keeps every match: nothing to build
