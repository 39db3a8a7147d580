"""Intensity augmentations of 3-D medical volumes (N x Z x Y x X), after batchgenerators / nnU-Net.

Each draws from NumPy's global generator in MMSegmentation's order, so a seed reproduces its output."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from seglab.data.transforms.base import BaseTransform, check_number, check_pair, need, optional_import
from seglab.errors import ConfigError
from seglab.registry import TRANSFORMS


@TRANSFORMS.register()
class BioMedicalGaussianNoise(BaseTransform):
    """With ``prob``, add N(mean, s) noise with s drawn from [0, std)."""

    def __init__(self, prob: float = 0.1, mean: float = 0.0, std: float = 0.1) -> None:
        check_number(prob, "prob", "BioMedicalGaussianNoise", 0, 1)
        check_number(mean, "mean", "BioMedicalGaussianNoise")
        check_number(std, "std", "BioMedicalGaussianNoise", 0)
        self.prob = prob
        self.mean = mean
        self.std = std

    def __call__(self, results: dict) -> dict:
        img = need(results, "img", "BioMedicalGaussianNoise")
        if np.random.rand() < self.prob:
            rand_std = np.random.uniform(0, self.std)
            noise = np.random.normal(self.mean, rand_std, size=img.shape).astype(img.dtype)
            results["img"] = img + noise
        return results


@TRANSFORMS.register()
class BioMedicalGaussianBlur(BaseTransform):
    """With ``prob``, blur each modality with probability ``prob_per_channel`` (a Gaussian, sigma from
    ``sigma_range``, per channel and per axis unless told otherwise). Needs ``scipy``."""

    def __init__(
        self,
        sigma_range: Sequence[float] = (0.5, 1.0),
        prob: float = 0.2,
        prob_per_channel: float = 0.5,
        different_sigma_per_channel: bool = True,
        different_sigma_per_axis: bool = True,
    ) -> None:
        self.sigma_range = check_pair(sigma_range, "sigma_range", "BioMedicalGaussianBlur")
        check_number(prob, "prob", "BioMedicalGaussianBlur", 0, 1)
        check_number(prob_per_channel, "prob_per_channel", "BioMedicalGaussianBlur", 0, 1)
        self.prob = prob
        self.prob_per_channel = prob_per_channel
        self.different_sigma_per_channel = different_sigma_per_channel
        self.different_sigma_per_axis = different_sigma_per_axis
        self.ndimage = optional_import("scipy.ndimage", "BioMedicalGaussianBlur", "medical")

    def random_sigma(self) -> float:
        low, high = self.sigma_range
        if low == high:
            return low
        return type(low)(np.random.uniform(low, high))

    def __call__(self, results: dict) -> dict:
        img = need(results, "img", "BioMedicalGaussianBlur")
        if not np.random.rand() < self.prob:
            return results
        img = img.copy()
        sigma = None
        for c in range(img.shape[0]):
            if np.random.rand() < self.prob_per_channel:
                if sigma is None or self.different_sigma_per_channel:
                    if self.different_sigma_per_axis:
                        sigma = [self.random_sigma() for _ in img.shape[1:]]
                    else:
                        sigma = self.random_sigma()
                img[c] = self.ndimage.gaussian_filter(img[c], sigma, order=0)
        results["img"] = img
        return results


@TRANSFORMS.register()
class BioMedicalRandomGamma(BaseTransform):
    """With ``prob``, map intensities through a gamma curve on their own [min, max] range (gamma below 1
    half the time when the range allows); optionally on the inverted image, per channel, and keeping
    mean and std (``retain_stats``, which seglab also honours per channel, where upstream fails)."""

    def __init__(
        self,
        prob: float = 0.5,
        gamma_range: Sequence[float] = (0.5, 2),
        invert_image: bool = False,
        per_channel: bool = False,
        retain_stats: bool = False,
    ) -> None:
        check_number(prob, "prob", "BioMedicalRandomGamma", 0, 1)
        self.gamma_range = check_pair(gamma_range, "gamma_range", "BioMedicalRandomGamma")
        for name, value in (
            ("invert_image", invert_image),
            ("per_channel", per_channel),
            ("retain_stats", retain_stats),
        ):
            if not isinstance(value, bool):
                raise ConfigError(f"BioMedicalRandomGamma: '{name}' must be True or False, got {value!r}")
        self.prob = prob
        self.invert_image = invert_image
        self.per_channel = per_channel
        self.retain_stats = retain_stats

    def adjust(self, img: np.ndarray) -> np.ndarray:
        if self.retain_stats:
            mean, std = img.mean(), img.std()
        low, high = self.gamma_range
        if np.random.random() < 0.5 and low < 1:
            gamma = np.random.uniform(low, 1)
        else:
            gamma = np.random.uniform(max(low, 1), high)
        img_min = img.min()
        img_range = img.max() - img_min
        img = np.power(((img - img_min) / float(img_range + 1e-7)), gamma) * img_range + img_min
        if self.retain_stats:
            img = img - img.mean()
            img = img / (img.std() + 1e-8) * std
            img = img + mean
        return img

    def __call__(self, results: dict) -> dict:
        img = need(results, "img", "BioMedicalRandomGamma")
        if not np.random.rand() < self.prob:
            return results
        if self.invert_image:
            img = -img
        if self.per_channel:
            img = img.copy()
            for c in range(img.shape[0]):
                img[c] = self.adjust(img[c])
        else:
            img = self.adjust(img)
        results["img"] = -img if self.invert_image else img
        return results
