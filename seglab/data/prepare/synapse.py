"""Synapse multi-organ CT (TransUNet's setting): each NIfTI volume becomes one image/label pair per slice.

CT values are clipped to [-125, 275] and scaled to 0..255; volumes are sliced along z and flipped left-right
as TransUNet does; the 13 organ labels keep 8 (aorta, gallbladder, left/right kidney, liver, pancreas,
spleen, stomach), the others become background. Reading .nii.gz needs nibabel.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from seglab.data.prepare.archive import Tree
from seglab.data.prepare.common import DatasetSpec, Job, Limits, Part, encode_jpg, encode_png, members
from seglab.data.prepare.guard import GiB, MiB
from seglab.errors import DatasetError

# TransUNet's split of the 30 training scans (MMSegmentation's docs list the same train.txt/val.txt)
TRAIN_IDS = ("0005 0006 0007 0009 0010 0021 0023 0024 0026 0027 0028 0030 0031 0033 0034 0037 0039 0040").split()
VAL_IDS = "0008 0022 0038 0036 0032 0002 0029 0003 0001 0004 0025 0035".split()
ORGANS = {8: 1, 4: 2, 3: 3, 2: 4, 6: 5, 11: 6, 1: 7, 7: 8}  # original label -> kept class


def read_volume(data: bytes, name: str, tree: Tree) -> np.ndarray:
    """The volume as (slices, H, W), oriented as TransUNet's preprocessing leaves it."""
    import nibabel as nib

    try:
        raw = tree.gunzip(data, name) if name.endswith(".gz") else data
        volume = np.asarray(nib.Nifti1Image.from_bytes(raw).get_fdata())
    except (OSError, EOFError, zlib.error, ValueError, nib.filebasedimages.ImageFileError) as err:
        raise DatasetError(
            f"{tree.label}: '{tree.prefix + name}' is not a readable NIfTI volume ({err}); {tree.fix}"
        ) from None
    if volume.ndim != 3:
        raise DatasetError(f"{tree.label}: '{tree.prefix + name}' is not a 3-D volume; {tree.fix}")
    return np.flip(np.transpose(volume, (2, 0, 1)), 2)


def image_slices(tree: Tree, name: str, folder: Path, case: str):
    def make(data: bytes):
        volume = (np.clip(read_volume(data, name, tree), -125, 275) + 125) / 400 * 255
        for c, plane in enumerate(np.floor(volume).astype(np.uint8)):
            yield folder / f"case{case}_slice{c:03d}.jpg", encode_jpg(np.repeat(plane[:, :, None], 3, axis=2))

    return make


def label_slices(tree: Tree, name: str, folder: Path, case: str):
    def make(data: bytes):
        volume = np.rint(read_volume(data, name, tree)).astype(np.int64)
        mapped = np.zeros(volume.shape, np.uint8)
        for old, new in ORGANS.items():
            mapped[volume == old] = new
        for c, plane in enumerate(mapped):
            yield folder / f"case{case}_slice{c:03d}.png", encode_png(plane)

    return make


def _split_ids(tree: Tree) -> dict[str, list[str]]:
    """Training/train.txt and val.txt when the folder has them, else TransUNet's split."""
    names = set(tree.names())
    if "Training/train.txt" in names and "Training/val.txt" in names:
        lists = {s: tree.read(f"Training/{s}.txt").decode().split() for s in ("train", "val")}
        ids = {s: [n[3:7] for n in v] for s, v in lists.items()}
        for split, values in ids.items():
            for case in values:
                if not case.isdigit():  # the case id names members and outputs: nothing else may pass
                    raise DatasetError(
                        f"{tree.label}: 'Training/{split}.txt' names '{case}', not a 4-digit case id; {tree.fix}"
                    )
        return ids
    return {"train": TRAIN_IDS, "val": VAL_IDS}


def plan(parts: dict[str, list[Tree]], out: Path) -> list[Job]:
    tree = parts["raw"][0]
    names = set(members(tree, "Training/"))
    jobs = []
    for split, ids in _split_ids(tree).items():
        for case in ids:
            img, label = f"Training/img/img{case}.nii.gz", f"Training/label/label{case}.nii.gz"
            for member in (img, label):
                if member not in names:
                    raise tree.missing(member)
            for member, folder, make in (
                (img, out / "img_dir" / split, image_slices),
                (label, out / "ann_dir" / split, label_slices),
            ):
                jobs.append(Job(tree, member, make(tree, member, folder, case), key=f"{split}:{member}"))
    return jobs


SPECS = {
    "synapse": DatasetSpec(
        name="synapse",
        title="Synapse multi-organ abdominal CT (9 classes, TransUNet split)",
        url="https://www.synapse.org/#!Synapse:syn3193805/wiki/ (registration; Abdomen/RawData.zip)",
        parts={"raw": Part("RawData.zip", "Training/img/", extracted=("", "RawData"))},
        data_root="data/synapse",
        config="synapse",
        writes="img_dir/{train,val}/caseNNNN_sliceNNN.jpg, ann_dir/{train,val}/caseNNNN_sliceNNN.png",
        plan=plan,
        needs=(("nibabel", "nibabel"),),
        limits=Limits(member=512 * MiB, total=16 * GiB, ratio=1000),  # label volumes: mostly zeros
    )
}
