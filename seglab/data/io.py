"""Reading images and label maps, with errors that name the file and the fix."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from seglab.errors import DatasetError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")

_COLOR_FLAGS = {
    "color": cv2.IMREAD_COLOR,
    "grayscale": cv2.IMREAD_GRAYSCALE,
    "unchanged": cv2.IMREAD_UNCHANGED,
}


def read_image(path: str | Path, color_type: str = "color") -> np.ndarray:
    """An image as OpenCV gives it (BGR uint8 for ``color``)."""
    if not Path(path).is_file():
        raise DatasetError(f"image file '{path}' does not exist")
    img = cv2.imread(str(path), _COLOR_FLAGS.get(color_type, cv2.IMREAD_COLOR))
    if img is None:
        raise DatasetError(f"image file '{path}' cannot be read (corrupt, truncated or not an image)")
    return img


def open_label(path: str | Path) -> np.ndarray:
    """A label file's raw pixel array, as Pillow decodes it (palette PNGs give their indices)."""
    if not Path(path).is_file():
        raise DatasetError(f"label file '{path}' does not exist")
    try:
        with Image.open(path) as pil:
            return np.array(pil)
    except (OSError, SyntaxError, ValueError) as err:
        raise DatasetError(f"label file '{path}' cannot be read ({err})") from None


def read_label(path: str | Path) -> np.ndarray:
    """A label map of class indices (HxW uint8); a colour (3-channel) label is an error."""
    label = open_label(path)
    if label.ndim == 3 and label.shape[2] == 1:
        label = label[:, :, 0]
    if label.ndim != 2:
        raise DatasetError(
            f"label file '{path}' has {label.shape[2]} channels; labels must be single-channel "
            "class indices (0..num_classes-1, 255 = ignore). Convert colour masks to indices; "
            "run 'seglab check-data' to find all such files"
        )
    if label.dtype != np.uint8:
        if label.size and label.max() > 255:
            raise DatasetError(f"label file '{path}' has values above 255; labels must fit in uint8")
        label = label.astype(np.uint8)
    return label


def write_image(path: str | Path, img: np.ndarray) -> None:
    """Save a BGR image, creating its folder."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img)
