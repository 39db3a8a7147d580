"""Synapse multi-organ CT (slices as .jpg): background + 8 organs, as MMSegmentation's converter keeps them."""

from __future__ import annotations

from typing import Any

from seglab.data.datasets.base import BaseSegDataset
from seglab.registry import DATASETS

# fmt: off
SYNAPSE_CLASSES = (
    "background", "aorta", "gallbladder", "left_kidney", "right_kidney", "liver", "pancreas", "spleen", "stomach",
)
SYNAPSE_PALETTE = [
    [0, 0, 0], [0, 0, 255], [0, 255, 0], [255, 0, 0], [0, 255, 255], [255, 0, 255], [255, 255, 0], [60, 255, 255],
    [240, 240, 240],
]
# fmt: on


@DATASETS.register()
class SynapseDataset(BaseSegDataset):
    """case0005_slice000.jpg with case0005_slice000.png; the 5 other organs were merged into background."""

    METAINFO = dict(classes=SYNAPSE_CLASSES, palette=SYNAPSE_PALETTE)

    def __init__(self, img_suffix: str = ".jpg", seg_map_suffix: str = ".png", **kwargs: Any) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)
