"""Change detection: each sample is two images of one place (before/after) and a change mask.

A sample carries ``img_path`` and ``img_path2`` (same name under ``data_prefix.img_path`` and
``data_prefix.img_path2``); LoadMultipleRSImageFromFile reads both and ConcatCDInput stacks them into
one 6-channel input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seglab.data.datasets.base import BaseSegDataset, SampleFiles
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
        """Names relative to the image folder; scanned ones keep their extension (``x.jpg``)."""
        if self.ann_file and Path(self.ann_file).is_file():
            return [line.strip() for line in Path(self.ann_file).read_text().splitlines() if line.strip()]
        img_dir = Path(self.img_dir)
        if not img_dir.is_dir():
            return []
        return sorted(str(p.relative_to(img_dir)) for p in img_dir.rglob(f"*{self.img_suffix}") if p.is_file())

    def reads_ann_file(self) -> bool:
        return bool(self.ann_file) and Path(self.ann_file).is_file()

    def no_samples_error(self) -> DatasetError:
        img_dir = Path(self.img_dir)
        if not img_dir.is_dir():
            return DatasetError(f"image folder '{img_dir}' does not exist; check data_root and data_prefix.img_path")
        return DatasetError(f"no '*{self.img_suffix}' images under '{img_dir}'; set img_suffix to match your files")

    def sample_folders(self) -> dict[str, tuple[str, str]]:
        return {**super().sample_folders(), "img_path2": ("second image", self.data_prefix["img_path2"])}

    def sample_files(self, name: str) -> SampleFiles:
        suffix, suffix2 = self.img_suffix, self.img_suffix2
        if "." in Path(name).name:  # the name carries its extension: both images use it
            stem, ext = name[: -len(Path(name).suffix)], Path(name).suffix
            name, suffix, suffix2 = stem, ext, ext
        return SampleFiles(
            img_path=str(Path(self.img_dir) / f"{name}{suffix}"),
            label_path=str(Path(self.label_dir) / f"{name}{self.seg_map_suffix}") if self.label_dir else None,
            extra={"img_path2": str(Path(self.data_prefix["img_path2"]) / f"{name}{suffix2}")},
        )

    def sample_info(self, sample: SampleFiles) -> dict:
        img_path2 = sample.extra["img_path2"]
        if not Path(img_path2).is_file():
            raise DatasetError(
                f"image '{sample.img_path}' has no second image: expected '{img_path2}' "
                "(data_prefix.img_path2, img_suffix2)"
            )
        info = dict(img_path=sample.img_path, img_path2=img_path2)
        if sample.label_path is not None:
            info["seg_map_path"] = self.existing_label(sample)
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
