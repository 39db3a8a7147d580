"""check-data finds each kind of dataset fault in files built to have it."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from seglab.cli import main
from seglab.data.check import check_dataset, splits_from_folder


def make(root: Path, name: str, label: np.ndarray, split: str = "train", img=None, label_ext=".png") -> None:
    (root / "img_dir" / split).mkdir(parents=True, exist_ok=True)
    (root / "ann_dir" / split).mkdir(parents=True, exist_ok=True)
    image = img if img is not None else np.full((*label.shape[:2], 3), 90, np.uint8)
    cv2.imwrite(str(root / "img_dir" / split / f"{name}.jpg"), image)
    cv2.imwrite(str(root / "ann_dir" / split / f"{name}{label_ext}"), label)


def run(root: Path, num_classes: int | None = 2):
    return check_dataset(splits_from_folder(root), num_classes)


def good_label(h=16, w=16):
    label = np.zeros((h, w), np.uint8)
    label[4:10, 4:10] = 1
    return label


def test_clean_dataset_passes_and_reports_histogram(tmp_path):
    make(tmp_path, "a", good_label())
    make(tmp_path, "b", good_label(), split="val")
    report = run(tmp_path)
    assert not report.errors, report.text()
    text = report.text()
    assert "class pixel histogram" in text and "[train]" in text and "[val]" in text


def test_unpaired_images_and_labels(tmp_path):
    make(tmp_path, "a", good_label())
    make(tmp_path, "b", good_label())
    (tmp_path / "ann_dir/train/b.png").rename(tmp_path / "ann_dir/train/orphan.png")
    report = run(tmp_path)
    assert any("without a label" in e and "b.jpg" in e for e in report.errors)
    assert any("without an image" in w and "orphan.png" in w for w in report.warnings)


def test_truncated_and_unreadable_files(tmp_path):
    make(tmp_path, "a", good_label(64, 64), img=np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    data = (tmp_path / "img_dir/train/a.jpg").read_bytes()
    (tmp_path / "img_dir/train/a.jpg").write_bytes(data[: len(data) // 2])
    make(tmp_path, "b", good_label())
    (tmp_path / "ann_dir/train/b.png").write_bytes(b"not a png")
    report = run(tmp_path)
    assert any("truncated image" in e and "a.jpg" in e for e in report.errors), report.text()
    assert any("truncated label" in e and "b.png" in e for e in report.errors), report.text()


def test_size_mismatch(tmp_path):
    make(tmp_path, "a", good_label(), img=np.zeros((20, 16, 3), np.uint8))
    assert any("size mismatch" in e for e in run(tmp_path).errors)


def test_values_out_of_range_name_the_files(tmp_path):
    label = good_label()
    label[0, 0] = 7
    make(tmp_path, "bad", label)
    make(tmp_path, "fine", good_label())
    report = run(tmp_path)
    assert any("label value 7" in e and "bad.png" in e and "fine.png" not in e for e in report.errors)


def test_binary_masks_saved_as_0_255(tmp_path):
    make(tmp_path, "a", good_label() * 255)
    assert any("0/255" in e for e in run(tmp_path).errors)


def test_rgb_colour_labels(tmp_path):
    colour = np.zeros((16, 16, 3), np.uint8)
    colour[4:10, 4:10] = (0, 0, 128)
    make(tmp_path, "a", colour)
    assert any("3-channel" in e for e in run(tmp_path).errors)


def test_jpeg_labels(tmp_path):
    make(tmp_path, "a", good_label(), label_ext=".jpg")
    report = check_dataset(splits_from_folder(tmp_path), 2)
    assert any("JPEG" in e for e in report.errors), report.text()


def test_cityscapes_label_ids_hint(tmp_path):
    label = np.full((16, 16), 7, np.uint8)
    label[:4] = 26
    make(tmp_path, "a", label)
    report = run(tmp_path, num_classes=19)
    assert any("labelTrainIds" in e for e in report.errors)


def test_without_num_classes_reports_values(tmp_path, capsys):
    make(tmp_path, "a", good_label())
    assert main(["check-data", str(tmp_path)]) == 0
    assert "label values found: [0, 1]" in capsys.readouterr().out


def test_cli_exit_code_and_config_mode(tmp_path, capsys, tiny_config):
    make(tmp_path, "a", good_label() * 255)
    assert main(["check-data", str(tmp_path), "--num-classes", "2"]) == 1
    assert "ERROR" in capsys.readouterr().out
    assert main(["check-data", str(tiny_config())]) == 0
    out = capsys.readouterr().out
    assert "[train]" in out and "[val]" in out and "class1" in out


def test_config_with_ann_file_checks_only_the_listed_images(tmp_path, capsys):
    root = tmp_path / "voc"
    make(root, "a", good_label())
    make(root, "b", good_label())
    (root / "ann_dir/train/b.png").unlink()  # not in the split: must not be reported
    (root / "split.txt").write_text("a\nmissing\n")
    config = tmp_path / "cfg.py"
    config.write_text(
        "model = dict(decode_head=dict(num_classes=21))\n"
        f"train_dataloader = dict(dataset=dict(type='ConcatDataset', datasets=[dict(type='PascalVOCDataset', "
        f"data_root={str(root)!r}, ann_file='split.txt', "
        "data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train'))]))\n"
    )
    assert main(["check-data", str(config)]) == 1
    out = capsys.readouterr().out
    assert "listed in ann_file do not exist" in out and "missing.jpg" in out
    assert "b.jpg" not in out and "1 images, 1 labels" in out
