"""The training losses of mask classification: per stage, match queries to the image's classes and score
the match (Mask2Former's, with ``MaskFormerStageLosses`` and SAN's ``SANLosses`` as variants).

Ground truth is one binary mask per class present in ``gt_sem_seg`` (``ignore_index`` left out). The
matching compares predictions at ``num_points`` random points; the mask and dice losses are computed at
points chosen by uncertainty (``importance_sample_ratio`` of them where the prediction is least sure).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from seglab import dist
from seglab.models.layers.point_sample import point_sample

from .uncertain_points import uncertain_point_coords


def mean_over_ranks(count: int, like: torch.Tensor) -> float:
    """MMDetection's ``reduce_mean``: under DDP every rank normalises by the mean matched-mask count."""
    if not dist.is_distributed():
        return count
    return (dist.all_reduce_sum(like.new_tensor(float(count))) / dist.world_size()).item()


def semantic_to_masks(gt_sem_seg: torch.Tensor, ignore_index: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(1, H, W) labels -> (labels present (K,), masks (K, H, W) long)."""
    labels = torch.unique(gt_sem_seg)
    labels = labels[labels != ignore_index]
    masks = (gt_sem_seg[0][None] == labels[:, None, None]).long()
    return labels.long(), masks


class StageLosses:
    """``loss_cls``, ``loss_mask``, ``loss_dice`` of the last stage and ``d{i}.loss_*`` of the others."""

    def __init__(self, num_classes, assigner, loss_cls, loss_mask, loss_dice, num_points, oversample, importance):
        self.num_classes, self.assigner = num_classes, assigner
        self.loss_cls, self.loss_mask, self.loss_dice = loss_cls, loss_mask, loss_dice
        self.num_points, self.oversample, self.importance = num_points, oversample, importance

    def __call__(self, cls_preds, mask_preds, batch_data_samples: list[dict], ignore_index: int) -> dict:
        gts = [semantic_to_masks(s["gt_sem_seg"].to(cls_preds[0].device), ignore_index) for s in batch_data_samples]
        losses = {}
        last = len(cls_preds) - 1
        for i, (cls_pred, mask_pred) in enumerate(zip(cls_preds, mask_preds, strict=True)):
            prefix = "" if i == last else f"d{i}."
            for name, value in zip(("loss_cls", "loss_mask", "loss_dice"), self.stage(cls_pred, mask_pred, gts)):
                losses[prefix + name] = value
        return losses

    def match(self, cls_score, mask_pred, gt_labels, gt_masks) -> tuple[torch.Tensor, torch.Tensor]:
        """Hungarian matching on the same ``num_points`` random points of every mask."""
        points = torch.rand((1, self.num_points, 2), device=cls_score.device)
        pred_points = point_sample(mask_pred.unsqueeze(1), points.repeat(len(mask_pred), 1, 1)).squeeze(1)
        if len(gt_labels) == 0:
            empty = torch.zeros(0, dtype=torch.long, device=cls_score.device)
            return empty, empty
        gt_points = point_sample(gt_masks.unsqueeze(1).float(), points.repeat(len(gt_masks), 1, 1)).squeeze(1)
        return self.assigner.assign(cls_score, pred_points, gt_labels, gt_points)

    def stage(self, cls_preds: torch.Tensor, mask_preds: torch.Tensor, gts) -> tuple[torch.Tensor, ...]:
        batch, num_queries = cls_preds.shape[:2]
        labels = cls_preds.new_full((batch, num_queries), self.num_classes, dtype=torch.long)
        matched, targets, num_masks = [], [], 0
        for b, (gt_labels, gt_masks) in enumerate(gts):
            rows, cols = self.match(cls_preds[b].detach(), mask_preds[b].detach(), gt_labels, gt_masks)
            labels[b, rows] = gt_labels[cols]
            matched.append(mask_preds[b][rows])
            targets.append(gt_masks[cols])
            num_masks += max(len(rows), 1)
        cls_flat, labels = cls_preds.flatten(0, 1), labels.flatten()
        class_weight = self.loss_cls.class_weight
        if class_weight is not None:
            avg = cls_preds.new_tensor(class_weight)[labels].sum()
        else:
            avg = cls_preds.new_tensor(float(labels.numel()))
        loss_cls = self.loss_cls(cls_flat, labels, avg_factor=avg, weight=torch.ones_like(labels))
        num_masks = max(mean_over_ranks(num_masks, cls_preds), 1)
        preds, targets = torch.cat(matched), torch.cat(targets)
        if len(targets) == 0:
            return loss_cls, preds.sum(), preds.sum()
        return (loss_cls, *self.mask_losses(preds, targets, num_masks))

    def mask_losses(self, preds, targets, num_masks) -> tuple[torch.Tensor, torch.Tensor]:
        """Mask (binary cross-entropy) and dice losses at importance-sampled points."""
        with torch.no_grad():
            points = uncertain_point_coords(preds.unsqueeze(1), self.num_points, self.oversample, self.importance)
            point_targets = point_sample(targets.unsqueeze(1).float(), points).squeeze(1)
        point_preds = point_sample(preds.unsqueeze(1), points).squeeze(1)
        loss_dice = self.loss_dice(point_preds, point_targets, avg_factor=num_masks)
        loss_mask = self.loss_mask(
            point_preds.reshape(-1), point_targets.reshape(-1), avg_factor=num_masks * self.num_points
        )
        return loss_mask, loss_dice


class MaskFormerStageLosses(StageLosses):
    """MaskFormer's variant: matching on whole masks (ground truth resized to the prediction, nearest),
    losses on whole masks (predictions resized to the ground truth, bilinear); no point sampling."""

    def match(self, cls_score, mask_pred, gt_labels, gt_masks) -> tuple[torch.Tensor, torch.Tensor]:
        if len(gt_labels) == 0:
            empty = torch.zeros(0, dtype=torch.long, device=cls_score.device)
            return empty, empty
        small = F.interpolate(gt_masks.unsqueeze(1).float(), mask_pred.shape[-2:], mode="nearest").squeeze(1)
        return self.assigner.assign(cls_score, mask_pred, gt_labels, small.long())

    def mask_losses(self, preds, targets, num_masks) -> tuple[torch.Tensor, torch.Tensor]:
        preds = F.interpolate(preds.unsqueeze(1), targets.shape[-2:], mode="bilinear", align_corners=False).squeeze(1)
        loss_dice = self.loss_dice(preds, targets, avg_factor=num_masks)
        h, w = preds.shape[-2:]
        loss_mask = self.loss_mask(preds.reshape(-1), targets.reshape(-1), avg_factor=num_masks * h * w)
        return loss_mask, loss_dice
