"""Packing a sample into the ``inputs``/``data_samples`` form the models take, and targets derived from labels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
import torch

from seglab.data.transforms.base import BaseTransform, need
from seglab.errors import ConfigError, DatasetError
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
class PackSegInputs(BaseTransform):
    """Turn a sample into ``{'inputs': CxHxW uint8 tensor, 'data_samples': dict}``.

    The data sample holds ``gt_sem_seg`` (1xHxW int64) when labels were loaded (a label map that is not
    2-D is packed as it is), ``gt_edge_map`` (1xHxW int64) and ``gt_depth_map`` (1xHxW, its dtype) when
    present, plus the meta keys (``ori_shape``, ``img_shape``, ``flip`` ...) that prediction needs to
    undo resizing."""

    def __init__(self, meta_keys: Sequence[str] = META_KEYS) -> None:
        if (
            isinstance(meta_keys, str)
            or not isinstance(meta_keys, Sequence)
            or not all(isinstance(k, str) for k in meta_keys)
        ):
            raise ConfigError(f"PackSegInputs: 'meta_keys' must be a tuple of key names, got {meta_keys!r}")
        self.meta_keys = tuple(meta_keys)

    def __call__(self, results: dict) -> dict:
        img = need(results, "img", "PackSegInputs", "load it first (LoadImageFromFile)")
        if img.ndim < 3:
            img = img[..., None]
        inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        sample: dict[str, Any] = {k: results[k] for k in self.meta_keys if k in results}
        if "gt_seg_map" in results:
            gt = np.ascontiguousarray(results["gt_seg_map"])
            sample["gt_sem_seg"] = torch.from_numpy((gt[None] if gt.ndim == 2 else gt).astype(np.int64))
        if "gt_edge_map" in results:
            sample["gt_edge_map"] = torch.from_numpy(
                np.ascontiguousarray(results["gt_edge_map"])[None].astype(np.int64)
            )
        if "gt_depth_map" in results:
            sample["gt_depth_map"] = torch.from_numpy(np.ascontiguousarray(results["gt_depth_map"])[None])
        return {"inputs": inputs, "data_samples": sample}


@TRANSFORMS.register()
class GenerateEdge(BaseTransform):
    """``gt_edge_map``: 1 where a pixel's label differs from a neighbour's (down, right and both
    diagonals; ignored pixels never count), widened by an ``edge_width`` square (CE2P, PIDNet)."""

    def __init__(self, edge_width: int = 3, ignore_index: int = 255) -> None:
        if not (isinstance(edge_width, int) and edge_width > 0):
            raise ConfigError(f"GenerateEdge: 'edge_width' must be a positive int, got {edge_width!r}")
        self.edge_width = edge_width
        self.ignore_index = ignore_index

    def __call__(self, results: dict) -> dict:
        seg = need(results, "gt_seg_map", "GenerateEdge", "load labels first (LoadAnnotations)")
        h, w = need(results, "img_shape", "GenerateEdge")[:2]
        if seg.shape[:2] != (h, w):
            raise DatasetError(f"GenerateEdge: gt_seg_map is {seg.shape[:2]} but img_shape is {(h, w)}")
        valid = seg != self.ignore_index
        edge = np.zeros((h, w), dtype=np.uint8)
        # a pixel pair (a, b) that differs and is not ignored marks the first pixel's position named here
        pairs = [
            ((slice(1, h), slice(None)), (slice(0, h - 1), slice(None)), (slice(1, h), slice(None))),
            ((slice(None), slice(0, w - 1)), (slice(None), slice(1, w)), (slice(None), slice(0, w - 1))),
            ((slice(0, h - 1), slice(0, w - 1)), (slice(1, h), slice(1, w)), (slice(0, h - 1), slice(0, w - 1))),
            ((slice(0, h - 1), slice(1, w)), (slice(1, h), slice(0, w - 1)), (slice(0, h - 1), slice(1, w))),
        ]
        for a, b, mark in pairs:
            edge[mark][(seg[a] != seg[b]) & valid[a] & valid[b]] = 1
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (self.edge_width, self.edge_width))
        results["gt_edge_map"] = cv2.dilate(edge, kernel)
        results["edge_width"] = self.edge_width
        return results
