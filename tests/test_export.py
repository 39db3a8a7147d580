"""``seglab export`` and ``seglab infer --backend onnxruntime``: a tiny model of every family exports, and
onnxruntime gives PyTorch's logits (fixed and dynamic shapes, argmax in the graph) and label maps."""

from __future__ import annotations

import json
import os
import sys

import cv2
import numpy as np
import pytest
import torch

from seglab.cli import main
from seglab.config import parse_cfg_options
from seglab.errors import ConfigError
from seglab.inference import init_model

from .conftest import REPO

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
pytest.importorskip("onnxscript")

from seglab.deploy import OnnxSegmentor, export_onnx, verify_onnx  # noqa: E402

R18 = ["model.pretrained=None", "model.backbone.depth=18", "model.backbone.stem_channels=16"]
R18 += ["model.backbone.base_channels=16"]
AUX = ["model.auxiliary_head.in_channels=64", "model.auxiliary_head.channels=16"]
DILATED_HEAD = ["model.decode_head.in_channels=128", "model.decode_head.channels=16", *AUX]

# family -> (shipped config, --cfg-options making it tiny): add a row per family
FAMILIES = {
    "fcn": ("fcn/fcn_r50-d8_4xb2-40k_cityscapes-512x1024", DILATED_HEAD),
    "deeplabv3": ("deeplabv3/deeplabv3_r50-d8_4xb4-80k_ade20k-512x512", DILATED_HEAD),
    "deeplabv3plus": (
        "deeplabv3plus/deeplabv3plus_r50-d8_4xb4-80k_ade20k-512x512",
        [*DILATED_HEAD, "model.decode_head.c1_in_channels=16", "model.decode_head.c1_channels=8"],
    ),
    "pspnet": ("pspnet/pspnet_r50-d8_4xb4-80k_ade20k-512x512", DILATED_HEAD),
    "upernet": (
        "upernet/upernet_r18_4xb4-80k_ade20k-512x512",
        ["model.decode_head.in_channels=[16,32,64,128]", "model.decode_head.channels=16", *AUX],
    ),
    "sem_fpn": (
        "sem_fpn/fpn_r50_4xb4-160k_ade20k-512x512",
        [
            "model.neck.in_channels=[16,32,64,128]",
            "model.neck.out_channels=16",
            "model.decode_head.in_channels=[16,16,16,16]",
            "model.decode_head.channels=16",
        ],
    ),
}
SHAPE = (64, 96)


def zoo_rows() -> dict[str, str]:
    """family -> tiny-config fragment from every zoo test file's tiny-training table (``TINY_FAMILIES``,
    ``TINY_HEADS``), so a family that lands with a tiny row is exported too. Its ~4 s of CPU per export
    would take this file past its time budget, so these run with SEGLAB_TEST_EXPORT_ZOO=1."""
    import importlib

    from .models.zoo_parity import tiny_head

    rows: dict[str, str] = {}
    for path in sorted((REPO / "tests" / "models").glob("test_zoo_*.py")):
        module = importlib.import_module(f"tests.models.{path.stem}")
        rows.update({name: fragment for name, (_, fragment) in getattr(module, "TINY_FAMILIES", {}).items()})
        rows.update({head: tiny_head(head, args) for head, args in getattr(module, "TINY_HEADS", {}).items()})
    return {name: fragment for name, fragment in rows.items() if name not in FAMILIES}


ZOO = zoo_rows() if os.environ.get("SEGLAB_TEST_EXPORT_ZOO") else {}


def tiny_model(family: str) -> torch.nn.Module:
    config, options = FAMILIES[family]
    torch.manual_seed(0)
    model = init_model(REPO / "configs" / f"{config}.py", None, "cpu", parse_cfg_options(R18 + options))
    with torch.no_grad():  # random weights give near-zero logits; spread them so labels and errors mean something
        model.decode_head.conv_seg.weight.mul_(50)
    return model


def assert_close(check: dict) -> None:
    assert check["max_torch"] > 0.1
    assert check["max_error"] <= 1e-4 * check["max_torch"], check


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_exports_and_onnxruntime_gives_pytorchs_logits(family, tmp_path, one_thread):
    model = tiny_model(family)
    path = export_onnx(model, tmp_path / "model.onnx", SHAPE)
    assert_close(verify_onnx(model, path, SHAPE))
    meta = ort.InferenceSession(str(path)).get_modelmeta().custom_metadata_map
    assert json.loads(meta["classes"]) == list(model.class_names())
    assert json.loads(meta["input_size"]) == list(SHAPE)


@pytest.mark.skipif(not ZOO, reason="the zoo's other families export with SEGLAB_TEST_EXPORT_ZOO=1")
@pytest.mark.parametrize("family", sorted(ZOO) or ["-"])
def test_zoo_family_exports_and_onnxruntime_gives_pytorchs_logits(family, tiny_config, tmp_path, one_thread):
    from seglab import Config

    model = init_model(Config.fromfile(tiny_config(extra=ZOO[family])))
    with torch.no_grad():
        head = model.decode_head[-1] if isinstance(model.decode_head, torch.nn.ModuleList) else model.decode_head
        (head.conv_seg if hasattr(head, "conv_seg") else head.fc_seg).weight.mul_(50)
    path = export_onnx(model, tmp_path / "model.onnx", SHAPE)
    assert_close(verify_onnx(model, path, SHAPE))


def test_dynamic_shape_export_follows_batch_height_and_width(tmp_path, one_thread):
    model = tiny_model("sem_fpn")  # FPN's x2 upsampling and lateral additions must stay symbolic
    path = export_onnx(model, tmp_path / "model.onnx", SHAPE, dynamic=True)
    check = verify_onnx(model, path, SHAPE, dynamic=True)
    assert check["shapes"] == [(1, 64, 96), (2, 80, 144)]
    assert_close(check)


def test_argmax_in_the_graph_gives_pytorchs_labels(tmp_path, one_thread):
    model = tiny_model("fcn")
    path = export_onnx(model, tmp_path / "model.onnx", SHAPE, argmax=True)
    session = ort.InferenceSession(str(path))
    assert [o.name for o in session.get_outputs()] == ["labels"]
    assert verify_onnx(model, path, SHAPE)["max_error"] == 0.0


def test_dynamic_shape_names_the_fixed_grid_pooling_module(tmp_path):
    with pytest.raises(ConfigError, match=r"psp_modules.1.0 \(AdaptiveAvgPool2d\(2\)\).*fixed --shape"):
        export_onnx(tiny_model("pspnet"), tmp_path / "model.onnx", SHAPE, dynamic=True)


def test_an_op_onnx_lacks_is_named_with_its_source_line(tmp_path, one_thread):
    model = tiny_model("fcn")
    original = model.decode_head.cls_seg
    model.decode_head.cls_seg = lambda feat: torch.cummax(original(feat), 1)[0]
    with pytest.raises(ConfigError, match=r"FCNHead cannot be exported to ONNX: op aten::cummax at seglab/models/"):
        export_onnx(model, tmp_path / "model.onnx", SHAPE)


def test_missing_package_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(
        ConfigError, match=r"pip install onnx \(or, in your seglab clone, pip install -e '\.\[deploy\]'\)"
    ):
        export_onnx(tiny_model("fcn"), tmp_path / "model.onnx", SHAPE)


def test_a_file_without_seglab_metadata_is_refused(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    node = helper.make_node("Identity", ["image"], ["logits"])
    value = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 4, 4])
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 3, 4, 4])
    onnx.save(helper.make_model(helper.make_graph([node], "g", [value], [out])), tmp_path / "plain.onnx")
    with pytest.raises(ConfigError, match="has no seglab metadata .*export it with 'seglab export'"):
        OnnxSegmentor(tmp_path / "plain.onnx")


def test_cli_export_then_onnxruntime_infer_gives_pytorchs_label_maps(tiny_config, tmp_path, capsys, one_thread):
    config = tiny_config()
    model = init_model(config)
    torch.manual_seed(0)
    with torch.no_grad():
        model.decode_head.conv_seg.weight.normal_(0, 5)
    checkpoint = tmp_path / "tiny.pth"
    torch.save({"state_dict": model.state_dict(), "meta": {"dataset_meta": model.dataset_meta}}, checkpoint)
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for name, (h, w) in {"a": (64, 64), "b": (50, 90), "c": (97, 61)}.items():  # the test pipeline resizes
        smooth = cv2.resize(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8), (w, h), interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(images / f"{name}.png"), smooth)
    onnx_path = tmp_path / "tiny.onnx"
    assert main(["export", str(config), str(checkpoint), "--dynamic-shape", "-o", str(onnx_path)]) == 0
    printed = capsys.readouterr().out
    assert "onnxruntime check: max |logit difference|" in printed and "input 'image' N x 3 x H x W" in printed
    assert main(["infer", str(config), str(checkpoint), str(images), "--out", str(tmp_path / "pt")]) == 0
    assert main(["infer", "--backend", "onnxruntime", str(onnx_path), str(images), "--out", str(tmp_path / "ort")]) == 0
    for name in "abc":
        torch_labels = cv2.imread(str(tmp_path / "pt" / f"{name}.png"), cv2.IMREAD_UNCHANGED)
        onnx_labels = cv2.imread(str(tmp_path / "ort" / f"{name}.png"), cv2.IMREAD_UNCHANGED)
        assert torch_labels.shape == onnx_labels.shape
        assert len(np.unique(torch_labels)) > 1
        np.testing.assert_array_equal(onnx_labels, torch_labels)
