"""Change detection: each sample is two images of one place (before/after) and a change mask.

A sample carries ``img_path`` and ``img_path2`` (same name under ``data_prefix.img_path`` and
``data_prefix.img_path2``); LoadMultipleRSImageFromFile reads both and ConcatCDInput stacks them into
one 6-channel input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seglab.data.datasets.base import BaseSegDataset
from seglab.errors import DatasetError
from seglab.registry import DATASETS

# fmt: off
LEVIR_CD_CLASSES = (
    "background", "changed",
)
LEVIR_CD_PALETTE = [
    [0, 0, 0], [255, 255, 255],
]
# fmt: on


@DATASETS.register()
class BaseCDDataset(BaseSegDataset):
    """Two image folders and one label folder, paired by name.

    As in MMSegmentation, a name's own extension wins over the configured suffixes: ``x.png`` in the
    first folder pairs with ``x.png`` in the second and ``x{seg_map_suffix}`` in the label folder."""

    def __init__(
        self,
        ann_file: str = "",
        img_suffix: str = ".jpg",
        img_suffix2: str = ".jpg",
        seg_map_suffix: str = ".png",
        data_prefix: dict | None = None,
        **kwargs: Any,
    ) -> None:
        self.img_suffix2 = img_suffix2
        prefix = dict(img_path="", img_path2="", seg_map_path="")
        prefix.update(data_prefix or {})
        super().__init__(
            ann_file=ann_file, img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, data_prefix=prefix, **kwargs
        )

    def sample_names(self) -> list[str]:
        if self.ann_file and Path(self.ann_file).is_file():
            return [line.strip() for line in Path(self.ann_file).read_text().splitlines() if line.strip()]
        img_dir = Path(self.img_dir)
        if not img_dir.is_dir():
            raise DatasetError(f"image folder '{img_dir}' does not exist; check data_root and data_prefix.img_path")
        names = sorted(str(p.relative_to(img_dir)) for p in img_dir.rglob(f"*{self.img_suffix}") if p.is_file())
        if not names:
            raise DatasetError(f"no '*{self.img_suffix}' images under '{img_dir}'; set img_suffix to match your files")
        return names

    def data_info(self, name: str) -> dict:
        suffix, suffix2 = self.img_suffix, self.img_suffix2
        if "." in Path(name).name:  # the name carries its extension: both images use it
            stem, ext = name[: -len(Path(name).suffix)], Path(name).suffix
            name, suffix, suffix2 = stem, ext, ext
        img_path = str(Path(self.img_dir) / f"{name}{suffix}")
        img_path2 = str(Path(self.data_prefix["img_path2"]) / f"{name}{suffix2}")
        if not Path(img_path2).is_file():
            raise DatasetError(
                f"image '{img_path}' has no second image: expected '{img_path2}' (data_prefix.img_path2, img_suffix2)"
            )
        info = dict(img_path=img_path, img_path2=img_path2)
        if self.ann_dir:
            info["seg_map_path"] = self.existing_label(img_path, self.ann_dir, name, self.seg_map_suffix)
        info.update(label_map=self.label_map, reduce_zero_label=self.reduce_zero_label, seg_fields=[])
        return info


@DATASETS.register()
class LEVIRCDDataset(BaseCDDataset):
    """LEVIR-CD tiles: A/NAME.png (before), B/NAME.png (after), label/NAME.png with 0/1 (converter: 255 -> 1)."""

    METAINFO = dict(classes=LEVIR_CD_CLASSES, palette=LEVIR_CD_PALETTE)

    def __init__(
        self,
        img_suffix: str = ".png",
        img_suffix2: str = ".png",
        seg_map_suffix: str = ".png",
        reduce_zero_label: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            img_suffix=img_suffix,
            img_suffix2=img_suffix2,
            seg_map_suffix=seg_map_suffix,
            reduce_zero_label=reduce_zero_label,
            **kwargs,
        )
