"""Data transforms with MMSegmentation's semantics.

Each transform takes and returns the sample dict (``img`` as HxWx3 BGR uint8, ``gt_seg_map`` as
HxW uint8, ``img_shape``/``ori_shape`` as (h, w), ...). Randomness comes from NumPy's global
generator, so ``np.random.seed`` (set per data-loader worker) makes a pipeline repeatable.
Scales are written (w, h) and crop sizes (h, w), as in MMSegmentation configs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
import torch

from seglab.data.io import read_image, read_label
from seglab.errors import ConfigError
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


def _seg_keys(results: dict) -> list[str]:
    return [k for k in results.get("seg_fields", []) if k in results]


def rescale_size(w: int, h: int, scale: Sequence[float]) -> tuple[int, int]:
    """Largest (w, h) that fits ``scale``'s long and short edge while keeping the aspect ratio."""
    long_edge, short_edge = max(scale), min(scale)
    factor = min(long_edge / max(h, w), short_edge / min(h, w))
    return int(w * factor + 0.5), int(h * factor + 0.5)


def resize(img: np.ndarray, size: tuple[int, int], interpolation: str) -> np.ndarray:
    """cv2.resize to ``size`` = (w, h) with a named interpolation."""
    return cv2.resize(img, size, interpolation=INTERPOLATION[interpolation])


def _scalar(value: float | Sequence[float]) -> tuple[float, ...]:
    """OpenCV border value: one number means every channel."""
    return tuple(float(v) for v in value) if isinstance(value, Sequence) else (float(value),) * 4


@TRANSFORMS.register()
class LoadImageFromFile:
    """Read ``img_path`` as BGR uint8 (or float32) and record ``img_shape``/``ori_shape``."""

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


@TRANSFORMS.register()
class Resize:
    """Resize to ``scale`` (w, h) or by ``scale_factor``; ``keep_ratio`` fits within the scale."""

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
        self.scale = (scale, scale) if isinstance(scale, int) else (tuple(scale) if scale else None)
        self.scale_factor = scale_factor
        self.keep_ratio = keep_ratio
        self.interpolation = interpolation

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
        img = results["img"]
        h, w = img.shape[:2]
        size = rescale_size(w, h, scale) if self.keep_ratio else (int(scale[0]), int(scale[1]))
        results["img"] = resize(img, size, self.interpolation)
        for key in _seg_keys(results):
            results[key] = resize(results[key], size, "nearest")
        results["img_shape"] = results["img"].shape[:2]
        results["scale"] = size
        results["scale_factor"] = (size[0] / w, size[1] / h)
        results["keep_ratio"] = self.keep_ratio
        return results


@TRANSFORMS.register()
class RandomResize:
    """Resize to ``scale`` times a ratio drawn from ``ratio_range`` (or to a random scale in a range)."""

    def __init__(
        self,
        scale: Sequence,
        ratio_range: Sequence[float] | None = None,
        resize_type: str = "Resize",
        **resize_kwargs: Any,
    ) -> None:
        self.scale = scale
        self.ratio_range = ratio_range
        if resize_type != "Resize":
            raise ConfigError(f"RandomResize: resize_type '{resize_type}' is not supported; use 'Resize'")
        self.resize = Resize(scale=(1, 1), **resize_kwargs)

    def random_scale(self) -> tuple[int, int]:
        if self.ratio_range is not None:
            low, high = self.ratio_range
            ratio = np.random.random_sample() * (high - low) + low
            return int(self.scale[0] * ratio), int(self.scale[1] * ratio)
        scales = [tuple(s) for s in self.scale]
        if len(scales) != 2 or not all(len(s) == 2 for s in scales):
            raise ConfigError("RandomResize without ratio_range needs scale=[(w1, h1), (w2, h2)]")
        long_edges = [max(s) for s in scales]
        short_edges = [min(s) for s in scales]
        long_edge = np.random.randint(min(long_edges), max(long_edges) + 1)
        short_edge = np.random.randint(min(short_edges), max(short_edges) + 1)
        return long_edge, short_edge

    def __call__(self, results: dict) -> dict:
        return self.resize.apply(results, self.random_scale())


@TRANSFORMS.register()
class RandomCrop:
    """Crop ``crop_size`` (h, w) at a random place; retry (10 times) while one class covers
    ``cat_max_ratio`` or more of the crop's non-ignored pixels."""

    def __init__(self, crop_size: Sequence[int] | int, cat_max_ratio: float = 1.0, ignore_index: int = 255) -> None:
        self.crop_size = (crop_size, crop_size) if isinstance(crop_size, int) else tuple(crop_size)
        if not all(s > 0 for s in self.crop_size):
            raise ConfigError(f"RandomCrop: crop_size must be positive, got {crop_size}")
        self.cat_max_ratio = cat_max_ratio
        self.ignore_index = ignore_index

    def random_box(self, img: np.ndarray) -> tuple[int, int, int, int]:
        margin_h = max(img.shape[0] - self.crop_size[0], 0)
        margin_w = max(img.shape[1] - self.crop_size[1], 0)
        top = np.random.randint(0, margin_h + 1)
        left = np.random.randint(0, margin_w + 1)
        return top, top + self.crop_size[0], left, left + self.crop_size[1]

    @staticmethod
    def crop(img: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        y1, y2, x1, x2 = box
        return img[y1:y2, x1:x2, ...]

    def __call__(self, results: dict) -> dict:
        img = results["img"]
        box = self.random_box(img)
        if self.cat_max_ratio < 1.0 and "gt_seg_map" in results:
            for _ in range(10):
                labels, counts = np.unique(self.crop(results["gt_seg_map"], box), return_counts=True)
                counts = counts[labels != self.ignore_index]
                if len(counts) > 1 and counts.max() / counts.sum() < self.cat_max_ratio:
                    break
                box = self.random_box(img)
        results["img"] = self.crop(img, box)
        for key in _seg_keys(results):
            results[key] = self.crop(results[key], box)
        results["img_shape"] = results["img"].shape[:2]
        return results


@TRANSFORMS.register()
class RandomFlip:
    """Flip image and labels with probability ``prob`` (``direction``: horizontal, vertical, diagonal)."""

    def __init__(
        self, prob: float | Sequence[float] | None = None, direction: str | Sequence[str] = "horizontal"
    ) -> None:
        directions = [direction] if isinstance(direction, str) else list(direction)
        probs = [prob] * len(directions) if isinstance(prob, int | float) else list(prob or [])
        if isinstance(prob, int | float) and len(directions) > 1:
            probs = [prob / len(directions)] * len(directions)
        if len(probs) != len(directions) or sum(probs) > 1 + 1e-9:
            raise ConfigError(f"RandomFlip: prob {prob} does not fit direction {direction}")
        for d in directions:
            if d not in ("horizontal", "vertical", "diagonal"):
                raise ConfigError(f"RandomFlip: unknown direction '{d}' (horizontal, vertical or diagonal)")
        self.choices = [*directions, None]
        self.probs = [*probs, 1.0 - sum(probs)]

    @staticmethod
    def flip(img: np.ndarray, direction: str) -> np.ndarray:
        if direction == "horizontal":
            return np.flip(img, axis=1)
        if direction == "vertical":
            return np.flip(img, axis=0)
        return np.flip(img, axis=(0, 1))

    def __call__(self, results: dict) -> dict:
        direction = self.choices[np.random.choice(len(self.choices), p=self.probs)]
        results["flip"] = direction is not None
        results["flip_direction"] = direction
        if direction is not None:
            results["img"] = self.flip(results["img"], direction)
            for key in _seg_keys(results):
                results[key] = self.flip(results[key], direction)
        return results


@TRANSFORMS.register()
class PhotoMetricDistortion:
    """Random brightness, contrast (before or after the colour changes), saturation and hue."""

    def __init__(
        self,
        brightness_delta: int = 32,
        contrast_range: Sequence[float] = (0.5, 1.5),
        saturation_range: Sequence[float] = (0.5, 1.5),
        hue_delta: int = 18,
    ) -> None:
        self.brightness_delta = brightness_delta
        self.contrast_range = contrast_range
        self.saturation_range = saturation_range
        self.hue_delta = hue_delta

    @staticmethod
    def convert(img: np.ndarray, alpha: float = 1.0, beta: float = 0.0) -> np.ndarray:
        return np.clip(img.astype(np.float32) * alpha + beta, 0, 255).astype(np.uint8)

    def brightness(self, img: np.ndarray) -> np.ndarray:
        if np.random.randint(2):
            return self.convert(img, beta=np.random.uniform(-self.brightness_delta, self.brightness_delta))
        return img

    def contrast(self, img: np.ndarray) -> np.ndarray:
        if np.random.randint(2):
            return self.convert(img, alpha=np.random.uniform(*self.contrast_range))
        return img

    def saturation(self, img: np.ndarray) -> np.ndarray:
        if np.random.randint(2):
            hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
            hsv[:, :, 1] = self.convert(hsv[:, :, 1], alpha=np.random.uniform(*self.saturation_range))
            return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
        return img

    def hue(self, img: np.ndarray) -> np.ndarray:
        if np.random.randint(2):
            hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
            shift = np.random.randint(-self.hue_delta, self.hue_delta)
            hsv[:, :, 0] = (hsv[:, :, 0].astype(int) + shift) % 180
            return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
        return img

    def __call__(self, results: dict) -> dict:
        img = np.ascontiguousarray(results["img"])
        img = self.brightness(img)
        contrast_first = np.random.randint(2)
        if contrast_first == 1:
            img = self.contrast(img)
        img = self.hue(self.saturation(img))
        if contrast_first == 0:
            img = self.contrast(img)
        results["img"] = img
        return results


@TRANSFORMS.register()
class Pad:
    """Pad bottom/right to ``size`` (w, h) or to a multiple of ``size_divisor``."""

    def __init__(
        self,
        size: Sequence[int] | None = None,
        size_divisor: int | None = None,
        pad_to_square: bool = False,
        pad_val: float | dict = 0,
        padding_mode: str = "constant",
    ) -> None:
        if size is None and size_divisor is None and not pad_to_square:
            raise ConfigError("Pad needs 'size' (w, h), 'size_divisor' or pad_to_square=True")
        self.size = size
        self.size_divisor = size_divisor
        self.pad_to_square = pad_to_square
        self.pad_val = pad_val if isinstance(pad_val, dict) else dict(img=pad_val, seg=255)

    def target_hw(self, h: int, w: int) -> tuple[int, int]:
        if self.pad_to_square:
            h = w = max(h, w)
        if self.size is not None:
            h, w = max(h, self.size[1]), max(w, self.size[0])
        if self.size_divisor:
            d = self.size_divisor
            h, w = -(-h // d) * d, -(-w // d) * d
        return h, w

    @staticmethod
    def pad(img: np.ndarray, h: int, w: int, value: float) -> np.ndarray:
        return cv2.copyMakeBorder(
            np.ascontiguousarray(img),
            0,
            h - img.shape[0],
            0,
            w - img.shape[1],
            cv2.BORDER_CONSTANT,
            value=_scalar(value),
        )

    def __call__(self, results: dict) -> dict:
        h, w = self.target_hw(*results["img"].shape[:2])
        img_val = self.pad_val.get("img", 0)
        results["img"] = self.pad(results["img"], h, w, img_val)
        for key in _seg_keys(results):
            results[key] = self.pad(results[key], h, w, self.pad_val.get("seg", 255))
        results["pad_shape"] = results["img"].shape
        results["pad_fixed_size"] = self.size
        results["pad_size_divisor"] = self.size_divisor
        results["img_shape"] = results["img"].shape[:2]
        return results


@TRANSFORMS.register()
class RandomRotate:
    """Rotate by an angle from ``degree`` with probability ``prob``; borders get the pad values."""

    def __init__(
        self,
        prob: float,
        degree: float | Sequence[float],
        pad_val: float = 0,
        seg_pad_val: int = 255,
        center: Sequence[float] | None = None,
        auto_bound: bool = False,
    ) -> None:
        self.prob = prob
        self.degree = (-degree, degree) if isinstance(degree, int | float) else tuple(degree)
        self.pad_val = pad_val
        self.seg_pad_val = seg_pad_val
        self.center = center
        self.auto_bound = auto_bound

    def rotate(self, img: np.ndarray, angle: float, interpolation: str, border: float) -> np.ndarray:
        h, w = img.shape[:2]
        center = self.center or ((w - 1) * 0.5, (h - 1) * 0.5)
        matrix = cv2.getRotationMatrix2D(center, -angle, 1.0)
        if self.auto_bound:
            cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
            new_w, new_h = w * cos + h * sin, h * cos + w * sin
            matrix[0, 2] += (new_w - w) * 0.5
            matrix[1, 2] += (new_h - h) * 0.5
            w, h = int(np.round(new_w)), int(np.round(new_h))
        return cv2.warpAffine(
            np.ascontiguousarray(img), matrix, (w, h), flags=INTERPOLATION[interpolation], borderValue=_scalar(border)
        )

    def __call__(self, results: dict) -> dict:
        if np.random.rand() < self.prob:
            angle = np.random.uniform(*self.degree)
            results["img"] = self.rotate(results["img"], angle, "bilinear", self.pad_val)
            for key in _seg_keys(results):
                results[key] = self.rotate(results[key], angle, "nearest", self.seg_pad_val)
            results["img_shape"] = results["img"].shape[:2]
        return results


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
