"""Synthetic datasets in the ``img_dir/{train,val}`` + ``ann_dir/{train,val}`` layout.

``learnable``: each foreground class is a set of shapes in its own saturated colour on a grey,
noisy background, so a small model can learn it and mIoU says whether training works.
``tutorial``: the MMSegmentation tutorial's dummy data: uniform noise images with one random
rectangle labelled 1 (nothing in the image marks it, so no model can learn it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

# Saturated BGR colours, far from the grey background and from each other.
CLASS_COLOURS = [
    (40, 40, 220),
    (40, 200, 40),
    (220, 60, 40),
    (30, 220, 220),
    (220, 40, 220),
    (220, 220, 40),
    (20, 120, 240),
    (150, 20, 120),
    (120, 240, 20),
    (240, 140, 140),
    (20, 80, 20),
]


@dataclass
class DummySpec:
    out: Path
    style: str = "learnable"
    num_classes: int = 3
    train: int = 50
    val: int = 10
    size: int = 128
    seed: int = 0


def class_names(num_classes: int) -> tuple[str, ...]:
    return ("background", *[f"class{i}" for i in range(1, num_classes)])


def class_palette(num_classes: int) -> list[list[int]]:
    """RGB display colours: grey background, then each class's image colour."""
    return [[128, 128, 128], *([c[2], c[1], c[0]] for c in CLASS_COLOURS[: num_classes - 1])]


def learnable_sample(rng: np.random.Generator, size: int, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    grey = rng.integers(70, 170)
    img = np.clip(rng.normal(grey, 18, (size, size, 3)), 0, 255)
    label = np.zeros((size, size), np.uint8)
    for cls in range(1, num_classes):
        for _ in range(int(rng.integers(1, 3))):
            mask = np.zeros((size, size), np.uint8)
            cx, cy = rng.integers(size // 8, size - size // 8, 2)
            rx, ry = rng.integers(size // 10, size // 4, 2)
            if rng.random() < 0.5:
                cv2.ellipse(mask, (int(cx), int(cy)), (int(rx), int(ry)), float(rng.uniform(0, 180)), 0, 360, 1, -1)
            else:
                cv2.rectangle(mask, (int(cx - rx), int(cy - ry)), (int(cx + rx), int(cy + ry)), 1, -1)
            label[mask == 1] = cls
    for cls in range(1, num_classes):
        colour = np.array(CLASS_COLOURS[(cls - 1) % len(CLASS_COLOURS)], np.float64)
        region = label == cls
        img[region] = np.clip(colour + rng.normal(0, 18, (int(region.sum()), 3)), 0, 255)
    return img.astype(np.uint8), label


def tutorial_sample(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    img = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    label = np.zeros((size, size), np.uint8)
    x1, y1 = rng.integers(0, size // 2, 2)
    x2, y2 = x1 + rng.integers(size // 8, size // 2), y1 + rng.integers(size // 8, size // 2)
    label[y1:y2, x1:x2] = 1
    return img, label


def make_dummy_dataset(spec: DummySpec) -> dict[str, int]:
    """Write the dataset; returns the number of images per split."""
    if spec.style not in ("learnable", "tutorial"):
        raise ValueError(f"unknown style '{spec.style}' (learnable or tutorial)")
    if spec.style == "learnable" and not 2 <= spec.num_classes <= len(CLASS_COLOURS) + 1:
        raise ValueError(f"--classes must be between 2 and {len(CLASS_COLOURS) + 1}")
    rng = np.random.default_rng(spec.seed)
    counts = {"train": spec.train, "val": spec.val}
    for split, count in counts.items():
        img_dir, ann_dir = spec.out / "img_dir" / split, spec.out / "ann_dir" / split
        img_dir.mkdir(parents=True, exist_ok=True)
        ann_dir.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            if spec.style == "tutorial":
                img, label = tutorial_sample(rng, spec.size)
            else:
                img, label = learnable_sample(rng, spec.size, spec.num_classes)
            cv2.imwrite(str(img_dir / f"{split}_{i:04d}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
            cv2.imwrite(str(ann_dir / f"{split}_{i:04d}.png"), label)
    return counts
