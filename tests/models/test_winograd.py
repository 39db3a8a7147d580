"""Winograd 3x3 convolutions for CPU prediction (``seglab.models.winograd``): the mosaic of phases computes
dilated convolutions exactly as a dilated convolution does; every registered model type with an eligible
convolution predicts the same labels through it (logits equal up to rounding); it is used only where it
measured faster and only when predicting (never with gradients, autocast or off the CPU); ``seglab test``,
``seglab infer`` and the API use it unless told not to."""

from __future__ import annotations

import copy
import logging
import re

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from seglab.cli import main
from seglab.errors import ConfigError
from seglab.inference import infer_files, inference_model, init_model
from seglab.models import winograd
from seglab.models.winograd import WinogradConv2d, eligible, mosaic_conv, use_winograd, wants_winograd

from .test_fold_bn import built_types, logits_and_labels, randomise_batchnorms, tiny_case

pytestmark = pytest.mark.skipif(not winograd.available(), reason="this PyTorch build has no NNPACK")


@pytest.fixture
def every_size(monkeypatch):
    """The Winograd path for every eligible convolution, whatever its size (the speed thresholds off)."""
    for name in ("MIN_IN_CHANNELS", "MIN_OUT_CHANNELS", "MIN_SIDE", "MIN_WORK", "MIN_DILATED_WORK"):
        monkeypatch.setattr(winograd, name, 0)


@pytest.fixture
def nnpack_calls(monkeypatch):
    """Counts the calls that reach NNPACK's convolution."""
    calls = []
    real = torch._nnpack_spatial_convolution

    def counted(*args):
        calls.append(args[0].shape)
        return real(*args)

    monkeypatch.setattr(torch, "_nnpack_spatial_convolution", counted)
    return calls


@pytest.mark.parametrize("dilation", [1, 2, 3, 4])
@pytest.mark.parametrize("size", [(45, 61), (8, 8), (5, 13)])
@torch.no_grad()
def test_the_mosaic_computes_a_dilated_convolution(dilation, size):
    """Odd sizes, maps smaller than the dilation, a batch of two, a bias: the direct convolution's result."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, 16, *size, generator=generator)
    weight, bias = torch.randn(24, 16, 3, 3, generator=generator), torch.randn(24, generator=generator)
    want = F.conv2d(x.double(), weight.double(), bias.double(), padding=dilation, dilation=dilation)
    got = mosaic_conv(x, weight, bias, dilation)
    assert got.shape == want.shape
    assert (got.double() - want).abs().max() <= 1e-5 * want.abs().max()


@pytest.mark.usefixtures("one_thread", "every_size")
@pytest.mark.parametrize("name", built_types())
@torch.no_grad()
def test_every_model_type_predicts_the_same_with_winograd(name, nnpack_calls):
    model, run = tiny_case(name)
    randomise_batchnorms(model.eval(), torch.Generator().manual_seed(1))
    fast = copy.deepcopy(model)
    if use_winograd(fast) == 0:
        pytest.skip("no 3x3 stride-1 convolution")
    got_logits, got_labels = logits_and_labels(run(fast))
    assert nnpack_calls, "no convolution took the Winograd path"
    want_logits, want_labels = logits_and_labels(run(model))
    for got, want in zip(got_logits, want_logits, strict=True):
        assert (got - want).abs().max() <= 1e-4 * want.abs().max() + 1e-6
    assert all(torch.equal(g, w) for g, w in zip(got_labels, want_labels, strict=True))
    assert fast.state_dict().keys() == model.state_dict().keys()


def test_only_plain_3x3_stride_1_convolutions_are_eligible():
    assert eligible(nn.Conv2d(8, 8, 3, padding=1))
    assert eligible(nn.Conv2d(8, 8, 3, padding=4, dilation=4, bias=False))
    assert not eligible(nn.Conv2d(8, 8, 3, padding=1, stride=2))
    assert not eligible(nn.Conv2d(8, 8, 3, padding=1, groups=8))
    assert not eligible(nn.Conv2d(8, 8, 1))
    assert not eligible(nn.Conv2d(8, 8, 3, padding=0))  # no padding: not a "same" convolution
    assert not eligible(nn.Conv2d(8, 8, 3, padding=1, padding_mode="reflect"))
    assert not eligible(nn.Conv2d(8, 8, 3, padding=2, dilation=(2, 1)))
    hooked = nn.Conv2d(8, 8, 3, padding=1)
    hooked.register_forward_hook(lambda *args: None)
    assert not eligible(hooked)


def test_it_is_used_only_to_predict_on_cpu_in_float32_and_only_where_it_is_faster(nnpack_calls):
    torch.manual_seed(0)
    conv = nn.Conv2d(64, 64, 3, padding=1)
    use_winograd(conv)
    assert type(conv) is WinogradConv2d
    large, small = torch.randn(1, 64, 64, 64), torch.randn(1, 64, 16, 16)
    conv(large).sum().backward()  # training: the direct convolution, with its gradients
    assert not nnpack_calls and conv.weight.grad is not None
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert conv(large).dtype == torch.bfloat16  # autocast: as asked, not float32 behind its back
    with torch.inference_mode():
        conv(small)  # below the sizes where it measured faster
        conv(large)  # predicting, large enough: Winograd
    assert len(nnpack_calls) == 1
    with torch.no_grad():
        assert torch.allclose(conv(large), F.conv2d(large, conv.weight, conv.bias, padding=1), atol=1e-4)
    dilated = nn.Conv2d(64, 64, 3, padding=2, dilation=2)
    use_winograd(dilated)
    with torch.no_grad():
        dilated(large)  # a dilated convolution pays for the mosaic: only from far more work
    assert len(nnpack_calls) == 2


def test_a_refusal_falls_back_to_the_direct_convolution_for_good(monkeypatch, caplog):
    def refuse(*args):
        raise RuntimeError("NNPACK SpatialConvolution_updateOutput failed")

    monkeypatch.setattr(winograd, "_refused", [])
    monkeypatch.setattr(torch, "_nnpack_spatial_convolution", refuse)
    conv = nn.Conv2d(64, 64, 3, padding=1)
    use_winograd(conv)
    x = torch.randn(1, 64, 64, 64)
    with torch.no_grad(), caplog.at_level(logging.WARNING, logger="seglab"):
        assert torch.allclose(conv(x), F.conv2d(x, conv.weight, conv.bias, padding=1))
    assert "direct convolution from now on" in caplog.text
    assert not winograd.available() and use_winograd(nn.Conv2d(8, 8, 3, padding=1)) == 0


@pytest.mark.usefixtures("one_thread", "every_size")
def test_seglab_test_uses_winograd_unless_told_not_to_and_scores_the_same(tiny_config, tmp_path, capsys):
    config = tiny_config()
    checkpoint = tmp_path / "random.pth"
    model = init_model(config)
    randomise_batchnorms(model, torch.Generator().manual_seed(1))
    torch.save({"state_dict": model.state_dict(), "meta": {}}, checkpoint)
    runs = {}
    for name, extra in (("default", []), ("direct", ["test_cfg.winograd=False"])):
        options = ["--cfg-options", "test_dataloader.dataset.indices=2", *extra]
        assert main(["test", str(config), str(checkpoint), "--work-dir", str(tmp_path / name), *options]) == 0
        log = next((tmp_path / name).rglob("*.log")).read_text()
        runs[name] = (re.findall(r"mIoU: (\d+\.\d+)", capsys.readouterr().out)[-1], "take Winograd's algorithm" in log)
    assert runs == {"default": (runs["default"][0], True), "direct": (runs["default"][0], False)}
    with pytest.raises(ConfigError, match="test_cfg.winograd"):
        wants_winograd({"test_cfg": {"winograd": 1}})


@pytest.mark.usefixtures("one_thread", "every_size")
def test_inference_model_uses_winograd_on_a_copy_unless_told_not_to(tiny_config, nnpack_calls):
    model = init_model(tiny_config())
    image = np.random.default_rng(0).integers(0, 255, (48, 80, 3), dtype=np.uint8)
    direct = inference_model(model, image, fold_bn=False, winograd=False)
    assert not nnpack_calls and "_seglab_folded_copy" not in model.__dict__
    inference_model(model, image, fold_bn=False)  # makes the copy; this call's prediction is the model's own
    fast = inference_model(model, image, fold_bn=False)
    assert nnpack_calls
    assert all(type(m) is not WinogradConv2d for m in model.modules())  # the user's model is untouched
    assert torch.equal(fast["pred_sem_seg"], direct["pred_sem_seg"])
    assert torch.allclose(fast["seg_logits"], direct["seg_logits"], atol=1e-4)


@pytest.mark.usefixtures("one_thread", "every_size")
def test_seglab_infer_follows_the_config(tiny_config, tmp_path):
    """``seglab infer`` (``infer_files``) uses Winograd unless the config says ``test_cfg.winograd=False``,
    and writes the same label maps either way."""
    model = init_model(tiny_config())
    image = np.random.default_rng(0).integers(0, 255, (48, 80, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "a.png"), image)
    labels = {}
    for wanted in (False, True):
        model.__dict__.pop("_seglab_folded_copy", None)
        model.cfg.test_cfg.update(fold_bn=False, winograd=wanted)
        infer_files(model, [str(tmp_path / "a.png")], tmp_path / f"out{wanted}")
        copy_made = model.__dict__.get("_seglab_folded_copy")
        assert (copy_made is not None and any(type(m) is WinogradConv2d for m in copy_made[1].modules())) is wanted
        labels[wanted] = np.asarray(Image.open(tmp_path / f"out{wanted}" / "a.png"))
    assert np.array_equal(labels[False], labels[True])


@torch.no_grad()
def test_a_batch_goes_to_nnpack_one_image_at_a_time(nnpack_calls):
    """NNPACK's batched path is 2.5x slower per image than one image at a time (``seglab infer`` and the API
    predict in batches): each image is its own call, and the batch's result is the direct convolution's."""
    conv = nn.Conv2d(64, 64, 3, padding=2, dilation=2)
    use_winograd(conv)
    x = torch.randn(3, 64, 48, 64, generator=torch.Generator().manual_seed(0))
    want = F.conv2d(x.double(), conv.weight.double(), conv.bias.double(), padding=2, dilation=2)
    got = mosaic_conv(x, conv.weight, conv.bias, 2)
    assert [shape[0] for shape in nnpack_calls] == [1, 1, 1]
    assert (got.double() - want).abs().max() <= 1e-4 * want.abs().max()  # F(6x6, 3x3)'s rounding over 64 channels
