"""``seglab check-data``: find dataset mistakes before a training run trips over them.

Checks each split for images without labels (and the reverse), unreadable or truncated files,
image/label size mismatches, colour (3-channel) label images, JPEG labels, and label values
outside ``[0, num_classes)`` plus the ignore index, with hints for the usual causes (0/255 binary
masks, Cityscapes label ids instead of train ids). Prints a per-class pixel histogram.

Checking a config, it asks each dataset (built without its pipeline and without loading) for the files
it lists (``list_samples``), the folders it reads, what its label files hold and any hint of its own about
their values, so a dataset with its own layout needs no code here. The model's ``num_classes`` and
``ignore_index`` come from the caller (the CLI asks the model): the data layer builds no model.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from seglab.data.band_stats import BandStats
from seglab.data.dataset_settings import (
    WRAPPERS,
    applied_reduce_zero_label,
    dataset_defaults,
    found_suffixes_line,
    missing_images_error,
)
from seglab.data.datasets.base import SampleFiles
from seglab.data.io import IMAGE_SUFFIXES, open_label
from seglab.data.label_hints import all_ignore_hint
from seglab.data.transforms.loading import reduce_zero, size_mismatch
from seglab.errors import DatasetError
from seglab.progress import progress
from seglab.registry import DATASETS

MAX_FILES_SHOWN = 5


@dataclass
class SplitSpec:
    """One split to check: its folders and, from a config, the files its dataset lists.

    Without ``samples`` (a folder given on the command line) images and labels pair by name whatever
    their suffix. ``folders`` maps a sample key to (what, folder) for each folder that must exist."""

    name: str
    img_dir: Path
    ann_dir: Path | None
    img_suffix: str | None = None
    seg_map_suffix: str | None = None
    reduce_zero_label: bool = False
    samples: list[SampleFiles] | None = None
    listed: str | None = None  # the samples come from ann_file, which lists "names" or "files"
    folders: dict[str, tuple[str, Path]] = field(default_factory=dict)
    label_kind: str = "label"  # how messages name one label file ("depth map")
    label_values: str = "classes"  # what label pixels hold; values are checked only when they are classes
    values_hint: Callable[[set[int], int, int], str | None] | None = None  # the dataset's own label-value hint

    @property
    def holds_classes(self) -> bool:
        return self.label_values == "classes"


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


@dataclass
class Collected:
    """A split's existing images and labels under shared keys, and the images whose label is missing."""

    images: dict[str, Path]
    labels: dict[str, Path]
    unlabelled: list[Path]


def _collect(spec: SplitSpec, report: Report) -> Collected | None:
    """The split's files, after reporting missing folders, listed files and companion images."""
    missing = [(what, folder) for what, folder in spec.folders.values() if not folder.is_dir()]
    for what, folder in missing:
        report.errors.append(f"[{spec.name}] {what} folder '{folder}' does not exist")
    if missing:
        return None
    if spec.samples is None:
        images = _files(spec.img_dir, spec.img_suffix, IMAGE_SUFFIXES)
        labels = _files(spec.ann_dir, spec.seg_map_suffix, IMAGE_SUFFIXES)
        return Collected(images, labels, [images[k] for k in images if k not in labels])
    return _collect_listed(spec, report)


def _collect_listed(spec: SplitSpec, report: Report) -> Collected:
    samples = {s.img_path: s for s in spec.samples or []}
    images = {k: Path(k) for k in samples}
    expected = {k: Path(s.label_path) for k, s in samples.items() if s.label_path is not None}
    if spec.listed == "files":
        absent = [p for p in [*images.values(), *expected.values()] if not p.is_file()]
        if absent:
            report.errors.append(
                f"[{spec.name}] {len(absent)} file(s) listed in ann_file do not exist: {_listing(absent)}"
            )
    elif spec.listed == "names":
        absent = [p for p in images.values() if not p.is_file()]
        if absent:
            report.errors.append(
                f"[{spec.name}] {len(absent)} image(s) listed in ann_file do not exist: {_listing(absent)}"
            )
    images = {k: p for k, p in images.items() if p.is_file()}
    labels = {k: p for k, p in expected.items() if p.is_file()}
    if spec.listed is None and spec.ann_dir is not None:  # a scanned folder: its other label files are orphans
        wanted = set(expected.values())
        for path in _files(spec.ann_dir, spec.seg_map_suffix, IMAGE_SUFFIXES).values():
            if path not in wanted:
                labels[f"\0{path}"] = path
    for key, (what, folder) in spec.folders.items():
        alone = [images[k] for k in images if key in samples[k].extra and not Path(samples[k].extra[key]).is_file()]
        if alone:
            report.errors.append(
                f"[{spec.name}] {len(alone)} image(s) without a {what} in '{folder}': {_listing(alone)}"
            )
    return Collected(images, labels, [images[k] for k in images if k in expected and k not in labels])


def check_split(spec: SplitSpec, num_classes: int | None, ignore_index: int, report: Report) -> np.ndarray:
    """Check one split, add findings to ``report``, and return its label-value histogram (256 bins)."""
    histogram = np.zeros(256, np.int64)
    collected = _collect(spec, report)
    if collected is None:
        return histogram
    images, labels, unlabelled = collected.images, collected.labels, collected.unlabelled
    what = f"{spec.label_kind}s"
    report.lines.append(f"[{spec.name}] {spec.img_dir} <-> {spec.ann_dir}: {len(images)} images, {len(labels)} {what}")
    if not images:
        report.errors.append(f"[{spec.name}] {missing_images_error(spec.img_dir, spec.img_suffix)}")
    elif spec.img_suffix is None and (found := found_suffixes_line(images, labels)):
        report.lines.append(f"[{spec.name}] {found}")
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
    bands = BandStats()  # multi-band (TIFF) images: band counts and per-band mean/std
    for img_path, label_path in progress(pairs, f"check {spec.name}", min_items=200):
        try:
            img_hw = bands.add(img_path) if bands.wants(img_path) else image_hw(img_path, decode=True)
        except (DatasetError, OSError, SyntaxError, ValueError):
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
        if not spec.holds_classes:
            continue  # e.g. distances: pairing and sizes are checked, not values
        raw_values.update(int(v) for v in np.unique(label.clip(0, 255)))
        if spec.reduce_zero_label:
            label = reduce_zero(label.clip(0, 255).astype(np.uint8))
        counts = np.bincount(label.clip(0, 255).ravel(), minlength=256)
        histogram += counts
        for value in np.flatnonzero(counts):
            files_with_value[int(value)].append(label_path)
    for problem, paths in problems.items():
        report.errors.append(f"[{spec.name}] {len(paths)} {problem}: {_listing(paths)}")
    band_lines, band_errors = bands.lines(spec.name)
    report.lines += band_lines
    report.errors += band_errors
    if spec.holds_classes:
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
    own_hint = spec.values_hint(raw_values, ignore_index, num_classes) if spec.values_hint else None
    if hint := own_hint or all_ignore_hint(raw_values, spec.reduce_zero_label, ignore_index, num_classes):
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
    folders = (
        [("all", img_root, ann_root)] if not split_names else [(s, img_root / s, ann_root / s) for s in split_names]
    )
    return [
        SplitSpec(name, img, ann, folders={"img_path": ("image", img), "seg_map_path": ("label", ann)})
        for name, img, ann in folders
    ]


def _layout_spec(name: str, dataset: dict, where: str) -> SplitSpec:
    """The split one dataset config reads, as its dataset lists it: built without pipeline and unloaded."""
    built = DATASETS.build({"type": "BaseSegDataset", **dataset, "pipeline": [], "lazy_init": True})
    reduce_zero_label = applied_reduce_zero_label(built.reduce_zero_label, dataset.get("pipeline"), where)
    if built.ann_file and not Path(built.ann_file).is_file():
        raise DatasetError(
            f"[{name}] ann_file '{Path(built.ann_file)}' does not exist; set ann_file='' to scan the image folder"
        )
    try:
        samples = built.list_samples()
    except DatasetError as err:
        raise DatasetError(f"[{name}] {err}") from None
    return SplitSpec(
        name,
        Path(built.img_dir),
        Path(built.label_dir) if built.label_dir is not None else None,
        built.img_suffix,
        built.seg_map_suffix,
        reduce_zero_label,  # as the pipeline's LoadAnnotations applies it
        samples=samples,
        listed=built.ANN_FILE_LISTS if built.ann_file else None,
        folders={key: (what, Path(folder)) for key, (what, folder) in built.sample_folders().items()},
        label_kind=built.LABEL_KIND,
        label_values=built.LABEL_VALUES,
        values_hint=built.label_values_hint,
    )


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
    return [_layout_spec(name, dataset, where)]


def splits_from_config(cfg: dict) -> tuple[list[SplitSpec], tuple | None]:
    """The dataset splits a config trains, validates and tests on, with the class names it gives.

    The model's ``num_classes`` and ``ignore_index`` are the caller's to find (the CLI asks the model)."""
    specs, seen = [], set()
    classes = None
    for loader_key in ("train_dataloader", "val_dataloader", "test_dataloader"):
        dataset = (cfg.get(loader_key) or {}).get("dataset")
        if not isinstance(dataset, dict):
            continue
        for spec in _split_specs(loader_key.replace("_dataloader", ""), dataset, f"{loader_key}.dataset"):
            key = (spec.img_dir, spec.ann_dir, tuple(s.img_path for s in spec.samples or ()))
            if key not in seen:
                seen.add(key)
                specs.append(spec)
        first = dataset
        while first.get("type") in ("ConcatDataset", *WRAPPERS):
            first = first["datasets"][0] if first.get("type") == "ConcatDataset" else first["dataset"]
        merged, cls = dataset_defaults(first)
        metainfo = merged.get("metainfo") or {}
        classes = classes or metainfo.get("classes") or getattr(cls, "METAINFO", {}).get("classes")
    return specs, tuple(classes) if classes else None


def check_dataset(
    specs: list[SplitSpec], num_classes: int | None, ignore_index: int = 255, classes: tuple | None = None
) -> Report:
    report = Report()
    total = np.zeros(256, np.int64)
    for spec in specs:
        total += check_split(spec, num_classes, ignore_index, report)
    if specs and not any(spec.holds_classes for spec in specs):  # e.g. NYU's classes are scene categories
        kind, values = specs[0].label_kind, specs[0].label_values
        report.lines.append(f"{kind}s hold {values}: their values are not checked against classes")
        return report
    if classes and num_classes and len(classes) != num_classes:
        report.errors.append(
            f"the config names {len(classes)} classes but the model predicts num_classes={num_classes}; make them agree"
        )
    zero_is_ignore = any(spec.reduce_zero_label for spec in specs)
    report.lines += histogram_lines(total, classes, ignore_index, zero_is_ignore)
    return report
