"""Transforms that change colours only (the label maps are untouched)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from seglab.data.transforms.base import BaseTransform, check_number, check_pair, need, need_image
from seglab.errors import ConfigError, DatasetError
from seglab.registry import TRANSFORMS


@TRANSFORMS.register()
class PhotoMetricDistortion(BaseTransform):
    """Random brightness, contrast (before or after the colour changes), saturation and hue."""

    def __init__(
        self,
        brightness_delta: int = 32,
        contrast_range: Sequence[float] = (0.5, 1.5),
        saturation_range: Sequence[float] = (0.5, 1.5),
        hue_delta: int = 18,
    ) -> None:
        check_number(brightness_delta, "brightness_delta", "PhotoMetricDistortion", 0)
        check_number(hue_delta, "hue_delta", "PhotoMetricDistortion", 0)
        self.brightness_delta = brightness_delta
        self.contrast_range = check_pair(contrast_range, "contrast_range", "PhotoMetricDistortion")
        self.saturation_range = check_pair(saturation_range, "saturation_range", "PhotoMetricDistortion")
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
        img = np.ascontiguousarray(need_image(results, "PhotoMetricDistortion", ndim=(3,)))
        if img.shape[2] != 3:  # saturation and hue go through HSV, which is defined for BGR only
            raise DatasetError(
                f"PhotoMetricDistortion works on 3-band BGR images, but '{results.get('img_path')}' has "
                f"{img.shape[2]} bands: remove it from the pipeline of a multi-band dataset"
            )
        img = self.brightness(img)
        contrast_first = np.random.randint(2)
        if contrast_first == 1:
            img = self.contrast(img)
        img = self.hue(self.saturation(img))
        if contrast_first == 0:
            img = self.contrast(img)
        results["img"] = img
        return results


def as_uint8(img: np.ndarray, transform: str) -> np.ndarray:
    """The image as uint8, as MMCV's LUT/CLAHE helpers take it (values must already be 0..255)."""
    if img.size and (img.min() < 0 or img.max() > 255):
        raise DatasetError(
            f"{transform} works on 0..255 images, but 'img' holds values in [{img.min()}, {img.max()}]; "
            "put it before transforms that rescale the image (Rerange, Normalize)"
        )
    return np.array(img, dtype=np.uint8)


@TRANSFORMS.register()
class AdjustGamma(BaseTransform):
    """Gamma correction through a 256-entry lookup table (``out = 255 * (in / 255) ** (1 / gamma)``)."""

    def __init__(self, gamma: float = 1.0) -> None:
        check_number(gamma, "gamma", "AdjustGamma")
        if gamma <= 0:
            raise ConfigError(f"AdjustGamma: 'gamma' must be positive, got {gamma}")
        self.gamma = gamma
        inv_gamma = 1.0 / gamma
        # the same scalar arithmetic as MMSegmentation, so the truncated table is identical
        self.table = np.array([(i / 255.0) ** inv_gamma * 255 for i in np.arange(256)]).astype("uint8")

    def __call__(self, results: dict) -> dict:
        img = as_uint8(need_image(results, "AdjustGamma"), "AdjustGamma")
        results["img"] = cv2.LUT(img, self.table)
        return results


@TRANSFORMS.register()
class CLAHE(BaseTransform):
    """Contrast-limited adaptive histogram equalisation of each channel (OpenCV's CLAHE)."""

    def __init__(self, clip_limit: float = 40.0, tile_grid_size: Sequence[int] = (8, 8)) -> None:
        check_number(clip_limit, "clip_limit", "CLAHE")
        if not (
            isinstance(tile_grid_size, Sequence)
            and len(tile_grid_size) == 2
            and all(isinstance(v, int) and v > 0 for v in tile_grid_size)
        ):
            raise ConfigError(f"CLAHE: 'tile_grid_size' must be two positive ints (rows, cols), got {tile_grid_size!r}")
        self.clip_limit = clip_limit
        self.tile_grid_size = tuple(tile_grid_size)

    def __call__(self, results: dict) -> dict:
        img = need_image(results, "CLAHE")
        clahe = cv2.createCLAHE(float(self.clip_limit), self.tile_grid_size)
        out = img.copy()
        if img.ndim == 2:
            out[:] = clahe.apply(as_uint8(img, "CLAHE"))
        else:
            for i in range(img.shape[2]):
                out[:, :, i] = clahe.apply(as_uint8(img[:, :, i], "CLAHE"))
        results["img"] = out
        return results


@TRANSFORMS.register()
class Rerange(BaseTransform):
    """Stretch the image's own [min, max] linearly onto [min_value, max_value] (float output)."""

    def __init__(self, min_value: float = 0, max_value: float = 255) -> None:
        check_number(min_value, "min_value", "Rerange")
        check_number(max_value, "max_value", "Rerange")
        if not min_value < max_value:
            raise ConfigError(f"Rerange: min_value ({min_value}) must be below max_value ({max_value})")
        self.min_value = min_value
        self.max_value = max_value

    def __call__(self, results: dict) -> dict:
        img = need(results, "img", "Rerange")
        low, high = np.min(img), np.max(img)
        if not low < high:
            raise DatasetError(
                f"Rerange: image '{results.get('img_path')}' has a single value ({low}); it cannot be stretched"
            )
        img = (img - low) / (high - low)
        results["img"] = img * (self.max_value - self.min_value) + self.min_value
        return results


@TRANSFORMS.register()
class RGB2Gray(BaseTransform):
    """Weighted channel mean (``weights`` in the image's channel order), repeated to ``out_channels``.

    The output is float64, as in MMSegmentation. ``img_shape`` stays (h, w), seglab's convention
    (MMSegmentation stores the full shape here)."""

    def __init__(self, out_channels: int | None = None, weights: Sequence[float] = (0.299, 0.587, 0.114)) -> None:
        if out_channels is not None and not (isinstance(out_channels, int) and out_channels > 0):
            raise ConfigError(f"RGB2Gray: 'out_channels' must be a positive int or None, got {out_channels!r}")
        if not (isinstance(weights, Sequence) and weights and all(isinstance(w, int | float) for w in weights)):
            raise ConfigError(f"RGB2Gray: 'weights' must be a sequence of numbers, got {weights!r}")
        self.out_channels = out_channels
        self.weights = tuple(weights)

    def __call__(self, results: dict) -> dict:
        img = need_image(results, "RGB2Gray", ndim=(3,))
        if img.shape[2] != len(self.weights):
            raise DatasetError(f"RGB2Gray: the image has {img.shape[2]} channels but {len(self.weights)} weights")
        weights = np.array(self.weights).reshape((1, 1, -1))
        img = (img * weights).sum(2, keepdims=True)
        img = img.repeat(self.out_channels or weights.shape[2], axis=2)
        results["img"] = img
        results["img_shape"] = img.shape[:2]
        return results
