"""The losses of matched queries, as MMDetection defines them: what ``mmdet.CrossEntropyLoss``,
``mmdet.DiceLoss`` and ``mmdet.FocalLoss`` mean in a mask-classification head's config.

They are not ``seglab.models.losses``' MMSegmentation losses of those names: they take an ``avg_factor``
(the matched-mask count) and divide the summed loss by it, so they carry their own class names and live
in the heads' own type table (``LOSSES``, keyed by MMDetection's names), not in the catalog."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from seglab.errors import ConfigError

EPS = torch.finfo(torch.float32).eps


def _check_reduction(reduction: str, where: str) -> None:
    if reduction != "mean":
        raise ConfigError(
            f"{where}: reduction must be 'mean' (the head averages over matched masks), got {reduction!r}"
        )


class MatchedCrossEntropyLoss:
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

    def __call__(
        self, pred: torch.Tensor, target: torch.Tensor, avg_factor: float, weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        if self.use_sigmoid:
            loss = F.binary_cross_entropy_with_logits(pred, target.float(), reduction="none")
        else:
            class_weight = pred.new_tensor(self.class_weight) if self.class_weight is not None else None
            loss = F.cross_entropy(pred, target, weight=class_weight, reduction="none")
        if weight is not None:
            loss = loss * weight.float()
        return self.loss_weight * loss.sum() / (avg_factor + EPS)


class MatchedDiceLoss:
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

    def __call__(self, pred: torch.Tensor, target: torch.Tensor, avg_factor: float) -> torch.Tensor:
        pred = (pred.sigmoid() if self.activate else pred).flatten(1)
        target = target.flatten(1).float()
        a = (pred * target).sum(1)
        if self.naive_dice:
            dice = (2 * a + self.eps) / (pred.sum(1) + target.sum(1) + self.eps)
        else:
            dice = 2 * a / ((pred * pred).sum(1) + self.eps + (target * target).sum(1) + self.eps)
        return self.loss_weight * (1 - dice).sum() / (avg_factor + EPS)


class MatchedFocalLoss:
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

    def __call__(self, pred: torch.Tensor, target: torch.Tensor, avg_factor: float) -> torch.Tensor:
        target = target.type_as(pred)
        prob = pred.sigmoid()
        pt = (1 - prob) * target + prob * (1 - target)
        focal = (self.alpha * target + (1 - self.alpha) * (1 - target)) * pt.pow(self.gamma)
        loss = F.binary_cross_entropy_with_logits(pred, target, reduction="none") * focal
        return self.loss_weight * loss.sum() / (avg_factor + EPS)


# MMDetection's type names (``mmdet.`` prefix accepted) -> the classes above
LOSSES = {"CrossEntropyLoss": MatchedCrossEntropyLoss, "DiceLoss": MatchedDiceLoss, "FocalLoss": MatchedFocalLoss}
