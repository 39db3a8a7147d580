"""iSAID: DOTA images and iSAID semantic masks cut into 896x896 tiles overlapping by 384 pixels.

Mask colours become the 16 class indices (0 background, unknown colours too); padding of images
smaller than a tile is 0 in images and 255 (ignore) in labels. Test images are copied whole.
"""

from __future__ import annotations

from pathlib import Path

import cv2

from seglab.data.prepare.archive import Tree
from seglab.data.prepare.common import (
    DatasetSpec,
    Job,
    Limits,
    Part,
    colours_to_index,
    copy_job,
    decode,
    encode_png,
    members,
)
from seglab.data.prepare.guard import GiB
from seglab.data.prepare.tiling import pad_to, sliding_starts

PATCH, OVERLAP = 896, 384
MASK_SUFFIX = "_instance_color_RGB.png"
PALETTE_RGB = [
    (0, 0, 0), (0, 0, 63), (0, 63, 63), (0, 63, 0), (0, 63, 127), (0, 63, 191), (0, 63, 255), (0, 127, 63),
    (0, 127, 127), (0, 0, 127), (0, 0, 191), (0, 0, 255), (0, 191, 127), (0, 127, 191), (0, 127, 255), (0, 100, 155),
]  # fmt: skip
PALETTE_BGR = [(b, g, r) for r, g, b in PALETTE_RGB]


def tile_job(tree: Tree, name: str, folder: Path, is_label: bool) -> Job:
    base = name.rsplit("/", 1)[-1].split(".")[0]
    suffix = ".png"
    if is_label:
        base, suffix = base.split("_")[0], MASK_SUFFIX

    def make(data: bytes):
        img = decode(data, name, tree, cv2.IMREAD_COLOR)
        if is_label:
            img = pad_to(colours_to_index(img, PALETTE_BGR), PATCH, 255)
        else:
            img = pad_to(img, PATCH, 0)
        h, w = img.shape[:2]
        for x0 in sliding_starts(w, PATCH, PATCH - OVERLAP):
            for y0 in sliding_starts(h, PATCH, PATCH - OVERLAP):
                x1, y1 = x0 + PATCH, y0 + PATCH
                yield folder / f"{base}_{y0}_{y1}_{x0}_{x1}{suffix}", encode_png(img[y0:y1, x0:x1])

    return Job(tree, name, make, key=f"{folder.parent.name}/{folder.name}:{name}")


def plan(parts: dict[str, list[Tree]], out: Path) -> list[Job]:
    jobs = []
    for split in ("train", "val", "test"):
        if f"{split}_images" not in parts:
            continue
        for tree in parts[f"{split}_images"]:
            names = members(tree, "images/", (".png",))
            if not names:
                raise tree.missing("images/P<NNNN>.png")
            for name in names:
                if split == "test":
                    jobs.append(copy_job(tree, name, out / "img_dir" / "test" / name.rsplit("/", 1)[-1]))
                else:
                    jobs.append(tile_job(tree, name, out / "img_dir" / split, False))
        if split == "test":
            continue
        masks = parts[f"{split}_masks"][0]
        names = [n for n in members(masks, "images/") if n.endswith(MASK_SUFFIX)]
        if not names:
            raise masks.missing(f"images/P<NNNN>{MASK_SUFFIX}")
        jobs += [tile_job(masks, name, out / "ann_dir" / split, True) for name in names]
    return jobs


SPECS = {
    "isaid": DatasetSpec(
        name="isaid",
        title="iSAID aerial instances as semantic classes (16 classes), 896x896 tiles",
        url="https://captain-whu.github.io/DOTA/dataset.html (images) and "
        "https://captain-whu.github.io/iSAID/dataset.html (Semantic_masks)",
        parts={
            "train_images": Part("train/images/part*.zip", "images/", many=True),
            "train_masks": Part("train/Semantic_masks/images.zip", "images/"),
            "val_images": Part("val/images/part*.zip", "images/", many=True),
            "val_masks": Part("val/Semantic_masks/images.zip", "images/"),
            "test_images": Part("test/images/part*.zip", "images/", many=True, optional=True),
        },
        data_root="data/iSAID",
        config="isaid",
        writes="img_dir/{train,val}/P<N>_<y0>_<y1>_<x0>_<x1>.png, ann_dir/.../..._instance_color_RGB.png, "
        "img_dir/test/P<N>.png (whole)",
        plan=plan,
        note="SRC is the iSAID folder laid out as train/images/part1.zip ... val/Semantic_masks/images.zip",
        limits=Limits(member=1 * GiB, total=96 * GiB),
    )
}
