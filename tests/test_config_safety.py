"""Config overrides and saved configs never become code; wrong config types and all-'ignore' labels fail in
one line naming the key and the fix (issue #19, items 5-7)."""

from __future__ import annotations

import ast
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from seglab.cli import main
from seglab.config import CONFIGS_DIR, Config, parse_cfg_options
from seglab.config_types import check_config_types
from seglab.data.synthetic import DummySpec, make_dummy_dataset
from seglab.engine.preflight import check_label_values
from seglab.errors import ConfigError
from tests.conftest import write_tiny_config


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


def same(a: dict, b: dict) -> bool:
    """Equal and of the same types all the way down (1 is not 1.0, a tuple is not a list, nan is nan):
    the reprs of the configs, top-level keys sorted as the saved file sorts them, match."""
    return repr(sorted(a.items())) == repr(sorted(b.items()))


DATA_CALLS = {"dict", "float"}


def assert_data_only(text: str) -> None:
    """The saved text is `name = value` lines whose values are literals, dict(k=...) and float('inf'/'nan')."""
    for node in ast.parse(text).body:
        assert isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
        for part in ast.walk(node.value):
            if isinstance(part, ast.Call):
                assert isinstance(part.func, ast.Name) and part.func.id in DATA_CALLS, ast.dump(part)
                if part.func.id == "float":
                    assert [a.value for a in part.args] in (["inf"], ["-inf"], ["nan"]) and not part.keywords
                else:
                    assert not part.args and all(k.arg for k in part.keywords)
            else:
                assert isinstance(
                    part,
                    ast.Constant
                    | ast.Dict
                    | ast.List
                    | ast.Tuple
                    | ast.Set
                    | ast.UnaryOp
                    | ast.USub
                    | ast.BinOp
                    | ast.Add
                    | ast.Sub
                    | ast.keyword
                    | ast.Load
                    | ast.Name,
                ), ast.dump(part)
                if isinstance(part, ast.Name):
                    assert part.id in DATA_CALLS


# ------------------------------------------------------------------------------------ --cfg-options keys
BAD_KEYS = [
    "a\nb",
    "a\\nb",
    "my-note",
    "a..b",
    "a.",
    ".a",
    "0.a",
    "a b",
    "class",
    "__import__",
    "_base_",
    "dict",
    "ﬁle",
]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_an_option_key_that_is_not_a_dotted_name_is_refused_naming_it(key):
    with pytest.raises(ConfigError) as err:
        parse_cfg_options([f"{key}=1"])
    message = str(err.value)
    assert repr(key) in message and "dotted name" in message and len(message.splitlines()) == 1
    with pytest.raises(ConfigError, match="dotted name"):  # the Python API too (init_model's cfg_options)
        Config({"a": {"b": 1}}).merge_from_dict({key: 1})


def test_dotted_names_list_indices_and_mmengine_values_still_work():
    options = parse_cfg_options(["model.backbone.0.depth=18", "a_b.class=x", "x=inf", "y=-inf", "z=nan", "w= 3"])
    assert options["model.backbone.0.depth"] == 18 and options["a_b.class"] == "x"
    assert options["x"] == math.inf and options["y"] == -math.inf and math.isnan(options["z"]) and options["w"] == 3
    cfg = Config({"model": {"backbone": [{"depth": 50}]}, "a_b": {}})
    cfg.merge_from_dict(options)
    assert cfg.model.backbone[0].depth == 18 and cfg.a_b["class"] == "x"


@pytest.mark.parametrize("option", ["a\nb=1", "a\\nb=1", "my-note=x"])
def test_a_bad_option_key_through_the_cli_is_one_line(tmp_path, capsys, option):
    config = write_tiny_config(tmp_path, tmp_path / "no_data")
    assert main(["train", str(config), "--cfg-options", option]) == 2
    assert repr(option.split("=")[0]) in one_line_error(capsys)
    assert not (tmp_path / "work").exists()  # refused before anything was written


# ------------------------------------------------------------------------------------ saved configs
TRICKY = {
    "floats": [math.inf, -math.inf, math.nan, 0.1, -0.0, 1e-300, 2.5e300],
    "numbers": (1, -2, 10**30, True, False, None),
    "one_tuple": (1,),
    "nested": ((1, (2,)), [[], ()], {"empty": {}}),
    "paramwise_cfg": {"custom_keys": {"backbone.norm": {"decay_mult": 0.0}, "pos_block": {"decay_mult": 0.0}}},
    "odd_keys": {"my-note": 1, "class": 2, "a\nimport os\nb": 3, "ﬁle": 4, 5: "int", (1, 2): "tuple", None: 0},
    "strings": ["it's", 'say "hi"', "two\nlines", "tab\there", "back\\slash", "é ü 中", "{{_base_.model}}", "{{{"],
    "pipeline": [{"type": "Resize", "scale": (64, 64)}, {"type": "PackSegInputs", "meta_keys": ("img_path",)}],
    "other": [b"bytes", {1, 2}, 1 + 2j, np.float32(0.5), np.int64(3)],
}


def test_tricky_values_load_back_equal_and_the_saved_file_holds_data_only(tmp_path):
    cfg = Config(TRICKY)
    cfg.dump(tmp_path / "saved.py")
    text = (tmp_path / "saved.py").read_text(encoding="utf-8")
    assert_data_only(text)
    again = Config.fromfile(tmp_path / "saved.py").to_dict()
    expected = cfg.to_dict()
    expected["other"][3:] = [0.5, 3]  # numpy scalars are saved as the equal Python numbers
    assert same(again, expected), (again, expected)


@pytest.mark.parametrize(
    "cfg,key",
    [
        ({"model": {"backbone": {"act": print}}}, "model.backbone.act"),
        ({"model": {"layers": [1, object()]}}, "model.layers[1]"),
        ({"x": {"k": frozenset({1})}}, "x.k"),
        ({"my-note": 1}, "'my-note'"),
        ({"dict": 1}, "'dict'"),
        ({"x": {(1, object()): 1}}, "x has a key"),
    ],
)
def test_a_value_with_no_literal_form_is_refused_naming_the_key(tmp_path, seglab_log, cfg, key):
    with pytest.raises(ConfigError, match="cannot save the config") as err:
        Config(cfg).pretty_text()
    assert key in str(err.value) and len(str(err.value).splitlines()) == 1
    assert Config(cfg).dump(tmp_path / "saved.py") is False  # a run goes on, without an unloadable copy
    assert not (tmp_path / "saved.py").exists()
    assert [r.getMessage() for r in seglab_log.records] == [f"{tmp_path / 'saved.py'} not written: {err.value}"]


def test_every_shipped_config_passes_the_type_checks_and_its_saved_copy_loads_back_equal(tmp_path):
    paths = sorted(p for p in CONFIGS_DIR.rglob("*.py") if "_base_" not in p.parts)
    assert len(paths) >= 600
    for index, path in enumerate(paths):
        cfg = Config.fromfile(path)
        check_config_types(cfg)
        saved = tmp_path / f"{index}.py"
        cfg.dump(saved)
        assert same(Config.fromfile(saved).to_dict(), cfg.to_dict()), path
    assert_data_only(saved.read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------------ config types
@pytest.mark.parametrize(
    "extra,expected",
    [
        ("model = (1, 2)", "config key 'model' must be a dict, but the config gives a tuple ((1, 2))"),
        ("train_dataloader = (1, 2)", "config key 'train_dataloader' must be a dict, but the config gives a tuple"),
        ("optimizer = [1, 2]", "config key 'optimizer' must be a dict, but the config gives a list ([1, 2])"),
        (
            "custom_hooks = dict(type='EMAHook')",
            "config key 'custom_hooks' must be a list, but the config gives a dict",
        ),
        (
            "param_scheduler = 'poly'",
            "config key 'param_scheduler' must be a dict or a list, but the config gives a str",
        ),
        ("val_evaluator = [3]", "config key 'val_evaluator[0]' must be a dict, but the config gives an int (3)"),
        ("work_dir = 3", "config key 'work_dir' must be a string"),
    ],
)
def test_a_wrong_type_at_a_runner_key_is_one_line(tmp_path, capsys, extra, expected):
    config = write_tiny_config(tmp_path, tmp_path / "no_data", extra=extra)
    assert main(["train", str(config)]) == 2
    assert expected in one_line_error(capsys)


def test_check_data_names_a_wrong_type_in_one_line_too(tmp_path, capsys):
    config = write_tiny_config(tmp_path, tmp_path / "no_data", extra="train_dataloader = (1, 2)")
    assert main(["check-data", str(config)]) == 2
    assert "config key 'train_dataloader' must be a dict" in one_line_error(capsys)


@pytest.mark.parametrize(
    "option,key",
    [
        ("train_dataloader.dataset=[1]", "train_dataloader.dataset"),
        ("val_dataloader.sampler=1", "val_dataloader.sampler"),
        ("optim_wrapper.optimizer=[1,2]", "optim_wrapper.optimizer"),
        ("model.backbone=(1,2)", "model.backbone"),
        ("default_hooks.logger=1", "default_hooks.logger"),
    ],
)
def test_a_wrong_type_one_level_in_is_one_line_through_test_too(tmp_path, capsys, option, key):
    config = write_tiny_config(tmp_path, tmp_path / "no_data")
    assert main(["test", str(config), str(tmp_path / "none.pth"), "--cfg-options", option]) == 2
    assert f"config key '{key}' must be" in one_line_error(capsys)


def test_init_model_checks_the_model_and_test_pipeline_types(tmp_path):
    from seglab.inference import init_model

    config = write_tiny_config(tmp_path, tmp_path / "no_data")
    with pytest.raises(ConfigError, match="config key 'model' must be a dict"):
        init_model(str(config), None, cfg_options={"model": (1, 2)})
    with pytest.raises(ConfigError, match=r"config key 'test_pipeline\[0\]' must be a dict"):
        init_model(str(config), None, cfg_options={"test_pipeline": ["Resize"]})


# ------------------------------------------------------------------------------------ all-'ignore' labels
def labelled_dataset(root: Path, left: int, right: int) -> Path:
    """A 3-class dataset (2 train, 1 val, 32x32) whose every label file holds `left` and `right` halves."""
    make_dummy_dataset(DummySpec(root, "learnable", 3, train=2, val=1, size=32, seed=0))
    label = np.full((32, 32), left, np.uint8)
    label[:, 16:] = right
    for path in (root / "ann_dir").rglob("*.png"):
        Image.fromarray(label).save(path)
    return root


REDUCE = "train_dataloader = dict(dataset=dict(reduce_zero_label=True))\n"
ALL_ZERO = "labels hold only 0, so every label becomes ignore after reduce_zero_label"


def test_reduce_zero_label_on_all_zero_labels_is_not_blamed_on_0_255_masks(tmp_path, capsys):
    config = write_tiny_config(tmp_path, labelled_dataset(tmp_path / "data", 0, 0), extra=REDUCE)
    assert main(["train", str(config)]) == 2
    err = one_line_error(capsys)
    assert ALL_ZERO in err and "set reduce_zero_label=False" in err and "0/255" not in err


def test_0_255_masks_are_named_with_their_fix(tmp_path, capsys):
    config = write_tiny_config(tmp_path, labelled_dataset(tmp_path / "data", 0, 255))
    assert main(["train", str(config)]) == 2
    err = one_line_error(capsys)
    assert "a binary mask saved as 0/255" in err and "label // 255" in err and "reduce_zero_label" not in err


@pytest.mark.parametrize(
    "left,right,reduce,expected",
    [
        (0, 0, True, ALL_ZERO),
        (
            0,
            255,
            True,
            "saved as 0/255 makes every foreground pixel 'ignore'. Save the foreground as 1 (e.g. "
            "label // 255) and set reduce_zero_label=False",
        ),
        (0, 255, False, "saved as 0/255"),
        (0, 1, True, None),  # LoveDA-style: 0 is ignore by design, 1 becomes class 0
        (0, 0, False, None),  # all background: check-data warns, training may go on
    ],
)
def test_preflight_tells_the_all_ignore_mistakes_apart(tmp_path, left, right, reduce, expected):
    root = labelled_dataset(tmp_path, left, right)
    infos = [{"seg_map_path": str(p), "reduce_zero_label": reduce} for p in sorted(root.rglob("ann_dir/*/*.png"))]
    dataset = SimpleNamespace(data_list=infos)
    if expected is None:
        check_label_values(dataset, 3, 255)
        return
    with pytest.raises(ConfigError) as err:
        check_label_values(dataset, 3, 255)
    assert expected in str(err.value) and ("0/255" in expected) == ("0/255" in str(err.value))


def test_check_data_names_reduce_zero_label_on_all_zero_labels(tmp_path, capsys):
    config = write_tiny_config(tmp_path, labelled_dataset(tmp_path / "data", 0, 0), extra=REDUCE)
    assert main(["check-data", str(config)]) == 1
    out = capsys.readouterr().out
    assert f"[train] {ALL_ZERO}" in out and "0/255" not in out
