"""Resizers: to a scale or by a factor (``Resize``), to a multiple, by the shortest edge, from a list of
scales, labels only. ``RandomResize`` (a random scale for ``Resize``) lives with the random geometric transforms."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from seglab.data.transforms.base import (
    INTERPOLATION,
    BaseTransform,
    check_choice,
    check_pair,
    check_size,
    need_image,
    rescale_size,
    resize,
    scale_size,
    seg_keys,
)
from seglab.errors import ConfigError, DatasetError
from seglab.registry import TRANSFORMS


@TRANSFORMS.register()
class Resize(BaseTransform):
    """Resize to ``scale`` (w, h) or by ``scale_factor``; ``keep_ratio`` fits within the scale."""

    changes_size = True

    IGNORED_ARGS = {"clip_object_border": True, "backend": "cv2"}

    def __init__(
        self,
        scale: Sequence[int] | int | None = None,
        scale_factor: float | Sequence[float] | None = None,
        keep_ratio: bool = False,
        clip_object_border: bool = True,
        backend: str = "cv2",
        interpolation: str = "bilinear",
    ) -> None:
        if scale is None and scale_factor is None:
            raise ConfigError("Resize needs 'scale' (w, h) or 'scale_factor'")
        self.scale = None if scale is None else check_size(scale, "scale", "Resize", minimum=0)
        if scale_factor is not None and not isinstance(scale_factor, int | float):
            scale_factor = check_pair(scale_factor, "scale_factor", "Resize")
        self.scale_factor = scale_factor
        self.keep_ratio = keep_ratio
        self.interpolation = check_choice(interpolation, "interpolation", "Resize", list(INTERPOLATION))

    def target_scale(self, results: dict) -> tuple[int, int]:
        if self.scale is not None:
            return self.scale
        h, w = results["img"].shape[:2]
        fx, fy = (
            (self.scale_factor, self.scale_factor) if isinstance(self.scale_factor, int | float) else self.scale_factor
        )
        return int(w * fx + 0.5), int(h * fy + 0.5)

    def __call__(self, results: dict) -> dict:
        return self.apply(results, self.target_scale(results))

    def apply(self, results: dict, scale: tuple[int, int]) -> dict:
        """Resize to ``scale`` (w, h); it is stored as ``results['scale']``, the requested scale, as in MMCV."""
        img = need_image(results, type(self).__name__)
        h, w = img.shape[:2]
        size = rescale_size(w, h, scale) if self.keep_ratio else (int(scale[0]), int(scale[1]))
        results["img"] = resize(img, size, self.interpolation)
        for key in seg_keys(results):
            results[key] = resize(results[key], size, "nearest")
        results["img_shape"] = results["img"].shape[:2]
        results["scale"] = tuple(scale)
        results["scale_factor"] = (size[0] / w, size[1] / h)
        results["keep_ratio"] = self.keep_ratio
        return results


@TRANSFORMS.register()
class ResizeToMultiple(BaseTransform):
    """Resize image and labels so both sides are the next multiple of ``size_divisor`` (up, never down)."""

    changes_size = True

    def __init__(self, size_divisor: int = 32, interpolation: str | None = None) -> None:
        if not (isinstance(size_divisor, int) and size_divisor > 0):
            raise ConfigError(f"ResizeToMultiple: 'size_divisor' must be a positive int, got {size_divisor!r}")
        if interpolation is not None and interpolation not in INTERPOLATION:
            raise ConfigError(
                f"ResizeToMultiple: 'interpolation' must be one of {list(INTERPOLATION)}, got {interpolation!r}"
            )
        self.size_divisor = size_divisor
        self.interpolation = interpolation

    def target(self, h: int, w: int) -> tuple[int, int]:
        d = self.size_divisor
        return math.ceil(w / d) * d, math.ceil(h / d) * d

    def __call__(self, results: dict) -> dict:
        img = need_image(results, "ResizeToMultiple")
        size = self.target(*img.shape[:2])
        results["img"] = resize(img, size, self.interpolation or "bilinear")
        results["img_shape"] = results["img"].shape[:2]
        results["pad_shape"] = results["img"].shape[:2]
        for key in seg_keys(results):
            results[key] = resize(results[key], self.target(*results[key].shape[:2]), "nearest")
        return results


@TRANSFORMS.register()
class ResizeShortestEdge(BaseTransform):
    """Scale the short edge to ``scale`` (the smaller of a pair) unless the long edge would pass
    ``max_size``; then the long edge becomes ``max_size``. Aspect ratio is kept (detectron2's rule)."""

    changes_size = True

    def __init__(self, scale: int | Sequence[int], max_size: int) -> None:
        if not (
            isinstance(scale, int) or (isinstance(scale, Sequence) and scale and all(isinstance(s, int) for s in scale))
        ):
            raise ConfigError(f"ResizeShortestEdge: 'scale' must be an int or a tuple of ints, got {scale!r}")
        if not (isinstance(max_size, int | float) and max_size > 0):
            raise ConfigError(f"ResizeShortestEdge: 'max_size' must be a positive number, got {max_size!r}")
        self.scale = scale
        self.max_size = max_size
        self.resize = Resize(scale=0, keep_ratio=True)

    def output_size(self, h: int, w: int) -> tuple[int, int]:
        """(w, h) of the output, rounded as MMSegmentation rounds it."""
        size = float(self.scale if isinstance(self.scale, int) else min(self.scale))
        ratio = size / min(h, w)
        new_h, new_w = (size, ratio * w) if h < w else (ratio * h, size)
        if max(new_h, new_w) > self.max_size:
            shrink = self.max_size * 1.0 / max(new_h, new_w)
            new_h, new_w = new_h * shrink, new_w * shrink
        return int(new_w + 0.5), int(new_h + 0.5)

    def __call__(self, results: dict) -> dict:
        img = need_image(results, "ResizeShortestEdge")
        return self.resize.apply(results, self.output_size(*img.shape[:2]))


@TRANSFORMS.register()
class RandomChoiceResize(BaseTransform):
    """Resize to one of ``scales`` drawn uniformly (``np.random.randint``); records ``scale_idx``.

    ``resize_type`` names the resizing transform (``Resize``, ``ResizeShortestEdge`` ...), built with
    ``resize_kwargs``; the drawn scale is set as its ``scale`` before each call, as in MMCV. An int scale
    for ``Resize`` means (s, s) (MMCV would read it as a scale factor)."""

    changes_size = True

    def __init__(self, scales: Sequence | int, resize_type: str = "Resize", **resize_kwargs: Any) -> None:
        self.scales = list(scales) if isinstance(scales, list) else [scales]
        if not self.scales or not all(
            isinstance(s, int) or (isinstance(s, tuple | list) and len(s) == 2) for s in self.scales
        ):
            raise ConfigError(
                f"RandomChoiceResize: 'scales' must be a list of ints or (w, h) tuples, or one (w, h), got {scales!r}"
            )
        self.resize = TRANSFORMS.build(dict(type=resize_type, scale=0, **resize_kwargs))
        if not hasattr(self.resize, "scale"):
            raise ConfigError(f"RandomChoiceResize: resize_type '{resize_type}' has no 'scale' to set")

    def __call__(self, results: dict) -> dict:
        index = np.random.randint(len(self.scales))
        scale = self.scales[index]
        if isinstance(self.resize, Resize):
            scale = (scale, scale) if isinstance(scale, int) else tuple(scale)
        self.resize.scale = scale
        results = self.resize(results)
        results["scale_idx"] = index
        return results


@TRANSFORMS.register()
class SegRescale(BaseTransform):
    """Rescale only the label maps by ``scale_factor`` (nearest), e.g. for heads that predict at 1/8.
    The image keeps its size, so ``changes_size`` stays False."""

    def __init__(self, scale_factor: float = 1) -> None:
        if not (isinstance(scale_factor, int | float) and scale_factor > 0):
            raise ConfigError(f"SegRescale: 'scale_factor' must be a positive number, got {scale_factor!r}")
        self.scale_factor = scale_factor

    def __call__(self, results: dict) -> dict:
        if self.scale_factor != 1:
            for key in seg_keys(results):
                h, w = results[key].shape[:2]
                size = scale_size(w, h, self.scale_factor)
                if min(size) < 1:
                    raise DatasetError(
                        f"SegRescale: scale_factor={self.scale_factor} shrinks the {h}x{w} '{key}' to nothing"
                    )
                results[key] = resize(results[key], size, "nearest")
        return results
