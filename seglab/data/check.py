"""``seglab check-data``: find dataset mistakes before a training run trips over them.

Checks each split for images without labels (and the reverse), unreadable or truncated files,
image/label size mismatches, colour (3-channel) label images, JPEG labels, and label values
outside ``[0, num_classes)`` plus the ignore index, with hints for the usual causes (0/255 binary
masks, Cityscapes label ids instead of train ids). Prints a per-class pixel histogram.

Checking a config, it knows the dataset type's conventions: reduce_zero_label datasets (ADE20K, LoveDA,
ISPRS ...) store 0 for "ignore", the retinal vessel datasets store vessel as 1 (not 255), depth maps
(NYU) hold distances rather than classes, change-detection samples need a second image, and Decathlon
lists its files in dataset.json.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from seglab.data.dataset_settings import (
    WRAPPERS,
    applied_reduce_zero_label,
    dataset_defaults,
    found_suffixes_line,
    missing_images_error,
)
from seglab.data.io import IMAGE_SUFFIXES, open_label
from seglab.data.label_hints import all_ignore_hint
from seglab.data.transforms.loading import reduce_zero, size_mismatch
from seglab.errors import DatasetError
from seglab.progress import progress

MAX_FILES_SHOWN = 5

# Dataset types whose labels MMSegmentation's converters write as 0/1, with their `seglab prepare` name.
VESSEL_DATASETS = {
    "DRIVEDataset": "drive",
    "STAREDataset": "stare",
    "ChaseDB1Dataset": "chase_db1",
    "HRFDataset": "hrf",
}


@dataclass
class SplitSpec:
    """Where one split's files are and how they are named."""

    name: str
    img_dir: Path
    ann_dir: Path
    img_suffix: str | None = None
    seg_map_suffix: str | None = None
    reduce_zero_label: bool = False
    names: list[str] | None = None  # from an ann_file: only these images belong to the split
    dataset_type: str | None = None
    img_dir2: Path | None = None  # change detection: the second image of each pair
    depth: bool = False  # depth maps: pairing and sizes are checked, values are distances
    pairs: dict[str, tuple[Path, Path | None]] | None = None  # listed files (Decathlon's dataset.json)


@dataclass
class Report:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def text(self) -> str:
        out = list(self.lines)
        out += [f"WARNING: {w}" for w in self.warnings]
        out += [f"ERROR: {e}" for e in self.errors]
        verdict = f"{len(self.errors)} error(s), {len(self.warnings)} warning(s)"
        out.append(f"check-data: {verdict}" + ("" if self.errors else " — the dataset looks usable"))
        return "\n".join(out)


def _files(folder: Path, suffix: str | None, suffixes: tuple[str, ...]) -> dict[str, Path]:
    """Files under ``folder`` keyed by their name relative to it, without the suffix."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        rel = str(path.relative_to(folder))
        if suffix is not None:
            if rel.endswith(suffix):
                found[rel[: -len(suffix)]] = path
        elif path.suffix.lower() in suffixes:
            found[rel[: -len(path.suffix)]] = path
    return found


def _listing(paths: list) -> str:
    shown = ", ".join(str(p) for p in paths[:MAX_FILES_SHOWN])
    return shown + (f" (+{len(paths) - MAX_FILES_SHOWN} more)" if len(paths) > MAX_FILES_SHOWN else "")


EXIF_ORIENTATION = 0x0112
TRANSPOSING_ORIENTATIONS = (5, 6, 7, 8)  # rotated by 90 degrees: OpenCV (training's reader) swaps h and w


def image_hw(path: str | Path, decode: bool = False) -> tuple[int, int]:
    """(h, w) as training's reader (OpenCV, which applies the EXIF orientation) gives it; ``decode`` reads
    every pixel, so truncated files fail here, otherwise only the header is read."""
    with Image.open(path) as img:
        if decode:
            img.load()
        w, h = img.size
        if img.getexif().get(EXIF_ORIENTATION) in TRANSPOSING_ORIENTATIONS:
            return w, h
        return h, w


def _collect(spec: SplitSpec, report: Report) -> tuple[dict[str, Path], dict[str, Path]] | None:
    """The split's images and labels keyed by sample name, after reporting missing folders/listed files."""
    if spec.pairs is not None:
        images = {n: img for n, (img, _) in spec.pairs.items()}
        labels = {n: lab for n, (_, lab) in spec.pairs.items() if lab is not None}
        missing = [p for p in [*images.values(), *labels.values()] if not p.is_file()]
        if missing:
            report.errors.append(
                f"[{spec.name}] {len(missing)} file(s) listed in ann_file do not exist: {_listing(missing)}"
            )
        return {n: p for n, p in images.items() if p.is_file()}, {n: p for n, p in labels.items() if p.is_file()}
    folders = [(spec.img_dir, "image"), (spec.ann_dir, "depth map" if spec.depth else "label")]
    folders += [(spec.img_dir2, "second image")] if spec.img_dir2 is not None else []
    missing = [(f, w) for f, w in folders if not f.is_dir()]
    for folder, what in missing:
        report.errors.append(f"[{spec.name}] {what} folder '{folder}' does not exist")
    if missing:
        return None
    images = _files(spec.img_dir, spec.img_suffix, IMAGE_SUFFIXES)
    labels = _files(spec.ann_dir, spec.seg_map_suffix, IMAGE_SUFFIXES)
    if spec.names is not None:
        missing = [spec.img_dir / f"{n}{spec.img_suffix}" for n in spec.names if n not in images]
        if missing:
            report.errors.append(
                f"[{spec.name}] {len(missing)} image(s) listed in ann_file do not exist: {_listing(missing)}"
            )
        images = {n: images[n] for n in spec.names if n in images}
        labels = {n: labels[n] for n in spec.names if n in labels}
    if spec.img_dir2 is not None:
        seconds = _files(spec.img_dir2, None, IMAGE_SUFFIXES)
        alone = [images[k] for k in images if k not in seconds]
        if alone:
            report.errors.append(
                f"[{spec.name}] {len(alone)} image(s) without a second image in '{spec.img_dir2}': {_listing(alone)}"
            )
    return images, labels


def check_split(spec: SplitSpec, num_classes: int | None, ignore_index: int, report: Report) -> np.ndarray:
    """Check one split, add findings to ``report``, and return its label-value histogram (256 bins)."""
    histogram = np.zeros(256, np.int64)
    collected = _collect(spec, report)
    if collected is None:
        return histogram
    images, labels = collected
    what = "depth maps" if spec.depth else "labels"
    report.lines.append(f"[{spec.name}] {spec.img_dir} <-> {spec.ann_dir}: {len(images)} images, {len(labels)} {what}")
    if not images:
        report.errors.append(f"[{spec.name}] {missing_images_error(spec.img_dir, spec.img_suffix)}")
    elif spec.img_suffix is None and (found := found_suffixes_line(images, labels)):
        report.lines.append(f"[{spec.name}] {found}")
    unlabelled = [images[k] for k in images if k not in labels] if labels or spec.pairs is None else []
    orphans = [labels[k] for k in labels if k not in images] if images else []  # no images: the suffix error says why
    if unlabelled:
        report.errors.append(f"[{spec.name}] {len(unlabelled)} image(s) without a {what[:-1]}: {_listing(unlabelled)}")
    if orphans:
        report.warnings.append(f"[{spec.name}] {len(orphans)} {what[:-1]}(s) without an image: {_listing(orphans)}")
    jpeg_labels = [p for p in labels.values() if p.suffix.lower() in (".jpg", ".jpeg")]
    if jpeg_labels:
        report.errors.append(
            f"[{spec.name}] {len(jpeg_labels)} label(s) are JPEG ({_listing(jpeg_labels)}): JPEG compression "
            "invents values between classes; save labels as PNG"
        )
    problems: dict[str, list[Path]] = defaultdict(list)
    files_with_value: dict[int, list[Path]] = defaultdict(list)
    raw_values: set[int] = set()
    pairs = [(images[k], labels[k]) for k in images if k in labels]
    for img_path, label_path in progress(pairs, f"check {spec.name}", min_items=200):
        try:
            img_hw = image_hw(img_path, decode=True)
        except (OSError, SyntaxError, ValueError):
            problems["unreadable or truncated image(s)"].append(img_path)
            img_hw = None
        try:
            label = open_label(label_path)  # a full decode: truncated files fail here
        except (DatasetError, OSError, SyntaxError, ValueError):
            problems[f"unreadable or truncated {what[:-1]}(s)"].append(label_path)
            continue
        if label.ndim == 3 and label.shape[2] >= 3:
            problems[f"colour (3-channel) {what[:-1]}(s); convert colours to class indices"].append(label_path)
            continue
        label = label.reshape(label.shape[:2]).astype(np.int64)
        if img_hw is not None and img_hw != label.shape:  # one error per pair: each needs its own fix
            report.errors.append(
                f"[{spec.name}] size mismatch: " + size_mismatch(img_path, img_hw, label_path, label.shape, False)
            )
        if spec.depth:
            continue  # distances, not classes
        raw_values.update(int(v) for v in np.unique(label.clip(0, 255)))
        if spec.reduce_zero_label:
            label = reduce_zero(label.clip(0, 255).astype(np.uint8))
        counts = np.bincount(label.clip(0, 255).ravel(), minlength=256)
        histogram += counts
        for value in np.flatnonzero(counts):
            files_with_value[int(value)].append(label_path)
    for problem, paths in problems.items():
        report.errors.append(f"[{spec.name}] {len(paths)} {problem}: {_listing(paths)}")
    if not spec.depth:
        _check_values(spec, histogram, raw_values, files_with_value, num_classes, ignore_index, report)
    return histogram


def _check_values(spec, histogram, raw_values, files_with_value, num_classes, ignore_index, report) -> None:
    name = spec.name
    values = [int(v) for v in np.flatnonzero(histogram)]
    shift = " (file value - 1: reduce_zero_label)" if spec.reduce_zero_label else ""
    report.lines.append(f"[{name}] label values found{shift}: {values}")
    if num_classes is None:
        return
    bad = [v for v in values if v >= num_classes and v != ignore_index]
    for value in bad:
        stored = f" (stored as {value + 1}; reduce_zero_label)" if spec.reduce_zero_label else ""
        report.errors.append(
            f"[{name}] label value {value}{stored} is outside [0, {num_classes}) and is not the ignore index "
            f"{ignore_index}; in: {_listing(files_with_value[value])}"
        )
    if bad and num_classes == 19 and max(bad) <= 33:
        report.errors.append(
            f"[{name}] these look like Cityscapes label ids (0..33), not train ids (0..18): use the "
            "*_gtFine_labelTrainIds.png files made by cityscapesscripts' createTrainIdLabelImgs"
        )
    binary_255 = ignore_index in raw_values and raw_values <= {0, ignore_index} and num_classes >= 2
    if binary_255 and spec.dataset_type in VESSEL_DATASETS:
        report.errors.append(
            f"[{name}] {spec.dataset_type} labels must store vessel as 1 and background as 0 (MMSegmentation's "
            f"converter writes mask // 128), but these hold 0/{ignore_index}, so every vessel pixel is ignored: "
            f"convert the download with 'seglab prepare {VESSEL_DATASETS[spec.dataset_type]}' or save label // 255"
        )
    elif hint := all_ignore_hint(raw_values, spec.reduce_zero_label, ignore_index, num_classes):
        report.errors.append(f"[{name}] {hint}")
    elif values and num_classes > 1 and 0 in values and not [v for v in values if 0 < v < num_classes]:
        report.warnings.append(f"[{name}] every labelled pixel is class 0")


def histogram_lines(
    histogram: np.ndarray, classes: tuple[str, ...] | None, ignore_index: int, zero_is_ignore: bool = False
) -> list[str]:
    total = int(histogram.sum())
    lines = ["class pixel histogram:", f"  {'value':>5}  {'class':<20} {'pixels':>12} {'share':>7}"]
    for value in np.flatnonzero(histogram):
        value = int(value)
        if value == ignore_index:
            label = "(ignore)"
        elif classes and value < len(classes):
            label = str(classes[value])
        else:
            label = "?"
        share = 100.0 * histogram[value] / max(total, 1)
        lines.append(f"  {value:>5}  {label:<20} {int(histogram[value]):>12} {share:>6.2f}%")
    if zero_is_ignore:
        lines.append(
            "  note: reduce_zero_label=True: label 0 in the files counts as (ignore) and file value v as class v-1"
        )
    return lines


def splits_from_folder(root: Path) -> list[SplitSpec]:
    """``root/img_dir/<split>`` paired with ``root/ann_dir/<split>`` (or the folders themselves)."""
    img_root, ann_root = root / "img_dir", root / "ann_dir"
    if not img_root.is_dir() or not ann_root.is_dir():
        raise DatasetError(f"'{root}' has no img_dir/ and ann_dir/ folders; pass the dataset root or a config")
    split_names = sorted(p.name for p in img_root.iterdir() if p.is_dir())
    if not split_names:
        return [SplitSpec("all", img_root, ann_root)]
    return [SplitSpec(s, img_root / s, ann_root / s) for s in split_names]


def _decathlon_pairs(name: str, ann_file: Path, root: Path, test_mode: bool) -> dict:
    try:
        listing = json.loads(ann_file.read_text())[("test" if test_mode else "training")]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DatasetError(f"[{name}] cannot read the file list of Decathlon's '{ann_file}' ({err})") from None
    pairs = {}
    for entry in listing:
        image, label = (entry.get("image"), entry.get("label")) if isinstance(entry, dict) else (entry, None)
        pairs[image] = (root / image.removeprefix("./"), root / label.removeprefix("./") if label else None)
    return pairs


def _split_specs(name: str, dataset: dict, where: str) -> list[SplitSpec]:
    if dataset.get("type") == "ConcatDataset":
        parts = dataset.get("datasets") or []
        return [
            spec
            for i, part in enumerate(parts)
            for spec in _split_specs(f"{name}[{i}]", part, f"{where}.datasets[{i}]")
        ]
    if dataset.get("type") in WRAPPERS:
        return _split_specs(name, dataset.get("dataset") or {}, f"{where}.dataset")
    merged, cls = dataset_defaults(dataset)
    reduce_zero_label = applied_reduce_zero_label(merged.get("reduce_zero_label"), merged.get("pipeline"), where)
    root = Path(merged.get("data_root") or "")
    prefix = merged.get("data_prefix") or {}
    depth = "depth_map_path" in prefix
    spec = SplitSpec(
        name,
        root / prefix.get("img_path", ""),
        root / (prefix.get("depth_map_path") if depth else prefix.get("seg_map_path", "")),
        merged.get("img_suffix", ".jpg"),
        merged.get("depth_map_suffix" if depth else "seg_map_suffix", ".png"),
        reduce_zero_label,  # as the pipeline's LoadAnnotations applies it
        dataset_type=cls.__name__,
        img_dir2=root / prefix["img_path2"] if "img_path2" in prefix else None,
        depth=depth,
    )
    if merged.get("ann_file"):
        ann_file = root / merged["ann_file"]
        if not ann_file.is_file():
            raise DatasetError(
                f"[{name}] ann_file '{ann_file}' does not exist; set ann_file='' to scan the image folder"
            )
        if cls.__name__ == "DecathlonDataset":
            spec.pairs = _decathlon_pairs(name, ann_file, root, bool(merged.get("test_mode")))
        else:
            spec.names = [line.strip() for line in ann_file.read_text().splitlines() if line.strip()]
    return [spec]


def splits_from_config(cfg: dict) -> tuple[list[SplitSpec], int | None, int, tuple | None]:
    """The dataset folders a config trains and validates on, with its class count and ignore index."""
    specs, seen = [], set()
    classes = None
    for loader_key in ("train_dataloader", "val_dataloader", "test_dataloader"):
        dataset = (cfg.get(loader_key) or {}).get("dataset")
        if not isinstance(dataset, dict):
            continue
        for spec in _split_specs(loader_key.replace("_dataloader", ""), dataset, f"{loader_key}.dataset"):
            key = (spec.img_dir, spec.ann_dir, tuple(spec.names or ()), tuple(spec.pairs or ()))
            if key not in seen:
                seen.add(key)
                specs.append(spec)
        first = dataset
        while first.get("type") in ("ConcatDataset", *WRAPPERS):
            first = first["datasets"][0] if first.get("type") == "ConcatDataset" else first["dataset"]
        merged, cls = dataset_defaults(first)
        metainfo = merged.get("metainfo") or {}
        classes = classes or metainfo.get("classes") or getattr(cls, "METAINFO", {}).get("classes")
    num_classes, ignore_index = _class_facts(cfg.get("model"))
    return specs, num_classes, ignore_index, tuple(classes) if classes else None


def _class_facts(model_cfg: dict | None) -> tuple[int | None, int]:
    """(num_classes, ignore_index), asked of the model; a config too partial to build (check-data runs
    before a model is complete) falls back to its main head's keys."""
    if not model_cfg:
        return None, 255
    from seglab.errors import SeglabError
    from seglab.models.builder import build_on_meta

    try:
        model = build_on_meta(model_cfg)
        return model.num_classes, model.ignore_index
    except SeglabError:
        head = model_cfg.get("decode_head") or {}
        head = head[-1] if isinstance(head, list) and head else head
        return head.get("num_classes"), head.get("ignore_index", 255)


def check_dataset(
    specs: list[SplitSpec], num_classes: int | None, ignore_index: int = 255, classes: tuple | None = None
) -> Report:
    report = Report()
    total = np.zeros(256, np.int64)
    for spec in specs:
        total += check_split(spec, num_classes, ignore_index, report)
    if specs and all(spec.depth for spec in specs):  # NYU's classes are scene categories, not what the model predicts
        report.lines.append("depth maps hold distances: their values are not checked against classes")
        return report
    if classes and num_classes and len(classes) != num_classes:
        report.errors.append(
            f"the config names {len(classes)} classes but the model predicts num_classes={num_classes}; make them agree"
        )
    zero_is_ignore = any(spec.reduce_zero_label for spec in specs)
    report.lines += histogram_lines(total, classes, ignore_index, zero_is_ignore)
    return report
