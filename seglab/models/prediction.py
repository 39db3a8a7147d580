"""How logits become class labels and probabilities: the one place that knows about binary heads.

A head with ``out_channels == 1`` predicts one foreground logit per pixel (sigmoid, thresholded);
any other head predicts one logit per class (softmax, argmax).
"""

from __future__ import annotations

import torch


def logits_to_labels(logits: torch.Tensor, threshold: float | None = None) -> torch.Tensor:
    """Class indices from (N,C,H,W) or (C,H,W) logits: argmax over C, or ``sigmoid > threshold`` when C == 1."""
    binary = logits.shape[logits.dim() - 3] == 1
    return probabilities_to_labels(logits.sigmoid() if binary else logits, threshold)  # argmax needs no softmax


def logits_to_probabilities(logits: torch.Tensor) -> torch.Tensor:
    """Per-channel probabilities: softmax over classes, or the foreground sigmoid for one channel."""
    channel_dim = logits.dim() - 3
    if logits.shape[channel_dim] == 1:
        return logits.sigmoid()
    return logits.softmax(dim=channel_dim)


def probabilities_to_labels(probabilities: torch.Tensor, threshold: float | None = None) -> torch.Tensor:
    """Class indices from averaged probabilities (test-time augmentation): as ``logits_to_labels``."""
    channel_dim = probabilities.dim() - 3
    if probabilities.shape[channel_dim] == 1:
        return (probabilities > (0.5 if threshold is None else threshold)).long().squeeze(channel_dim)
    # max(dim).indices: the same first-maximum index as argmax, ~10x faster over the channel dim of NCHW on CPU
    return probabilities.max(dim=channel_dim).indices
