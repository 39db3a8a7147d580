"""Reading images and label maps from disk into the sample dict."""

from __future__ import annotations

import numpy as np

from seglab.data.io import read_image, read_label
from seglab.registry import TRANSFORMS


@TRANSFORMS.register()
class LoadImageFromFile:
    """Read ``img_path`` as BGR uint8 (or float32) and record ``img_shape``/``ori_shape``."""

    IGNORED_ARGS = {"imdecode_backend": "cv2", "backend_args": None, "ignore_empty": False}

    def __init__(
        self,
        to_float32: bool = False,
        color_type: str = "color",
        imdecode_backend: str = "cv2",
        backend_args: dict | None = None,
        ignore_empty: bool = False,
    ) -> None:
        self.to_float32 = to_float32
        self.color_type = color_type

    def __call__(self, results: dict) -> dict:
        img = read_image(results["img_path"], self.color_type)
        if self.to_float32:
            img = img.astype(np.float32)
        results["img"] = img
        results["img_shape"] = img.shape[:2]
        results["ori_shape"] = img.shape[:2]
        return results


@TRANSFORMS.register()
class LoadAnnotations:
    """Read ``seg_map_path`` as class indices; apply ``reduce_zero_label`` and ``label_map``."""

    IGNORED_ARGS = {"backend_args": None, "imdecode_backend": "pillow"}

    def __init__(
        self,
        reduce_zero_label: bool | None = None,
        backend_args: dict | None = None,
        imdecode_backend: str = "pillow",
    ) -> None:
        self.reduce_zero_label = reduce_zero_label

    def __call__(self, results: dict) -> dict:
        gt = read_label(results["seg_map_path"])
        reduce_zero_label = self.reduce_zero_label
        if reduce_zero_label is None:
            reduce_zero_label = results.get("reduce_zero_label", False)
        if reduce_zero_label:
            gt = reduce_zero(gt)
        label_map = results.get("label_map")
        if label_map:
            source = gt.copy()
            for old, new in label_map.items():
                gt[source == old] = new
        results["gt_seg_map"] = gt
        results["reduce_zero_label"] = reduce_zero_label
        seg_fields = results.setdefault("seg_fields", [])
        if "gt_seg_map" not in seg_fields:  # a second load must not make transforms apply twice
            seg_fields.append("gt_seg_map")
        return results


def reduce_zero(gt: np.ndarray) -> np.ndarray:
    """Label 0 becomes ignore (255) and every other label moves down by one."""
    gt = gt.copy()
    gt[gt == 0] = 255
    gt = gt - 1
    gt[gt == 254] = 255
    return gt
