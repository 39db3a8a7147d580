"""iSAID aerial object tiles (cut by ``seglab prepare isaid``): background + 15 object classes."""

from __future__ import annotations

from typing import Any

from seglab.data.datasets.base import BaseSegDataset
from seglab.registry import DATASETS

# fmt: off
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
