"""DataLoaders from ``train_dataloader``/``val_dataloader`` config dicts.

A batch keeps MMSegmentation's shape: ``{'inputs': [CxHxW uint8, ...], 'data_samples': [dict, ...]}``
(images of different sizes stay a list; the data preprocessor pads and stacks them).
"""

from __future__ import annotations

import itertools
import logging
import os
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from seglab.engine import dist
from seglab.errors import ConfigError
from seglab.registry import DATASETS

logger = logging.getLogger("seglab")

LOADER_KEYS = {"batch_size", "num_workers", "persistent_workers", "sampler", "dataset", "pin_memory", "drop_last"}
IGNORED_KEYS = {"collate_fn", "prefetch_factor", "batch_sampler"}


class InfiniteSampler(Sampler):
    """Endless stream of indices (reshuffled each pass), split across processes.

    ``start`` skips that many of this process's indices without loading them, which is how a
    resumed run continues exactly where the interrupted one stopped."""

    def __init__(self, dataset: Dataset, shuffle: bool = True, seed: int | None = None) -> None:
        self.size = len(dataset)
        self.shuffle = shuffle
        self.seed = 0 if seed is None else seed
        self.rank, self.world_size = dist.rank(), dist.world_size()
        self.start = 0

    def _all_indices(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed)
        while True:
            if self.shuffle:
                yield from torch.randperm(self.size, generator=generator).tolist()
            else:
                yield from range(self.size)

    def __iter__(self) -> Iterator[int]:
        mine = itertools.islice(self._all_indices(), self.rank, None, self.world_size)
        return itertools.islice(mine, self.start, None)

    def __len__(self) -> int:
        return self.size


class DefaultSampler(Sampler):
    """One pass over the dataset per epoch (``set_epoch`` reshuffles), split across processes.

    Training rounds up so every process gets as many batches; evaluation (``round_up=False``)
    splits without repeats so metrics count each image once."""

    def __init__(self, dataset: Dataset, shuffle: bool = True, seed: int | None = None, round_up: bool = True) -> None:
        self.size = len(dataset)
        self.shuffle = shuffle
        self.seed = 0 if seed is None else seed
        self.round_up = round_up
        self.rank, self.world_size = dist.rank(), dist.world_size()
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _indices(self) -> list[int]:
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + self.epoch)
            indices = torch.randperm(self.size, generator=generator).tolist()
        else:
            indices = list(range(self.size))
        if self.round_up and self.world_size > 1:
            total = -(-self.size // self.world_size) * self.world_size
            indices = (indices * (total // max(len(indices), 1) + 1))[:total]
        return indices[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[int]:
        return iter(self._indices())

    def __len__(self) -> int:
        return len(self._indices())


SAMPLERS = {"InfiniteSampler": InfiniteSampler, "DefaultSampler": DefaultSampler}


def pseudo_collate(samples: list[dict]) -> dict[str, list[Any]]:
    """Gather a list of packed samples into lists per key (no stacking)."""
    return {key: [s[key] for s in samples] for key in samples[0]}


def _init_worker(base_seed: int, lower_priority: bool):
    """Seed each worker; on CPU-only machines also lower its priority so it does not preempt the
    training threads (measured: 7.1 -> 5.9 s/iteration for the tutorial config on 2 cores)."""

    def init(worker_id: int) -> None:
        if lower_priority:
            os.nice(19)
        seed = (base_seed + worker_id + 1000 * dist.rank()) % 2**32
        np.random.seed(seed)
        random.seed(seed)
        torch.manual_seed(seed)

    return init


def build_dataset(cfg: dict | Dataset) -> Dataset:
    return DATASETS.build(cfg) if isinstance(cfg, dict) else cfg


def build_dataloader(cfg: dict, seed: int = 0, training: bool = True, name: str = "dataloader") -> DataLoader:
    """Build a DataLoader from an MMSegmentation-style dataloader config."""
    unknown = set(cfg) - LOADER_KEYS - IGNORED_KEYS
    if unknown:
        raise ConfigError(f"{name} has unknown key(s) {sorted(unknown)}; accepted: {sorted(LOADER_KEYS)}")
    for key in IGNORED_KEYS & set(cfg):
        logger.info(f"{name}.{key} is not used by seglab (batches are always lists of samples)")
    if "dataset" not in cfg:
        raise ConfigError(f"{name} needs a 'dataset' dict")
    dataset = build_dataset(cfg["dataset"])
    if len(dataset) == 0:
        raise ConfigError(f"{name}: the dataset is empty")
    sampler_cfg = dict(cfg.get("sampler") or dict(type="DefaultSampler", shuffle=training))
    sampler_type = sampler_cfg.pop("type", "DefaultSampler")
    if sampler_type not in SAMPLERS:
        raise ConfigError(f"{name}.sampler: unknown sampler type '{sampler_type}'; use one of {sorted(SAMPLERS)}")
    sampler_cfg.setdefault("seed", seed)
    if sampler_type == "DefaultSampler" and not training:
        sampler_cfg.setdefault("round_up", False)
    try:
        sampler = SAMPLERS[sampler_type](dataset, **sampler_cfg)
    except TypeError as err:
        raise ConfigError(f"{name}.sampler: {err}") from None
    num_workers = int(cfg.get("num_workers", 0))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if num_workers > cores:
        logger.info(f"{name}.num_workers={num_workers} is more than the {cores} CPU cores here; using {cores}")
        num_workers = cores
    return DataLoader(
        dataset,
        batch_size=int(cfg.get("batch_size", 1)),
        sampler=sampler,
        num_workers=num_workers,
        persistent_workers=bool(cfg.get("persistent_workers", False)) and num_workers > 0,
        collate_fn=pseudo_collate,
        worker_init_fn=_init_worker(seed, lower_priority=not torch.cuda.is_available()),
        pin_memory=bool(cfg.get("pin_memory", False)),
        drop_last=bool(cfg.get("drop_last", False)),
    )
