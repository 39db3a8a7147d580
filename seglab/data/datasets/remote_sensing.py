"""Aerial and satellite datasets: LoveDA, ISPRS Potsdam and Vaihingen, iSAID (tiles cut by MMSegmentation's converters)."""

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
ISPRS_CLASSES = (
    "impervious_surface", "building", "low_vegetation", "tree", "car", "clutter",
)
ISPRS_PALETTE = [
    [255, 255, 255], [0, 0, 255], [0, 255, 255], [0, 255, 0], [255, 255, 0], [255, 0, 0],
]
ISAID_CLASSES = (
    "background", "ship", "store_tank", "baseball_diamond", "tennis_court", "basketball_court",
    "Ground_Track_Field", "Bridge", "Large_Vehicle", "Small_Vehicle", "Helicopter", "Swimming_pool", "Roundabout",
    "Soccer_ball_field", "plane", "Harbor",
)
ISAID_PALETTE = [
    [0, 0, 0], [0, 0, 63], [0, 63, 63], [0, 63, 0], [0, 63, 127], [0, 63, 191], [0, 63, 255], [0, 127, 63],
    [0, 127, 127], [0, 0, 127], [0, 0, 191], [0, 0, 255], [0, 191, 127], [0, 127, 191], [0, 127, 255],
    [0, 100, 155],
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


@DATASETS.register()
class iSAIDDataset(BaseSegDataset):  # noqa: N801 - MMSegmentation's type name
    """iSAID: 15 object classes + background (0, a class); labels are NAME_instance_color_RGB.png class ids."""

    METAINFO = dict(classes=ISAID_CLASSES, palette=ISAID_PALETTE)

    def __init__(
        self,
        img_suffix: str = ".png",
        seg_map_suffix: str = "_instance_color_RGB.png",
        ignore_index: int = 255,
        **kwargs: Any,
    ) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, ignore_index=ignore_index, **kwargs)
