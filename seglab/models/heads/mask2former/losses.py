"""MMDetection's losses as Mask2Former configures them (``mmdet.CrossEntropyLoss``, ``mmdet.DiceLoss``),
and the point sampling its mask losses are computed on.

MMDetection's losses differ from MMSegmentation's of the same name (they take an ``avg_factor`` and
divide the summed loss by it), so the head builds these, not the registry's."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from seglab.errors import ConfigError

EPS = torch.finfo(torch.float32).eps


def point_sample(inputs: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) at (N, P, 2) points in [0, 1] as (x, y) -> (N, C, P), bilinear, zero outside."""
    out = F.grid_sample(inputs, 2.0 * points.unsqueeze(2) - 1.0, mode="bilinear", align_corners=False)
    return out.squeeze(3)


def uncertain_point_coords(mask_logits: torch.Tensor, num_points: int, oversample: float, importance: float):
    """Points where the (N, 1, H, W) logits are least certain (|logit| smallest) among ``oversample`` x
    random candidates, plus random points to fill ``num_points``. The torch.rand calls are MMDetection's,
    in its order, so a seeded run draws the same points."""
    n = mask_logits.shape[0]
    num_sampled = int(num_points * oversample)
    coords = torch.rand(n, num_sampled, 2, device=mask_logits.device)
    uncertainty = -point_sample(mask_logits, coords).abs()
    num_uncertain = int(importance * num_points)
    idx = torch.topk(uncertainty[:, 0, :], k=num_uncertain, dim=1)[1]
    idx = idx + num_sampled * torch.arange(n, dtype=torch.long, device=mask_logits.device)[:, None]
    coords = coords.view(-1, 2)[idx.view(-1), :].view(n, num_uncertain, 2)
    if num_points > num_uncertain:
        coords = torch.cat((coords, torch.rand(n, num_points - num_uncertain, 2, device=mask_logits.device)), dim=1)
    return coords


def _check_reduction(reduction: str, where: str) -> None:
    if reduction != "mean":
        raise ConfigError(
            f"{where}: reduction must be 'mean' (the head averages over matched masks), got {reduction!r}"
        )


class CrossEntropyLoss:
    """MMDetection's CrossEntropyLoss: softmax over classes (``class_weight``, per-sample weights) or, with
    ``use_sigmoid``, binary cross-entropy on logits; the sum divided by ``avg_factor``, times ``loss_weight``."""

    IGNORED_ARGS = {"avg_non_ignore": False, "ignore_index": None}  # the head passes avg_factor, no ignored labels

    def __init__(
        self,
        use_sigmoid: bool = False,
        use_mask: bool = False,
        reduction: str = "mean",
        class_weight: list[float] | None = None,
        ignore_index: int | None = None,
        loss_weight: float = 1.0,
        avg_non_ignore: bool = False,
    ) -> None:
        if use_mask:
            raise ConfigError("loss: CrossEntropyLoss use_mask=True is not used by mask classification heads")
        _check_reduction(reduction, "CrossEntropyLoss")
        self.use_sigmoid, self.class_weight, self.loss_weight = use_sigmoid, class_weight, loss_weight

    def __call__(self, pred, target, avg_factor, weight=None) -> torch.Tensor:
        if self.use_sigmoid:
            loss = F.binary_cross_entropy_with_logits(pred, target.float(), reduction="none")
        else:
            class_weight = pred.new_tensor(self.class_weight) if self.class_weight is not None else None
            loss = F.cross_entropy(pred, target, weight=class_weight, reduction="none")
        if weight is not None:
            loss = loss * weight.float()
        return self.loss_weight * loss.sum() / (avg_factor + EPS)


class DiceLoss:
    """MMDetection's DiceLoss on (N, P) mask logits (sigmoid with ``activate``): per mask 1 - dice, summed
    and divided by ``avg_factor``, times ``loss_weight``."""

    def __init__(
        self,
        use_sigmoid: bool = True,
        activate: bool = True,
        reduction: str = "mean",
        naive_dice: bool = False,
        loss_weight: float = 1.0,
        eps: float = 1e-3,
    ) -> None:
        if not use_sigmoid:
            raise ConfigError("loss_dice: DiceLoss needs use_sigmoid=True (softmax dice is not defined in MMDetection)")
        _check_reduction(reduction, "DiceLoss")
        self.activate, self.naive_dice, self.loss_weight, self.eps = activate, naive_dice, loss_weight, eps

    def __call__(self, pred, target, avg_factor) -> torch.Tensor:
        pred = (pred.sigmoid() if self.activate else pred).flatten(1)
        target = target.flatten(1).float()
        a = (pred * target).sum(1)
        if self.naive_dice:
            dice = (2 * a + self.eps) / (pred.sum(1) + target.sum(1) + self.eps)
        else:
            dice = 2 * a / ((pred * pred).sum(1) + self.eps + (target * target).sum(1) + self.eps)
        return self.loss_weight * (1 - dice).sum() / (avg_factor + EPS)


class FocalLoss:
    """MMDetection's sigmoid FocalLoss as MaskFormer uses it on mask logits against binary targets."""

    def __init__(
        self,
        use_sigmoid: bool = True,
        gamma: float = 2.0,
        alpha: float = 0.25,
        reduction: str = "mean",
        loss_weight: float = 1.0,
        activated: bool = False,
    ) -> None:
        if not use_sigmoid or activated:
            raise ConfigError(
                "loss_mask: FocalLoss needs use_sigmoid=True, activated=False (as MMDetection defines it)"
            )
        _check_reduction(reduction, "FocalLoss")
        self.gamma, self.alpha, self.loss_weight = gamma, alpha, loss_weight

    def __call__(self, pred, target, avg_factor) -> torch.Tensor:
        target = target.type_as(pred)
        prob = pred.sigmoid()
        pt = (1 - prob) * target + prob * (1 - target)
        focal = (self.alpha * target + (1 - self.alpha) * (1 - target)) * pt.pow(self.gamma)
        loss = F.binary_cross_entropy_with_logits(pred, target, reduction="none") * focal
        return self.loss_weight * loss.sum() / (avg_factor + EPS)


LOSSES = {"CrossEntropyLoss": CrossEntropyLoss, "DiceLoss": DiceLoss, "FocalLoss": FocalLoss}
