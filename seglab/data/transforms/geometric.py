"""Transforms that move pixels: image and label maps change together, labels never interpolate."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from seglab.data.transforms.base import (
    INTERPOLATION,
    BaseTransform,
    border_value,
    check_number,
    check_pair,
    check_size,
    seg_keys,
)
from seglab.data.transforms.resizing import Resize
from seglab.errors import ConfigError
from seglab.registry import TRANSFORMS


@TRANSFORMS.register()
class RandomResize(BaseTransform):
    """Resize to ``scale`` times a ratio drawn from ``ratio_range`` (or to a random scale in a range)."""

    changes_size = True

    def __init__(
        self,
        scale: Sequence,
        ratio_range: Sequence[float] | None = None,
        resize_type: str = "Resize",
        **resize_kwargs: Any,
    ) -> None:
        if ratio_range is not None:
            ratio_range = check_pair(ratio_range, "ratio_range", "RandomResize")
            scale = check_size(scale, "scale", "RandomResize")
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
class RandomCrop(BaseTransform):
    """Crop ``crop_size`` (h, w) at a random place; retry (10 times) while one class covers
    ``cat_max_ratio`` or more of the crop's non-ignored pixels."""

    changes_size = True

    def __init__(self, crop_size: Sequence[int] | int, cat_max_ratio: float = 1.0, ignore_index: int = 255) -> None:
        self.crop_size = check_size(crop_size, "crop_size", "RandomCrop")
        check_number(cat_max_ratio, "cat_max_ratio", "RandomCrop", 0, 1)
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
        for key in seg_keys(results):
            results[key] = self.crop(results[key], box)
        results["img_shape"] = results["img"].shape[:2]
        return results


@TRANSFORMS.register()
class RandomFlip(BaseTransform):
    """Flip image and labels with probability ``prob`` (``direction``: horizontal, vertical, diagonal)."""

    def __init__(
        self, prob: float | Sequence[float] | None = None, direction: str | Sequence[str] = "horizontal"
    ) -> None:
        directions = [direction] if isinstance(direction, str) else list(direction)
        for p in [prob] if prob is None or isinstance(prob, int | float | str) else prob:
            if p is not None:
                check_number(p, "prob", "RandomFlip", 0, 1)
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
            for key in seg_keys(results):
                results[key] = self.flip(results[key], direction)
        return results


# mmcv's padding modes and the OpenCV borders that implement them
PADDING_MODES = {
    "constant": cv2.BORDER_CONSTANT,
    "edge": cv2.BORDER_REPLICATE,
    "reflect": cv2.BORDER_REFLECT_101,
    "symmetric": cv2.BORDER_REFLECT,
}


@TRANSFORMS.register()
class Pad(BaseTransform):
    """Pad bottom/right to ``size`` (w, h) or to a multiple of ``size_divisor``."""

    changes_size = True

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
        if padding_mode not in PADDING_MODES:
            raise ConfigError(f"Pad padding_mode must be one of {list(PADDING_MODES)}, got '{padding_mode}'")
        self.border = PADDING_MODES[padding_mode]
        size = None if size is None else check_size(size, "size", "Pad")
        if size_divisor is not None and not (isinstance(size_divisor, int) and size_divisor > 0):
            raise ConfigError(f"Pad: 'size_divisor' must be a positive int, got {size_divisor!r}")
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

    def pad(self, img: np.ndarray, h: int, w: int, value: float) -> np.ndarray:
        padded = cv2.copyMakeBorder(
            np.ascontiguousarray(img), 0, h - img.shape[0], 0, w - img.shape[1], self.border, value=border_value(value)
        )
        return padded.reshape(h, w, *img.shape[2:])  # OpenCV drops a trailing channel axis of 1

    def __call__(self, results: dict) -> dict:
        h, w = self.target_hw(*results["img"].shape[:2])
        img_val = self.pad_val.get("img", 0)
        results["img"] = self.pad(results["img"], h, w, img_val)
        for key in seg_keys(results):
            results[key] = self.pad(results[key], h, w, self.pad_val.get("seg", 255))
        results["pad_shape"] = results["img"].shape
        results["pad_fixed_size"] = self.size
        results["pad_size_divisor"] = self.size_divisor
        results["img_shape"] = results["img"].shape[:2]
        return results


@TRANSFORMS.register()
class RandomRotate(BaseTransform):
    """Rotate by an angle from ``degree`` with probability ``prob``; borders get the pad values."""

    changes_size = True  # with auto_bound=True the canvas grows to hold the rotated image

    def __init__(
        self,
        prob: float,
        degree: float | Sequence[float],
        pad_val: float = 0,
        seg_pad_val: int = 255,
        center: Sequence[float] | None = None,
        auto_bound: bool = False,
    ) -> None:
        check_number(prob, "prob", "RandomRotate", 0, 1)
        if isinstance(degree, int | float):
            check_number(degree, "degree", "RandomRotate", 0)
        self.prob = prob
        self.degree = (
            (-degree, degree) if isinstance(degree, int | float) else check_pair(degree, "degree", "RandomRotate")
        )
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
            np.ascontiguousarray(img),
            matrix,
            (w, h),
            flags=INTERPOLATION[interpolation],
            borderValue=border_value(border),
        )

    def __call__(self, results: dict) -> dict:
        if np.random.rand() < self.prob:
            angle = np.random.uniform(*self.degree)
            results["img"] = self.rotate(results["img"], angle, "bilinear", self.pad_val)
            for key in seg_keys(results):
                results[key] = self.rotate(results[key], angle, "nearest", self.seg_pad_val)
            results["img_shape"] = results["img"].shape[:2]
        return results


@TRANSFORMS.register()
class RandomRotFlip(BaseTransform):
    """With ``rotate_prob`` rotate by an angle from ``degree``; otherwise, with ``flip_prob``, turn by a
    random multiple of 90° and flip along a random axis (the Synapse recipe).

    Draws from NumPy's global generator in MMSegmentation's order, so a seed gives its image. Labels
    are rotated with nearest interpolation (MMSegmentation interpolates them bilinearly, which invents
    class values at boundaries); the rotated-in corners are 0 in image and labels, as there."""

    changes_size = True  # a 90° turn swaps height and width of a non-square image

    def __init__(
        self, rotate_prob: float = 0.5, flip_prob: float = 0.5, degree: float | Sequence[float] = (-20, 20)
    ) -> None:
        for name, value in (("rotate_prob", rotate_prob), ("flip_prob", flip_prob)):
            if not (isinstance(value, int | float) and 0 <= value <= 1):
                raise ConfigError(f"RandomRotFlip: '{name}' must be a probability in [0, 1], got {value!r}")
        if isinstance(degree, int | float):
            if degree <= 0:
                raise ConfigError(f"RandomRotFlip: a single 'degree' must be positive, got {degree}")
            degree = (-degree, degree)
        if not (isinstance(degree, Sequence) and len(degree) == 2):
            raise ConfigError(f"RandomRotFlip: 'degree' must be a number or (min, max), got {degree!r}")
        self.rotate_prob = rotate_prob
        self.flip_prob = flip_prob
        self.degree = tuple(degree)

    @staticmethod
    def rotate(img: np.ndarray, angle: float, interpolation: str) -> np.ndarray:
        h, w = img.shape[:2]
        matrix = cv2.getRotationMatrix2D(((w - 1) * 0.5, (h - 1) * 0.5), -angle, 1.0)
        out = cv2.warpAffine(np.ascontiguousarray(img), matrix, (w, h), flags=INTERPOLATION[interpolation])
        return out.reshape(img.shape)

    def __call__(self, results: dict) -> dict:
        keys = seg_keys(results)
        rotated = False
        if np.random.random() < self.rotate_prob:
            angle = np.random.uniform(min(self.degree), max(self.degree))
            results["img"] = self.rotate(results["img"], angle, "bilinear")
            for key in keys:
                results[key] = self.rotate(results[key], angle, "nearest")
            rotated = True
        if np.random.random() < self.flip_prob and not rotated:
            k = np.random.randint(0, 4)
            results["img"] = np.rot90(results["img"], k)
            for key in keys:
                results[key] = np.rot90(results[key], k)
            axis = np.random.randint(0, 2)
            results["img"] = np.flip(results["img"], axis=axis).copy()
            for key in keys:
                results[key] = np.flip(results[key], axis=axis).copy()
        results["img_shape"] = results["img"].shape[:2]
        return results
