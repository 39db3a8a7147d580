"""A dataset with a layout check-data has never heard of is checked through its own listing.

``PairsCsvDataset`` lists its samples from a CSV of ``image,label`` paths with unrelated names, so neither
folder scanning nor suffix pairing could find them; it only overrides ``list_samples`` and
``sample_folders``, and ``seglab/data/check.py`` needs no edit to check it.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from seglab.cli import main
from seglab.data.datasets.base import BaseSegDataset, SampleFiles
from seglab.errors import DatasetError
from seglab.registry import DATASETS


@DATASETS.register()
class PairsCsvDataset(BaseSegDataset):
    """``ann_file`` is a CSV of ``image,label`` paths relative to ``data_root``."""

    ANN_FILE_LISTS = "files"

    def list_samples(self) -> list[SampleFiles]:
        rows = [line.split(",") for line in Path(self.ann_file).read_text().splitlines() if line.strip()]
        return [SampleFiles(str(Path(self.data_root) / img), str(Path(self.data_root) / lab)) for img, lab in rows]

    def sample_folders(self) -> dict[str, tuple[str, str]]:
        return {}  # every file is named in the CSV


def make_pairs(root: Path) -> Path:
    """Two 12x12 samples whose label names share nothing with their image names; returns the config."""
    (root / "photos").mkdir(parents=True)
    (root / "masks").mkdir()
    rows = []
    for index, (image, label) in enumerate([("shot_a.jpg", "m-001.png"), ("shot_b.jpg", "m-002.png")]):
        mask = np.zeros((12, 12), np.uint8)
        mask[: 4 + index] = 1
        cv2.imwrite(str(root / "photos" / image), np.full((12, 12, 3), 80, np.uint8))
        cv2.imwrite(str(root / "masks" / label), mask)
        rows.append(f"photos/{image},masks/{label}")
    (root / "pairs.csv").write_text("\n".join(rows) + "\n")
    config = root / "cfg.py"
    config.write_text(
        "model = dict(decode_head=dict(num_classes=2))\n"
        f"train_dataloader = dict(dataset=dict(type='PairsCsvDataset', data_root={str(root)!r}, ann_file='pairs.csv'))\n"
    )
    return config


def test_a_dataset_with_its_own_listing_passes_check_data_and_loads_the_same_files(tmp_path, capsys):
    config = make_pairs(tmp_path)
    assert main(["check-data", str(config)]) == 0
    out = capsys.readouterr().out
    assert "2 images, 2 labels" in out and "label values found: [0, 1]" in out, out

    dataset = DATASETS.build(dict(type="PairsCsvDataset", data_root=str(tmp_path), ann_file="pairs.csv"))
    assert [Path(info["seg_map_path"]).name for info in dataset.data_list] == ["m-001.png", "m-002.png"]

    (tmp_path / "masks/m-002.png").unlink()
    assert main(["check-data", str(config)]) == 1
    errors = [line for line in capsys.readouterr().out.splitlines() if line.startswith("ERROR")]
    assert any("1 file(s) listed in ann_file do not exist" in e and "m-002.png" in e for e in errors), errors
    assert any("1 image(s) without a label" in e and "shot_b.jpg" in e for e in errors), errors


def test_lazy_init_defers_listing_until_the_samples_are_needed(tmp_path):
    cfg = dict(type="BaseSegDataset", data_root=str(tmp_path), data_prefix=dict(img_path="nowhere"), lazy_init=True)
    dataset = DATASETS.build(cfg)  # MMEngine's lazy_init: nothing is listed yet, so a missing folder is no error
    assert dataset.list_samples() == []
    with pytest.raises(DatasetError, match="image folder .*nowhere' does not exist"):
        len(dataset)
