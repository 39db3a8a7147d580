"""Packing a sample into the ``inputs``/``data_samples`` form the models take."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from seglab.registry import TRANSFORMS

META_KEYS = (
    "img_path",
    "seg_map_path",
    "ori_shape",
    "img_shape",
    "pad_shape",
    "scale_factor",
    "flip",
    "flip_direction",
    "reduce_zero_label",
)


@TRANSFORMS.register()
class PackSegInputs:
    """Turn a sample into ``{'inputs': CxHxW uint8 tensor, 'data_samples': dict}``.

    The data sample holds ``gt_sem_seg`` (1xHxW int64) when labels were loaded, plus the meta
    keys (``ori_shape``, ``img_shape``, ``flip`` ...) that prediction needs to undo resizing."""

    def __init__(self, meta_keys: Sequence[str] = META_KEYS) -> None:
        self.meta_keys = tuple(meta_keys)

    def __call__(self, results: dict) -> dict:
        img = results["img"]
        if img.ndim < 3:
            img = img[..., None]
        inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        sample: dict[str, Any] = {k: results[k] for k in self.meta_keys if k in results}
        if "gt_seg_map" in results:
            gt = np.ascontiguousarray(results["gt_seg_map"])
            sample["gt_sem_seg"] = torch.from_numpy(gt[None].astype(np.int64))
        return {"inputs": inputs, "data_samples": sample}
