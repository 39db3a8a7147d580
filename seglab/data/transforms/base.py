"""What the transforms share: ``Compose``, resizing helpers and the list of label fields."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from seglab.registry import TRANSFORMS

INTERPOLATION = {
    "nearest": cv2.INTER_NEAREST,
    "bilinear": cv2.INTER_LINEAR,
    "bicubic": cv2.INTER_CUBIC,
    "area": cv2.INTER_AREA,
    "lanczos": cv2.INTER_LANCZOS4,
}


class Compose:
    """Apply transforms in order; each is a callable or a config dict."""

    def __init__(self, transforms: Sequence[Any] | None) -> None:
        self.transforms = [TRANSFORMS.build(t) if isinstance(t, dict) else t for t in transforms or []]

    def __call__(self, results: dict) -> dict:
        for transform in self.transforms:
            results = transform(results)
        return results


def seg_keys(results: dict) -> list[str]:
    return [k for k in results.get("seg_fields", []) if k in results]


def rescale_size(w: int, h: int, scale: Sequence[float]) -> tuple[int, int]:
    """Largest (w, h) that fits ``scale``'s long and short edge while keeping the aspect ratio."""
    long_edge, short_edge = max(scale), min(scale)
    factor = min(long_edge / max(h, w), short_edge / min(h, w))
    return int(w * factor + 0.5), int(h * factor + 0.5)


def resize(img: np.ndarray, size: tuple[int, int], interpolation: str) -> np.ndarray:
    """cv2.resize to ``size`` = (w, h) with a named interpolation."""
    return cv2.resize(img, size, interpolation=INTERPOLATION[interpolation])


def border_value(value: float | Sequence[float]) -> tuple[float, ...]:
    """OpenCV border value: one number means every channel."""
    return tuple(float(v) for v in value) if isinstance(value, Sequence) else (float(value),) * 4
