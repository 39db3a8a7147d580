"""Every MMSegmentation dataset type on a tiny fake copy of its real folder layout.

Each case below lays out a few files the way the real dataset looks after MMSegmentation's converters
(names, suffixes, label encoding), points its ``_base_`` config at them and reads them through the
config's train and test pipelines. ``tests/records/datasets/mmseg_1.2.2_dataset_types.json.gz`` holds what
MMSegmentation 1.2.2 made of the same files: each type's METAINFO and defaults, the file list
(``get_data_info``), and what its test pipeline packs (shapes, label values, meta keys).
"""

from __future__ import annotations

import copy
import gzip
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from seglab import Config
from seglab.errors import ConfigError, DatasetError
from seglab.registry import DATASETS, TRANSFORMS

from ..conftest import REPO

RECORD = REPO / "tests/records/datasets/mmseg_1.2.2_dataset_types.json.gz"
BASES = REPO / "seglab/configs/_base_/datasets"

LOAD = [{"type": "LoadImageFromFile"}, {"type": "LoadAnnotations"}, {"type": "PackSegInputs"}]
CD_PIPELINE = [
    {"type": "LoadMultipleRSImageFromFile"},
    {"type": "LoadAnnotations"},
    {"type": "ConcatCDInput"},
    {"type": "PackSegInputs"},
]
NIGHT_TEST = [
    {"type": "LoadImageFromFile"},
    {"type": "Resize", "scale": (1920, 1080), "keep_ratio": True},
    {"type": "LoadAnnotations"},
    {"type": "PackSegInputs"},
]

# A case: the dataset type, its _base_ file (whose train/val/test loaders are read, data_root pointed at
# the fake folder) or a dataset config + pipeline, the image size (h, w), and the files:
# "img" = a colour image (format from the suffix); ["label", values] = a class-index PNG with one
# horizontal band per value; ["plabel", values] = the same as a palette PNG (VOC); ["depth", values] =
# 16-bit PNG; ["text", s] and ["json", obj] = annotation files. Keep it plain data: the recording script
# evaluates these assignments without imports to lay out the same files for MMSegmentation.
LAYOUTS = {
    "cityscapes": {
        "type": "CityscapesDataset",
        "config": "cityscapes.py",
        "size": [16, 32],
        "files": {
            "leftImg8bit/train/aachen/aachen_000000_000019_leftImg8bit.png": "img",
            "gtFine/train/aachen/aachen_000000_000019_gtFine_labelTrainIds.png": ["label", [0, 1, 18, 255]],
            "gtFine/train/aachen/aachen_000000_000019_gtFine_labelIds.png": ["label", [7, 8, 33, 0]],
            "leftImg8bit/train/bochum/bochum_000000_000313_leftImg8bit.png": "img",
            "gtFine/train/bochum/bochum_000000_000313_gtFine_labelTrainIds.png": ["label", [2, 13]],
            "leftImg8bit/val/frankfurt/frankfurt_000000_000294_leftImg8bit.png": "img",
            "gtFine/val/frankfurt/frankfurt_000000_000294_gtFine_labelTrainIds.png": ["label", [0, 5, 255]],
        },
    },
    "ade20k": {
        "type": "ADE20KDataset",
        "config": "ade20k.py",
        "size": [24, 32],
        "files": {
            "images/training/ADE_train_00000001.jpg": "img",
            "annotations/training/ADE_train_00000001.png": ["label", [0, 1, 150]],
            "images/validation/ADE_val_00000001.jpg": "img",
            "annotations/validation/ADE_val_00000001.png": ["label", [0, 3, 12]],
        },
    },
    "voc12": {
        "type": "PascalVOCDataset",
        "config": "pascal_voc12.py",
        "size": [24, 32],
        "files": {
            "JPEGImages/2007_000032.jpg": "img",
            "JPEGImages/2007_000039.jpg": "img",
            "JPEGImages/2007_000063.jpg": "img",
            "SegmentationClass/2007_000032.png": ["plabel", [0, 1, 255, 15]],
            "SegmentationClass/2007_000039.png": ["plabel", [0, 20, 255]],
            "ImageSets/Segmentation/train.txt": ["text", "2007_000032\n"],
            "ImageSets/Segmentation/val.txt": ["text", "2007_000039\n"],
        },
    },
    "voc12_aug": {
        "type": "PascalVOCDataset",
        "config": "pascal_voc12_aug.py",
        "size": [24, 32],
        "files": {
            "JPEGImages/2007_000032.jpg": "img",
            "JPEGImages/2007_000039.jpg": "img",
            "JPEGImages/2008_000002.jpg": "img",
            "SegmentationClass/2007_000032.png": ["plabel", [0, 1, 255]],
            "SegmentationClass/2007_000039.png": ["plabel", [0, 20, 255]],
            "SegmentationClassAug/2007_000032.png": ["label", [0, 1]],
            "SegmentationClassAug/2008_000002.png": ["label", [0, 7]],
            "ImageSets/Segmentation/train.txt": ["text", "2007_000032\n"],
            "ImageSets/Segmentation/aug.txt": ["text", "2007_000032\n2008_000002\n"],
            "ImageSets/Segmentation/val.txt": ["text", "2007_000039\n"],
        },
    },
    "pascal_context": {
        "type": "PascalContextDataset",
        "config": "pascal_context.py",
        "size": [24, 32],
        "files": {
            "JPEGImages/2008_000002.jpg": "img",
            "JPEGImages/2008_000003.jpg": "img",
            "SegmentationClassContext/2008_000002.png": ["label", [0, 1, 59]],
            "SegmentationClassContext/2008_000003.png": ["label", [0, 30]],
            "ImageSets/SegmentationContext/train.txt": ["text", "2008_000002\n"],
            "ImageSets/SegmentationContext/val.txt": ["text", "2008_000003\n"],
        },
    },
    "pascal_context_59": {
        "type": "PascalContextDataset59",
        "config": "pascal_context_59.py",
        "size": [24, 32],
        "files": {
            "JPEGImages/2008_000002.jpg": "img",
            "JPEGImages/2008_000003.jpg": "img",
            "SegmentationClassContext/2008_000002.png": ["label", [0, 1, 59]],
            "SegmentationClassContext/2008_000003.png": ["label", [0, 30]],
            "ImageSets/SegmentationContext/train.txt": ["text", "2008_000002\n"],
            "ImageSets/SegmentationContext/val.txt": ["text", "2008_000003\n"],
        },
    },
    "coco_stuff10k": {
        "type": "COCOStuffDataset",
        "config": "coco-stuff10k.py",
        "size": [24, 32],
        "files": {
            "images/train2014/COCO_train2014_000000000077.jpg": "img",
            "annotations/train2014/COCO_train2014_000000000077_labelTrainIds.png": ["label", [0, 1, 171]],
            "images/test2014/COCO_train2014_000000000078.jpg": "img",
            "annotations/test2014/COCO_train2014_000000000078_labelTrainIds.png": ["label", [0, 95]],
        },
    },
    "coco_stuff164k": {
        "type": "COCOStuffDataset",
        "config": "coco-stuff164k.py",
        "size": [24, 32],
        "files": {
            "images/train2017/000000000009.jpg": "img",
            "annotations/train2017/000000000009_labelTrainIds.png": ["label", [0, 170, 255]],
            "images/val2017/000000000139.jpg": "img",
            "annotations/val2017/000000000139_labelTrainIds.png": ["label", [0, 60]],
        },
    },
    "drive": {
        "type": "DRIVEDataset",
        "config": "drive.py",
        "size": [24, 24],
        "files": {
            "images/training/21.png": "img",
            "annotations/training/21_manual1.png": ["label", [0, 1, 0]],
            "images/validation/01.png": "img",
            "annotations/validation/01_manual1.png": ["label", [0, 1]],
        },
    },
    "hrf": {
        "type": "HRFDataset",
        "config": "hrf.py",
        "size": [16, 24],
        "files": {
            "images/training/01_dr.png": "img",
            "annotations/training/01_dr.png": ["label", [0, 1]],
            "images/validation/06_g.png": "img",
            "annotations/validation/06_g.png": ["label", [1, 0]],
        },
    },
    "stare": {
        "type": "STAREDataset",
        "config": "stare.py",
        "size": [24, 28],
        "files": {
            "images/training/im0001.png": "img",
            "annotations/training/im0001.ah.png": ["label", [0, 1]],
            "images/validation/im0005.png": "img",
            "annotations/validation/im0005.ah.png": ["label", [0, 1]],
        },
    },
    "chase_db1": {
        "type": "ChaseDB1Dataset",
        "config": "chase_db1.py",
        "size": [24, 24],
        "files": {
            "images/training/Image_01L.png": "img",
            "annotations/training/Image_01L_1stHO.png": ["label", [0, 1]],
            "images/validation/Image_11L.png": "img",
            "annotations/validation/Image_11L_1stHO.png": ["label", [0, 1]],
        },
    },
    "loveda": {
        "type": "LoveDADataset",
        "config": "loveda.py",
        "size": [32, 32],
        "files": {
            "img_dir/train/0.png": "img",
            "ann_dir/train/0.png": ["label", [0, 1, 7]],
            "img_dir/val/2522.png": "img",
            "ann_dir/val/2522.png": ["label", [0, 4]],
        },
    },
    "potsdam": {
        "type": "PotsdamDataset",
        "config": "potsdam.py",
        "size": [32, 32],
        "files": {
            "img_dir/train/2_10_0_0_512_512.png": "img",
            "ann_dir/train/2_10_0_0_512_512.png": ["label", [0, 1, 6]],
            "img_dir/val/2_13_0_0_512_512.png": "img",
            "ann_dir/val/2_13_0_0_512_512.png": ["label", [0, 5]],
        },
    },
    "vaihingen": {
        "type": "ISPRSDataset",
        "config": "vaihingen.py",
        "size": [32, 32],
        "files": {
            "img_dir/train/area1_0_0_512_512.png": "img",
            "ann_dir/train/area1_0_0_512_512.png": ["label", [0, 2, 6]],
            "img_dir/val/area2_0_0_512_512.png": "img",
            "ann_dir/val/area2_0_0_512_512.png": ["label", [0, 1]],
        },
    },
    "isaid": {
        "type": "iSAIDDataset",
        "config": "isaid.py",
        "size": [32, 32],
        "files": {
            "img_dir/train/P0000_0_896_0_896.png": "img",
            "ann_dir/train/P0000_0_896_0_896_instance_color_RGB.png": ["label", [0, 1, 15]],
            "img_dir/val/P0003_0_896_0_896.png": "img",
            "ann_dir/val/P0003_0_896_0_896_instance_color_RGB.png": ["label", [0, 8]],
        },
    },
    "synapse": {
        "type": "SynapseDataset",
        "config": "synapse.py",
        "size": [32, 32],
        "files": {
            "img_dir/train/case0005_slice000.jpg": "img",
            "ann_dir/train/case0005_slice000.png": ["label", [0, 1, 8]],
            "img_dir/val/case0008_slice000.jpg": "img",
            "ann_dir/val/case0008_slice000.png": ["label", [0, 6]],
        },
    },
    "refuge": {
        "type": "REFUGEDataset",
        "config": "refuge.py",
        "loaders": ["train", "val", "test"],
        "size": [32, 32],
        "files": {
            "images/training/g0001.png": "img",
            "annotations/training/g0001.png": ["label", [0, 1, 2]],
            "images/validation/V0001.png": "img",
            "annotations/validation/V0001.png": ["label", [0, 2]],
            "images/test/T0001.png": "img",
            "annotations/test/T0001.png": ["label", [0, 1]],
        },
    },
    "mapillary_v1": {
        "type": "MapillaryDataset_v1",
        "config": "mapillary_v1.py",
        "size": [24, 32],
        "files": {
            "training/images/0035fkbjWljhaftpVM37-g.jpg": "img",
            "training/v1.2/labels/0035fkbjWljhaftpVM37-g.png": ["label", [0, 13, 65]],
            "validation/images/003bTg3WJwoJUDYrEOIuHw.jpg": "img",
            "validation/v1.2/labels/003bTg3WJwoJUDYrEOIuHw.png": ["label", [27, 65]],
        },
    },
    "mapillary_v1_65": {
        "type": "MapillaryDataset_v1",
        "config": "mapillary_v1_65.py",
        "size": [24, 32],
        "files": {
            "training/images/0035fkbjWljhaftpVM37-g.jpg": "img",
            "training/v1.2/labels/0035fkbjWljhaftpVM37-g.png": ["label", [0, 13, 65]],
            "validation/images/003bTg3WJwoJUDYrEOIuHw.jpg": "img",
            "validation/v1.2/labels/003bTg3WJwoJUDYrEOIuHw.png": ["label", [27, 65]],
        },
    },
    "mapillary_v2": {
        "type": "MapillaryDataset_v2",
        "config": "mapillary_v2.py",
        "size": [24, 32],
        "files": {
            "training/images/0035fkbjWljhaftpVM37-g.jpg": "img",
            "training/v2.0/labels/0035fkbjWljhaftpVM37-g.png": ["label", [0, 55, 123]],
            "validation/images/003bTg3WJwoJUDYrEOIuHw.jpg": "img",
            "validation/v2.0/labels/003bTg3WJwoJUDYrEOIuHw.png": ["label", [61, 123]],
        },
    },
    "bdd100k": {
        "type": "BDD100KDataset",
        "config": "bdd100k.py",
        "size": [18, 32],
        "files": {
            "images/10k/train/0004a4c0-d4dff0ad.jpg": "img",
            "labels/sem_seg/masks/train/0004a4c0-d4dff0ad.png": ["label", [0, 18, 255]],
            "images/10k/val/7d2f7975-e0c1c5a7.jpg": "img",
            "labels/sem_seg/masks/val/7d2f7975-e0c1c5a7.png": ["label", [0, 10]],
        },
    },
    "levir_cd": {
        "type": "LEVIRCDDataset",
        "config": "levir_256x256.py",
        "size": [32, 32],
        "files": {
            "train/A/train_1_0_0_256_256.png": "img",
            "train/B/train_1_0_0_256_256.png": "img",
            "train/label/train_1_0_0_256_256.png": ["label", [0, 1]],
            "test/A/test_1_0_0_256_256.png": "img",
            "test/B/test_1_0_0_256_256.png": "img",
            "test/label/test_1_0_0_256_256.png": ["label", [1, 0]],
        },
    },
    "nyu": {
        "type": "NYUDataset",
        "config": "nyu.py",
        "size": [24, 32],
        "files": {
            "images/train/kitchen_0028a_00045.jpg": "img",
            "annotations/train/kitchen_0028a_00045.png": ["depth", [800, 2500, 9000]],
            "images/train/basement_0001a_00001.jpg": "img",
            "annotations/train/basement_0001a_00001.png": ["depth", [1000, 4000]],
            "images/test/bathroom_0003_00012.jpg": "img",
            "annotations/test/bathroom_0003_00012.png": ["depth", [600, 3000]],
            "images/test/garage_0001_00001.jpg": "img",
            "annotations/test/garage_0001_00001.png": ["depth", [1500]],
        },
    },
    "dark_zurich": {
        "type": "DarkZurichDataset",
        "dataset": {
            "type": "DarkZurichDataset",
            "data_prefix": {"img_path": "rgb_anon/val/night/GOPR0356", "seg_map_path": "gt/val/night/GOPR0356"},
            "pipeline": NIGHT_TEST,
        },
        "size": [18, 32],
        "files": {
            "rgb_anon/val/night/GOPR0356/GOPR0356_frame_000321_rgb_anon.png": "img",
            "gt/val/night/GOPR0356/GOPR0356_frame_000321_gt_labelTrainIds.png": ["label", [0, 10, 255]],
        },
    },
    "night_driving": {
        "type": "NightDrivingDataset",
        "dataset": {
            "type": "NightDrivingDataset",
            "data_prefix": {
                "img_path": "leftImg8bit/test/night",
                "seg_map_path": "gtCoarse_daytime_trainvaltest/test/night",
            },
            "pipeline": NIGHT_TEST,
        },
        "size": [16, 32],
        "files": {
            "leftImg8bit/test/night/0_frame_0001_leftImg8bit.png": "img",
            "gtCoarse_daytime_trainvaltest/test/night/0_frame_0001_gtCoarse_labelTrainIds.png": ["label", [0, 255]],
        },
    },
    "lip": {
        "type": "LIPDataset",
        "dataset": {
            "type": "LIPDataset",
            "data_prefix": {"img_path": "train_images", "seg_map_path": "train_segmentations"},
            "pipeline": LOAD,
        },
        "size": [32, 24],
        "files": {
            "train_images/77_471474.jpg": "img",
            "train_segmentations/77_471474.png": ["label", [0, 2, 19]],
            "train_images/100034_483681.jpg": "img",
            "train_segmentations/100034_483681.png": ["label", [0, 13]],
        },
    },
    "decathlon": {
        "type": "DecathlonDataset",
        "dataset": {"type": "DecathlonDataset", "ann_file": "dataset.json", "pipeline": LOAD},
        "size": [16, 16],
        "files": {
            "imagesTr/la_003.png": "img",
            "labelsTr/la_003.png": ["label", [0, 1]],
            "imagesTr/la_004.png": "img",
            "labelsTr/la_004.png": ["label", [1, 0]],
            "imagesTs/la_001.png": "img",
            "dataset.json": [
                "json",
                {
                    "name": "LeftAtrium",
                    "tensorImageSize": "3D",
                    "modality": {"0": "MRI"},
                    "labels": {"0": "background", "1": "left atrium"},
                    "numTraining": 2,
                    "numTest": 1,
                    "training": [
                        {"image": "./imagesTr/la_003.png", "label": "./labelsTr/la_003.png"},
                        {"image": "./imagesTr/la_004.png", "label": "./labelsTr/la_004.png"},
                    ],
                    "test": ["./imagesTs/la_001.png"],
                },
            ],
        },
    },
    "base_cd": {
        "type": "BaseCDDataset",
        "dataset": {
            "type": "BaseCDDataset",
            "data_prefix": {"img_path": "A/train", "img_path2": "B/train", "seg_map_path": "label/train"},
            "metainfo": {"classes": ["unchanged", "changed"]},
            "pipeline": CD_PIPELINE,
        },
        "size": [16, 16],
        "files": {
            "A/train/site_1.jpg": "img",
            "B/train/site_1.jpg": "img",
            "label/train/site_1.png": ["label", [0, 1]],
            "A/train/site_2.jpg": "img",
            "B/train/site_2.jpg": "img",
            "label/train/site_2.png": ["label", [1]],
        },
    },
    "base_seg": {
        "type": "BaseSegDataset",
        "dataset": {
            "type": "BaseSegDataset",
            "data_prefix": {"img_path": "img_dir/train", "seg_map_path": "ann_dir/train"},
            "metainfo": {"classes": ["background", "thing"]},
            "pipeline": LOAD,
        },
        "size": [16, 16],
        "files": {
            "img_dir/train/a.jpg": "img",
            "ann_dir/train/a.png": ["label", [0, 1]],
        },
    },
    "multi_image_mix": {
        "type": "MultiImageMixDataset",
        "dataset": {
            "type": "MultiImageMixDataset",
            "dataset": {
                "type": "CityscapesDataset",
                "data_prefix": {"img_path": "leftImg8bit/train", "seg_map_path": "gtFine/train"},
                "pipeline": [{"type": "LoadImageFromFile"}, {"type": "LoadAnnotations"}],
            },
            "pipeline": [{"type": "RandomMosaic", "prob": 1.0, "img_scale": (16, 32)}, {"type": "PackSegInputs"}],
        },
        "size": [16, 32],
        "files": {
            "leftImg8bit/train/aachen/aachen_000000_000019_leftImg8bit.png": "img",
            "gtFine/train/aachen/aachen_000000_000019_gtFine_labelTrainIds.png": ["label", [0, 1, 18, 255]],
            "leftImg8bit/train/bochum/bochum_000000_000313_leftImg8bit.png": "img",
            "gtFine/train/bochum/bochum_000000_000313_gtFine_labelTrainIds.png": ["label", [2, 13]],
            "leftImg8bit/train/bremen/bremen_000000_000313_leftImg8bit.png": "img",
            "gtFine/train/bremen/bremen_000000_000313_gtFine_labelTrainIds.png": ["label", [8]],
        },
    },
}


# ----------------------------------------------------------------------------- laying out the files
VOC_PALETTE = [0, 0, 0, 128, 0, 0, 0, 128, 0, 128, 128, 0] + [224, 224, 192] * 252


def bands(values: list[int], h: int, w: int, dtype=np.uint8) -> np.ndarray:
    """One horizontal band per value, top to bottom."""
    rows = np.arange(h) * len(values) // h
    return np.asarray(values, dtype)[rows][:, None].repeat(w, 1)


def make_files(root: Path, case: dict) -> None:
    h, w = case["size"]
    for i, (rel, spec) in enumerate(sorted(case["files"].items())):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        kind = spec if isinstance(spec, str) else spec[0]
        if kind == "img":
            cv2.imwrite(str(path), np.random.RandomState(i).randint(0, 256, (h, w, 3)).astype(np.uint8))
        elif kind == "label":
            cv2.imwrite(str(path), bands(spec[1], h, w))
        elif kind == "plabel":  # a palette PNG: the pixel values are the indices, as VOC ships them
            pil = Image.fromarray(bands(spec[1], h, w), mode="P")
            pil.putpalette(VOC_PALETTE)
            pil.save(path)
        elif kind == "depth":
            cv2.imwrite(str(path), bands(spec[1], h, w, np.uint16))
        elif kind == "text":
            path.write_text(spec[1])
        else:
            path.write_text(json.dumps(spec[1]))


def set_root(node, root: Path) -> None:
    """Point every dataset in a loader config at ``root``, as ``data_root=...`` would."""
    if isinstance(node, dict):
        wrapper = "dataset" in node or "datasets" in node
        if "data_root" in node or (str(node.get("type", "")).endswith("Dataset") and not wrapper):
            node["data_root"] = str(root)
        for value in node.values():
            set_root(value, root)
    elif isinstance(node, list):
        for value in node:
            set_root(value, root)


def without_pipelines(node):
    """The same dataset config with every pipeline emptied: just the file lists."""
    if isinstance(node, dict):
        return {k: [] if k == "pipeline" else without_pipelines(v) for k, v in node.items()}
    return [without_pipelines(v) for v in node] if isinstance(node, list) else node


def loader_datasets(case: dict) -> dict[str, dict]:
    if case.get("config"):
        cfg = Config.fromfile(BASES / case["config"]).to_dict()
        return {k: cfg[f"{k}_dataloader"]["dataset"] for k in case.get("loaders", ["train", "val"])}
    return {"dataset": copy.deepcopy(case["dataset"])}


def relative(value, root: Path):
    """JSON-like copy with paths under ``root`` made relative (how the record stores them)."""
    if isinstance(value, dict):
        return {str(k): relative(v, root) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [relative(v, root) for v in value]
    if isinstance(value, str) and value.startswith(str(root)):
        return os.path.relpath(value, root)
    return value


def recorded(value):
    """Undo the record's encoding of int-keyed dicts (label_map)."""
    if isinstance(value, dict) and "__int_keys__" in value:
        return {str(k): v for k, v in value["__int_keys__"]}
    return value


@pytest.fixture(scope="module")
def record() -> dict:
    with gzip.open(RECORD, "rt") as fh:
        return json.load(fh)


# ----------------------------------------------------------------------------- the tests
def test_record_was_made_from_these_layouts(record):
    assert json.loads(json.dumps(LAYOUTS)) == record["layouts"], "re-run the recording script after changing LAYOUTS"


TYPE_NAMES = sorted(json.loads(gzip.open(RECORD, "rt").read())["types"])
DEFAULT_KEYS = ("ann_file", "img_suffix", "img_suffix2", "seg_map_suffix", "depth_map_suffix", "reduce_zero_label")


def signature_defaults(cls) -> dict:
    import inspect

    out = {}
    for klass in reversed(cls.__mro__):
        if "__init__" in vars(klass) and klass.__module__.startswith("seglab"):
            for key, param in inspect.signature(klass.__init__).parameters.items():
                if param.default is not inspect.Parameter.empty:
                    out[key] = param.default
    out.update(getattr(cls, "FIXED_ARGS", {}))  # REFUGE fixes its suffixes inside the class
    return out


@pytest.mark.parametrize("name", TYPE_NAMES)
def test_metainfo_and_defaults_are_mmsegmentations(name, record):
    expected = record["types"][name]
    cls = DATASETS.get(name)
    classes, palette = cls.METAINFO.get("classes"), cls.METAINFO.get("palette")
    assert (list(classes) if classes else None) == expected["classes"]
    assert ([list(c) for c in palette] if palette else None) == expected["palette"]
    ours = signature_defaults(cls)
    for key, value in expected["defaults"].items():
        if key in DEFAULT_KEYS or key == "ignore_index":
            assert ours.get(key) == value, f"{name}.{key}"


def _build_or_skip_reason(cfg: dict):
    """The dataset, or (None, reason) when a transform needs an optional package that is not installed."""
    try:
        return DATASETS.build(cfg), None
    except ConfigError as err:
        if "needs the package" in str(err):
            return None, str(err)
        raise


def _check_sample(packed: dict, expected: dict, exact: bool, num_classes: int, where: str) -> None:
    inputs, sample = packed["inputs"], packed["data_samples"]
    assert isinstance(inputs, torch.Tensor) and str(inputs.dtype) == expected["inputs_dtype"], where
    meta_keys = sorted(k for k in sample if not k.startswith("gt_"))
    assert meta_keys == expected["meta_keys"], f"{where}: meta keys {meta_keys} != {expected['meta_keys']}"
    if exact:
        assert list(inputs.shape) == expected["inputs"], where
    else:
        assert inputs.shape[0] == expected["inputs"][0], where
    if "gt_sem_seg" in expected:
        gt = sample["gt_sem_seg"]
        assert list(gt.shape[:1]) == [1] and gt.dtype == torch.int64, where
        values = sorted(int(v) for v in torch.unique(gt))
        if exact:
            assert list(gt.shape) == expected["gt_sem_seg"]["shape"], where
            assert values == expected["gt_sem_seg"]["values"], where
        else:
            assert gt.shape[1:] == inputs.shape[1:], where
            assert set(values) <= set(range(num_classes)) | {255}, where
    if "gt_depth_map" in expected:
        depth = sample["gt_depth_map"]
        assert list(depth.shape[:1]) == [1] and str(depth.dtype) == expected["gt_depth_map"]["dtype"], where
        if exact:
            assert list(depth.shape) == expected["gt_depth_map"]["shape"], where
            assert [float(depth.min()), float(depth.max())] == pytest.approx(expected["gt_depth_map"]["minmax"])


@pytest.mark.parametrize("case_name", list(LAYOUTS))
def test_fake_dataset_reads_like_mmsegmentation(case_name, record, tmp_path):
    case = LAYOUTS[case_name]
    make_files(tmp_path, case)
    skipped = []
    for split, ds_cfg in loader_datasets(case).items():
        expected = record["cases"][case_name][split]
        where = f"{case_name}/{split}"
        set_root(ds_cfg, tmp_path)
        dataset = DATASETS.build(without_pipelines(ds_cfg))
        assert len(dataset) == expected["len"], where
        count = len(dataset.data_list) if ds_cfg["type"] in ("RepeatDataset", "MultiImageMixDataset") else len(dataset)
        infos = [relative(dataset.get_data_info(i), tmp_path) for i in range(count)]
        assert infos == [{k: recorded(v) for k, v in info.items()} for info in expected["data_list"]], where
        meta = dataset.metainfo
        for key, value in expected["metainfo"].items():
            value = recorded(value)
            ours = relative(meta.get(key), tmp_path)
            if key == "palette" and value == []:  # MMSegmentation leaves Decathlon's palette empty
                assert len(ours) == len(meta["classes"]), where
            else:
                assert ours == value, f"{where}: metainfo['{key}']"
        dataset, reason = _build_or_skip_reason(ds_cfg)
        if dataset is None:
            skipped.append(f"{split}: {reason}")
            continue
        np.random.seed(0)
        packed = dataset[0]
        exact = split != "train" or case_name == "multi_image_mix"
        if "sample" in expected:
            _check_sample(packed, expected["sample"], exact, len(meta["classes"]), where)
        else:  # MMSegmentation could not run this pipeline here (gdal): the change-detection input
            assert packed["inputs"].shape[0] == 6 and "gt_sem_seg" in packed["data_samples"], where
    if skipped:
        pytest.skip("; ".join(skipped))


# ----------------------------------------------------------------------------- behaviour beyond file lists
class _PairPicker:
    """A mixing transform: asks for samples 1 and 2 and records what it was handed."""

    seen: list = []

    def get_indices(self, dataset) -> list[int]:
        return [1, 2]

    def __call__(self, results: dict) -> dict:
        _PairPicker.seen.append([r["img_path"] for r in results["mix_results"]])
        return results


def test_multi_image_mix_hands_mix_results_to_transforms_that_ask(tmp_path, monkeypatch):
    monkeypatch.setitem(TRANSFORMS._table, "_PairPicker", _PairPicker)
    make_files(tmp_path, LAYOUTS["multi_image_mix"])
    inner = dict(LAYOUTS["multi_image_mix"]["dataset"]["dataset"], data_root=str(tmp_path))
    cfg = dict(type="MultiImageMixDataset", dataset=inner, pipeline=[{"type": "_PairPicker"}])
    dataset = DATASETS.build(cfg)
    _PairPicker.seen.clear()
    out = dataset[0]
    assert "mix_results" not in out and out["img"].shape == (16, 32, 3)
    assert [Path(p).name for p in _PairPicker.seen[0]] == [
        "bochum_000000_000313_leftImg8bit.png",
        "bremen_000000_000313_leftImg8bit.png",
    ]
    dataset.update_skip_type_keys(["_PairPicker"])
    dataset[0]
    assert len(_PairPicker.seen) == 1  # skipped
    assert len(dataset) == 3 and dataset.dataset_meta["classes"][0] == "road"
    with pytest.raises(DatasetError, match="config dict"):
        DATASETS.build(dict(cfg, pipeline=[_PairPicker()]))


def test_repeat_dataset_cycles_through_the_samples(tmp_path):
    make_files(tmp_path, LAYOUTS["drive"])
    inner = dict(type="DRIVEDataset", data_root=str(tmp_path), data_prefix=dict(img_path="images/validation",
                 seg_map_path="annotations/validation"), pipeline=[{"type": "LoadImageFromFile"}])  # fmt: skip
    dataset = DATASETS.build(dict(type="RepeatDataset", times=3, dataset=inner))
    assert len(dataset) == 3 and dataset[2]["img_path"].endswith("01.png")
    assert dataset.get_data_info(1)["seg_map_path"].endswith("01_manual1.png")
    with pytest.raises(DatasetError, match="positive integer"):
        DATASETS.build(dict(type="RepeatDataset", times=0, dataset=inner))


def test_decathlon_test_mode_reads_the_test_list_and_needs_its_json(tmp_path):
    make_files(tmp_path, LAYOUTS["decathlon"])
    cfg = dict(type="DecathlonDataset", data_root=str(tmp_path), ann_file="dataset.json", test_mode=True)
    dataset = DATASETS.build(cfg)
    assert [relative(i["img_path"], tmp_path) for i in dataset.data_list] == ["imagesTs/la_001.png"]
    assert "seg_map_path" not in dataset.data_list[0]
    assert dataset.metainfo["classes"] == ("background", "left atrium") and dataset.metainfo["name"] == "LeftAtrium"
    ours = DATASETS.build(dict(cfg, metainfo=dict(classes=("bg", "atrium"))))
    assert ours.metainfo["classes"] == ("bg", "atrium")  # the config's metainfo wins over dataset.json
    with pytest.raises(DatasetError, match="dataset.json"):
        DATASETS.build(dict(cfg, ann_file=""))


def test_refuge_fixes_its_suffixes(tmp_path):
    make_files(tmp_path, LAYOUTS["refuge"])
    prefix = dict(img_path="images/training", seg_map_path="annotations/training")
    dataset = DATASETS.build(dict(type="REFUGEDataset", data_root=str(tmp_path), data_prefix=prefix))
    assert (dataset.img_suffix, dataset.seg_map_suffix, dataset.reduce_zero_label) == (".png", ".png", False)
    with pytest.raises(ConfigError, match="REFUGEDataset fixes img_suffix='.png'.*remove img_suffix"):
        DATASETS.build(dict(type="REFUGEDataset", data_root=str(tmp_path), data_prefix=prefix, img_suffix=".jpg"))


def test_nyu_defaults_to_images_and_annotations_folders(tmp_path):
    make_files(tmp_path, LAYOUTS["nyu"])
    with pytest.raises(DatasetError, match="images"):  # images/*.jpg sit one level down, in train/ and test/
        DATASETS.build(dict(type="NYUDataset", data_root=str(tmp_path / "nowhere")))
    dataset = DATASETS.build(dict(type="NYUDataset", data_root=str(tmp_path)))
    assert len(dataset) == 4 and all("depth_map_path" in i and "seg_map_path" not in i for i in dataset.data_list)
    (tmp_path / "annotations/test/garage_0001_00001.png").unlink()
    with pytest.raises(DatasetError, match=r"no depth map file.*garage_0001_00001\.png.*depth_map_suffix"):
        DATASETS.build(dict(type="NYUDataset", data_root=str(tmp_path)))


def test_change_detection_pairs_by_name_and_names_the_missing_second_image(tmp_path):
    make_files(tmp_path, LAYOUTS["base_cd"])
    prefix = LAYOUTS["base_cd"]["dataset"]["data_prefix"]
    (tmp_path / "split.txt").write_text("site_2.jpg\n")  # a listed name with its extension: both images use it
    cfg = dict(type="BaseCDDataset", data_root=str(tmp_path), data_prefix=prefix, img_suffix2=".tif")
    info = DATASETS.build(dict(cfg, ann_file="split.txt")).data_list[0]
    assert relative(info, tmp_path)["img_path2"] == "B/train/site_2.jpg"
    (tmp_path / "B/train/site_1.jpg").unlink()
    with pytest.raises(DatasetError, match=r"no second image.*B/train/site_1\.jpg"):
        DATASETS.build(cfg)


# ----------------------------------------------------------------------------- check-data knows the conventions
def check_data(tmp_path: Path, case_name: str, num_classes: int, capsys, edit=None) -> tuple[int, list[str]]:
    """Run ``seglab check-data`` on the case's _base_ config pointed at its fake files; (exit code, lines)."""
    from seglab.cli import main

    case = LAYOUTS[case_name]
    root = tmp_path / case_name
    make_files(root, case)
    if edit:
        edit(root)
    loaders = "\n".join(
        f"{key}_dataloader = dict(dataset=dict(data_root={str(root)!r}))" for key in ("train", "val", "test")
    )
    if case_name == "drive":  # the train loader repeats the dataset: point the inner one at the files
        loaders = loaders.replace(
            "train_dataloader = dict(dataset=dict(", "train_dataloader = dict(dataset=dict(dataset=dict("
        )
        loaders = loaders.replace(f"data_root={str(root)!r}))", f"data_root={str(root)!r})))", 1)
    config = tmp_path / f"{case_name}_check.py"
    config.write_text(
        f"_base_ = [{str(BASES / case['config'])!r}]\nmodel = dict(decode_head=dict(num_classes={num_classes}))\n"
        + loaders
        + "\n"
    )
    code = main(["check-data", str(config)])
    return code, capsys.readouterr().out.splitlines()


def test_check_data_reduce_zero_label_counts_0_as_ignore_with_a_note(tmp_path, capsys):
    code, lines = check_data(tmp_path, "ade20k", 150, capsys)
    assert code == 0, "\n".join(lines)
    assert (
        "  note: reduce_zero_label=True: label 0 in the files counts as (ignore) and file value v as class v-1" in lines
    )
    code, lines = check_data(tmp_path, "loveda", 7, capsys)  # labels 0/1 there are ignore/background, not a 0/255 mask
    assert code == 0 and not [line for line in lines if line.startswith("ERROR")], "\n".join(lines)


def test_check_data_vessel_labels_saved_as_0_255_get_the_converter_hint(tmp_path, capsys):
    def as_0_255(root: Path) -> None:
        for path in root.glob("annotations/*/*_manual1.png"):
            cv2.imwrite(str(path), bands([0, 255], 24, 24))

    code, lines = check_data(tmp_path, "drive", 2, capsys, edit=as_0_255)
    assert code == 1
    assert (
        "ERROR: [train] DRIVEDataset labels must store vessel as 1 and background as 0 (MMSegmentation's converter "
        "writes mask // 128), but these hold 0/255, so every vessel pixel is ignored: convert the download with "
        "'seglab prepare drive' or save label // 255"
    ) in lines
    code, lines = check_data(tmp_path / "ok", "drive", 2, capsys)
    assert code == 0, "\n".join(lines)


def test_check_data_cityscapes_label_ids_get_the_train_ids_hint(tmp_path, capsys):
    def label_ids(root: Path) -> None:
        for path in root.glob("gtFine/*/*/*_gtFine_labelTrainIds.png"):
            cv2.imwrite(str(path), bands([7, 26, 33], 16, 32))

    code, lines = check_data(tmp_path, "cityscapes", 19, capsys, edit=label_ids)
    assert code == 1
    assert (
        "ERROR: [train] these look like Cityscapes label ids (0..33), not train ids (0..18): use the "
        "*_gtFine_labelTrainIds.png files made by cityscapesscripts' createTrainIdLabelImgs"
    ) in lines


def test_check_data_reads_depth_maps_and_change_detection_pairs(tmp_path, capsys):
    code, lines = check_data(tmp_path, "nyu", 1, capsys)
    assert code == 0 and any("2 images, 2 depth maps" in line for line in lines), "\n".join(lines)
    code, lines = check_data(
        tmp_path, "levir_cd", 2, capsys, edit=lambda r: (r / "train/B/train_1_0_0_256_256.png").unlink()
    )
    assert code == 1
    assert any(line.startswith("ERROR: [train] 1 image(s) without a second image in") for line in lines), lines


def test_check_data_follows_decathlons_dataset_json(tmp_path, capsys):
    from seglab.cli import main

    make_files(tmp_path, LAYOUTS["decathlon"])
    (tmp_path / "labelsTr/la_004.png").unlink()
    config = tmp_path / "decathlon_check.py"
    config.write_text(
        "model = dict(decode_head=dict(num_classes=2))\n"
        f"train_dataloader = dict(dataset=dict(type='DecathlonDataset', data_root={str(tmp_path)!r}, "
        "ann_file='dataset.json'))\n"
    )
    assert main(["check-data", str(config)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("ERROR: [train] 1 file(s) listed in ann_file do not exist") for line in lines), lines
    assert any("la_004.png" in line for line in lines if line.startswith("ERROR"))


def test_docs_table_names_every_dataset_type_and_only_real_prepare_names():
    import re

    from seglab.data.prepare import MODULES

    text = (REPO / "docs/datasets.md").read_text()
    shipped = [name for name in DATASETS.names() if DATASETS.target(name)]  # not types a test registered
    missing = [name for name in shipped if f"`{name}`" not in text]
    assert not missing, f"docs/datasets.md does not list {missing}"
    named = set(re.findall(r"seglab prepare ([a-z0-9_]+)`", text))
    assert named and named <= set(MODULES), named - set(MODULES)
