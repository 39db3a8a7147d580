"""Medical Segmentation Decathlon: the file list and class names come from the task's dataset.json."""

from __future__ import annotations

import json
from pathlib import Path

from seglab.data.datasets.base import BaseSegDataset, SampleFiles, make_palette
from seglab.errors import DatasetError
from seglab.registry import DATASETS


@DATASETS.register()
class DecathlonDataset(BaseSegDataset):
    """``ann_file`` is a Decathlon ``dataset.json``: ``training`` lists ``{"image": "./imagesTr/x.nii.gz",
    "label": "./labelsTr/x.nii.gz"}`` pairs, ``test`` lists image paths (used when ``test_mode=True``).

    Paths are relative to ``data_root``. Its other keys (``name``, ``modality``, ``labels`` ...) join the
    metainfo, and ``labels`` gives the classes unless the config's metainfo names them. Unlike
    MMSegmentation 1.2.2, a dataset without a palette gets one drawn from a fixed seed, and ``test``
    entries keep their first two characters (MMSegmentation cuts them off the joined path)."""

    ANN_FILE_LISTS = "files"  # dataset.json names each image and label file

    def load_data_list(self) -> list[dict]:
        data_list = [self.sample_info(sample) for sample in self.list_samples()]
        self._adopt_metainfo(self._read_json())
        return data_list

    def list_samples(self) -> list[SampleFiles]:
        """The pairs of dataset.json's ``training`` list, or the images of its ``test`` list in test mode."""
        key = "test" if self.test_mode else "training"
        entries = self._read_json().get(key)
        if not isinstance(entries, list):
            raise DatasetError(f"ann_file '{self.ann_file}' has no '{key}' list (test_mode={self.test_mode})")
        samples = []
        for entry in entries:
            if isinstance(entry, dict):
                label = entry.get("label")
                samples.append(SampleFiles(self._path(entry["image"]), self._path(label) if label else None))
            else:
                samples.append(SampleFiles(self._path(entry)))
        return samples

    def sample_folders(self) -> dict[str, tuple[str, str]]:
        return {}  # no folder is scanned: dataset.json names every file

    def sample_info(self, sample: SampleFiles) -> dict:
        info = dict(img_path=sample.img_path)
        if sample.label_path is not None:
            info["seg_map_path"] = sample.label_path  # as MMSegmentation, not checked here: the label loader names it
        info.update(label_map=self.label_map, reduce_zero_label=self.reduce_zero_label, seg_fields=[])
        return info

    def _read_json(self) -> dict:
        path = Path(self.ann_file) if self.ann_file else None
        if path is None or not path.is_file():
            raise DatasetError(
                f"DecathlonDataset needs ann_file pointing at the task's dataset.json; '{self.ann_file}' is not a file"
            )
        try:
            annotations = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise DatasetError(f"ann_file '{path}' is not valid JSON ({err})") from None
        if not isinstance(annotations, dict):
            raise DatasetError(f"ann_file '{path}' must hold a JSON object, got {type(annotations).__name__}")
        return annotations

    def _path(self, relative: str) -> str:
        relative = relative[2:] if relative.startswith("./") else relative
        return str(Path(self.data_root) / relative) if self.data_root else relative

    def _adopt_metainfo(self, annotations: dict) -> None:
        """dataset.json's keys fill what METAINFO and the config's metainfo leave open."""
        extra = {k: v for k, v in annotations.items() if k not in ("training", "test")}
        for key, value in extra.items():
            self.metainfo.setdefault(key, value)
        if self.metainfo.get("classes") is None and isinstance(extra.get("labels"), dict):
            classes = tuple(extra["labels"].values())
            self.metainfo["classes"] = classes
            self.metainfo["palette"] = make_palette(len(classes))
