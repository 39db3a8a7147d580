"""Dataset wrappers: several datasets read as one."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from torch.utils.data import Dataset

from seglab.errors import DatasetError
from seglab.registry import DATASETS


@DATASETS.register()
class ConcatDataset(Dataset):
    """Several datasets one after another (e.g. VOC train + SBD aug); metainfo of the first."""

    IGNORED_ARGS = {"ignore_keys": None, "lazy_init": False}

    def __init__(
        self, datasets: Sequence[dict | Dataset], ignore_keys: Sequence[str] | None = None, lazy_init: bool = False
    ) -> None:
        self.datasets = [DATASETS.build(d) if isinstance(d, dict) else d for d in datasets]
        if not self.datasets:
            raise DatasetError("ConcatDataset needs at least one dataset")
        self.metainfo = self.datasets[0].metainfo
        self.offsets = np.cumsum([len(d) for d in self.datasets]).tolist()

    @property
    def dataset_meta(self) -> dict:
        return self.datasets[0].dataset_meta

    def _locate(self, index: int) -> tuple[Dataset, int]:
        which = int(np.searchsorted(self.offsets, index, side="right"))
        start = self.offsets[which - 1] if which else 0
        return self.datasets[which], index - start

    def get_data_info(self, index: int) -> dict:
        dataset, local = self._locate(index)
        return dataset.get_data_info(local)

    def __len__(self) -> int:
        return self.offsets[-1]

    def __getitem__(self, index: int) -> dict:
        dataset, local = self._locate(index)
        return dataset[local]
