"""Pascal VOC 2012 plus the SBD ("aug") annotations: SBD's ``cls/*.mat`` become ``SegmentationClassAug/*.png``.

The split lists are MMSegmentation's: ``aug.txt`` = SBD train+val minus VOC train and val (the
``pascal_voc12_aug`` config concatenates it with VOC's ``train.txt``), ``trainaug.txt`` = VOC train plus
SBD train+val minus VOC val (10582 names with the full downloads). Lists are written sorted.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from seglab.data.prepare.archive import Tree
from seglab.data.prepare.common import DatasetSpec, Job, Limits, Part, copy_job, encode_png, members, write_list
from seglab.data.prepare.guard import GiB, MiB
from seglab.errors import DatasetError

SEG_LISTS = "ImageSets/Segmentation/"
TRAINAUG_LEN = 10582  # MMSegmentation's check on the full downloads


def mat_to_png(data: bytes, name: str, tree: Tree) -> bytes:
    """SBD's ``GTcls.Segmentation`` (class indices 0..20) as a single-channel PNG."""
    from scipy.io import loadmat

    try:
        mat = loadmat(io.BytesIO(data), squeeze_me=True, struct_as_record=False)
        seg = np.asarray(mat["GTcls"].Segmentation)
    except (ValueError, TypeError, KeyError, AttributeError, OSError) as err:
        raise DatasetError(
            f"{tree.label}: '{tree.prefix + name}' is not an SBD class file with GTcls.Segmentation ({err}); {tree.fix}"
        ) from None
    return encode_png(seg.astype(np.uint8))


def read_list(tree: Tree, name: str) -> list[str]:
    if name not in set(tree.names()):
        raise tree.missing(name)
    return [line.strip() for line in tree.read(name).decode().splitlines() if line.strip()]


def plan(parts: dict[str, list[Tree]], out: Path) -> list[Job]:
    voc, sbd = parts["voc"][0], parts["sbd"][0]
    names = voc.names()
    for needed in ("JPEGImages/", "SegmentationClass/"):
        if not any(n.startswith(needed) for n in names):
            raise voc.missing(needed)
    for needed in (SEG_LISTS + "train.txt", SEG_LISTS + "val.txt"):
        if needed not in names:
            raise voc.missing(needed)
    mats = members(sbd, "dataset/cls/", (".mat",))
    if not mats:
        raise sbd.missing("dataset/cls/*.mat")
    jobs = [copy_job(voc, n, out / n) for n in names if n.startswith(("JPEGImages/", "SegmentationClass/", SEG_LISTS))]
    for name in mats:
        dest = out / "SegmentationClassAug" / (name.rsplit("/", 1)[-1][:-4] + ".png")

        def make(data: bytes, name=name, dest=dest):
            return [(dest, mat_to_png(data, name, sbd))]

        jobs.append(Job(sbd, name, make, outputs=(dest,)))
    return jobs


def finish(parts: dict[str, list[Tree]], out: Path) -> list[str]:
    voc, sbd = parts["voc"][0], parts["sbd"][0]
    voc_train, voc_val = read_list(voc, SEG_LISTS + "train.txt"), read_list(voc, SEG_LISTS + "val.txt")
    sbd_all = read_list(sbd, "dataset/train.txt") + read_list(sbd, "dataset/val.txt")
    trainaug = sorted(set(voc_train + sbd_all) - set(voc_val))
    aug = sorted(set(sbd_all) - set(voc_train + voc_val))
    write_list(out, out / SEG_LISTS / "trainaug.txt", trainaug)
    write_list(out, out / SEG_LISTS / "aug.txt", aug)
    note = "" if len(trainaug) == TRAINAUG_LEN else f" (the full downloads give {TRAINAUG_LEN})"
    return [f"lists: {SEG_LISTS}aug.txt {len(aug)} names, trainaug.txt {len(trainaug)} names{note}"]


SPECS = {
    "voc_aug": DatasetSpec(
        name="voc_aug",
        title="Pascal VOC 2012 + SBD augmented annotations (21 classes)",
        url="http://host.robots.ox.ac.uk/pascal/VOC/voc2012/VOCtrainval_11-May-2012.tar and "
        "http://www.eecs.berkeley.edu/Research/Projects/CS/vision/grouping/semantic_contours/benchmark.tgz",
        parts={
            "voc": Part("VOCtrainval_11-May-2012.tar", SEG_LISTS, extracted=("", "VOC2012", "VOCdevkit/VOC2012")),
            "sbd": Part("benchmark.tgz", "dataset/cls/", extracted=("", "VOCaug", "benchmark_RELEASE")),
        },
        data_root="data/VOCdevkit/VOC2012",
        config="pascal_voc12_aug",
        writes="JPEGImages/, SegmentationClass/, SegmentationClassAug/ (from SBD .mat), "
        "ImageSets/Segmentation/{train,val,trainval,aug,trainaug}.txt",
        plan=plan,
        finish=finish,
        needs=(("scipy", "scipy"),),
        limits=Limits(member=16 * MiB, total=16 * GiB),
    )
}
