"""Small tensor helpers every head and segmentor uses."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def resize(x: torch.Tensor, size: tuple[int, int] | torch.Size, align_corners: bool = False) -> torch.Tensor:
    """Bilinear resize of NCHW logits/features (no-op when the size already matches).

    While exporting, the resize stays in the graph: equal sizes at the example shape need not be equal
    at others (interpolating to the same size returns the input unchanged)."""
    if not torch.compiler.is_exporting() and tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=align_corners)
