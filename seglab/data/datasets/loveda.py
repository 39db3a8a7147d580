"""LoveDA land cover (Train/Val/Test tiles regrouped by ``seglab prepare loveda``): 7 classes, 0 is 'no data'."""

from __future__ import annotations

from typing import Any

from seglab.data.datasets.base import BaseSegDataset
from seglab.registry import DATASETS

# fmt: off
LOVEDA_CLASSES = (
    "background", "building", "road", "water", "barren", "forest", "agricultural",
)
LOVEDA_PALETTE = [
    [255, 255, 255], [255, 0, 0], [255, 255, 0], [0, 0, 255], [159, 129, 183], [0, 255, 0], [255, 195, 128],
]
# fmt: on


@DATASETS.register()
class LoveDADataset(BaseSegDataset):
    """LoveDA: 7 land-cover classes; label 0 is 'no data' and is ignored (reduce_zero_label)."""

    METAINFO = dict(classes=LOVEDA_CLASSES, palette=LOVEDA_PALETTE)

    def __init__(
        self, img_suffix: str = ".png", seg_map_suffix: str = ".png", reduce_zero_label: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(
            img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, reduce_zero_label=reduce_zero_label, **kwargs
        )
