"""ToyCsvDataset: image/label pairs listed in a CSV file (``image,label`` columns, paths relative to data_root).

The layout is the dataset's own knowledge: it overrides ``list_samples`` (what loading reads and
``seglab check-data`` checks) and ``sample_folders`` (no folder is required: files are listed one by one).
"""

from __future__ import annotations

import csv
from pathlib import Path

from seglab.data.datasets.base import BaseSegDataset, SampleFiles
from seglab.errors import DatasetError
from seglab.registry import DATASETS


@DATASETS.register()
class ToyCsvDataset(BaseSegDataset):
    """``ann_file`` is a CSV with a header ``image,label``; each row names one sample's two files."""

    METAINFO = dict(classes=("background", "square"), palette=[[0, 0, 0], [255, 0, 0]])
    ANN_FILE_LISTS = "files"  # check-data reports listed files that do not exist, image and label alike

    def __init__(self, ann_file: str = "train.csv", img_suffix: str = ".png", **kwargs) -> None:
        super().__init__(ann_file=ann_file, img_suffix=img_suffix, **kwargs)

    def list_samples(self) -> list[SampleFiles]:
        """One ``SampleFiles`` per CSV row, joined with ``data_root``; no file is opened."""
        path = Path(self.ann_file)
        if not path.is_file():
            raise DatasetError(
                f"ToyCsvDataset: ann_file '{path}' does not exist; write one 'image,label' row per sample"
            )
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        if rows and not {"image", "label"} <= set(rows[0]):
            raise DatasetError(f"ToyCsvDataset: '{path}' needs the header 'image,label', got {list(rows[0])}")
        return [SampleFiles(self._join_root(row["image"]), self._join_root(row["label"])) for row in rows]

    def sample_folders(self) -> dict[str, tuple[str, str]]:
        """Samples are listed file by file, so no folder has to exist."""
        return {}
