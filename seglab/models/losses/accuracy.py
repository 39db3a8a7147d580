"""Pixel accuracy, logged as ``acc_seg`` beside each head's losses."""

from __future__ import annotations

import torch

from seglab.models.prediction import logits_to_labels


def accuracy(
    logits: torch.Tensor, label: torch.Tensor, ignore_index: int = 255, threshold: float | None = None
) -> torch.Tensor:
    """Top-1 pixel accuracy in percent over pixels that are not ignored (binary heads use ``threshold``)."""
    valid = label != ignore_index
    pred = logits_to_labels(logits, threshold)
    correct = ((pred == label) & valid).sum().float()
    return correct * 100.0 / valid.sum().clamp(min=1)
