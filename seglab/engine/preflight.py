"""Checks run before anything heavy is built, so classic config mistakes fail in one line."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
from PIL import Image

from seglab.data.check import image_hw
from seglab.data.dataset_settings import check_label_settings  # noqa: F401 — the runner calls it from here
from seglab.data.io import read_label
from seglab.data.label_hints import all_ignore_hint
from seglab.data.transforms.loading import LoadAnnotations
from seglab.errors import ConfigError
from seglab.fileio.checkpoint import fetch
from seglab.registry import TRANSFORMS

SAMPLED_LABELS = 16


def check_load_from(cfg: dict) -> None:
    """``load_from`` must exist (URLs are fetched later); the error names the published URL."""
    source = cfg.get("load_from")
    if source and not str(source).startswith(("http://", "https://")):
        fetch(str(source))


def check_num_classes(model, classes: tuple | None) -> int:
    """The model predicts as many classes as the dataset names (its heads agree: the segmentor checks
    that when it is built); returns that number."""
    num_classes = model.num_classes
    if classes is not None and len(classes) != num_classes:
        name = next(iter(model.heads()))[0]
        raise ConfigError(
            f"{name}.num_classes={num_classes} but the dataset names {len(classes)} classes "
            f"{tuple(classes)[:6]}{'...' if len(classes) > 6 else ''}: set num_classes={len(classes)} in "
            "decode_head and auxiliary_head, or fix metainfo.classes"
        )
    return num_classes


def check_label_values(dataset, num_classes: int, ignore_index: int) -> None:
    """Read a spread of label files and fail on values the model cannot predict, or on a label whose
    size is not its image's (LoadAnnotations compares it with ``ori_shape``, here read off the header)."""
    infos = getattr(dataset, "data_list", None)
    if infos is None:  # ConcatDataset: the parts' lists
        infos = [info for part in getattr(dataset, "datasets", []) for info in getattr(part, "data_list", [])]
    if not infos:
        return
    picks = np.linspace(0, len(infos) - 1, min(SAMPLED_LABELS, len(infos))).astype(int)
    seen: set[int] = set()
    read: list[str] = []
    reduced = False  # whether reduce_zero_label made file value 0 'ignore'
    for index in sorted(set(picks.tolist())):
        info = infos[index]
        if "seg_map_path" not in info:
            return
        results = copy.deepcopy(info)
        if isinstance(info.get("img_path"), str | Path) and Path(info["img_path"]).is_file():
            try:
                results["ori_shape"] = image_hw(info["img_path"])
            except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
                pass  # a file Pillow will not read: training's reader checks the size
        loaded = LoadAnnotations()(results)  # as training will see it
        values = set(np.unique(loaded["gt_seg_map"]).tolist())
        seen |= values
        read.append(info["seg_map_path"])
        reduced = reduced or bool(loaded.get("reduce_zero_label"))
        bad = sorted(v for v in values if v >= num_classes and v != ignore_index)
        if bad:
            raise ConfigError(
                f"label file '{info['seg_map_path']}' holds value(s) {bad[:8]}, but num_classes={num_classes} "
                f"(valid: 0..{num_classes - 1}, {ignore_index} = ignore). Fix num_classes or the labels; "
                "'seglab check-data CONFIG' lists every affected file"
            )
    if ignore_index in seen and seen <= {0, ignore_index}:  # every pixel 'ignore' or class 0: which mistake?
        raw = set().union(*(np.unique(read_label(path)).tolist() for path in read)) if reduced else seen
        hint = all_ignore_hint(raw, reduced, ignore_index, num_classes)
        if hint:
            raise ConfigError(f"the sampled {hint}; 'seglab check-data CONFIG' lists every file")


def check_batch_padding(cfg: dict) -> None:
    """Random resizing/cropping with batches > 1 needs the preprocessor to pad to a common size."""
    loader = cfg.get("train_dataloader") or {}
    dataset = loader.get("dataset") or {}
    pipeline = dataset.get("pipeline") or []
    pre = (cfg.get("model") or {}).get("data_preprocessor") or {}
    if loader.get("batch_size", 1) <= 1 or pre.get("size") or pre.get("size_divisor"):
        return
    changing = size_changing_types(pipeline)
    if changing:
        raise ConfigError(
            f"the train pipeline ({', '.join(changing)}) can give images of different sizes in a batch of "
            f"{loader['batch_size']}, and model.data_preprocessor sets neither size nor size_divisor: add "
            "size=crop_size to model.data_preprocessor"
        )


def size_changing_types(pipeline: list) -> list[str]:
    """The type names in ``pipeline``, wrappers' nested ``transforms`` included, whose class declares
    ``changes_size``; each class is imported through the catalog, and unknown names are left to the build."""
    found = []
    for entry in pipeline:
        if isinstance(entry, list | tuple):
            found += size_changing_types(list(entry))
            continue
        if not isinstance(entry, dict):
            continue
        kind = entry.get("type")
        cls = kind if isinstance(kind, type) else transform_class(kind)
        if getattr(cls, "changes_size", False):
            found.append(getattr(kind, "__name__", kind))
        if isinstance(entry.get("transforms"), list | tuple):
            found += size_changing_types(list(entry["transforms"]))
    return found


def transform_class(name: object) -> type | None:
    """The transform class registered as ``name``, or None when there is none or it cannot be imported."""
    if not isinstance(name, str) or name not in TRANSFORMS:
        return None
    try:
        return TRANSFORMS.get(name)
    except ConfigError:  # a missing optional package: building the pipeline says so
        return None
