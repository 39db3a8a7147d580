"""Write a tiny dataset in the toy layout: ``images/*.png``, ``masks/*.png`` and ``train.csv``/``val.csv``.

Each image is noise with one bright square; its mask marks the square as class 1 (background 0), so a
model can learn it. Usage: ``python examples/toy_extension/make_toy_data.py OUT [--train N] [--val N]``.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
from PIL import Image


def write_toy_dataset(out: Path, train: int = 4, val: int = 2, size: int = 32, seed: int = 0) -> None:
    """``train`` + ``val`` image/mask pairs of ``size`` x ``size`` pixels under ``out``, listed in two CSV files."""
    rng = np.random.default_rng(seed)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    for split, count in (("train", train), ("val", val)):
        rows = []
        for i in range(count):
            name = f"{split}_{i:03d}"
            image = rng.integers(0, 80, (size, size, 3), dtype=np.uint8)
            mask = np.zeros((size, size), np.uint8)
            side = int(rng.integers(size // 4, size // 2))
            top, left = (int(v) for v in rng.integers(0, size - side, 2))
            image[top : top + side, left : left + side] += 150
            mask[top : top + side, left : left + side] = 1
            Image.fromarray(image).save(out / "images" / f"{name}.png")
            Image.fromarray(mask).save(out / "masks" / f"{name}.png")
            rows.append({"image": f"images/{name}.png", "label": f"masks/{name}.png"})
        with (out / f"{split}.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["image", "label"])
            writer.writeheader()
            writer.writerows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="dataset root to write (data_root in the config)")
    parser.add_argument("--train", type=int, default=4, help="number of training pairs")
    parser.add_argument("--val", type=int, default=2, help="number of validation pairs")
    args = parser.parse_args()
    write_toy_dataset(args.out, args.train, args.val)
    print(f"wrote {args.train} train and {args.val} val pairs to {args.out} (train.csv, val.csv)")


if __name__ == "__main__":
    main()
