"""BDD100K semantic segmentation (10k images): the 19 Cityscapes classes, train-id labels."""

from __future__ import annotations

from typing import Any

from seglab.data.datasets.base import BaseSegDataset
from seglab.data.datasets.cityscapes import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE
from seglab.registry import DATASETS


@DATASETS.register()
class BDD100KDataset(BaseSegDataset):
    """images/10k/train/NAME.jpg with labels/sem_seg/masks/train/NAME.png (0..18, 255 = ignore)."""

    METAINFO = dict(classes=CITYSCAPES_CLASSES, palette=CITYSCAPES_PALETTE)

    def __init__(
        self, img_suffix: str = ".jpg", seg_map_suffix: str = ".png", reduce_zero_label: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(
            img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, reduce_zero_label=reduce_zero_label, **kwargs
        )
