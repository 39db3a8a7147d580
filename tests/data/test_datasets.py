"""Folder datasets: pairing, ann_file lists, metainfo, and the tutorial pipelines end to end."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from seglab import Config
from seglab.data.loader import InfiniteSampler, build_dataloader
from seglab.errors import DatasetError
from seglab.registry import DATASETS

from ..conftest import REPO


def write_pair(root: Path, name: str, label_value: int = 1, size=(8, 8), img_suffix=".jpg", seg_suffix=".png"):
    (root / "img" / name).parent.mkdir(parents=True, exist_ok=True)
    (root / "ann" / name).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(root / "img" / f"{name}{img_suffix}"), np.full((*size, 3), 100, np.uint8))
    cv2.imwrite(str(root / "ann" / f"{name}{seg_suffix}"), np.full(size, label_value, np.uint8))


def build(root: Path, **kwargs):
    cfg = dict(type="BaseSegDataset", data_root=str(root), data_prefix=dict(img_path="img", seg_map_path="ann"))
    cfg.update(kwargs)
    return DATASETS.build(cfg)


def test_scan_is_recursive_sorted_and_pairs_labels(tmp_path):
    for name in ["b", "a", "sub/c"]:
        write_pair(tmp_path, name)
    dataset = build(tmp_path)
    assert [Path(d["img_path"]).name for d in dataset.data_list] == ["a.jpg", "b.jpg", "c.jpg"]
    assert dataset.data_list[2]["seg_map_path"].endswith("ann/sub/c.png")


def test_ann_file_lists_basenames(tmp_path):
    for name in ["a", "b", "c"]:
        write_pair(tmp_path, name)
    (tmp_path / "split.txt").write_text("c\na\n")
    assert [Path(d["img_path"]).stem for d in build(tmp_path, ann_file="split.txt").data_list] == ["c", "a"]
    with pytest.raises(DatasetError, match="ann_file=''"):
        build(tmp_path, ann_file="missing.txt")


def test_missing_label_names_both_paths(tmp_path):
    write_pair(tmp_path, "a")
    (tmp_path / "ann" / "a.png").unlink()
    with pytest.raises(DatasetError, match=r"img/a\.jpg.*ann/a\.png"):
        build(tmp_path)


def test_no_images_with_the_suffix_says_what_was_found(tmp_path):
    write_pair(tmp_path, "a", img_suffix=".png")
    with pytest.raises(DatasetError, match=r"no '\*\.jpg' images.*\.png.*img_suffix"):
        build(tmp_path)
    with pytest.raises(DatasetError, match="does not exist"):
        build(tmp_path / "nowhere")


def test_metainfo_palette_is_generated_and_deterministic(tmp_path):
    write_pair(tmp_path, "a")
    first = build(tmp_path, metainfo=dict(classes=("x", "y", "z")))
    second = build(tmp_path, metainfo=dict(classes=("x", "y", "z")))
    assert first.dataset_meta["classes"] == ("x", "y", "z")
    assert len(first.dataset_meta["palette"]) == 3 and first.dataset_meta["palette"] == second.dataset_meta["palette"]


def test_named_datasets_defaults(tmp_path):
    root = tmp_path / "cs"
    write_pair(root, "aachen/x", img_suffix="_leftImg8bit.png", seg_suffix="_gtFine_labelTrainIds.png")
    cs = DATASETS.build(
        dict(type="CityscapesDataset", data_root=str(root), data_prefix=dict(img_path="img", seg_map_path="ann"))
    )
    assert len(cs) == 1 and len(cs.dataset_meta["classes"]) == 19
    assert cs.data_list[0]["seg_map_path"].endswith("x_gtFine_labelTrainIds.png")
    write_pair(tmp_path / "ade", "a", label_value=1)
    ade = DATASETS.build(
        dict(
            type="ADE20KDataset",
            data_root=str(tmp_path / "ade"),
            data_prefix=dict(img_path="img", seg_map_path="ann"),
            pipeline=[dict(type="LoadAnnotations")],
        )
    )
    assert len(ade.dataset_meta["classes"]) == 150
    assert ade[0]["gt_seg_map"].max() == 0  # label 1 -> class 0 with reduce_zero_label
    voc = DATASETS.build(
        dict(
            type="PascalVOCDataset",
            data_root=str(tmp_path / "ade"),
            data_prefix=dict(img_path="img", seg_map_path="ann"),
        )
    )
    assert len(voc.dataset_meta["classes"]) == 21


def test_subset_of_named_classes_builds_label_map(tmp_path):
    write_pair(tmp_path, "a", label_value=13)  # 'car' in Cityscapes
    ds = DATASETS.build(
        dict(
            type="CityscapesDataset",
            data_root=str(tmp_path),
            img_suffix=".jpg",
            seg_map_suffix=".png",
            data_prefix=dict(img_path="img", seg_map_path="ann"),
            metainfo=dict(classes=("road", "car")),
            pipeline=[dict(type="LoadAnnotations")],
        )
    )
    assert ds[0]["gt_seg_map"].max() == 1
    with pytest.raises(DatasetError, match="BaseSegDataset"):
        DATASETS.build(
            dict(
                type="CityscapesDataset",
                data_root=str(tmp_path),
                img_suffix=".jpg",
                data_prefix=dict(img_path="img", seg_map_path="ann"),
                metainfo=dict(classes=("boat",)),
            )
        )


def tutorial_loader(data_root: Path, which: str):
    cfg = Config.fromfile(REPO / "configs/deeplabv3plus/deeplabv3plus_r50-d8_dummy-test.py")
    loader_cfg = cfg[f"{which}_dataloader"]
    loader_cfg.dataset.data_root = str(data_root)
    loader_cfg.num_workers = 0
    return build_dataloader(loader_cfg, seed=0, training=which == "train")


def test_tutorial_train_pipeline_shapes_and_values(tutorial_data):
    """RandomResize may shrink below the crop (ratio < 1), as in MMSegmentation; the preprocessor's
    size=crop_size then pads the batch to 256x256 with ignore (255) labels."""
    from seglab.registry import MODELS

    cfg = Config.fromfile(REPO / "configs/deeplabv3plus/deeplabv3plus_r50-d8_dummy-test.py")
    preprocessor = MODELS.build(cfg.model.data_preprocessor)
    batches = iter(tutorial_loader(tutorial_data, "train"))
    full_size = 0
    for _ in range(5):
        batch = next(batches)
        assert len(batch["inputs"]) == 4 and len(batch["data_samples"]) == 4
        for img, sample in zip(batch["inputs"], batch["data_samples"]):
            assert img.dtype == torch.uint8 and img.shape[0] == 3 and max(img.shape[1:]) <= 256
            assert sample["gt_sem_seg"].shape == (1, *img.shape[1:])
            full_size += img.shape[1:] == (256, 256)
        inputs, samples = preprocessor(batch, training=True)
        assert inputs.shape == (4, 3, 256, 256)
        for sample in samples:
            assert sample["gt_sem_seg"].shape == (1, 256, 256)
            assert set(sample["gt_sem_seg"].unique().tolist()) <= {0, 1, 255}
    assert full_size >= 5


def test_tutorial_val_pipeline_keeps_bounded_resize(tutorial_data):
    loader = tutorial_loader(tutorial_data, "val")
    batch = next(iter(loader))
    assert batch["inputs"][0].shape == (3, 256, 256)  # 256x256 fits (512, 256) already
    sample = batch["data_samples"][0]
    assert sample["gt_sem_seg"].shape == (1, 256, 256) and sample["ori_shape"] == (256, 256)


def test_val_resize_bounds_long_and_short_edge(tmp_path):
    write_pair(tmp_path, "wide", size=(100, 400))
    ds = build(
        tmp_path,
        pipeline=[
            dict(type="LoadImageFromFile"),
            dict(type="Resize", scale=(512, 256), keep_ratio=True),
            dict(type="LoadAnnotations"),
            dict(type="PackSegInputs"),
        ],
    )
    item = ds[0]
    assert item["inputs"].shape == (3, 128, 512)  # long edge 400 -> 512 bound wins
    assert item["data_samples"]["gt_sem_seg"].shape == (1, 100, 400)  # labels stay at the original size


def test_infinite_sampler_start_and_sharding():
    data = list(range(10))
    sampler = InfiniteSampler(data, shuffle=True, seed=3)
    stream = iter(sampler)
    first = [next(stream) for _ in range(25)]
    sampler.start = 7
    resumed = iter(sampler)
    assert [next(resumed) for _ in range(18)] == first[7:]
    assert sorted(first[:10]) == list(range(10))


def test_concat_dataset_indexes_across_parts(tmp_path):
    for name in ["a", "b"]:
        write_pair(tmp_path / "one", name, label_value=1)
    write_pair(tmp_path / "two", "c", label_value=2)
    parts = [
        dict(
            type="BaseSegDataset",
            data_root=str(tmp_path / d),
            data_prefix=dict(img_path="img", seg_map_path="ann"),
            pipeline=[dict(type="LoadAnnotations")],
            metainfo=dict(classes=("x", "y", "z")),
        )
        for d in ("one", "two")
    ]
    concat = DATASETS.build(dict(type="ConcatDataset", datasets=parts))
    assert len(concat) == 3 and concat.dataset_meta["classes"] == ("x", "y", "z")
    assert [int(concat[i]["gt_seg_map"].max()) for i in range(3)] == [1, 1, 2]
    assert concat.get_data_info(2)["img_path"].endswith("two/img/c.jpg")
