"""``EoMTDINOv2``: the DINOv2 ViT as the EoMT authors fine-tune it, with a 16x16 patch embedding resampled from
DINOv2's 14x14 one when the pre-trained weights load (FlexiViT's pseudo-inverse resampling, which timm applies
when the patch size of a checkpoint differs). Everything else is ``DINOv2``'s, position-grid resizing included.
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F

from seglab.models.backbones.dinov2 import DINOv2
from seglab.registry import MODELS

logger = logging.getLogger("seglab")


def resample_patch_kernel(weight: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A (out, in, h, w) patch-embedding kernel for ``size`` patches that gives, on a patch resized bicubically
    to ``size``, the response the original kernel gives on the original patch (least squares)."""
    old = weight.shape[-2:]
    basis = torch.eye(old[0] * old[1], dtype=torch.float64).reshape(-1, 1, *old)
    resized = F.interpolate(basis, size=size, mode="bicubic", antialias=True, align_corners=False)
    inverse = torch.linalg.pinv(resized.reshape(basis.shape[0], -1))  # (new, old)
    flat = weight.double().reshape(*weight.shape[:2], -1) @ inverse.T
    return flat.reshape(*weight.shape[:2], *size).to(weight.dtype)


@MODELS.register()
class EoMTDINOv2(DINOv2):
    """``DINOv2`` whose pre-trained patch embedding is resampled to ``patch_size`` when its size differs."""

    def adapt_pretrained(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        state = super().adapt_pretrained(state)
        kernel = state.get("patch_embed.proj.weight")
        size = (self.patch_size, self.patch_size)
        if kernel is not None and tuple(kernel.shape[-2:]) != size:
            logger.info(f"resampled the {tuple(kernel.shape[-2:])} patch embedding to {size}")
            state["patch_embed.proj.weight"] = resample_patch_kernel(kernel, size)
        return state
