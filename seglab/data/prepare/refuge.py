"""REFUGE optic disc/cup: images to PNG, masks (0 cup, 128 disc rim, 255 background) to indices.

Index 0 is background, 1 optic cup, 2 optic disc, as MMSegmentation maps them; any other grey value
becomes 255 (ignore). ``*Illustration*`` folders and ``__MACOSX`` copies are skipped.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from seglab.data.prepare.archive import Tree
from seglab.data.prepare.common import (
    DatasetSpec,
    Job,
    Limits,
    Part,
    decode,
    encode_png,
    lookup_table,
    members,
    png_job,
    stem,
)
from seglab.data.prepare.guard import GiB, MiB

MASK_TABLE = lookup_table({0: 1, 128: 2, 255: 0})
SPLITS = {
    "training": ("REFUGE-Training400.zip", "Annotation-Training400.zip"),
    "validation": ("REFUGE-Validation400.zip", "REFUGE-Validation400-GT.zip"),
    "test": ("REFUGE-Test400.zip", "REFUGE-Test-GT.zip"),
}


def _files(tree: Tree) -> dict[str, str]:
    """Stem -> member of every .jpg/.bmp outside illustration folders."""
    return {stem(n): n for n in members(tree, "", (".jpg", ".bmp")) if "Illustration" not in n}


def plan(parts: dict[str, list[Tree]], out: Path) -> list[Job]:
    jobs = []
    for split in SPLITS:
        images, masks = parts[f"{split}_images"][0], parts[f"{split}_masks"][0]
        image_files, mask_files = _files(images), _files(masks)
        if not image_files:
            raise images.missing("<name>.jpg")
        for base, name in sorted(image_files.items()):
            if base not in mask_files:
                raise masks.missing(f"{base}.bmp")
            jobs.append(png_job(images, name, out / "images" / split / f"{base}.png"))
            mask = mask_files[base]
            dest = out / "annotations" / split / f"{base}.png"

            def make(data: bytes, mask=mask, dest=dest, masks=masks):
                grey = decode(data, mask, masks, cv2.IMREAD_COLOR)[:, :, 0]
                return [(dest, encode_png(MASK_TABLE[np.ascontiguousarray(grey)]))]

            jobs.append(Job(masks, mask, make, outputs=(dest,)))
    return jobs


SPECS = {
    "refuge": DatasetSpec(
        name="refuge",
        title="REFUGE optic disc and cup (3 classes)",
        url="https://refuge.grand-challenge.org/REFUGE2Download/ (registration; unzip REFUGE2.zip)",
        parts={
            f"{split}_{kind}": Part(archive, "")
            for split, pair in SPLITS.items()
            for kind, archive in zip(("images", "masks"), pair)
        },
        data_root="data/REFUGE",
        config="refuge",
        writes="images/{training,validation,test}/<name>.png, annotations/.../<name>.png (0 background, 1 cup, 2 disc)",
        plan=plan,
        note="SRC is the folder holding the six zips (REFUGE2/REFUGE2 after unzipping REFUGE2.zip)",
        limits=Limits(member=64 * MiB, total=16 * GiB, ratio=1000),  # .bmp masks deflate well
    )
}
