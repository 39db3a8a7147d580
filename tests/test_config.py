"""Config loading must give exactly what MMSegmentation gives for the same files."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from seglab import Config
from seglab.config import parse_cfg_options
from seglab.errors import ConfigError

from .conftest import REPO


def resolved_reference(path: Path) -> dict:
    return {k: v for k, v in runpy.run_path(str(path)).items() if not k.startswith("__")}


def assert_same(ours, theirs, where="cfg"):
    if isinstance(theirs, dict):
        assert isinstance(ours, dict), where
        assert set(ours) == set(theirs), f"{where}: keys differ: {set(ours) ^ set(theirs)}"
        for key in theirs:
            assert_same(ours[key], theirs[key], f"{where}.{key}")
    elif isinstance(theirs, list | tuple):
        assert type(ours) is type(theirs) and len(ours) == len(theirs), where
        for i, (a, b) in enumerate(zip(ours, theirs)):
            assert_same(a, b, f"{where}[{i}]")
    else:
        assert ours == theirs and type(ours) is type(theirs), f"{where}: {ours!r} != {theirs!r}"


def test_tutorial_config_resolves_like_mmsegmentation(reference):
    cfg = Config.fromfile(REPO / "configs/deeplabv3plus/deeplabv3plus_r50-d8_dummy-test.py")
    assert_same(cfg.to_dict(), resolved_reference(reference / "tutorial_config_resolved.py"))


def test_cityscapes_config_resolves_like_mmsegmentation(reference):
    cfg = Config.fromfile(REPO / "configs/deeplabv3plus/deeplabv3plus_r50-d8_4xb2-40k_cityscapes-512x1024.py")
    expected = resolved_reference(reference / "deeplabv3plus_r50-d8_4xb2-40k_cityscapes-512x1024_resolved.py")
    assert_same(cfg.to_dict(), expected)


def test_shipped_tutorial_config_is_the_users_file_unchanged(reference):
    shipped = REPO / "configs/deeplabv3plus/deeplabv3plus_r50-d8_dummy-test.py"
    assert shipped.read_text() == (reference / "tutorial_config.py").read_text()


def test_attribute_access_and_dump_roundtrip(tmp_path):
    cfg = Config.fromfile(REPO / "configs/deeplabv3plus/deeplabv3plus_r50-d8_dummy-test.py")
    assert cfg.model.decode_head.num_classes == 2
    assert cfg.train_dataloader.dataset.pipeline[3].crop_size == (256, 256)
    cfg.dump(tmp_path / "dumped.py")
    again = Config.fromfile(tmp_path / "dumped.py")
    assert_same(again.to_dict(), cfg.to_dict())


def test_merge_delete_and_list_replacement(tmp_path):
    (tmp_path / "base.py").write_text("a = dict(x=1, y=dict(z=2), l=[1, 2, 3])\nb = (1, 2)\n")
    (tmp_path / "child.py").write_text(
        "_base_ = './base.py'\na = dict(y=dict(w=3), l=[9])\nc = dict(_delete_=True, k=1)\n"
        "b = dict(_delete_=True, v=5)\n"
    )
    cfg = Config.fromfile(tmp_path / "child.py").to_dict()
    assert cfg["a"] == {"x": 1, "y": {"z": 2, "w": 3}, "l": [9]}
    assert cfg["b"] == {"v": 5}
    assert cfg["c"] == {"k": 1}


def test_dict_over_non_dict_needs_delete(tmp_path):
    (tmp_path / "base.py").write_text("b = (1, 2)\n")
    (tmp_path / "child.py").write_text("_base_ = './base.py'\nb = dict(v=5)\n")
    with pytest.raises(ConfigError, match="_delete_=True"):
        Config.fromfile(tmp_path / "child.py")


def test_cfg_options_with_list_index_and_literals():
    cfg = Config.fromfile(REPO / "configs/deeplabv3plus/deeplabv3plus_r50-d8_dummy-test.py")
    cfg.merge_from_dict(
        parse_cfg_options(
            [
                "train_dataloader.dataset.pipeline.2.scale=(128,64)",
                "train_cfg.max_iters=20",
                "model.decode_head.align_corners=True",
                "load_from=None",
                "model.backbone.out_indices=[0,1]",
                "work_dir=my/dir",
            ]
        )
    )
    assert cfg.train_dataloader.dataset.pipeline[2].scale == (128, 64)
    assert cfg.train_dataloader.dataset.pipeline[2].type == "RandomResize"
    assert cfg.train_cfg.max_iters == 20 and cfg.train_cfg.val_interval == 50
    assert cfg.model.decode_head.align_corners is True
    assert cfg.load_from is None
    assert cfg.model.backbone.out_indices == [0, 1]
    assert cfg.work_dir == "my/dir"


def test_cfg_options_mmengine_style_values():
    assert parse_cfg_options(["a=true", "b=None", "c=1,2", "d=hello"]) == {
        "a": True,
        "b": None,
        "c": [1, 2],
        "d": "hello",
    }
    with pytest.raises(ConfigError, match="key=value"):
        parse_cfg_options(["oops"])


def test_list_index_out_of_range_is_a_config_error():
    cfg = Config.fromfile(REPO / "configs/deeplabv3plus/deeplabv3plus_r50-d8_dummy-test.py")
    with pytest.raises(ConfigError, match="out of range"):
        cfg.merge_from_dict({"train_dataloader.dataset.pipeline.9.scale": (1, 1)})


def test_config_written_anywhere_inherits_shipped_bases(tmp_path):
    (tmp_path / "mine.py").write_text(
        "_base_ = ['../_base_/models/deeplabv3plus_r50-d8.py', 'mmseg::_base_/default_runtime.py']\n"
        "model = dict(decode_head=dict(num_classes=5))\n"
    )
    cfg = Config.fromfile(tmp_path / "mine.py")
    assert cfg.model.decode_head.num_classes == 5
    assert cfg.model.backbone.type == "ResNetV1c"
    assert cfg.log_level == "INFO"


def test_base_variable_reference(tmp_path):
    (tmp_path / "base.py").write_text("crop = (7, 8)\n")
    (tmp_path / "child.py").write_text("_base_ = './base.py'\nsize = {{_base_.crop}}\n")
    assert Config.fromfile(tmp_path / "child.py").size == (7, 8)


def test_errors_name_the_file_and_the_fix(tmp_path):
    (tmp_path / "bad_base.py").write_text("_base_ = './nope.py'\n")
    with pytest.raises(ConfigError, match=r"bad_base.py.*nope.py.*not found"):
        Config.fromfile(tmp_path / "bad_base.py")
    (tmp_path / "name.py").write_text("_base_ = 'mmseg::_base_/default_runtime.py'\nx = dict(size=crop_size)\n")
    with pytest.raises(ConfigError, match=r"crop_size.*define the variable here"):
        Config.fromfile(tmp_path / "name.py")
    (tmp_path / "syntax.py").write_text("a = (\n")
    with pytest.raises(ConfigError, match="syntax error"):
        Config.fromfile(tmp_path / "syntax.py")
    with pytest.raises(ConfigError, match="does not exist"):
        Config.fromfile(tmp_path / "missing.py")
    cfg = Config.fromfile(REPO / "configs/_base_/default_runtime.py")
    with pytest.raises(AttributeError, match="did you mean 'log_level'"):
        _ = cfg.log_levle


def test_shipped_configs_found_after_a_non_editable_install(tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "--target",
            str(target),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from seglab import Config; import seglab;"
        "assert sys.argv[1] in seglab.__file__, seglab.__file__;"
        "c = Config.fromfile('configs/deeplabv3plus/deeplabv3plus_r50-d8_4xb4-80k_ade20k-512x512.py');"
        "print(c.model.decode_head.num_classes, c.train_dataloader.dataset.type)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(target)], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["150", "ADE20KDataset"]


def dataset_classes(dataset: dict) -> tuple:
    """The classes a dataset config names (its metainfo, else its type's), looking through wrappers."""
    from seglab.registry import DATASETS

    while "dataset" in dataset or "datasets" in dataset:
        dataset = dataset.get("dataset") or dataset["datasets"][0]
    return (dataset.get("metainfo") or {}).get("classes") or DATASETS.get(dataset["type"]).METAINFO["classes"]


def test_every_shipped_config_loads_and_voc_aug_concatenates():
    configs = sorted(p for p in (REPO / "configs").glob("*/*.py") if p.parent.name != "_base_")
    assert len(configs) >= 55
    for path in configs:
        cfg = Config.fromfile(path)
        heads = cfg.model.decode_head if isinstance(cfg.model.decode_head, list) else [cfg.model.decode_head]
        head = heads[-1].get("kernel_generate_head", heads[-1])  # K-Net's classes are its generator's
        # SAN's VOC/Pascal-Context configs train on their bases' sets (with background) but name their
        # open-vocabulary classes on the val set, as MMSegmentation's do
        loader = cfg.val_dataloader if cfg.model.type == "MultimodalEncoderDecoder" else cfg.train_dataloader
        assert head.num_classes == len(dataset_classes(loader.dataset)), path
    voc = Config.fromfile(REPO / "configs/deeplabv3plus/deeplabv3plus_r50-d8_4xb4-20k_voc12aug-512x512.py")
    dataset = voc.train_dataloader.dataset
    assert dataset.type == "ConcatDataset" and set(dataset) == {"type", "datasets"}
    assert [d.data_prefix.seg_map_path for d in dataset.datasets] == ["SegmentationClass", "SegmentationClassAug"]
    assert dataset.datasets[0].data_root == "data/VOCdevkit/VOC2012"
