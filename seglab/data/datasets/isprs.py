"""ISPRS Vaihingen and Potsdam aerial tiles (cut by ``seglab prepare vaihingen|potsdam``): 6 classes, 0 is ignored."""

from __future__ import annotations

from typing import Any

from seglab.data.datasets.base import BaseSegDataset
from seglab.registry import DATASETS

# fmt: off
ISPRS_CLASSES = (
    "impervious_surface", "building", "low_vegetation", "tree", "car", "clutter",
)
ISPRS_PALETTE = [
    [255, 255, 255], [0, 0, 255], [0, 255, 255], [0, 255, 0], [255, 255, 0], [255, 0, 0],
]
# fmt: on


@DATASETS.register()
class ISPRSDataset(BaseSegDataset):
    """ISPRS Vaihingen: 6 classes; the converter writes boundaries as 0, which reduce_zero_label ignores."""

    METAINFO = dict(classes=ISPRS_CLASSES, palette=ISPRS_PALETTE)

    def __init__(
        self, img_suffix: str = ".png", seg_map_suffix: str = ".png", reduce_zero_label: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(
            img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, reduce_zero_label=reduce_zero_label, **kwargs
        )


@DATASETS.register()
class PotsdamDataset(BaseSegDataset):
    """ISPRS Potsdam: the same 6 classes and label convention as Vaihingen."""

    METAINFO = dict(classes=ISPRS_CLASSES, palette=ISPRS_PALETTE)

    def __init__(
        self, img_suffix: str = ".png", seg_map_suffix: str = ".png", reduce_zero_label: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(
            img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, reduce_zero_label=reduce_zero_label, **kwargs
        )
