"""Per-band statistics of multi-band (TIFF) images for ``seglab check-data``: the band counts, and the mean and
standard deviation of each band over every pixel, which are the numbers ``model.data_preprocessor.mean/std``
need (in the file's band order, as ``LoadSingleRSImageFromFile`` gives them).

Pixels a GeoTIFF declares as nodata (its GDAL_NODATA tag, which rasterio writes) are left out, with the rule
``seglab infer`` and ``seglab tile`` use (``fileio.raster.nodata_mask``): a pixel is nodata when every band
equals the value (or is NaN for a NaN value). Files without the tag (and PNG/JPEG, which have none) count every pixel."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from seglab.data.transforms.base import optional_import
from seglab.data.transforms.remote_sensing import TIFF_SUFFIXES, read_rs_image
from seglab.fileio.raster import nodata_mask

GDAL_NODATA = 42113  # the TIFF tag GDAL (and rasterio) keep a band's nodata value in, as text


def declared_nodata(path: Path) -> float | None:
    """The nodata value a TIFF declares, or None (no tag, or text that is not a number)."""
    tifffile = optional_import("tifffile", "check-data", "rs")
    with tifffile.TiffFile(path) as tif:
        text = tif.pages[0].tags.valueof(GDAL_NODATA)
    try:
        return float(str(text).strip().replace(",", ".")) if text is not None else None
    except ValueError:
        return None


class BandStats:
    """Running per-band sums over the TIFF images of one split (float64, so 16-bit sums stay exact enough)."""

    def __init__(self) -> None:
        self.counts: Counter[int] = Counter()
        self.sums: dict[int, np.ndarray] = {}
        self.squares: dict[int, np.ndarray] = {}
        self.pixels: dict[int, int] = {}
        self.nodata: Counter[int] = Counter()  # nodata pixels left out, per band count
        self.declaring: Counter[int] = Counter()  # images that declare a nodata value, per band count

    @staticmethod
    def wants(path: Path) -> bool:
        return Path(path).suffix.lower() in TIFF_SUFFIXES

    def add(self, path: Path) -> tuple[int, int]:
        """Read ``path`` (raises DatasetError when unreadable), add its bands but not its nodata pixels;
        returns its (h, w)."""
        img = read_rs_image(str(path), "check-data")
        bands = img.shape[2]
        flat = img.reshape(-1, bands).astype(np.float64)
        nodata = declared_nodata(path)
        if nodata is not None:
            invalid = nodata_mask(flat, nodata)
            flat = flat[~invalid]
            self.nodata[bands] += int(invalid.sum())
            self.declaring[bands] += 1
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
            head = f"[{split}] {images} image(s) with {bands} band(s): "
            excluded = (
                f"; {self.nodata[bands]} nodata pixel(s) left out ({self.declaring[bands]} image(s) declare nodata)"
                if self.declaring[bands]
                else ""
            )
            if not self.pixels[bands]:
                lines.append(f"{head}no per-band statistics, every pixel is nodata{excluded}")
                continue
            mean = self.sums[bands] / self.pixels[bands]
            std = np.sqrt(np.maximum(self.squares[bands] / self.pixels[bands] - mean * mean, 0))
            lines.append(
                f"{head}per-band mean {[round(float(v), 2) for v in mean]} std {[round(float(v), 2) for v in std]} "
                f"(model.data_preprocessor mean/std, file band order){excluded}"
            )
        errors = []
        if len(self.counts) > 1:
            counts = ", ".join(f"{n} with {b} band(s)" for b, n in sorted(self.counts.items()))
            errors.append(f"[{split}] images differ in band count ({counts}): a model takes one band count")
        return lines, errors
