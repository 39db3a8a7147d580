"""The dataset-types part of ``record_datasets.py`` (see there): MMSegmentation 1.2.2 on the test's fake layouts."""

from __future__ import annotations

import ast
import copy
import inspect
import json
import os
import random
import tempfile
from pathlib import Path
from typing import Any

import cv2
import mmseg
import numpy as np
import torch
from mmengine.config import Config
from PIL import Image
from record_datasets import DATASET_BASES, RECORDER, write_json_gz

TEST_FILE = Path(__file__).resolve().parents[2] / "data" / "test_dataset_types.py"
PLAIN_DATA = ("LOAD", "CD_PIPELINE", "NIGHT_TEST", "LAYOUTS", "VOC_PALETTE")
DEFAULT_KEYS = (
    "ann_file",
    "img_suffix",
    "img_suffix2",
    "seg_map_suffix",
    "depth_map_suffix",
    "reduce_zero_label",
    "ignore_index",
    "data_prefix",
)
FIXED_DEFAULTS = {"REFUGEDataset": dict(img_suffix=".png", seg_map_suffix=".png")}  # set inside its __init__


def test_layouts() -> dict[str, Any]:
    """``LAYOUTS`` and the lists it uses, evaluated from the test file's plain-data assignments."""
    names: dict[str, Any] = {}
    for node in ast.parse(TEST_FILE.read_text()).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and getattr(node.targets[0], "id", "") in PLAIN_DATA:
            names[node.targets[0].id] = eval(compile(ast.Expression(node.value), str(TEST_FILE), "eval"), {}, names)
    return names


def bands(values: list[int], h: int, w: int, dtype=np.uint8) -> np.ndarray:
    rows = np.arange(h) * len(values) // h
    return np.asarray(values, dtype)[rows][:, None].repeat(w, 1)


def make_files(root: Path, case: dict, palette: list[int]) -> None:
    """The layout's files, written exactly as the test writes them."""
    h, w = case["size"]
    for i, (rel, spec) in enumerate(sorted(case["files"].items())):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        kind = spec if isinstance(spec, str) else spec[0]
        if kind == "img":
            cv2.imwrite(str(path), np.random.RandomState(i).randint(0, 256, (h, w, 3)).astype(np.uint8))
        elif kind == "label":
            cv2.imwrite(str(path), bands(spec[1], h, w))
        elif kind == "plabel":
            pil = Image.fromarray(bands(spec[1], h, w), mode="P")
            pil.putpalette(palette)
            pil.save(path)
        elif kind == "depth":
            cv2.imwrite(str(path), bands(spec[1], h, w, np.uint16))
        elif kind == "text":
            path.write_text(spec[1])
        else:
            path.write_text(json.dumps(spec[1]))


def set_root(node, root: Path) -> None:
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
    if isinstance(node, dict):
        return {k: [] if k == "pipeline" else without_pipelines(v) for k, v in node.items()}
    return [without_pipelines(v) for v in node] if isinstance(node, list) else node


def plain(value, root: Path):
    """JSON-ready copy: paths under ``root`` relative, tuples/arrays as lists, int-keyed dicts encoded."""
    if isinstance(value, dict):
        if value and all(isinstance(k, int) for k in value):
            return {"__int_keys__": [[k, plain(v, root)] for k, v in value.items()]}
        return {str(k): plain(v, root) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v, root) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist(), root)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, str) and value.startswith(str(root)):
        return os.path.relpath(value, root)
    return value


def sample_facts(packed: dict, root: Path) -> dict:
    inputs, sample = packed["inputs"], packed["data_samples"]
    meta = plain(dict(sample.metainfo), root)
    facts = dict(inputs=list(inputs.shape), inputs_dtype=str(inputs.dtype), meta=meta, meta_keys=sorted(meta))
    if "gt_sem_seg" in sample:
        gt = sample.gt_sem_seg.data
        values = sorted(int(v) for v in torch.unique(gt))
        facts["gt_sem_seg"] = dict(dtype=str(gt.dtype), shape=list(gt.shape), values=values)
    if "gt_depth_map" in sample:
        depth = sample.gt_depth_map.data
        minmax = [float(depth.min()), float(depth.max())]
        facts["gt_depth_map"] = dict(dtype=str(depth.dtype), minmax=minmax, shape=list(depth.shape))
    return facts


def loader_datasets(case: dict) -> dict[str, dict]:
    if case.get("config"):
        cfg = Config.fromfile(str(DATASET_BASES / case["config"])).to_dict()
        return {k: cfg[f"{k}_dataloader"]["dataset"] for k in case.get("loaders", ["train", "val"])}
    return {"dataset": copy.deepcopy(case["dataset"])}


def record_case(case: dict, root: Path) -> dict:
    from mmseg.registry import DATASETS

    out = {}
    for split, ds_cfg in loader_datasets(case).items():
        set_root(ds_cfg, root)
        dataset = DATASETS.build(without_pipelines(ds_cfg))
        inner = dataset.dataset if ds_cfg["type"] in ("RepeatDataset", "MultiImageMixDataset") else dataset
        entry = dict(
            len=len(dataset),
            data_list=[plain(dataset.get_data_info(i), root) for i in range(len(inner))],
            metainfo=plain(dict(dataset.metainfo), root),
        )
        try:
            dataset = DATASETS.build(ds_cfg)
        except Exception as err:  # a transform needs GDAL, which the reference environment lacks
            entry["build_error"] = f"{type(err).__name__}: {err}"
        else:
            random.seed(0)
            np.random.seed(0)
            torch.manual_seed(0)
            entry["sample"] = sample_facts(dataset[0], root)
        out[split] = entry
    return out


def type_facts() -> dict:
    from mmseg.datasets import BaseCDDataset, BaseSegDataset
    from mmseg.registry import DATASETS

    types = {}
    for name, cls in sorted(DATASETS.module_dict.items()):
        file_based = inspect.isclass(cls) and issubclass(cls, BaseSegDataset | BaseCDDataset)
        if not file_based or name == "DSDLSegDataset":
            continue
        defaults = {}
        for klass in reversed(cls.__mro__):
            if "__init__" in vars(klass):
                for key, param in inspect.signature(klass.__init__).parameters.items():
                    if key in DEFAULT_KEYS and param.default is not inspect.Parameter.empty:
                        defaults[key] = param.default
        defaults.update(FIXED_DEFAULTS.get(name, {}))
        classes, palette = cls.METAINFO.get("classes"), cls.METAINFO.get("palette")
        types[name] = dict(
            classes=list(classes) if classes else None,
            defaults=plain(defaults, Path("/nonexistent")),
            palette=[list(c) for c in palette] if palette else None,
        )
    return types


def record_types(out: Path) -> None:
    from mmseg.utils import register_all_modules

    register_all_modules()
    data = test_layouts()
    layouts = data["LAYOUTS"]
    cases = {}
    for name, case in sorted(layouts.items()):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            make_files(root, case, data["VOC_PALETTE"])
            cases[name] = record_case(case, root)
    record = dict(
        cases=cases,
        layouts=json.loads(json.dumps(layouts)),
        mmseg=mmseg.__version__,
        recorder=RECORDER,
        types=type_facts(),
    )
    write_json_gz(out / "mmseg_1.2.2_dataset_types.json.gz", record)
