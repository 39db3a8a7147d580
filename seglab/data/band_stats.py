"""Per-band statistics of multi-band (TIFF) images for ``seglab check-data``: the band counts, and the mean and
standard deviation of each band over every pixel, which are the numbers ``model.data_preprocessor.mean/std``
need (in the file's band order, as ``LoadSingleRSImageFromFile`` gives them)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from seglab.data.transforms.remote_sensing import TIFF_SUFFIXES, read_rs_image


class BandStats:
    """Running per-band sums over the TIFF images of one split (float64, so 16-bit sums stay exact enough)."""

    def __init__(self) -> None:
        self.counts: Counter[int] = Counter()
        self.sums: dict[int, np.ndarray] = {}
        self.squares: dict[int, np.ndarray] = {}
        self.pixels: dict[int, int] = {}

    @staticmethod
    def wants(path: Path) -> bool:
        return Path(path).suffix.lower() in TIFF_SUFFIXES

    def add(self, path: Path) -> tuple[int, int]:
        """Read ``path`` (raises DatasetError when unreadable), add its bands; returns its (h, w)."""
        img = read_rs_image(str(path), "check-data")
        bands = img.shape[2]
        flat = img.reshape(-1, bands).astype(np.float64)
        self.counts[bands] += 1
        self.sums[bands] = self.sums.get(bands, 0) + flat.sum(0)
        self.squares[bands] = self.squares.get(bands, 0) + (flat * flat).sum(0)
        self.pixels[bands] = self.pixels.get(bands, 0) + flat.shape[0]
        return img.shape[:2]

    def lines(self, split: str) -> tuple[list[str], list[str]]:
        """(report lines, errors): band counts and per-band mean/std, or an error when images differ in bands."""
        if not self.counts:
            return [], []
        lines = []
        for bands, images in sorted(self.counts.items()):
            mean = self.sums[bands] / self.pixels[bands]
            std = np.sqrt(np.maximum(self.squares[bands] / self.pixels[bands] - mean * mean, 0))
            lines.append(
                f"[{split}] {images} image(s) with {bands} band(s): per-band mean {[round(float(v), 2) for v in mean]} "
                f"std {[round(float(v), 2) for v in std]} (model.data_preprocessor mean/std, file band order)"
            )
        errors = []
        if len(self.counts) > 1:
            counts = ", ".join(f"{n} with {b} band(s)" for b, n in sorted(self.counts.items()))
            errors.append(f"[{split}] images differ in band count ({counts}): a model takes one band count")
        return lines, errors
