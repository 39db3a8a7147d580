"""Whatever a user feeds seglab, the way out is a result or a seglab error with a message (hypothesis).

Config files of random text and bytes, random ``--cfg-options``, every 2-D transform on images of random
sizes (empty ones included), dtypes and channel counts, and the loaders and datasets on files of random
bytes: any exception that is not a ``SeglabError`` fails the test. The example count is the ``ci`` profile's
(tests/conftest.py); ``SEGLAB_HYPOTHESIS=thorough pytest tests/test_properties_robustness.py`` runs many more.
"""

from __future__ import annotations

import copy
import string

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from seglab.cli import load_config
from seglab.config import Config, parse_cfg_options
from seglab.data.transforms.base import Compose
from seglab.errors import SeglabError
from seglab.registry import DATASETS, TRANSFORMS


def result_or_seglab_error(call, *args, **kwargs):
    """Run ``call``; a seglab error must carry a message, any other exception fails the test."""
    try:
        return call(*args, **kwargs)
    except SeglabError as err:
        assert str(err).strip(), f"{type(err).__name__} without a message"
        return None


# ------------------------------------------------------------------------------------------ config files
FRAGMENTS = [
    "model = dict(type='EncoderDecoder')\n",
    "crop_size = (512, 512)\n",
    "_base_ = 'missing_base.py'\n",
    "_base_ = ['../_base_/default_runtime.py']\n",
    "_base_ = 3\n",
    "_base_ = ['mmseg::_base_/nothing_here.py']\n",
    "model = dict(decode_head=dict(_delete_=True))\n",
    "train_cfg = dict(max_iters='abc')\n",
    "x = {{'a': 1}\n",
    "def f(:\n",
    "import os_path_that_does_not_exist\n",
    "raise ValueError('from the config')\n",
    "y = 1 / 0\n",
    "custom_imports = dict(imports=['no_such_module'])\n",
    "custom_imports = dict(imports=3)\n",
    "{{base.crop_size}}\n",
    "model = dict(backbone=dict(depth=50))\n",
]


@given(
    parts=st.lists(st.sampled_from(FRAGMENTS), max_size=5),
    noise=st.text(alphabet=string.printable, max_size=30),
    raw=st.binary(max_size=40),
    mode=st.sampled_from(["fragments", "noise", "bytes"]),
)
def test_any_config_file_loads_or_raises_a_seglab_error(tmp_path_factory, parts, noise, raw, mode):
    path = tmp_path_factory.mktemp("cfg") / "config.py"
    if mode == "bytes":
        path.write_bytes(raw)
    else:
        path.write_text("".join(parts) + (noise if mode == "noise" else ""))
    result_or_seglab_error(Config.fromfile, path)


# ------------------------------------------------------------------------------------------ --cfg-options
KEYS = st.sampled_from(
    [
        "train_cfg.max_iters",
        "model.decode_head.num_classes",
        "train_dataloader.dataset.pipeline.2.scale",
        "train_dataloader.dataset.pipeline.99.scale",
        "model.backbone.depth.x",
        "a..b",
        ".x",
        "",
        "model",
        "crop_size.0",
    ]
)
VALUES = st.one_of(
    st.text(alphabet="0123456789abc,.()[]{}'\"=-_ eE+", max_size=12),
    st.sampled_from(["abc(", "[1,2", "(512,512)", "None", "true", "1e-3", "[", "'", "dict(a=1)", "a=b", ""]),
)


@pytest.fixture(scope="module")
def small_config(tmp_path_factory, learnable_data):
    from .conftest import write_tiny_config

    return write_tiny_config(tmp_path_factory.mktemp("options"), learnable_data)


@given(items=st.lists(st.one_of(st.tuples(KEYS, VALUES).map("=".join), VALUES), max_size=3))
def test_any_cfg_options_parse_and_merge_or_raise_a_seglab_error(small_config, items):
    result_or_seglab_error(parse_cfg_options, items)
    result_or_seglab_error(load_config, str(small_config), items)


# ------------------------------------------------------------------------------------------ transforms
TWO_D = {
    "Resize": dict(scale=(24, 16), keep_ratio=True),
    "RandomResize": dict(scale=(24, 16), ratio_range=(0.5, 2.0), keep_ratio=True),
    "RandomCrop": dict(crop_size=(8, 8), cat_max_ratio=0.75),
    "RandomFlip": dict(prob=0.5),
    "Pad": dict(size=(16, 16)),
    "RandomRotate": dict(prob=1.0, degree=30),
    "PhotoMetricDistortion": dict(),
    "AdjustGamma": dict(gamma=0.5),
    "CLAHE": dict(),
    "Rerange": dict(),
    "RGB2Gray": dict(),
    "ResizeToMultiple": dict(size_divisor=8),
    "ResizeShortestEdge": dict(scale=12, max_size=40),
    "RandomChoiceResize": dict(scales=[(20, 10)], keep_ratio=True),
    "SegRescale": dict(scale_factor=0.5),
    "RandomCutOut": dict(prob=1.0, n_holes=(1, 3), cutout_ratio=[(0.2, 0.2)], seg_fill_in=255),
    "RandomRotFlip": dict(rotate_prob=0.5, flip_prob=0.5, degree=25),
    "GenerateEdge": dict(),
    "PackSegInputs": dict(),
    "RandomChoice": dict(transforms=[[dict(type="RGB2Gray")], [dict(type="RandomFlip", prob=1.0)]]),
    "RandomApply": dict(transforms=[dict(type="AdjustGamma", gamma=2.0)], prob=0.5),
}
DTYPES = [np.uint8, np.uint16, np.int16, np.float32, np.float64, np.bool_]


@st.composite
def samples(draw) -> dict:
    """A sample as a loader leaves it, with odd sizes (0 too), dtypes and channel counts."""
    h, w = draw(st.integers(0, 20)), draw(st.integers(0, 20))
    channels = draw(st.sampled_from([None, 1, 2, 3, 4]))
    dtype = draw(st.sampled_from(DTYPES))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    shape = (h, w) if channels is None else (h, w, channels)
    img = (rng.random(shape) * 300).astype(dtype)
    sample = {"img": img, "img_shape": (h, w), "ori_shape": (h, w), "img_path": "random.png"}
    if draw(st.booleans()):
        lh, lw = (h, w) if draw(st.booleans()) else (draw(st.integers(0, 20)), draw(st.integers(0, 20)))
        label_dtype = draw(st.sampled_from([np.uint8, np.int64, np.float32]))
        sample["gt_seg_map"] = rng.choice([0, 1, 2, 255], size=(lh, lw)).astype(label_dtype)
        sample["seg_fields"] = ["gt_seg_map"]
    return sample


@pytest.mark.parametrize("name", sorted(TWO_D))
@given(sample=samples(), seed=st.integers(0, 2**16))
def test_every_transform_returns_or_raises_a_seglab_error(name, sample, seed):
    """As a dataset runs it: in a pipeline (``Compose``), which names the file and the arrays on a failure."""
    pipeline = Compose([dict(type=name, **TWO_D[name])])
    np.random.seed(seed)
    result_or_seglab_error(pipeline, copy.deepcopy(sample))


def test_the_table_covers_every_two_dimensional_transform():
    """Loaders get random files below; 3-D biomedical, multi-image and wrapper transforms have their own tests."""
    elsewhere = {"Albu", "ConcatCDInput", "RandomMosaic", "RandomDepthMix", "TestTimeAug"}
    two_d = {n for n in TRANSFORMS.names() if not n.startswith(("Load", "BioMedical"))} - elsewhere
    assert two_d == set(TWO_D)


# ------------------------------------------------------------------------------------------ files and datasets
FILES = st.one_of(
    st.binary(max_size=64),
    st.sampled_from(["png", "jpg", "tif"]).flatmap(
        lambda ext: st.tuples(st.integers(0, 2), st.integers(1, 9), st.integers(1, 9)).map(
            lambda t: cv2.imencode(f".{ext}", np.full((t[1], t[2], 3)[: 2 if t[0] == 0 else 3], 7, np.uint8))[
                1
            ].tobytes()[: None if t[0] < 2 else -5]  # t[0] == 2: a truncated file
        )
    ),
)


@given(image=FILES, label=FILES)
def test_loaders_on_random_files_return_or_raise_a_seglab_error(tmp_path_factory, image, label):
    folder = tmp_path_factory.mktemp("files")
    (folder / "a.png").write_bytes(image)
    (folder / "a_label.png").write_bytes(label)
    sample = {"img_path": str(folder / "a.png"), "seg_map_path": str(folder / "a_label.png"), "seg_fields": []}
    for name in ("LoadImageFromFile", "LoadAnnotations"):
        out = result_or_seglab_error(TRANSFORMS.build(dict(type=name)), sample)
        if out is None:
            return
        sample = out


@given(image=FILES, label=FILES)
def test_a_dataset_of_random_files_yields_or_raises_a_seglab_error(tmp_path_factory, image, label):
    root = tmp_path_factory.mktemp("dataset")
    (root / "img").mkdir()
    (root / "ann").mkdir()
    (root / "img" / "0.jpg").write_bytes(image)
    (root / "ann" / "0.png").write_bytes(label)
    pipeline = [dict(type="LoadImageFromFile"), dict(type="LoadAnnotations"), dict(type="PackSegInputs")]
    dataset = result_or_seglab_error(
        DATASETS.build,
        dict(
            type="BaseSegDataset",
            data_root=str(root),
            data_prefix=dict(img_path="img", seg_map_path="ann"),
            pipeline=pipeline,
        ),
    )
    if dataset is not None:
        result_or_seglab_error(dataset.__getitem__, 0)
