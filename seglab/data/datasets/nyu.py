"""NYU Depth V2: depth estimation, not classes. Samples carry ``depth_map_path`` (16-bit PNG, millimetres)
and a scene ``category_id`` read from the file name; LoadDepthAnnotation reads the depth map."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seglab.data.datasets.base import BaseSegDataset, SampleFiles
from seglab.registry import DATASETS

# The 27 scene categories a file name starts with (kitchen_0028a_00045.jpg -> 'kitchen'); no palette:
# like MMSegmentation, the dataset draws one from a fixed seed.
# fmt: off
NYU_CLASSES = (
    "printer_room", "bathroom", "living_room", "study", "conference_room", "study_room", "kitchen", "home_office",
    "bedroom", "dinette", "playroom", "indoor_balcony", "laundry_room", "basement", "excercise_room", "foyer",
    "home_storage", "cafe", "furniture_store", "office_kitchen", "student_lounge", "dining_room", "reception_room",
    "computer_lab", "classroom", "office", "bookstore",
)
# fmt: on


@DATASETS.register()
class NYUDataset(BaseSegDataset):
    """images/train/NAME.jpg with annotations/train/NAME.png depth maps (made by MMSegmentation's converter)."""

    METAINFO = dict(classes=NYU_CLASSES)
    LABEL_KEY = "depth_map_path"
    LABEL_KIND = "depth map"
    LABEL_VALUES = "distances"
    DEFAULT_DATA_PREFIX = dict(img_path="images", depth_map_path="annotations")

    def __init__(
        self,
        data_prefix: dict | None = None,
        img_suffix: str = ".jpg",
        depth_map_suffix: str = ".png",
        **kwargs: Any,
    ) -> None:
        prefix = dict(data_prefix if data_prefix is not None else self.DEFAULT_DATA_PREFIX)
        prefix.setdefault("depth_map_path", None)
        super().__init__(data_prefix=prefix, img_suffix=img_suffix, seg_map_suffix=depth_map_suffix, **kwargs)

    def category_id(self, name: str) -> int:
        """Index of the scene category the file name starts with, -1 when it names none."""
        base = Path(name).name
        digits = [i for i, ch in enumerate(base) if ch.isdigit()]
        category = base[: digits[0] - 1] if digits else None
        classes = self.metainfo["classes"] or ()
        return classes.index(category) if category in classes else -1

    @property
    def label_dir(self) -> str | None:
        return self.data_prefix["depth_map_path"]  # None: images only (no depth_map_path given)

    def sample_info(self, sample: SampleFiles) -> dict:
        info: dict = dict(img_path=sample.img_path)
        if sample.label_path is not None:
            info["depth_map_path"] = self.existing_label(sample)
        info.update(seg_fields=[], category_id=self.category_id(Path(sample.img_path).name[: -len(self.img_suffix)]))
        return info
