"""LoveDA: Train/Val/Test zips regrouped into ``img_dir``/``ann_dir``; masks are copied unchanged
(0 = no data, 1..7 classes; the config's ``reduce_zero_label`` makes 0 the ignore index)."""

from __future__ import annotations

from pathlib import Path

from seglab.data.prepare.archive import Tree
from seglab.data.prepare.common import DatasetSpec, Job, Limits, Part, copy_job, members
from seglab.data.prepare.guard import GiB, MiB

ZIPS = {"train": "Train", "val": "Val", "test": "Test"}


def plan(parts: dict[str, list[Tree]], out: Path) -> list[Job]:
    jobs = []
    for split, top in ZIPS.items():
        if split not in parts:
            continue
        tree = parts[split][0]
        kinds = (
            (("images_png", "img_dir"),) if split == "test" else (("images_png", "img_dir"), ("masks_png", "ann_dir"))
        )
        for area in ("Rural", "Urban"):
            for kind, folder in kinds:
                names = members(tree, f"{top}/{area}/{kind}/", (".png",))
                if not names:
                    raise tree.missing(f"{top}/{area}/{kind}/")
                jobs += [copy_job(tree, n, out / folder / split / n.rsplit("/", 1)[-1]) for n in names]
    return jobs


SPECS = {
    "loveda": DatasetSpec(
        name="loveda",
        title="LoveDA land cover (7 classes)",
        url="https://zenodo.org/record/5706578 (Train.zip, Val.zip, Test.zip)",
        parts={
            "train": Part("Train.zip", "Train/Rural/images_png/", extracted=("",)),
            "val": Part("Val.zip", "Val/Rural/images_png/", extracted=("",)),
            "test": Part("Test.zip", "Test/Rural/images_png/", extracted=("",), optional=True),
        },
        data_root="data/loveDA",
        config="loveda",
        writes="img_dir/{train,val,test}/N.png, ann_dir/{train,val}/N.png",
        plan=plan,
        limits=Limits(member=32 * MiB, total=32 * GiB),
    )
}
