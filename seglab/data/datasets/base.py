"""Segmentation datasets laid out as image folders with matching label folders.

``BaseSegDataset`` pairs ``data_root/img_path/**/NAME{img_suffix}`` with
``data_root/seg_map_path/**/NAME{seg_map_suffix}``; the file list comes from scanning the image
folder (``ann_file=''``) or from a text file with one NAME per line. A sample is a plain dict that
the pipeline turns into model inputs.

A dataset lists its own samples (``list_samples``): loading and ``seglab check-data`` both ask it, so a
family with its own layout overrides that method (and ``sample_info``) in its own module.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from seglab.data.dataset_settings import applied_reduce_zero_label
from seglab.data.transforms import Compose
from seglab.errors import DatasetError
from seglab.registry import DATASETS


def make_palette(num_classes: int) -> list[list[int]]:
    """Deterministic random colours for datasets that name classes but give no palette."""
    rng = np.random.RandomState(42)
    return rng.randint(0, 255, size=(num_classes, 3)).tolist()


@dataclass
class SampleFiles:
    """One sample's files as its dataset will read them, named before any is opened (they may be missing).

    ``label_path`` is None for a sample without a label (a test list); ``extra`` holds further files by
    their sample key, e.g. change detection's second image under ``img_path2``."""

    img_path: str
    label_path: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


@DATASETS.register()
class BaseSegDataset(Dataset):
    """Image folder + label folder dataset with MMSegmentation's arguments."""

    METAINFO: dict = dict(classes=None, palette=None)

    # What a label file is, for loading and for check-data: the sample key LoadAnnotations reads, how
    # messages name one file, and what its pixels hold (check-data checks values only when they are classes).
    LABEL_KEY = "seg_map_path"
    LABEL_KIND = "label"
    LABEL_VALUES = "classes"
    # What an ann_file lists: sample names (joined with folders and suffixes) or "files" (the paths themselves).
    ANN_FILE_LISTS = "names"

    # MMEngine BaseDataset arguments about caching: seglab keeps file lists as plain dicts.
    IGNORED_ARGS = {
        "filter_cfg": None,
        "serialize_data": True,
        "max_refetch": 1000,
        "backend_args": None,
    }

    def __init__(
        self,
        ann_file: str | None = "",
        metainfo: dict | None = None,
        data_root: str | None = None,
        data_prefix: dict | None = None,
        img_suffix: str = ".jpg",
        seg_map_suffix: str = ".png",
        filter_cfg: dict | None = None,
        indices: int | Sequence[int] | None = None,
        serialize_data: bool = True,
        pipeline: Sequence[Any] = (),
        test_mode: bool = False,
        lazy_init: bool = False,
        max_refetch: int = 1000,
        ignore_index: int = 255,
        reduce_zero_label: bool = False,
        backend_args: dict | None = None,
    ) -> None:
        self.data_root = data_root or ""
        prefix = dict(img_path="", seg_map_path="")
        prefix.update(data_prefix or {})
        # every prefix (img_path2, depth_map_path ... too) is joined with data_root, as MMEngine does
        self.data_prefix = {k: self._join_root(v) if isinstance(v, str) else v for k, v in prefix.items()}
        self.img_dir = self.data_prefix["img_path"]
        self.ann_dir = self.data_prefix["seg_map_path"]
        self.ann_file = self._join_root(ann_file) if ann_file else ""
        self.img_suffix = img_suffix
        self.seg_map_suffix = seg_map_suffix
        self.ignore_index = ignore_index
        self.reduce_zero_label = reduce_zero_label
        self.test_mode = test_mode
        self.metainfo = self._build_metainfo(metainfo or {})
        self.label_map = self.metainfo["label_map"]
        self.pipeline = Compose(pipeline)
        # MMSegmentation's LoadAnnotations asserts this per label; checked once here, before any loading
        applied_reduce_zero_label(reduce_zero_label, self.pipeline, type(self).__name__, of="its pipeline")
        self._indices = indices
        self.data_list: list[dict] = []
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    def full_init(self) -> None:
        """Load the file list (once). ``lazy_init=True`` defers this as in MMEngine: check-data builds a
        dataset that way to ask it for ``list_samples`` without loading anything."""
        if self._fully_initialized:
            return
        data_list = self.load_data_list()
        if self._indices is not None:
            keep = range(self._indices) if isinstance(self._indices, int) else self._indices
            data_list = [data_list[i] for i in keep]
        for index, info in enumerate(data_list):
            info["sample_idx"] = index  # MMEngine numbers samples after ``indices`` picked them
        self.data_list = data_list
        self._fully_initialized = True

    def _join_root(self, path: str) -> str:
        if not path:
            return self.data_root
        if Path(path).is_absolute() or not self.data_root:
            return str(path)
        return str(Path(self.data_root) / path)

    def _build_metainfo(self, user: dict) -> dict:
        default = copy.deepcopy(type(self).METAINFO)
        classes = user.get("classes", default.get("classes"))
        palette = user.get("palette", None if "classes" in user else default.get("palette"))
        label_map = None
        default_classes = default.get("classes")
        if "classes" in user and default_classes and tuple(classes) != tuple(default_classes):
            unknown = [c for c in classes if c not in default_classes]
            if unknown:
                raise DatasetError(
                    f"{type(self).__name__}: classes {unknown} are not among its classes "
                    f"{list(default_classes)}; use type='BaseSegDataset' for your own classes"
                )
            label_map = {
                old: (classes.index(name) if name in classes else 255) for old, name in enumerate(default_classes)
            }
            if palette is None and default.get("palette"):
                palette = [default["palette"][default_classes.index(c)] for c in classes]
        if classes is not None:
            classes = tuple(classes)
            if not palette:
                palette = make_palette(len(classes))
            elif len(palette) != len(classes):
                raise DatasetError(
                    f"metainfo has {len(classes)} classes but {len(palette)} palette colours; give one colour per class"
                )
            palette = [list(c) for c in palette]
        extra = {k: v for k, v in {**default, **user}.items() if k not in ("classes", "palette")}
        return dict(
            extra, classes=classes, palette=palette, label_map=label_map, reduce_zero_label=self.reduce_zero_label
        )

    def load_data_list(self) -> list[dict]:
        """One info dict per sample, from ``list_samples``; a folder that yields none says why."""
        samples = self.list_samples()
        if not samples and not self.reads_ann_file():
            raise self.no_samples_error()
        return [self.sample_info(sample) for sample in samples]

    def list_samples(self) -> list[SampleFiles]:
        """Every sample's files without opening any: what loading reads and ``seglab check-data`` checks.
        A missing image folder lists nothing (loading then raises ``no_samples_error``)."""
        return [self.sample_files(name) for name in self.sample_names()]

    def sample_folders(self) -> dict[str, tuple[str, str]]:
        """Sample key -> (what, folder) for each folder the listing reads; check-data reports missing ones."""
        folders = {"img_path": ("image", self.img_dir)}
        if self.label_dir is not None:
            folders[self.LABEL_KEY] = (self.LABEL_KIND, self.label_dir)
        return folders

    @property
    def label_dir(self) -> str | None:
        """The folder of the label files, None when samples have no labels."""
        return self.ann_dir or None

    def reads_ann_file(self) -> bool:
        """Whether the samples come from ``ann_file`` (MMSegmentation scans the images when it is a folder)."""
        return bool(self.ann_file) and not Path(self.ann_file).is_dir()

    def sample_names(self) -> list[str]:
        """Sample names relative to the image folder, without ``img_suffix``."""
        img_dir = Path(self.img_dir)
        if self.reads_ann_file():
            ann_path = Path(self.ann_file)
            if not ann_path.is_file():
                raise DatasetError(
                    f"ann_file '{ann_path}' does not exist; fix the path, or set ann_file='' "
                    f"to use every '*{self.img_suffix}' image under '{img_dir}'"
                )
            return [line.strip() for line in ann_path.read_text().splitlines() if line.strip()]
        if not img_dir.is_dir():
            return []
        return sorted(
            str(p.relative_to(img_dir))[: -len(self.img_suffix)]
            for p in img_dir.rglob(f"*{self.img_suffix}")
            if p.is_file()
        )

    def no_samples_error(self) -> DatasetError:
        """Why scanning the image folder found no sample: the folder is missing, or no file has ``img_suffix``."""
        img_dir = Path(self.img_dir)
        if not img_dir.is_dir():
            return DatasetError(f"image folder '{img_dir}' does not exist; check data_root and data_prefix.img_path")
        found = sorted({p.suffix for p in img_dir.rglob("*") if p.is_file()})
        return DatasetError(
            f"no '*{self.img_suffix}' images under '{img_dir}' (suffixes found: {found or 'none'}); "
            "set img_suffix to match your files"
        )

    def sample_files(self, name: str) -> SampleFiles:
        """The files of sample ``name``: ``img_dir/name{img_suffix}`` and ``label_dir/name{seg_map_suffix}``."""
        label_dir = self.label_dir
        return SampleFiles(
            img_path=str(Path(self.img_dir) / f"{name}{self.img_suffix}"),
            label_path=str(Path(label_dir) / f"{name}{self.seg_map_suffix}") if label_dir is not None else None,
        )

    def sample_info(self, sample: SampleFiles) -> dict:
        """The info dict of one sample: its files plus what LoadAnnotations needs."""
        info = dict(
            img_path=sample.img_path,
            label_map=self.label_map,
            reduce_zero_label=self.reduce_zero_label,
            seg_fields=[],
        )
        if sample.label_path is not None:
            info[self.LABEL_KEY] = self.existing_label(sample)
        return info

    def existing_label(self, sample: SampleFiles) -> str:
        """The sample's label path, or a DatasetError naming the image and the expected file."""
        path = Path(sample.label_path)
        if not path.is_file():
            key = "seg_map_suffix" if self.LABEL_KIND == "label" else f"{self.LABEL_KIND.replace(' ', '_')}_suffix"
            raise DatasetError(
                f"image '{sample.img_path}' has no {self.LABEL_KIND} file: expected '{path}' "
                f"({key}='{self.seg_map_suffix}')"
            )
        return str(path)

    def label_values_hint(self, raw_values: set[int], ignore_index: int, num_classes: int) -> str | None:
        """What this family's label files most likely got wrong when they hold ``raw_values`` (as stored),
        or None; check-data asks this before its general hints."""
        return None

    @property
    def dataset_meta(self) -> dict:
        return dict(classes=self.metainfo["classes"], palette=self.metainfo["palette"])

    def get_data_info(self, index: int) -> dict:
        self.full_init()
        return copy.deepcopy(self.data_list[index])

    def __len__(self) -> int:
        self.full_init()
        return len(self.data_list)

    def __getitem__(self, index: int) -> dict:
        return self.pipeline(self.get_data_info(index))
