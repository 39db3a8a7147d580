"""Segmentation datasets laid out as image folders with matching label folders.

``BaseSegDataset`` pairs ``data_root/img_path/**/NAME{img_suffix}`` with
``data_root/seg_map_path/**/NAME{seg_map_suffix}``; the file list comes from scanning the image
folder (``ann_file=''``) or from a text file with one NAME per line. A sample is a plain dict that
the pipeline turns into model inputs.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
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


@DATASETS.register()
class BaseSegDataset(Dataset):
    """Image folder + label folder dataset with MMSegmentation's arguments."""

    METAINFO: dict = dict(classes=None, palette=None)

    # MMEngine BaseDataset arguments about caching and lazy loading: seglab loads file lists eagerly.
    IGNORED_ARGS = {
        "filter_cfg": None,
        "serialize_data": True,
        "lazy_init": False,
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
        self.data_list: list[dict] = self.load_data_list()
        if indices is not None:
            keep = range(indices) if isinstance(indices, int) else indices
            self.data_list = [self.data_list[i] for i in keep]
        for index, info in enumerate(self.data_list):
            info["sample_idx"] = index  # MMEngine numbers samples after ``indices`` picked them

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
        """One info dict per sample; names come from ``ann_file`` or from scanning the image folder."""
        return [self.data_info(name) for name in self.sample_names()]

    def sample_names(self) -> list[str]:
        """Sample names relative to the image folder, without ``img_suffix``."""
        img_dir = Path(self.img_dir)
        if self.ann_file and not Path(self.ann_file).is_dir():  # MMSegmentation scans when ann_file is a folder
            ann_path = Path(self.ann_file)
            if not ann_path.is_file():
                raise DatasetError(
                    f"ann_file '{ann_path}' does not exist; fix the path, or set ann_file='' "
                    f"to use every '*{self.img_suffix}' image under '{img_dir}'"
                )
            return [line.strip() for line in ann_path.read_text().splitlines() if line.strip()]
        if not img_dir.is_dir():
            raise DatasetError(f"image folder '{img_dir}' does not exist; check data_root and data_prefix.img_path")
        names = sorted(
            str(p.relative_to(img_dir))[: -len(self.img_suffix)]
            for p in img_dir.rglob(f"*{self.img_suffix}")
            if p.is_file()
        )
        if not names:
            found = sorted({p.suffix for p in img_dir.rglob("*") if p.is_file()})
            raise DatasetError(
                f"no '*{self.img_suffix}' images under '{img_dir}' (suffixes found: {found or 'none'}); "
                "set img_suffix to match your files"
            )
        return names

    def data_info(self, name: str) -> dict:
        """The info dict of sample ``name``: its files plus what LoadAnnotations needs."""
        info = dict(
            img_path=str(Path(self.img_dir) / f"{name}{self.img_suffix}"),
            label_map=self.label_map,
            reduce_zero_label=self.reduce_zero_label,
            seg_fields=[],
        )
        if self.ann_dir:
            info["seg_map_path"] = self.existing_label(info["img_path"], self.ann_dir, name, self.seg_map_suffix)
        return info

    @staticmethod
    def existing_label(img_path: str, folder: str, name: str, suffix: str, what: str = "label") -> str:
        """``folder/name{suffix}``, or a DatasetError naming the image and the expected file."""
        path = Path(folder) / f"{name}{suffix}"
        if not path.is_file():
            key = "seg_map_suffix" if what == "label" else f"{what.replace(' ', '_')}_suffix"
            raise DatasetError(f"image '{img_path}' has no {what} file: expected '{path}' ({key}='{suffix}')")
        return str(path)

    @property
    def dataset_meta(self) -> dict:
        return dict(classes=self.metainfo["classes"], palette=self.metainfo["palette"])

    def get_data_info(self, index: int) -> dict:
        return copy.deepcopy(self.data_list[index])

    def __len__(self) -> int:
        return len(self.data_list)

    def __getitem__(self, index: int) -> dict:
        return self.pipeline(self.get_data_info(index))
