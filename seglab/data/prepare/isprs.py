"""ISPRS Potsdam and Vaihingen: 512x512 tiles; colour-coded labels become class indices.

Label colours (in the files' RGB) -> index: white impervious surface 1, blue building 2, cyan low
vegetation 3, green tree 4, yellow car 5, red clutter 6; black and any other colour 0, which the configs'
``reduce_zero_label`` ignores. Splits are MMSegmentation's fixed lists (everything else goes to val).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2

from seglab.data.prepare.archive import Tree
from seglab.data.prepare.common import (
    DatasetSpec,
    Job,
    Limits,
    Part,
    colours_to_index,
    decode,
    encode_png,
    members,
    stem,
)
from seglab.data.prepare.guard import GiB, MiB
from seglab.data.prepare.tiling import isprs_boxes

TILE = 512
PALETTE_BGR = [(0, 0, 0), (255, 255, 255), (255, 0, 0), (255, 255, 0), (0, 255, 0), (0, 255, 255), (0, 0, 255)]
POTSDAM_TRAIN = {
    "2_10", "2_11", "2_12", "3_10", "3_11", "3_12", "4_10", "4_11", "4_12", "5_10", "5_11", "5_12",
    "6_10", "6_11", "6_12", "6_7", "6_8", "6_9", "7_10", "7_11", "7_12", "7_7", "7_8", "7_9",
}  # fmt: skip
VAIHINGEN_TRAIN = {
    "area1", "area11", "area13", "area15", "area17", "area21", "area23", "area26",
    "area28", "area3", "area30", "area32", "area34", "area37", "area5", "area7",
}  # fmt: skip


def tile_job(tree: Tree, name: str, folder: Path, prefix: str, is_label: bool) -> Job:
    """Tiles of one image as ``{prefix}_{x0}_{y0}_{x1}_{y1}.png``; a label's colours become indices first."""

    def make(data: bytes):
        img = decode(data, name, tree, cv2.IMREAD_COLOR)
        if is_label:
            img = colours_to_index(img, PALETTE_BGR)
        h, w = img.shape[:2]
        for x0, y0, x1, y1 in isprs_boxes(h, w, TILE):
            yield folder / f"{prefix}_{x0}_{y0}_{x1}_{y1}.png", encode_png(img[y0:y1, x0:x1])

    return Job(tree, name, make, key=f"{folder.parent.name}/{folder.name}:{name}")


def _plan(
    parts: dict[str, list[Tree]], out: Path, kinds: tuple, tile_id: Callable[[str], str], train: set[str]
) -> list[Job]:
    jobs = []
    for key, inside, pattern, folder, is_label in kinds:
        tree = parts[key][0]
        names = [n for n in members(tree, inside, (".tif",)) if pattern(n.rsplit("/", 1)[-1])]
        if not names:
            raise tree.missing(kinds_hint(key))
        for name in names:
            tid = tile_id(name)
            split = "train" if tid in train else "val"
            jobs.append(tile_job(tree, name, out / folder / split, tid, is_label))
    return jobs


def kinds_hint(key: str) -> str:
    return {
        "images": "top_potsdam_<i>_<j>_RGB.tif",
        "labels": "top_potsdam_<i>_<j>_label_noBoundary.tif",
        "top": "top/top_mosaic_09cm_area<N>.tif",
        "gt": "top_mosaic_09cm_area<N>_noBoundary.tif",
    }[key]


def plan_potsdam(parts: dict[str, list[Tree]], out: Path) -> list[Job]:
    kinds = (
        ("images", "", lambda b: b.startswith("top_potsdam_") and b.endswith("_RGB.tif"), "img_dir", False),
        ("labels", "", lambda b: b.startswith("top_potsdam_") and "label" in b, "ann_dir", True),
    )
    return _plan(parts, out, kinds, lambda n: "_".join(stem(n).split("_")[2:4]), POTSDAM_TRAIN)


def plan_vaihingen(parts: dict[str, list[Tree]], out: Path) -> list[Job]:
    def is_image(base: str) -> bool:
        return base.startswith("top_mosaic_09cm_area") and base.count("_") == 3

    def is_label(base: str) -> bool:  # area9's ground truth has no image; MMSegmentation drops it too
        return (
            base.startswith("top_mosaic_09cm_area")
            and "noBoundary" in base
            and not base.startswith("top_mosaic_09cm_area9_")
        )

    kinds = (("top", "top/", is_image, "img_dir", False), ("gt", "", is_label, "ann_dir", True))
    return _plan(parts, out, kinds, lambda n: stem(n).split("_")[3], VAIHINGEN_TRAIN)


ISPRS_URL = "https://www.isprs.org/education/benchmarks/UrbanSemLab/default.aspx (request form)"
SPECS = {
    "potsdam": DatasetSpec(
        name="potsdam",
        title="ISPRS Potsdam (6 classes), 512x512 tiles",
        url=ISPRS_URL,
        parts={
            "images": Part("2_Ortho_RGB.zip", "", extracted=("2_Ortho_RGB",)),
            "labels": Part("5_Labels_all_noBoundary.zip", "", extracted=("5_Labels_all_noBoundary",)),
        },
        data_root="data/potsdam",
        config="potsdam",
        writes="img_dir/{train,val}/<i>_<j>_<x0>_<y0>_<x1>_<y1>.png, ann_dir/... (indices 0..6; 3456 train, "
        "2016 val tiles)",
        plan=plan_potsdam,
        limits=Limits(member=512 * MiB, total=32 * GiB, ratio=1000),
    ),
    "vaihingen": DatasetSpec(
        name="vaihingen",
        title="ISPRS Vaihingen (6 classes), 512x512 tiles",
        url=ISPRS_URL,
        parts={
            "top": Part("ISPRS_semantic_labeling_Vaihingen.zip", "top/"),
            "gt": Part("ISPRS_semantic_labeling_Vaihingen_ground_truth_eroded_COMPLETE.zip", ""),
        },
        data_root="data/vaihingen",
        config="vaihingen",
        writes="img_dir/{train,val}/area<N>_<x0>_<y0>_<x1>_<y1>.png, ann_dir/... (indices 0..6; 344 train, "
        "398 val tiles)",
        plan=plan_vaihingen,
        limits=Limits(member=128 * MiB, total=8 * GiB, ratio=1000),
    ),
}
