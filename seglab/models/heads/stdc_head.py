"""STDCHead: an FCN head trained on boundaries ("detail guidance") instead of the class labels.

Its targets come from the labels: a Laplacian at strides 1, 2 and 4 marks class changes, each map is upsampled
back (nearest) and thresholded, and a fixed 1x1 conv (weights 0.6, 0.3, 0.1, MMSegmentation's
``fusion_kernel``) fuses them into one binary boundary map; the head's ``loss_decode`` (the configs use a
sigmoid cross-entropy plus Dice on two channels) is then computed against it. Padding (255) counts as a
class change, as in MMSegmentation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from seglab.models.heads.decode_head import stack_labels
from seglab.models.heads.fcn import FCNHead
from seglab.registry import MODELS


@MODELS.register()
class STDCHead(FCNHead):
    """FCNHead whose loss compares its logits with boundary targets (``boundary_threshold`` binarises them).

    An auxiliary head: its ``num_classes`` (2 in the configs) counts boundary/non-boundary, not the classes."""

    predicts_classes = False

    def __init__(self, boundary_threshold: float = 0.1, **kwargs) -> None:
        super().__init__(**kwargs)
        self.boundary_threshold = boundary_threshold
        laplacian = torch.tensor([-1, -1, -1, -1, 8, -1, -1, -1, -1], dtype=torch.float32).reshape(1, 1, 3, 3)
        self.register_buffer("laplacian_kernel", laplacian)
        # a parameter (in checkpoints under this name) that never trains
        fusion = torch.tensor([6.0 / 10, 3.0 / 10, 1.0 / 10], dtype=torch.float32).reshape(1, 3, 1, 1)
        self.fusion_kernel = torch.nn.Parameter(fusion, requires_grad=False)

    def boundary_targets(self, labels: torch.Tensor) -> torch.Tensor:
        """(N,H,W) class labels -> (N,H,W) long 0/1 boundary labels."""
        labels = labels.unsqueeze(1).to(self.laplacian_kernel)
        size = labels.shape[2:]
        maps = []
        for stride in (1, 2, 4):
            edges = F.conv2d(labels, self.laplacian_kernel, stride=stride, padding=1).clamp(min=0)
            if stride > 1:
                edges = F.interpolate(edges, size=size, mode="nearest")
            maps.append((edges > self.boundary_threshold).to(labels))
        fused = F.conv2d(torch.cat(maps, dim=1), self.fusion_kernel)
        return (fused > self.boundary_threshold).long()[:, 0]

    def loss_by_feat(self, seg_logits: torch.Tensor, batch_data_samples: list[dict]) -> dict[str, torch.Tensor]:
        targets = self.boundary_targets(stack_labels(batch_data_samples))
        return super().loss_by_feat(seg_logits, [{"gt_sem_seg": t[None]} for t in targets])
