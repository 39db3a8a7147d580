"""Record facts of MMSegmentation 1.2.2's dataset converters that ``seglab prepare`` must reproduce.

Run with the reference environment's Python, after ``pip install --no-deps cityscapesscripts==2.3.0`` there:
    $HOME/mmref/bin/python tests/records/recorders/record_prepare.py tests/records/prepare/converter_facts.json.gz

Imports the converter modules from ``mmseg/.mim/tools/dataset_converters`` and records: cityscapesscripts'
id -> trainId table, the COCO-Stuff ``clsID_to_trID`` dicts, the tile names Potsdam's/Vaihingen's
``clip_big_image`` (512/256) and iSAID's ``slide_crop_image`` (896/896/384) write for five image sizes, and
the index tiles cut from two small seeded colour labels (Potsdam ``to_label=True`` with 8/4; iSAID's
``slide_crop_label`` names with patch 8 / overlap 3 and its padded index array). Generated images live in a
temporary folder. Seeded: running it twice writes identical bytes.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import sys
import tempfile
from pathlib import Path
from types import ModuleType, SimpleNamespace

import cv2
import mmcv
import mmseg
import numpy as np

CONVERTERS = Path(mmseg.__file__).parent / ".mim" / "tools" / "dataset_converters"
ISPRS_SIZES = ((1024, 1024), (2000, 2500), (2557, 1887), (530, 600), (6000, 6000))
ISAID_SIZES = ((1000, 1300), (2000, 3000), (4000, 4100), (896, 896), (900, 2000))
POTSDAM_COLOURS_BGR = [(0, 0, 0), (255, 255, 255), (255, 0, 0), (255, 255, 0), (0, 255, 0), (0, 255, 255)]
POTSDAM_COLOURS_BGR += [(0, 0, 255), (128, 128, 128), (10, 20, 30)]  # two off-palette colours


def converter(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"converter_{name}", CONVERTERS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def names_in(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


def isprs_tiles(clip_big_image, filename: str, work: Path, with_args: bool) -> dict[str, list[str]]:
    """Tile names for each size (``HxW``), made by running the converter on a blank image of that size."""
    out = {}
    args = SimpleNamespace(clip_size=512, stride_size=256)
    for h, w in ISPRS_SIZES:
        folder = work / f"{filename}_{h}x{w}"
        folder.mkdir()
        image = folder / filename
        cv2.imwrite(str(image), np.zeros((h, w, 3), np.uint8))
        (folder / "out").mkdir()
        if with_args:
            clip_big_image(str(image), str(folder / "out"), args)
        else:
            clip_big_image(str(image), str(folder / "out"))
        out[f"{h}x{w}"] = names_in(folder / "out")
    return out


def potsdam_label(potsdam: ModuleType, work: Path, rng: np.random.RandomState) -> dict:
    colours = np.array(POTSDAM_COLOURS_BGR, np.uint8)
    bgr = colours[rng.randint(0, len(colours), (12, 10))]
    image = work / "top_potsdam_2_10_label.png"
    cv2.imwrite(str(image), bgr)
    (work / "potsdam_label").mkdir()
    potsdam.clip_big_image(str(image), str(work / "potsdam_label"), SimpleNamespace(clip_size=8, stride_size=4), True)
    tiles = {
        name: mmcv.imread(str(work / "potsdam_label" / name), flag="unchanged").tolist()
        for name in names_in(work / "potsdam_label")
    }
    return dict(bgr=bgr.tolist(), clip=8, stride=4, tiles=tiles)


def isaid_facts(isaid: ModuleType, work: Path, rng: np.random.RandomState) -> tuple[dict, dict]:
    tiles = {}
    for h, w in ISAID_SIZES:
        folder = work / f"isaid_{h}x{w}"
        (folder / "img_dir" / "train").mkdir(parents=True)
        image = folder / "P0000.png"
        cv2.imwrite(str(image), np.zeros((h, w, 3), np.uint8))
        isaid.slide_crop_image(str(image), str(folder), "train", 896, 896, 384)
        tiles[f"{h}x{w}"] = names_in(folder / "img_dir" / "train")
    colours = np.array(list(isaid.iSAID_palette.values()) + [(5, 5, 5)], np.uint8)
    rgb = colours[rng.randint(0, len(colours), (6, 11))]
    folder = work / "isaid_label"
    (folder / "ann_dir" / "train").mkdir(parents=True)
    label = folder / "P0001_instance_color_RGB.png"
    cv2.imwrite(str(label), rgb[:, :, ::-1])
    isaid.slide_crop_label(str(label), str(folder), "train", 8, 8, 3)
    padded = mmcv.impad(isaid.iSAID_convert_from_color(rgb), shape=(8, 11), pad_val=255)
    record = dict(
        overlap=3,
        padded_indices=padded.tolist(),
        patch=8,
        rgb=rgb.tolist(),
        tile_names=names_in(folder / "ann_dir" / "train"),
    )
    return tiles, record


def main(out: Path) -> None:
    from cityscapesscripts.helpers.labels import labels

    rng = np.random.RandomState(0)
    potsdam, vaihingen, isaid = converter("potsdam"), converter("vaihingen"), converter("isaid")
    vaihingen.args = SimpleNamespace(clip_size=512, stride_size=256)  # its clip_big_image reads a global
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        facts = dict(
            cityscapes_id_to_train_id={str(label.id): label.trainId for label in labels if label.id >= 0},
            coco_stuff10k_map={str(k): v for k, v in converter("coco_stuff10k").clsID_to_trID.items()},
            coco_stuff164k_map={str(k): v for k, v in converter("coco_stuff164k").clsID_to_trID.items()},
            potsdam_tiles=isprs_tiles(potsdam.clip_big_image, "top_potsdam_2_10_RGB.png", work, True),
            vaihingen_tiles=isprs_tiles(vaihingen.clip_big_image, "top_mosaic_09cm_area1.tif", work, False),
            potsdam_label=potsdam_label(potsdam, work, rng),
        )
        facts["isaid_tiles"], facts["isaid_label"] = isaid_facts(isaid, work, rng)
    facts["isaid_palette_rgb"] = {str(k): list(v) for k, v in isaid.iSAID_palette.items()}
    facts["recorder"] = "tests/records/recorders/record_prepare.py"
    out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(facts, sort_keys=True, separators=(",", ":"))
    out.write_bytes(gzip.compress(text.encode(), mtime=0))
    print(f"-> {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
