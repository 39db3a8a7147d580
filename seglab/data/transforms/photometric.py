"""Transforms that change colours only (the label maps are untouched)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from seglab.registry import TRANSFORMS


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
