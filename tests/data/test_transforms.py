"""Each transform's semantics pinned on small arrays."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seglab.data.transforms import (
    LoadAnnotations,
    PackSegInputs,
    Pad,
    PhotoMetricDistortion,
    RandomCrop,
    RandomFlip,
    RandomResize,
    RandomRotate,
    Resize,
)
from seglab.data.transforms.base import rescale_size


def sample(h=20, w=40, label=None):
    img = np.arange(h * w * 3, dtype=np.uint8).reshape(h, w, 3)
    gt = label if label is not None else (np.arange(h * w).reshape(h, w) % 3).astype(np.uint8)
    return {"img": img, "gt_seg_map": gt, "seg_fields": ["gt_seg_map"], "img_shape": (h, w), "ori_shape": (h, w)}


def test_rescale_size_fits_long_and_short_edge_with_rounding():
    assert rescale_size(1024, 512, (2048, 512)) == (1024, 512)
    assert rescale_size(256, 256, (512, 256)) == (256, 256)
    assert rescale_size(100, 50, (512, 256)) == (512, 256)
    assert rescale_size(333, 100, (200, 100)) == (200, 60)  # long edge bound: 333*0.6006 -> 200


def test_resize_keep_ratio_resizes_image_and_label_nearest():
    out = Resize(scale=(80, 80), keep_ratio=True)(sample(20, 40))
    assert out["img"].shape == (40, 80, 3) and out["gt_seg_map"].shape == (40, 80)
    assert set(np.unique(out["gt_seg_map"])) <= {0, 1, 2}
    assert out["img_shape"] == (40, 80) and out["scale_factor"] == (2.0, 2.0) and out["ori_shape"] == (20, 40)


def test_resize_exact_scale_without_keep_ratio():
    out = Resize(scale=(30, 10), keep_ratio=False)(sample(20, 40))
    assert out["img"].shape == (10, 30, 3) and out["gt_seg_map"].shape == (10, 30)
    assert out["scale_factor"] == (0.75, 0.5)


def test_resize_by_scale_factor():
    out = Resize(scale_factor=0.5, keep_ratio=True)(sample(20, 40))
    assert out["img"].shape == (10, 20, 3)


def test_random_resize_ratio_range_is_seeded_and_bounded():
    shapes = []
    for seed in range(20):
        np.random.seed(seed)
        out = RandomResize(scale=(80, 40), ratio_range=(0.5, 2.0), keep_ratio=True)(sample(20, 40))
        shapes.append(out["img"].shape[:2])
        assert 20 <= out["img"].shape[1] <= 160
    np.random.seed(3)
    again = RandomResize(scale=(80, 40), ratio_range=(0.5, 2.0), keep_ratio=True)(sample(20, 40))
    assert again["img"].shape[:2] == shapes[3]
    assert len(set(shapes)) > 5


def test_random_crop_size_and_alignment_of_image_and_label():
    s = sample(20, 40)
    s["img"] = np.repeat(np.arange(20 * 40).reshape(20, 40, 1) % 251, 3, axis=2).astype(np.uint8)
    s["gt_seg_map"] = (np.arange(20 * 40).reshape(20, 40) % 251).astype(np.uint8)
    np.random.seed(0)
    out = RandomCrop(crop_size=(8, 16))(s)
    assert out["img"].shape == (8, 16, 3) and out["gt_seg_map"].shape == (8, 16)
    assert np.array_equal(out["img"][:, :, 0], out["gt_seg_map"])
    assert out["img_shape"] == (8, 16)


def test_random_crop_smaller_image_is_not_padded():
    out = RandomCrop(crop_size=(64, 64))(sample(20, 40))
    assert out["img"].shape == (20, 40, 3)


def test_random_crop_retries_while_one_class_dominates():
    label = np.zeros((40, 40), np.uint8)
    label[:, 30:] = 1  # a 20x20 crop is mixed enough only when it starts at column 16 or later

    def mixed_fraction(cat_max_ratio: float) -> float:
        good = 0
        for seed in range(40):
            np.random.seed(seed)
            out = RandomCrop(crop_size=(20, 20), cat_max_ratio=cat_max_ratio)(sample(40, 40, label.copy()))
            labels, counts = np.unique(out["gt_seg_map"], return_counts=True)
            good += len(labels) == 2 and counts.max() / counts.sum() < 0.75
        return good / 40

    assert mixed_fraction(0.75) > 0.8
    assert mixed_fraction(1.0) < 0.5


def test_random_crop_gives_up_after_ten_retries():
    s = sample(50, 50, np.zeros((50, 50), np.uint8))
    calls = []
    crop = RandomCrop(crop_size=(10, 10), cat_max_ratio=0.5)
    original = crop.random_box
    crop.random_box = lambda img: calls.append(1) or original(img)
    crop(s)
    assert len(calls) == 11  # the first box plus ten retries


def test_random_crop_ignores_ignore_index_when_counting():
    label = np.full((40, 40), 255, np.uint8)
    label[:, :20] = 0
    label[:, 20:22] = 1
    np.random.seed(1)
    out = RandomCrop(crop_size=(40, 22), cat_max_ratio=0.99)(sample(40, 40, label))
    assert out["gt_seg_map"].shape == (40, 22)


@pytest.mark.parametrize("direction,axis", [("horizontal", (1,)), ("vertical", (0,)), ("diagonal", (0, 1))])
def test_random_flip_flips_image_and_label_together(direction, axis):
    s = sample()
    img, gt = s["img"].copy(), s["gt_seg_map"].copy()
    out = RandomFlip(prob=1.0, direction=direction)(s)
    assert out["flip"] is True and out["flip_direction"] == direction
    assert np.array_equal(out["img"], np.flip(img, axis)) and np.array_equal(out["gt_seg_map"], np.flip(gt, axis))
    kept = RandomFlip(prob=0.0)(sample())
    assert kept["flip"] is False and np.array_equal(kept["img"], img)


def test_photometric_distortion_changes_only_the_image_and_is_seeded():
    s = sample()
    s["img"] = np.random.default_rng(0).integers(0, 255, (20, 40, 3), dtype=np.uint8)
    np.random.seed(5)
    a = PhotoMetricDistortion()(dict(s, img=s["img"].copy()))
    np.random.seed(5)
    b = PhotoMetricDistortion()(dict(s, img=s["img"].copy()))
    assert np.array_equal(a["img"], b["img"]) and a["img"].dtype == np.uint8
    assert np.array_equal(a["gt_seg_map"], s["gt_seg_map"])


def test_pad_to_size_and_divisor_uses_seg_pad_value():
    out = Pad(size=(48, 24), pad_val=dict(img=7, seg=255))(sample(20, 40))
    assert out["img"].shape == (24, 48, 3) and out["gt_seg_map"].shape == (24, 48)
    assert (out["img"][20:] == 7).all() and (out["gt_seg_map"][:, 40:] == 255).all()
    out = Pad(size_divisor=16)(sample(20, 40))
    assert out["img"].shape == (32, 48, 3)
    assert Pad(size_divisor=8)(sample(16, 40))["img"].shape == (16, 40, 3)


def test_random_rotate_fills_label_border_with_ignore():
    np.random.seed(0)
    label = np.ones((31, 31), np.uint8)
    out = RandomRotate(prob=1.0, degree=(45, 45))(sample(31, 31, label))
    assert out["gt_seg_map"].shape == (31, 31)
    assert out["gt_seg_map"][0, 0] == 255 and out["gt_seg_map"][15, 15] == 1
    assert set(np.unique(out["gt_seg_map"])) == {1, 255}


def test_load_annotations_reduce_zero_label(tmp_path):
    import cv2

    label = np.array([[0, 1, 2], [3, 0, 255]], np.uint8)
    cv2.imwrite(str(tmp_path / "l.png"), label)
    out = LoadAnnotations(reduce_zero_label=True)({"seg_map_path": str(tmp_path / "l.png")})
    assert out["gt_seg_map"].tolist() == [[255, 0, 1], [2, 255, 255]]
    out = LoadAnnotations()({"seg_map_path": str(tmp_path / "l.png"), "label_map": {1: 0, 2: 1}})
    assert out["gt_seg_map"].tolist() == [[0, 0, 1], [3, 0, 255]]


def test_pack_seg_inputs_layout():
    out = PackSegInputs()(dict(sample(20, 40), img_path="x.jpg", flip=False))
    assert out["inputs"].shape == (3, 20, 40) and out["inputs"].dtype == torch.uint8
    gt = out["data_samples"]["gt_sem_seg"]
    assert gt.shape == (1, 20, 40) and gt.dtype == torch.int64
    assert out["data_samples"]["img_path"] == "x.jpg" and out["data_samples"]["ori_shape"] == (20, 40)
