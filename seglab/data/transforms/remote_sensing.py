"""Remote-sensing inputs: multi-band GeoTIFFs (read with ``tifffile``, no GDAL), other images in GDAL's band
order, and change-detection pairs. ``tifffile`` is imported when the first TIFF is read."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from seglab.data.transforms.base import BaseTransform, need, optional_import, store_image
from seglab.errors import ConfigError, DatasetError
from seglab.registry import TRANSFORMS

TIFF_SUFFIXES = (".tif", ".tiff")


def read_rs_image(path: str, transform: str) -> np.ndarray:
    """An image as H x W x bands in the file's band order, as GDAL reads it for MMSegmentation.

    GDAL's ``ReadAsArray`` gives bands x H x W and MMSegmentation moves the bands last. TIFFs are read
    with tifffile (bands interleaved or as planes); other formats GDAL reads (PNG, JPEG ..., e.g. LEVIR-CD)
    with OpenCV, reordered from its BGR(A) to the file's RGB(A). A single band gives H x W x 1."""
    if not Path(path).is_file():
        raise DatasetError(f"{transform}: image file '{path}' does not exist")
    if Path(path).suffix.lower() not in TIFF_SUFFIXES:
        img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if img is None:
            raise DatasetError(f"{transform}: cannot read '{path}' (corrupt, truncated or not an image)")
        if img.ndim == 2:
            return img[:, :, None]
        return img[:, :, [2, 1, 0, *range(3, img.shape[2])]] if img.shape[2] >= 3 else img
    tifffile = optional_import("tifffile", transform, "rs")
    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            img, axes = series.asarray(), series.axes
    except Exception as err:  # tifffile raises several types for corrupt or unsupported files
        raise DatasetError(f"{transform}: cannot read '{path}' as a TIFF ({err})") from None
    if "Y" not in axes or "X" not in axes or img.ndim > 3:
        raise DatasetError(f"{transform}: '{path}' holds an array with axes '{axes}'; expected (bands,) Y, X")
    if img.ndim == 2:
        return img[:, :, None]
    band_axis = next(i for i, a in enumerate(axes) if a not in "YX")
    return np.moveaxis(img, band_axis, -1)


@TRANSFORMS.register()
class LoadSingleRSImageFromFile(BaseTransform):
    """Read ``img_path`` (GeoTIFF with any band count, or PNG/JPEG ...) as H x W x bands, float32 unless
    ``to_float32=False``."""

    def __init__(self, to_float32: bool = True) -> None:
        self.to_float32 = to_float32

    def __call__(self, results: dict) -> dict:
        img = read_rs_image(need(results, "img_path", "LoadSingleRSImageFromFile"), "LoadSingleRSImageFromFile")
        return store_image(results, img, self.to_float32)


@TRANSFORMS.register()
class LoadMultipleRSImageFromFile(BaseTransform):
    """Read the two dates of a change-detection pair, ``img_path`` and ``img_path2``, into ``img``/``img2``."""

    def __init__(self, to_float32: bool = True) -> None:
        self.to_float32 = to_float32

    def __call__(self, results: dict) -> dict:
        name = "LoadMultipleRSImageFromFile"
        img = read_rs_image(need(results, "img_path", name), name)
        img2 = read_rs_image(need(results, "img_path2", name, "the dataset must set it (data_prefix.img_path2)"), name)
        if self.to_float32:
            img, img2 = img.astype(np.float32), img2.astype(np.float32)
        if img.shape != img2.shape:
            raise DatasetError(
                f"{name}: '{results['img_path']}' is {img.shape} but '{results['img_path2']}' is {img2.shape}"
            )
        results["img"] = img
        results["img2"] = img2
        results["img_shape"] = img.shape[:2]
        results["ori_shape"] = img.shape[:2]
        return results


@TRANSFORMS.register()
class ConcatCDInput(BaseTransform):
    """Stack the images named by ``input_keys`` along channels into ``img`` (and drop the others)."""

    def __init__(self, input_keys: Sequence[str] = ("img", "img2")) -> None:
        if isinstance(input_keys, str) or not input_keys:
            raise ConfigError(f"ConcatCDInput: 'input_keys' must be a list of sample keys, got {input_keys!r}")
        self.input_keys = tuple(input_keys)

    def __call__(self, results: dict) -> dict:
        images = [need(results, key, "ConcatCDInput") for key in self.input_keys]
        images = [img[:, :, None] if img.ndim == 2 else img for img in images]
        if len({img.shape[:2] for img in images}) > 1:
            raise DatasetError(f"ConcatCDInput: {self.input_keys} differ in size: {[img.shape for img in images]}")
        for key in self.input_keys:
            results.pop(key)
        results["img"] = np.concatenate(images, axis=2)
        return results
