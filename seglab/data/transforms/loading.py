"""Reading images and label maps from disk into the sample dict."""

from __future__ import annotations

import pickle
from pathlib import Path

import cv2
import numpy as np

from seglab.data.io import read_image, read_label
from seglab.data.transforms.base import BaseTransform, check_choice, need, optional_import, store_image
from seglab.errors import ConfigError, DatasetError
from seglab.registry import TRANSFORMS

DECODE_BACKENDS = ("numpy", "nifti", "cv2", "pickle")
# MMCV's colour types; the "_ignore_orientation" variants are read as their plain types (seglab's
# image reader has no flag for EXIF orientation)
COLOR_TYPES = ("color", "grayscale", "unchanged", "color_ignore_orientation", "grayscale_ignore_orientation")


@TRANSFORMS.register()
class LoadImageFromFile(BaseTransform):
    """Read ``img_path`` as BGR uint8 (or float32) and record ``img_shape``/``ori_shape``."""

    # file_client_args: MMCV 2.x's deprecated name for backend_args (the Mapillary configs still use it)
    IGNORED_ARGS = {"imdecode_backend": "cv2", "backend_args": None, "ignore_empty": False, "file_client_args": None}

    def __init__(
        self,
        to_float32: bool = False,
        color_type: str = "color",
        imdecode_backend: str = "cv2",
        backend_args: dict | None = None,
        ignore_empty: bool = False,
        file_client_args: dict | None = None,
    ) -> None:
        self.to_float32 = to_float32
        self.color_type = check_choice(color_type, "color_type", type(self).__name__, COLOR_TYPES)

    def __call__(self, results: dict) -> dict:
        path = need(results, "img_path", "LoadImageFromFile", "the dataset sets it (data_prefix.img_path)")
        img = read_image(path, self.color_type.replace("_ignore_orientation", ""))
        if isinstance(results.get("gt_seg_map"), np.ndarray):  # the label was loaded first
            check_same_size(path, img.shape[:2], results.get("seg_map_path"), results["gt_seg_map"].shape[:2])
        return store_image(results, img, self.to_float32)


@TRANSFORMS.register()
class LoadAnnotations(BaseTransform):
    """Read ``seg_map_path`` as class indices; apply ``reduce_zero_label`` and ``label_map``."""

    IGNORED_ARGS = {"backend_args": None, "imdecode_backend": "pillow"}

    def __init__(
        self,
        reduce_zero_label: bool | None = None,
        backend_args: dict | None = None,
        imdecode_backend: str = "pillow",
    ) -> None:
        self.reduce_zero_label = reduce_zero_label

    def __call__(self, results: dict) -> dict:
        path = need(results, "seg_map_path", "LoadAnnotations", "the dataset sets it (data_prefix.seg_map_path)")
        gt = read_label(path)
        loaded = results.get("ori_shape")  # the image's size as loaded, before any resizing
        if loaded is not None and len(loaded) == 2:
            check_same_size(results.get("img_path"), tuple(loaded), path, gt.shape[:2])
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


def size_mismatch(img_path, img_hw: tuple, label_path, label_hw: tuple, hint: bool = True) -> str:
    """The one-line message for a label map whose size is not its image's."""
    text = (
        f"label '{label_path}' is {label_hw[0]}x{label_hw[1]} (height x width) but its image '{img_path}' is "
        f"{img_hw[0]}x{img_hw[1]}: a label map must have its image's size. Fix the pairing, or resize the "
        "label with nearest-neighbour interpolation"
    )
    return text + ("; 'seglab check-data CONFIG' lists every mismatching pair" if hint else "")


def check_same_size(img_path, img_hw: tuple, label_path, label_hw: tuple) -> None:
    if tuple(img_hw) != tuple(label_hw):
        raise DatasetError(size_mismatch(img_path or "the image array", img_hw, label_path, label_hw))


def reduce_zero(gt: np.ndarray) -> np.ndarray:
    """Label 0 becomes ignore (255) and every other label moves down by one."""
    gt = gt.copy()
    gt[gt == 0] = 255
    gt = gt - 1
    gt[gt == 254] = 255
    return gt


@TRANSFORMS.register()
class LoadImageFromNDArray(LoadImageFromFile):
    """Take an already decoded ``img`` array (webcam, inference on arrays) and set the shape keys."""

    def __call__(self, results: dict) -> dict:
        img = need(results, "img", "LoadImageFromNDArray", "pass the array as results['img']")
        if not isinstance(img, np.ndarray):
            raise DatasetError(f"LoadImageFromNDArray: 'img' must be a numpy array, got {type(img).__name__}")
        results["img_path"] = None
        return store_image(results, img, self.to_float32)


def check_backend(backend: str, transform: str, allowed: tuple[str, ...] = DECODE_BACKENDS) -> str:
    if backend not in allowed:
        raise ConfigError(f"{transform}: decode_backend must be one of {list(allowed)}, got {backend!r}")
    if backend == "nifti":
        optional_import("nibabel", transform, "medical")
    return backend


def read_array(path: str, backend: str, transform: str) -> np.ndarray:
    """An array file as MMSegmentation's ``datafrombytes`` decodes it: ``.npy`` (numpy), NIfTI through
    nibabel (float64, as ``get_fdata`` gives), any OpenCV image unchanged (cv2), or a pickled array."""
    if not Path(path).is_file():
        raise DatasetError(f"{transform}: file '{path}' does not exist")
    try:
        if backend == "numpy":
            return np.load(path)
        if backend == "nifti":
            nibabel = optional_import("nibabel", transform, "medical")
            return np.asarray(nibabel.load(path).get_fdata())
        if backend == "pickle":
            with open(path, "rb") as f:
                return pickle.load(f)
        data = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    except (OSError, ValueError, EOFError, pickle.UnpicklingError) as err:
        raise DatasetError(f"{transform}: cannot read '{path}' as {backend} ({err})") from None
    if data is None:
        raise DatasetError(f"{transform}: OpenCV cannot read '{path}' (corrupt, truncated or not an image)")
    return data


@TRANSFORMS.register()
class LoadDepthAnnotation(BaseTransform):
    """Read ``depth_map_path`` into ``gt_depth_map`` (times ``depth_rescale_factor``), a seg field so
    geometric transforms move it with the image (nearest interpolation)."""

    IGNORED_ARGS = {"backend_args": None}

    def __init__(
        self,
        decode_backend: str = "cv2",
        to_float32: bool = True,
        depth_rescale_factor: float = 1.0,
        backend_args: dict | None = None,
    ) -> None:
        self.decode_backend = check_backend(decode_backend, "LoadDepthAnnotation")
        self.to_float32 = to_float32
        self.depth_rescale_factor = depth_rescale_factor

    def __call__(self, results: dict) -> dict:
        path = need(
            results, "depth_map_path", "LoadDepthAnnotation", "the dataset must set it (data_prefix.depth_map_path)"
        )
        depth = read_array(path, self.decode_backend, "LoadDepthAnnotation")
        if self.to_float32:
            depth = depth.astype(np.float32)
        elif self.depth_rescale_factor != 1 and not np.issubdtype(depth.dtype, np.floating):
            raise ConfigError(
                f"LoadDepthAnnotation: depth_rescale_factor={self.depth_rescale_factor} cannot scale the "
                f"{depth.dtype} depth of '{path}' in place; set to_float32=True"
            )
        if self.depth_rescale_factor != 1:
            depth *= self.depth_rescale_factor
        results["gt_depth_map"] = depth
        seg_fields = results.setdefault("seg_fields", [])
        if "gt_depth_map" not in seg_fields:
            seg_fields.append("gt_depth_map")
        results["depth_rescale_factor"] = self.depth_rescale_factor
        return results
