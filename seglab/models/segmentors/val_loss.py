"""Validation loss from the forward that makes the predictions (no second pass over the data).

A head whose ``loss`` and ``predict`` are the base protocol's (``loss_by_feat(forward(x))`` and
``predict_by_feat(forward(x))``) gives both from one ``forward``; every per-pixel-logit head but the
ones below is such a head. Heads that override them (multi-output PIDNet/DDRNet/DANet/EncNet, K-Net,
MaskFormer/Mask2Former, PointRend) compute their losses from training-mode outputs, or draw random
points from the training RNG: they give predictions only, and ``say_no_val_loss`` tells the log once.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from seglab.models.heads.decode_head import BaseDecodeHead
from seglab.models.layers import resize

logger = logging.getLogger("seglab")
_SAID: set[str] = set()


def say_no_val_loss(reason: str) -> None:
    """Log once per reason that validation reports no ``val/loss``, and why."""
    if reason not in _SAID:
        _SAID.add(reason)
        logger.info(f"no validation loss (val/loss): {reason}")


def single_forward(head: nn.Module) -> bool:
    """Do the head's loss and prediction both come from one ``forward`` output?"""
    cls = type(head)
    return cls.loss is BaseDecodeHead.loss and cls.predict is BaseDecodeHead.predict


def head_val_losses(
    head: BaseDecodeHead, out: torch.Tensor, samples: list[dict], pad_shape: tuple[int, int]
) -> dict[str, torch.Tensor]:
    """``head.loss_by_feat`` on the head's output ``out`` against the samples' ``gt_sem_seg``.

    A batch without padding whose labels share one size is exactly the training call; otherwise (padded
    images, labels at their own original sizes) each image's logits are resized to the padded size, its
    padding cut off, and the per-image losses averaged."""
    label_shapes = {tuple(s["gt_sem_seg"].shape[-2:]) for s in samples}
    padded = any(tuple(s.get("img_shape", pad_shape))[:2] != tuple(pad_shape) for s in samples)
    if len(label_shapes) == 1 and not padded:
        return head.loss_by_feat(out, samples)
    if not isinstance(out, torch.Tensor):
        say_no_val_loss(f"{type(head).__name__} outputs no single logit map to crop padded images from")
        return {}
    full = resize(out, pad_shape, head.align_corners)
    per_image = []
    for i, sample in enumerate(samples):
        h, w = tuple(sample.get("img_shape", pad_shape))[:2]
        per_image.append(head.loss_by_feat(full[i : i + 1, :, :h, :w], [sample]))
    return {key: torch.stack([losses[key] for losses in per_image]).mean() for key in per_image[0]}
