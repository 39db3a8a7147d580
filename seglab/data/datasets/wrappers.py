"""Dataset wrappers: several datasets read as one, one dataset repeated, samples mixed (mosaic)."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
from torch.utils.data import Dataset

from seglab.errors import DatasetError
from seglab.registry import DATASETS, TRANSFORMS


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


def _build(dataset: dict | Dataset, wrapper: str) -> Dataset:
    if isinstance(dataset, dict):
        return DATASETS.build(dataset)
    if isinstance(dataset, Dataset):
        return dataset
    raise DatasetError(f"{wrapper}: 'dataset' must be a dataset config dict, got {type(dataset).__name__}")


class _Wrapper(Dataset):
    """What a wrapper forwards to the dataset it wraps: metainfo and the (unrepeated) file list."""

    dataset: Dataset

    @property
    def metainfo(self) -> dict:
        return self.dataset.metainfo

    @property
    def dataset_meta(self) -> dict:
        return self.dataset.dataset_meta

    @property
    def data_list(self) -> list[dict]:
        return getattr(self.dataset, "data_list", [])


@DATASETS.register()
class RepeatDataset(_Wrapper):
    """MMEngine's RepeatDataset: the dataset ``times`` times over, so one "epoch" is long (small datasets
    such as DRIVE with ``times=40000``)."""

    IGNORED_ARGS = {"lazy_init": False}

    def __init__(self, dataset: dict | Dataset, times: int, lazy_init: bool = False) -> None:
        if not isinstance(times, int) or times < 1:
            raise DatasetError(f"RepeatDataset: times must be a positive integer, got {times!r}")
        self.dataset = _build(dataset, "RepeatDataset")
        self.times = times
        self._ori_len = len(self.dataset)

    def get_data_info(self, index: int) -> dict:
        return self.dataset.get_data_info(index % self._ori_len)

    def __len__(self) -> int:
        return self.times * self._ori_len

    def __getitem__(self, index: int) -> dict:
        return self.dataset[index % self._ori_len]


@DATASETS.register()
class MultiImageMixDataset(_Wrapper):
    """Feeds transforms that mix several images (RandomMosaic) with other samples of the dataset.

    For each transform that has ``get_indices(dataset)`` (MMDetection's name ``get_indexes`` works too),
    the samples at those indices are loaded through the wrapped dataset's own pipeline and handed to the
    transform as ``results['mix_results']``, which is removed again afterwards. Transform types named in
    ``skip_type_keys`` are skipped (a hook can change them with ``update_skip_type_keys``)."""

    IGNORED_ARGS = {"lazy_init": False}

    def __init__(
        self,
        dataset: dict | Dataset,
        pipeline: Sequence[dict],
        skip_type_keys: Sequence[str] | None = None,
        lazy_init: bool = False,
    ) -> None:
        if not all(isinstance(t, dict) for t in pipeline):
            raise DatasetError("MultiImageMixDataset: every pipeline step must be a config dict with a 'type'")
        self.dataset = _build(dataset, "MultiImageMixDataset")
        self.pipeline = [TRANSFORMS.build(t) for t in pipeline]
        self.pipeline_types = [t["type"] for t in pipeline]
        self.update_skip_type_keys(skip_type_keys or [])
        self.num_samples = len(self.dataset)

    def update_skip_type_keys(self, skip_type_keys: Sequence[str]) -> None:
        if not all(isinstance(k, str) for k in skip_type_keys):
            raise DatasetError(f"MultiImageMixDataset: skip_type_keys must be type names, got {skip_type_keys!r}")
        self._skip_type_keys = list(skip_type_keys)

    def get_data_info(self, index: int) -> dict:
        return self.dataset.get_data_info(index)

    def __len__(self) -> int:
        return self.num_samples

    def __getitem__(self, index: int) -> dict:
        results = copy.deepcopy(self.dataset[index])
        for transform, type_name in zip(self.pipeline, self.pipeline_types):
            if type_name in self._skip_type_keys:
                continue
            pick = getattr(transform, "get_indices", None) or getattr(transform, "get_indexes", None)
            if pick is not None:
                indices = pick(self.dataset)
                indices = list(indices) if isinstance(indices, Sequence) else [indices]
                results["mix_results"] = [copy.deepcopy(self.dataset[i]) for i in indices]
            results = transform(results)
            results.pop("mix_results", None)
        return results
