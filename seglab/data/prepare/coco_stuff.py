"""COCO-Stuff 10k and 164k: label maps remapped to the 171 classes that have annotations.

COCO's 182 ids include 11 thing classes that were never annotated; dropping them and renumbering the
rest gives MMSegmentation's ``*_labelTrainIds.png``. 10k's .mat files count from 1 (0 = unlabelled,
made the ignore index by the config's ``reduce_zero_label``); 164k's PNGs count from 0 (255 = unlabelled).
A value outside the table becomes unlabelled (MMSegmentation would keep it; none occur in the downloads).
"""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np

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
)
from seglab.data.prepare.guard import GiB, MiB, check_entry
from seglab.errors import DatasetError

# the 11 COCO thing ids without annotations, counted from 0 (street sign, hat, shoe, eye glasses, plate,
# mirror, window, desk, door, blender, hair brush)
UNUSED_IDS = (11, 25, 28, 29, 44, 65, 67, 68, 70, 82, 90)


def _table_164k() -> np.ndarray:
    kept = [i for i in range(182) if i not in UNUSED_IDS]
    return lookup_table({old: new for new, old in enumerate(kept)}, default=255)


def _table_10k() -> np.ndarray:
    kept = [0] + [i + 1 for i in range(182) if i not in UNUSED_IDS]
    return lookup_table({old: new for new, old in enumerate(kept)}, default=0)


TABLE_164K, TABLE_10K = _table_164k(), _table_10k()


# ---------------------------------------------------------------- 10k


def mat_to_train_ids(data: bytes, name: str, tree: Tree) -> bytes:
    from scipy.io import loadmat

    try:
        labels = np.asarray(loadmat(io.BytesIO(data))["S"])
    except (ValueError, TypeError, KeyError, OSError) as err:
        raise DatasetError(
            f"{tree.label}: '{tree.prefix + name}' is not a COCO-Stuff label file ({err}); {tree.fix}"
        ) from None
    if labels.ndim != 2 or (labels.size and labels.max() > 255):
        raise DatasetError(f"{tree.label}: '{tree.prefix + name}' holds no 2-D label map 'S' of ids 0..182; {tree.fix}")
    return encode_png(TABLE_10K[labels.astype(np.uint8)])


def plan_10k(parts: dict[str, list[Tree]], out: Path) -> list[Job]:
    tree = parts["archive"][0]
    names = set(tree.names())
    jobs = []
    for list_name, split in (("imageLists/train.txt", "train2014"), ("imageLists/test.txt", "test2014")):
        if list_name not in names:
            raise tree.missing(list_name)
        for base in tree.read(list_name).decode().split():
            check_entry(tree.label, tree.prefix + list_name, base)  # names outputs: refuse '../x', '/etc/x'
            img, mat = f"images/{base}.jpg", f"annotations/{base}.mat"
            for member in (img, mat):
                if member not in names:
                    raise tree.missing(member)
            jobs.append(copy_job(tree, img, out / "images" / split / f"{base}.jpg"))
            dest = out / "annotations" / split / f"{base}_labelTrainIds.png"

            def make(data: bytes, mat=mat, dest=dest):
                return [(dest, mat_to_train_ids(data, mat, tree))]

            jobs.append(Job(tree, mat, make, outputs=(dest,)))
    return jobs


# ---------------------------------------------------------------- 164k


def png_to_train_ids(data: bytes, name: str, tree: Tree) -> bytes:
    labels = decode(data, name, tree, cv2.IMREAD_UNCHANGED)
    if labels.ndim != 2 or labels.dtype != np.uint8:
        raise DatasetError(f"{tree.label}: '{tree.prefix + name}' is not an 8-bit single-channel label map; {tree.fix}")
    return encode_png(TABLE_164K[labels])


def plan_164k(parts: dict[str, list[Tree]], out: Path) -> list[Job]:
    maps = parts["maps"][0]
    map_names = {n for n in members(maps, "", (".png",)) if "_labelTrainIds" not in n}
    jobs = []
    for split in ("train2017", "val2017"):
        tree = parts[split][0]
        images = members(tree, f"{split}/", (".jpg",))
        if not images:
            raise tree.missing(f"{split}/*.jpg")
        for name in images:
            label = f"{split}/{name.rsplit('/', 1)[-1][:-4]}.png"
            if label not in map_names:
                raise maps.missing(label)
            jobs.append(copy_job(tree, name, out / "images" / name))
            dest = out / "annotations" / f"{label[:-4]}_labelTrainIds.png"

            def make(data: bytes, label=label, dest=dest):
                return [(dest, png_to_train_ids(data, label, maps))]

            jobs.append(Job(maps, label, make, outputs=(dest,)))
    return jobs


SPECS = {
    "coco_stuff10k": DatasetSpec(
        name="coco_stuff10k",
        title="COCO-Stuff 10k (171 classes)",
        url="http://calvin.inf.ed.ac.uk/wp-content/uploads/data/cocostuffdataset/cocostuff-10k-v1.1.zip",
        parts={"archive": Part("cocostuff-10k-v1.1.zip", "imageLists/train.txt", extracted=("",))},
        data_root="data/coco_stuff10k",
        config="coco-stuff10k",
        writes="images/{train2014,test2014}/*.jpg, annotations/{train2014,test2014}/*_labelTrainIds.png",
        plan=plan_10k,
        needs=(("scipy", "scipy"),),
        limits=Limits(member=16 * MiB, total=8 * GiB, ratio=1000),  # .mat label maps
    ),
    "coco_stuff164k": DatasetSpec(
        name="coco_stuff164k",
        title="COCO-Stuff 164k (171 classes)",
        url="http://images.cocodataset.org/zips/{train2017,val2017}.zip and "
        "http://calvin.inf.ed.ac.uk/wp-content/uploads/data/cocostuffdataset/stuffthingmaps_trainval2017.zip",
        parts={
            "train2017": Part("train2017.zip", "train2017/", extracted=("images",)),
            "val2017": Part("val2017.zip", "val2017/", extracted=("images",)),
            "maps": Part("stuffthingmaps_trainval2017.zip", "train2017/", extracted=("annotations",)),
        },
        data_root="data/coco_stuff164k",
        config="coco-stuff164k",
        writes="images/{train2017,val2017}/*.jpg, annotations/{train2017,val2017}/*_labelTrainIds.png",
        plan=plan_164k,
        limits=Limits(member=32 * MiB, total=64 * GiB),
    ),
}
