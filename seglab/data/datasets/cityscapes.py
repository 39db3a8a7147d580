"""Cityscapes and the night-time sets evaluated with its classes (Dark Zurich, Nighttime Driving): 19 train ids."""

from __future__ import annotations

from typing import Any

from seglab.data.datasets.base import BaseSegDataset
from seglab.registry import DATASETS

# fmt: off
CITYSCAPES_CLASSES = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign", "vegetation",
    "terrain", "sky", "person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle",
)
CITYSCAPES_PALETTE = [
    [128, 64, 128], [244, 35, 232], [70, 70, 70], [102, 102, 156], [190, 153, 153], [153, 153, 153], [250, 170, 30],
    [220, 220, 0], [107, 142, 35], [152, 251, 152], [70, 130, 180], [220, 20, 60], [255, 0, 0], [0, 0, 142],
    [0, 0, 70], [0, 60, 100], [0, 80, 100], [0, 0, 230], [119, 11, 32],
]
# fmt: on


@DATASETS.register()
class CityscapesDataset(BaseSegDataset):
    """Cityscapes with train ids (``*_gtFine_labelTrainIds.png``, made by Cityscapes' scripts)."""

    METAINFO = dict(classes=CITYSCAPES_CLASSES, palette=CITYSCAPES_PALETTE)

    def __init__(
        self, img_suffix: str = "_leftImg8bit.png", seg_map_suffix: str = "_gtFine_labelTrainIds.png", **kwargs: Any
    ) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)


@DATASETS.register()
class DarkZurichDataset(CityscapesDataset):
    """Dark Zurich: rgb_anon/.../NAME_rgb_anon.png with gt/.../NAME_gt_labelTrainIds.png."""

    def __init__(
        self, img_suffix: str = "_rgb_anon.png", seg_map_suffix: str = "_gt_labelTrainIds.png", **kwargs: Any
    ) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)


@DATASETS.register()
class NightDrivingDataset(CityscapesDataset):
    """Nighttime Driving: leftImg8bit/test/night/NAME_leftImg8bit.png with NAME_gtCoarse_labelTrainIds.png."""

    def __init__(
        self, img_suffix: str = "_leftImg8bit.png", seg_map_suffix: str = "_gtCoarse_labelTrainIds.png", **kwargs: Any
    ) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)
