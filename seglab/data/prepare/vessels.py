"""Retinal vessel datasets: DRIVE, STARE, CHASE_DB1 and HRF.

Images become PNGs in ``images/{training,validation}``; vessel masks become 0/1 PNGs in
``annotations/{training,validation}`` (``value // 128`` of the first channel, as MMSegmentation does,
because some masks are not exactly 0/255). Splits are MMSegmentation's: DRIVE by archive, STARE first
10 of 20 sorted names, CHASE_DB1 first 20 of 28 images, HRF first 5 of each 15-image archive.
"""

from __future__ import annotations

from pathlib import Path

import cv2

from seglab.data.prepare.archive import Tree
from seglab.data.prepare.common import DatasetSpec, Job, Limits, Part, decode, encode_png, expect_count, members, stem
from seglab.data.prepare.guard import GiB, MiB

IMAGE_TYPES = (".tif", ".tiff", ".jpg", ".jpeg", ".png", ".ppm", ".gif", ".bmp")


def image_png(tree: Tree, name: str, gz: bool = False):
    def make_bytes(data: bytes) -> bytes:
        return encode_png(decode(tree.gunzip(data, name) if gz else data, name, tree))

    return make_bytes


def mask_png(tree: Tree, name: str, gz: bool = False):
    """0/1 vessel mask from a 0/255 (or nearly so) image."""

    def make_bytes(data: bytes) -> bytes:
        img = decode(tree.gunzip(data, name) if gz else data, name, tree, cv2.IMREAD_COLOR)
        return encode_png(img[:, :, 0] // 128)

    return make_bytes


def job(tree: Tree, name: str, dest: Path, convert) -> Job:
    make = convert(tree, name, name.endswith(".gz"))
    return Job(tree, name, lambda data: [(dest, make(data))], outputs=(dest,))


# ---------------------------------------------------------------- DRIVE


def plan_drive(parts: dict[str, list[Tree]], out: Path) -> list[Job]:
    jobs = []
    for key, split, tag in (("training", "training", "_training"), ("test", "validation", "_test")):
        tree = parts[key][0]
        images = members(tree, f"{key}/images/", IMAGE_TYPES)
        if not images:
            raise tree.missing(f"{key}/images/")
        for name in images:
            jobs.append(job(tree, name, out / "images" / split / f"{stem(name).replace(tag, '')}.png", image_png))
        manual = members(tree, f"{key}/1st_manual/", IMAGE_TYPES) + members(tree, f"{key}/2nd_manual/", IMAGE_TYPES)
        if key == "training" and not manual:
            raise tree.missing("training/1st_manual/")
        for name in manual:
            jobs.append(job(tree, name, out / "annotations" / split / f"{stem(name)}.png", mask_png))
    return jobs


def finish_drive(parts: dict[str, list[Tree]], out: Path) -> list[str]:
    if members(parts["test"][0], "test/1st_manual/"):
        return []
    return [
        "note: test.zip has no test/1st_manual/ (the current official download ships no test labels), so "
        "images/validation has no annotations; add the *_manual1.gif files to annotations/validation to validate"
    ]


# ---------------------------------------------------------------- STARE


def plan_stare(parts: dict[str, list[Tree]], out: Path) -> list[Job]:
    jobs = []
    for key, folder, suffix, convert in (
        ("images", "images", ".ppm.gz", image_png),
        ("labels_ah", "annotations", ".ah.ppm.gz", mask_png),
        ("labels_vk", "annotations", ".vk.ppm.gz", mask_png),
    ):
        tree = parts[key][0]
        names = sorted((n for n in members(tree, "", (".gz",)) if n.endswith(suffix)), key=lambda n: n.split("/")[-1])
        if key == "images":
            names = [n for n in names if not n.endswith((".ah.ppm.gz", ".vk.ppm.gz"))]
        expect_count(tree, f"'*{suffix}' files", len(names), 20)
        for i, name in enumerate(names):
            split = "training" if i < 10 else "validation"
            base = name.split("/")[-1][: -len(".ppm.gz")]
            jobs.append(job(tree, name, out / folder / split / f"{base}.png", convert))
    return jobs


# ---------------------------------------------------------------- CHASE_DB1


def plan_chase(parts: dict[str, list[Tree]], out: Path) -> list[Job]:
    tree = parts["archive"][0]
    names = members(tree, "", IMAGE_TYPES)
    images = sorted((n for n in names if n.lower().endswith(".jpg")), key=stem)
    expect_count(tree, "images (Image_*.jpg)", len(images), 28)
    training = {stem(n) for n in images[:20]}
    jobs = []
    for name in names:
        base = stem(name)
        split = "training" if base.split("_1st")[0].split("_2nd")[0] in training else "validation"
        if name.lower().endswith(".jpg"):
            jobs.append(job(tree, name, out / "images" / split / f"{base}.png", image_png))
        elif base.endswith(("_1stHO", "_2ndHO")):
            jobs.append(job(tree, name, out / "annotations" / split / f"{base}.png", mask_png))
    if not any(stem(n).endswith("_1stHO") for n in names):
        raise tree.missing("Image_01L_1stHO.png")
    return jobs


# ---------------------------------------------------------------- HRF

HRF_KINDS = ("healthy", "glaucoma", "diabetic_retinopathy")


def plan_hrf(parts: dict[str, list[Tree]], out: Path) -> list[Job]:
    jobs = []
    for kind in HRF_KINDS:
        for key, folder, convert in ((kind, "images", image_png), (f"{kind}_manualsegm", "annotations", mask_png)):
            tree = parts[key][0]
            names = sorted((n for n in members(tree, "", IMAGE_TYPES)), key=lambda n: n.split("/")[-1])
            expect_count(tree, "images", len(names), 15)
            for i, name in enumerate(names):
                split = "training" if i < 5 else "validation"
                jobs.append(job(tree, name, out / folder / split / f"{stem(name)}.png", convert))
    return jobs


HRF_URL = "https://www5.cs.fau.de/research/data/fundus-images/"
SPECS = {
    "drive": DatasetSpec(
        name="drive",
        title="DRIVE retinal vessels (2 classes)",
        url="https://drive.grand-challenge.org/ (registration)",
        parts={
            "training": Part("training.zip", "training/images/", extracted=("", "DRIVE")),
            "test": Part("test.zip", "test/images/", extracted=("", "DRIVE")),
        },
        data_root="data/DRIVE",
        config="drive",
        writes="images/{training,validation}/NN.png, annotations/{training,validation}/NN_manual1.png (0/1)",
        plan=plan_drive,
        finish=finish_drive,
        note="validation labels come from test.zip's test/1st_manual/, which newer downloads lack",
        limits=Limits(member=16 * MiB, total=1 * GiB),
    ),
    "stare": DatasetSpec(
        name="stare",
        title="STARE retinal vessels (2 classes)",
        url="https://cecas.clemson.edu/~ahoover/stare/probing/ (stare-images.tar, labels-ah.tar, labels-vk.tar)",
        parts={
            "images": Part("stare-images.tar", "im0001.ppm.gz"),
            "labels_ah": Part("labels-ah.tar", "im0001.ah.ppm.gz"),
            "labels_vk": Part("labels-vk.tar", "im0001.vk.ppm.gz"),
        },
        data_root="data/STARE",
        config="stare",
        writes="images/{training,validation}/imNNNN.png, annotations/.../imNNNN.ah.png and imNNNN.vk.png (0/1)",
        plan=plan_stare,
        limits=Limits(member=16 * MiB, total=1 * GiB),
    ),
    "chase_db1": DatasetSpec(
        name="chase_db1",
        title="CHASE_DB1 retinal vessels (2 classes)",
        url="https://staffnet.kingston.ac.uk/~ku15565/CHASE_DB1/assets/CHASEDB1.zip",
        parts={"archive": Part("CHASEDB1.zip", "Image_01L.jpg", extracted=("", "CHASEDB1"))},
        data_root="data/CHASE_DB1",
        config="chase_db1",
        writes="images/{training,validation}/Image_NNx.png, annotations/.../Image_NNx_1stHO.png and _2ndHO.png (0/1)",
        plan=plan_chase,
        limits=Limits(member=16 * MiB, total=1 * GiB),
    ),
    "hrf": DatasetSpec(
        name="hrf",
        title="HRF high-resolution fundus vessels (2 classes)",
        url=HRF_URL,
        parts={key: Part(f"{key}.zip", "") for kind in HRF_KINDS for key in (kind, f"{kind}_manualsegm")},
        data_root="data/HRF",
        config="hrf",
        writes="images/{training,validation}/NN_x.png, annotations/{training,validation}/NN_x.png (0/1)",
        plan=plan_hrf,
        limits=Limits(member=128 * MiB, total=8 * GiB, ratio=1000),
    ),
}
