"""Pascal VOC 2012 (and its SBD augmentation): background + 20 object classes."""

from __future__ import annotations

from typing import Any

from seglab.data.datasets.base import BaseSegDataset
from seglab.registry import DATASETS

# fmt: off
PASCAL_VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)
PASCAL_VOC_PALETTE = [
    [0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128], [128, 0, 128], [0, 128, 128], [128, 128, 128],
    [64, 0, 0], [192, 0, 0], [64, 128, 0], [192, 128, 0], [64, 0, 128], [192, 0, 128], [64, 128, 128],
    [192, 128, 128], [0, 64, 0], [128, 64, 0], [0, 192, 0], [128, 192, 0], [0, 64, 128],
]
# fmt: on


@DATASETS.register()
class PascalVOCDataset(BaseSegDataset):
    """Pascal VOC 2012: the split comes from an ``ann_file`` such as ImageSets/Segmentation/train.txt.

    Labels in SegmentationClass/ are palette PNGs: their pixel values are the class indices (255 = the
    object borders, ignored)."""

    METAINFO = dict(classes=PASCAL_VOC_CLASSES, palette=PASCAL_VOC_PALETTE)

    def __init__(
        self, ann_file: str = "", img_suffix: str = ".jpg", seg_map_suffix: str = ".png", **kwargs: Any
    ) -> None:
        super().__init__(ann_file=ann_file, img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)
