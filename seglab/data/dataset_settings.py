"""Settings a dataset and its pipeline must agree on, read as training will apply them.

``reduce_zero_label`` lives in two places: on the dataset (which records it in every sample and in its
metainfo) and on ``LoadAnnotations`` in the dataset's pipeline, where ``None`` (the default) means "take
the dataset's". MMSegmentation's ``LoadAnnotations`` asserts that the two agree when it loads a label; seglab
checks the same rule earlier, when a dataset is built, before training and in ``check-data``, so a config
that inherits ``LoadAnnotations(reduce_zero_label=True)`` from an ADE20K base while setting
``reduce_zero_label=False`` on its own dataset stops instead of training on labels shifted by one.

Also here: a dataset config with its class's defaults filled in, and what image suffixes a folder holds.
"""

from __future__ import annotations

import inspect
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from seglab.errors import ConfigError

LOADER_KEYS = ("train_dataloader", "val_dataloader", "test_dataloader")
WRAPPERS = ("RepeatDataset", "MultiImageMixDataset")


def _is_load_annotations(transform: Any) -> bool:
    if isinstance(transform, dict):
        return str(transform.get("type", "")).rsplit(".", 1)[-1] == "LoadAnnotations"
    return type(transform).__name__ == "LoadAnnotations"


def _own_setting(transform: Any) -> bool | None:
    value = transform.get("reduce_zero_label") if isinstance(transform, dict) else transform.reduce_zero_label
    return None if value is None else bool(value)


def applied_reduce_zero_label(dataset_value: bool, pipeline: Iterable[Any] | None, where: str, of: str = "") -> bool:
    """The ``reduce_zero_label`` the pipeline's ``LoadAnnotations`` applies to the labels of a dataset whose
    own setting is ``dataset_value``. A ``LoadAnnotations`` that sets another value raises a one-line
    ``ConfigError``: ``where`` names the dataset (``train_dataloader.dataset``), ``of`` how to name its
    pipeline (default ``{where}.pipeline``)."""
    dataset_value = bool(dataset_value)
    for index, transform in enumerate(pipeline or ()):
        if not _is_load_annotations(transform):
            continue
        own = _own_setting(transform)
        if own is not None and own != dataset_value:
            effect = (
                "labels would load shifted by one with file value 0 ignored"
                if own
                else "file value 0 would be trained as a class while the dataset treats it as ignore"
            )
            raise ConfigError(
                f"{where}.reduce_zero_label={dataset_value} vs {of or where + '.pipeline'}[{index}] "
                f"(LoadAnnotations) reduce_zero_label={own}: {effect} (MMSegmentation stops here too); set one "
                "value in both places (True if file value 0 means 'ignore', False if 0 is a class), or drop it "
                "from LoadAnnotations so it takes the dataset's"
            )
    return dataset_value


def dataset_defaults(dataset: dict) -> tuple[dict, type]:
    """The dataset config with its class's defaults (suffixes, reduce_zero_label, data_prefix) filled in."""
    from seglab.data.datasets.base import BaseSegDataset
    from seglab.registry import DATASETS

    cls = DATASETS.get(dataset.get("type", "BaseSegDataset"))
    defaults = {}
    for klass in reversed(cls.__mro__):
        if isinstance(klass, type) and issubclass(klass, BaseSegDataset):
            for name, param in inspect.signature(klass.__init__).parameters.items():
                if param.default is not inspect.Parameter.empty:
                    defaults[name] = param.default
    defaults.update(getattr(cls, "FIXED_ARGS", {}))  # REFUGE: suffixes fixed inside the class
    if getattr(cls, "DEFAULT_DATA_PREFIX", None) and not dataset.get("data_prefix"):
        defaults["data_prefix"] = cls.DEFAULT_DATA_PREFIX  # NYU: images/ and annotations/
    return {**defaults, **dataset}, cls


def _leaf_datasets(dataset: dict, where: str):
    """(key path, dataset config) of each dataset that reads files, through Concat/Repeat/MultiImageMix."""
    kind = dataset.get("type")
    if kind == "ConcatDataset":
        for i, part in enumerate(dataset.get("datasets") or []):
            if isinstance(part, dict):
                yield from _leaf_datasets(part, f"{where}.datasets[{i}]")
    elif kind in WRAPPERS:
        if isinstance(dataset.get("dataset"), dict):
            yield from _leaf_datasets(dataset["dataset"], f"{where}.dataset")
    else:
        yield where, dataset


def check_label_settings(cfg: dict) -> None:
    """Every dataset of the train/val/test loaders agrees with its pipeline on ``reduce_zero_label``."""
    for loader_key in LOADER_KEYS:
        dataset = (cfg.get(loader_key) or {}).get("dataset")
        if not isinstance(dataset, dict):
            continue
        for where, leaf in _leaf_datasets(dataset, f"{loader_key}.dataset"):
            merged, _ = dataset_defaults(leaf)
            applied_reduce_zero_label(merged.get("reduce_zero_label", False), merged.get("pipeline"), where)


def _counts(paths: Iterable[Path]) -> list[tuple[str, int]]:
    return Counter(path.suffix.lower() or "(none)" for path in paths).most_common()


def missing_images_error(img_dir: Path, img_suffix: str | None) -> str:
    """No image ends in ``img_suffix``: what the folder holds, and the config line that would match it."""
    found = _counts(p for p in img_dir.rglob("*") if p.is_file()) if img_dir.is_dir() else []
    if not found:
        return f"no images under '{img_dir}' (img_suffix={img_suffix!r}): the folder holds no files"
    listing = ", ".join(f"'{s}' ({n})" for s, n in found)
    return (
        f"no images under '{img_dir}' (img_suffix={img_suffix!r}); its files end in {listing}: "
        f"set img_suffix={found[0][0]!r} in the dataset config"
    )


def found_suffixes_line(images: dict[str, Path], labels: dict[str, Path]) -> str | None:
    """For a folder checked without a config: the suffixes found, as the config lines that match them."""
    image_suffixes = _counts(images.values())
    if not image_suffixes:
        return None
    label_suffixes = _counts(labels[k] for k in images if k in labels) or _counts(labels.values())
    line = f"img_suffix={image_suffixes[0][0]!r}"
    if label_suffixes:
        line += f", seg_map_suffix={label_suffixes[0][0]!r}"
    mixed = [f"'{s}' ({n})" for s, n in image_suffixes] if len(image_suffixes) > 1 else []
    note = f" (images are mixed: {', '.join(mixed)}; a config reads one suffix)" if mixed else ""
    return f"suffixes found: in a config set {line}{note}"
