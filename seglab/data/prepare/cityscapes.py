"""Cityscapes: images copied, ``*_gtFine_labelIds.png`` turned into ``*_gtFine_labelTrainIds.png``.

MMSegmentation renders the polygons with cityscapesscripts; the label-id PNGs in the same download hold
the same rendering, so a 256-entry lookup table gives the train ids without that package.
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
    copy_job,
    decode,
    encode_png,
    lookup_table,
    members,
    write_list,
)
from seglab.data.prepare.guard import GiB, MiB
from seglab.errors import DatasetError

SPLITS = ("train", "val", "test")
# cityscapesscripts' labels table: label id -> train id; every other id (void, rail track, guard rail,
# bridge, tunnel, polegroup, caravan, trailer, license plate) is 255
ID_TO_TRAIN_ID = {
    7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9,
    23: 10, 24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18,
}  # fmt: skip
TABLE = lookup_table(ID_TO_TRAIN_ID)
IMG_SUFFIX, ID_SUFFIX, TRAIN_ID_SUFFIX = "_leftImg8bit.png", "_gtFine_labelIds.png", "_gtFine_labelTrainIds.png"


def to_train_ids(data: bytes, name: str, tree: Tree) -> bytes:
    ids = decode(data, name, tree, cv2.IMREAD_UNCHANGED)
    if ids.ndim != 2:
        raise DatasetError(f"{tree.label}: '{name}' is not a single-channel label-id image; {tree.fix}")
    return encode_png(TABLE[ids])


def _require(tree: Tree, names: list[str], folder: str, suffix: str) -> None:
    if not any(n.startswith(folder) and n.endswith(suffix) for n in names):
        raise tree.missing(f"{folder}<city>/*{suffix}")


def plan(parts: dict[str, list[Tree]], out: Path) -> list[Job]:
    images, labels = parts["images"][0], parts["labels"][0]
    image_names, label_names = members(images, "leftImg8bit/"), members(labels, "gtFine/")
    for split in ("train", "val"):
        _require(images, image_names, f"leftImg8bit/{split}/", IMG_SUFFIX)
        _require(labels, label_names, f"gtFine/{split}/", ID_SUFFIX)
    jobs = [copy_job(images, n, out / n) for n in image_names if n.endswith(IMG_SUFFIX)]
    for name in label_names:
        if name.endswith(ID_SUFFIX):
            ids_out = out / name
            train_out = out / (name[: -len(ID_SUFFIX)] + TRAIN_ID_SUFFIX)

            def make(data: bytes, name=name, ids_out=ids_out, train_out=train_out):
                return [(ids_out, data), (train_out, to_train_ids(data, name, labels))]

            jobs.append(Job(labels, name, make, outputs=(ids_out, train_out)))
    return jobs


def finish(parts: dict[str, list[Tree]], out: Path) -> list[str]:
    """``train.txt``/``val.txt``/``test.txt``: ``city/city_xxxxxx_yyyyyy`` per labelled image, as MMSegmentation's."""
    labels = parts["labels"][0]
    counts = []
    for split in SPLITS:
        folder = f"gtFine/{split}/"
        names = sorted(n[len(folder) : -len(ID_SUFFIX)] for n in members(labels, folder) if n.endswith(ID_SUFFIX))
        if names:
            write_list(out, out / f"{split}.txt", names)
            counts.append(f"{split} {len(names)}")
    return [f"lists {out}/{{train,val,test}}.txt: " + ", ".join(counts)]


SPECS = {
    "cityscapes": DatasetSpec(
        name="cityscapes",
        title="Cityscapes (fine annotations, 19 train ids)",
        url="https://www.cityscapes-dataset.com/downloads/ (free registration)",
        parts={
            "images": Part("leftImg8bit_trainvaltest.zip", "leftImg8bit/", extracted=("",)),
            "labels": Part("gtFine_trainvaltest.zip", "gtFine/", extracted=("",)),
        },
        data_root="data/cityscapes",
        config="cityscapes",
        writes="leftImg8bit/{train,val,test}/<city>/*_leftImg8bit.png, gtFine/.../*_gtFine_labelTrainIds.png "
        "(+ *_gtFine_labelIds.png), {train,val,test}.txt",
        plan=plan,
        finish=finish,
        limits=Limits(member=32 * MiB, total=40 * GiB),
    )
}
