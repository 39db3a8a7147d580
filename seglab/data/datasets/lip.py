"""LIP (Look Into Person): 20 human-parsing classes, 'Background' is class 0."""

from __future__ import annotations

from typing import Any

from seglab.data.datasets.base import BaseSegDataset
from seglab.registry import DATASETS

# fmt: off
LIP_CLASSES = (
    "Background", "Hat", "Hair", "Glove", "Sunglasses", "UpperClothes", "Dress", "Coat", "Socks", "Pants",
    "Jumpsuits", "Scarf", "Skirt", "Face", "Left-arm", "Right-arm", "Left-leg", "Right-leg", "Left-shoe",
    "Right-shoe",
)
LIP_PALETTE = [
    [0, 0, 0], [128, 0, 0], [255, 0, 0], [0, 85, 0], [170, 0, 51], [255, 85, 0], [0, 0, 85], [0, 119, 221],
    [85, 85, 0], [0, 85, 85], [85, 51, 0], [52, 86, 128], [0, 128, 0], [0, 0, 255], [51, 170, 221], [0, 255, 255],
    [85, 255, 170], [170, 255, 85], [255, 255, 0], [255, 170, 0],
]
# fmt: on


@DATASETS.register()
class LIPDataset(BaseSegDataset):
    """train_images/NAME.jpg with train_segmentations/NAME.png (and val_images/, val_segmentations/)."""

    METAINFO = dict(classes=LIP_CLASSES, palette=LIP_PALETTE)

    def __init__(self, img_suffix: str = ".jpg", seg_map_suffix: str = ".png", **kwargs: Any) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)
