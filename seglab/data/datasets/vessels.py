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
    PREPARE_NAME = ""  # the ``seglab prepare`` name that converts the download

    def label_values_hint(self, raw_values: set[int], ignore_index: int, num_classes: int) -> str | None:
        """Labels saved as 0/255 (the download's masks, not the converter's 0/1) make every vessel 'ignore'."""
        if num_classes < 2 or ignore_index not in raw_values or not raw_values <= {0, ignore_index}:
            return None
        return (
            f"{type(self).__name__} labels must store vessel as 1 and background as 0 (MMSegmentation's converter "
            f"writes mask // 128), but these hold 0/{ignore_index}, so every vessel pixel is ignored: convert the "
            f"download with 'seglab prepare {self.PREPARE_NAME}' or save label // 255"
        )


@DATASETS.register()
class ChaseDB1Dataset(_VesselDataset):
    """CHASE_DB1: Image_01L.png with Image_01L_1stHO.png (first observer)."""

    PREPARE_NAME = "chase_db1"

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

    PREPARE_NAME = "drive"

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

    PREPARE_NAME = "hrf"

    def __init__(
        self, img_suffix: str = ".png", seg_map_suffix: str = ".png", reduce_zero_label: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(
            img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, reduce_zero_label=reduce_zero_label, **kwargs
        )


@DATASETS.register()
class STAREDataset(_VesselDataset):
    """STARE: im0001.png with im0001.ah.png (Adam Hoover's labels)."""

    PREPARE_NAME = "stare"

    def __init__(
        self, img_suffix: str = ".png", seg_map_suffix: str = ".ah.png", reduce_zero_label: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(
            img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, reduce_zero_label=reduce_zero_label, **kwargs
        )
