"""The paths a newcomer takes through the docs: the SegFormer guide's config, and own images in .png."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seglab.cli import main
from seglab.data.datasets.base import BaseSegDataset
from seglab.engine.preflight import check_label_settings
from seglab.errors import ConfigError

DOCS = Path(__file__).resolve().parents[1] / "docs"
CONFLICT = re.compile(
    r"train_dataloader\.dataset\.reduce_zero_label=False vs train_dataloader\.dataset\.pipeline\[1\] "
    r"\(LoadAnnotations\) reduce_zero_label=True: .*drop it from LoadAnnotations"
)


def _dataset(root: Path, suffix: str = ".jpg", classes: int = 4) -> Path:
    """img_dir/{train,val} + ann_dir/{train,val}: two 16x16 samples per split, labels 0..classes-1."""
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        (root / "img_dir" / split).mkdir(parents=True)
        (root / "ann_dir" / split).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(
                root / "img_dir" / split / f"{i}{suffix}"
            )
            label = (np.arange(256).reshape(16, 16) % classes).astype(np.uint8)
            Image.fromarray(label).save(root / "ann_dir" / split / f"{i}.png")
    return root


def _guide_config(tmp_path: Path, data_root: Path, restate_pipelines: bool = True) -> Path:
    """The config of docs/finetune_segformer.md, pointed at ``data_root``; without its restated pipelines it is
    the guide as it was (the dataset says reduce_zero_label=False, the inherited ADE20K pipelines True)."""
    text = (DOCS / "finetune_segformer.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "# my_segformer.py" in b)
    block = block.replace("'data/my_set'", repr(str(data_root)))
    if not restate_pipelines:
        block = block.replace("pipeline=train_pipeline, ", "").replace("pipeline=test_pipeline, ", "")
    path = tmp_path / "my_segformer.py"
    path.write_text(block)
    return path


def test_the_segformer_guide_as_it_was_stops_with_one_line_naming_both_keys(tmp_path, capsys):
    config = _guide_config(tmp_path, _dataset(tmp_path / "my_set"), restate_pipelines=False)
    assert main(["check-data", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and CONFLICT.search(err), err


def test_seglab_train_on_the_guide_as_it_was_stops_before_training(tmp_path, capsys):
    config = _guide_config(tmp_path, _dataset(tmp_path / "my_set"), restate_pipelines=False)
    assert main(["train", str(config), "--work-dir", str(tmp_path / "work")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and CONFLICT.search(err), err
    assert not list(tmp_path.rglob("*.pth"))


def test_the_segformer_guide_passes_check_data(tmp_path, capsys):
    config = _guide_config(tmp_path, _dataset(tmp_path / "my_set"))
    assert main(["check-data", str(config)]) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert "label values found: [0, 1, 2, 3]" in out and "looks usable" in out


def test_the_pre_training_check_names_the_nested_key():
    pipeline = [dict(type="LoadImageFromFile"), dict(type="LoadAnnotations", reduce_zero_label=True)]
    part = dict(type="BaseSegDataset", reduce_zero_label=False, pipeline=pipeline)
    cfg = dict(
        train_dataloader=dict(dataset=dict(type="ConcatDataset", datasets=[dict(part, reduce_zero_label=True), part]))
    )
    with pytest.raises(ConfigError, match=r"train_dataloader\.dataset\.datasets\[1\]\.reduce_zero_label=False vs "):
        check_label_settings(cfg)
    # the dataset type's default counts: ADE20KDataset reduces, so the ADE20K pipeline agrees with it
    check_label_settings(dict(val_dataloader=dict(dataset=dict(type="ADE20KDataset", pipeline=pipeline))))


def test_building_a_dataset_applies_the_rule_and_none_inherits(tmp_path):
    root = _dataset(tmp_path / "d")
    prefix = dict(img_path="img_dir/train", seg_map_path="ann_dir/train")

    def build(load: dict, reduce: bool) -> BaseSegDataset:
        pipeline = [dict(type="LoadImageFromFile"), load]
        return BaseSegDataset(data_root=str(root), data_prefix=prefix, pipeline=pipeline, reduce_zero_label=reduce)

    with pytest.raises(ConfigError, match=r"BaseSegDataset\.reduce_zero_label=True vs its pipeline\[1\] "):
        build(dict(type="LoadAnnotations", reduce_zero_label=False), True)
    sample = build(dict(type="LoadAnnotations"), True)[0]  # None: the dataset's setting
    assert sample["gt_seg_map"].min() == 0 and 255 in sample["gt_seg_map"]  # file 0 -> ignore, 1 -> 0
    build(dict(type="LoadAnnotations", reduce_zero_label=False), False)


def test_png_images_check_data_names_the_suffix_line_and_a_jpg_config_names_the_suffixes_found(tmp_path, capsys):
    root = _dataset(tmp_path / "pngs", suffix=".png")
    assert main(["check-data", str(root), "--num-classes", "4"]) == 0
    out = capsys.readouterr().out
    assert "[train] suffixes found: in a config set img_suffix='.png', seg_map_suffix='.png'" in out, out

    config = tmp_path / "jpg_config.py"
    config.write_text(
        f"train_dataloader = dict(dataset=dict(type='BaseSegDataset', data_root={str(root)!r}, "
        "data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train')))\n"
    )
    assert main(["check-data", str(config)]) == 1
    out = capsys.readouterr().out
    assert "(img_suffix='.jpg'); its files end in '.png' (2): set img_suffix='.png'" in out, out
    assert "without an image" not in out


def test_check_data_takes_a_bare_shipped_config_name_like_the_other_commands(capsys):
    """A bare name resolves to the shipped config (its data root is then checked), not to a missing folder."""
    assert main(["check-data", "deeplabv3plus_r50-d8_4xb2-40k_cityscapes-512x1024"]) == 1
    out = capsys.readouterr().out
    assert "leftImg8bit/train" in out  # the config's own folders were looked for
