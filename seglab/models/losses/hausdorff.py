"""Hausdorff-distance loss (Karimi & Salcudean, 2019) under MMSegmentation 1.2.2's spelling.

As MMSegmentation defines it: the squared error between each foreground class's probability and the label
map, weighted by the squared distance transforms of the label map's and of the prediction's non-zero region
(distance of each non-zero pixel to the nearest zero pixel), averaged over pixels, summed over classes 1..C-1
and divided by C. It is made for binary (background/foreground) maps; ignored pixels count as background.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch

from seglab.models.losses.base import SegLoss, class_weight_list, reduce_loss
from seglab.registry import MODELS


def distance_to_background(label_map: torch.Tensor) -> torch.Tensor:
    """(N,H,W) Euclidean distance of each non-zero pixel to the nearest zero pixel (0 on zero pixels).

    Labels are taken modulo 256 as MMSegmentation's ``byte()`` does. An image without zero pixels is
    measured from a virtual zero pixel at row -1, column 0, as SciPy's ``distance_transform_edt`` does."""
    out = torch.zeros(label_map.shape, dtype=torch.float32)
    masks = (label_map.cpu().long() % 256).numpy().astype(np.uint8)
    for b, mask in enumerate(masks):
        if not mask.any():
            continue
        if mask.all():
            rows, cols = np.indices(mask.shape)
            out[b] = torch.from_numpy(np.hypot(rows + 1, cols).astype(np.float32))
        else:
            out[b] = torch.from_numpy(cv2.distanceTransform(mask, cv2.DIST_L2, cv2.DIST_MASK_PRECISE))
    return out


@MODELS.register()
class HuasdorffDisstanceLoss(SegLoss):
    def __init__(
        self,
        reduction: str = "mean",
        class_weight: Sequence[float] | None = None,
        loss_weight: float = 1.0,
        ignore_index: int | None = None,
        loss_name: str = "loss_huasdorff_disstance",
    ) -> None:
        super().__init__(loss_weight, loss_name, reduction, ignore_index=ignore_index)
        self.class_weight = class_weight_list(class_weight)

    def compute(self, seg_logits, seg_label, weight, ignore_index, reduction, avg_factor) -> torch.Tensor:
        probs = seg_logits.softmax(dim=1)
        target = seg_label * (seg_label != ignore_index)
        with torch.no_grad():
            # the same map serves every foreground class, as in MMSegmentation
            dtm = distance_to_background(target).pow(2) + distance_to_background(probs.argmax(1)).pow(2)
            dtm = dtm.to(probs.device)
        total = seg_logits.new_zeros(())
        channels = probs.shape[1]
        for c in range(1, channels):
            if c == ignore_index:
                continue
            loss = ((probs[:, c] - target.float()) ** 2 * dtm).mean()
            total = total + (loss * self.class_weight[c] if self.class_weight else loss)
        return reduce_loss(total / channels, reduction, avg_factor)
