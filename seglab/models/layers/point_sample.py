"""MMCV's ``point_sample``: feature values at fractional (x, y) points, what PointRend's head and the
mask-classification losses (Mask2Former, SAN) read their per-point logits and targets with."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def point_sample(
    input: torch.Tensor,  # noqa: A002 (MMCV's name)
    points: torch.Tensor,
    align_corners: bool = False,
    mode: str = "bilinear",
) -> torch.Tensor:
    """(N, C, P) values of ``input`` (N, C, H, W) at ``points`` (N, P, 2) given as (x, y) in [0, 1];
    zero outside the map."""
    grid = (points * 2.0 - 1.0).unsqueeze(2)  # grid_sample wants [-1, 1] and a (N, P, 1, 2) grid
    return F.grid_sample(input, grid, mode=mode, align_corners=align_corners).squeeze(3)
