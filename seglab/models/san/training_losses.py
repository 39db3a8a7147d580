"""SAN's training losses: Mask2Former's matching and point-sampled mask losses
(``seglab.models.mask_classification``) with MMSegmentation's SAN conventions — the class loss is a plain
(class-weighted) mean over queries, the mask losses divide by the batch's ground-truth mask count, and
deep-supervision losses are named ``d{layer index}.*``."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from seglab.models.mask_classification.stage_losses import StageLosses, mean_over_ranks, semantic_to_masks


class SANLosses(StageLosses):
    """Keys ``loss_cls_ce``, ``loss_mask_ce``, ``loss_mask_dice`` (+ ``d{i}.`` for supervised layers)."""

    def __call__(self, cls_preds, mask_preds, batch_data_samples: list[dict], ignore_index: int,
                 supervised: Sequence[int] = ()) -> dict:  # fmt: skip
        gts = [semantic_to_masks(s["gt_sem_seg"].to(cls_preds[0].device), ignore_index) for s in batch_data_samples]
        names = [*(f"d{i}." for i in supervised), ""][-len(cls_preds) :]
        losses = {}
        for prefix, cls_pred, mask_pred in zip(names, cls_preds, mask_preds, strict=True):
            for key, value in zip(
                ("loss_cls_ce", "loss_mask_ce", "loss_mask_dice"), self.stage(cls_pred, mask_pred, gts)
            ):
                losses[prefix + key] = value
        return losses

    def stage(self, cls_preds: torch.Tensor, mask_preds: torch.Tensor, gts) -> tuple[torch.Tensor, ...]:
        batch, num_queries = cls_preds.shape[:2]
        labels = cls_preds.new_full((batch, num_queries), self.num_classes, dtype=torch.long)
        matched, targets = [], []
        for b, (gt_labels, gt_masks) in enumerate(gts):
            rows, cols = self.match(cls_preds[b].detach(), mask_preds[b].detach(), gt_labels, gt_masks)
            order = torch.argsort(rows)  # MMSegmentation takes matched queries in query order
            rows, cols = rows[order], cols[order]
            labels[b, rows] = gt_labels[cols]
            matched.append(mask_preds[b][rows])
            targets.append(gt_masks[cols])
        labels = labels.flatten()
        loss_cls = self.loss_cls(cls_preds.flatten(0, 1), labels, avg_factor=float(labels.numel()))
        num_masks = max(mean_over_ranks(sum(len(g[0]) for g in gts), cls_preds), 1)
        preds, targets = torch.cat(matched), torch.cat(targets)
        if len(targets) == 0:
            return loss_cls, preds.sum(), preds.sum()
        return (loss_cls, *self.mask_losses(preds, targets, num_masks))
