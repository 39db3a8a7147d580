"""Retinal vessel datasets (CHASE_DB1, DRIVE, HRF, STARE): background/vessel, labels stored as 0/1.

MMSegmentation's converters write every image as .png and divide the 0/255 vessel masks by 128, so
label files hold 0 and 1; the file names differ per dataset (_1stHO, _manual1, .ah).
"""

from __future__ import annotations

from typing import Any

from seglab.data.datasets.base import BaseSegDataset
from seglab.registry import DATASETS

# fmt: off
VESSEL_CLASSES = (
    "background", "vessel",
)
VESSEL_PALETTE = [
    [120, 120, 120], [6, 230, 230],
]
# fmt: on


class _VesselDataset(BaseSegDataset):
    """Two classes, label 0 is the background class (not ignored)."""

    METAINFO = dict(classes=VESSEL_CLASSES, palette=VESSEL_PALETTE)


@DATASETS.register()
class ChaseDB1Dataset(_VesselDataset):
    """CHASE_DB1: Image_01L.png with Image_01L_1stHO.png (first observer)."""

    def __init__(
        self,
        img_suffix: str = ".png",
        seg_map_suffix: str = "_1stHO.png",
        reduce_zero_label: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, reduce_zero_label=reduce_zero_label, **kwargs
        )


@DATASETS.register()
class DRIVEDataset(_VesselDataset):
    """DRIVE: 21.png with 21_manual1.png."""

    def __init__(
        self,
        img_suffix: str = ".png",
        seg_map_suffix: str = "_manual1.png",
        reduce_zero_label: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, reduce_zero_label=reduce_zero_label, **kwargs
        )


@DATASETS.register()
class HRFDataset(_VesselDataset):
    """HRF: 01_h.png with an annotation of the same name."""

    def __init__(
        self, img_suffix: str = ".png", seg_map_suffix: str = ".png", reduce_zero_label: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(
            img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, reduce_zero_label=reduce_zero_label, **kwargs
        )


@DATASETS.register()
class STAREDataset(_VesselDataset):
    """STARE: im0001.png with im0001.ah.png (Adam Hoover's labels)."""

    def __init__(
        self, img_suffix: str = ".png", seg_map_suffix: str = ".ah.png", reduce_zero_label: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(
            img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, reduce_zero_label=reduce_zero_label, **kwargs
        )
