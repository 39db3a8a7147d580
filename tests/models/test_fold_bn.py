"""BatchNorm folding (``seglab.models.fold_bn``): every registered model type that has BatchNorm, built tiny
from its ``test_model_types.ROWS`` row with random weights and random BN statistics, predicts the same after
folding (logits equal up to rounding, labels identical); what must not fold stays unfolded; a model in
training mode is never folded, and a folded one cannot train; ``seglab test``, ``seglab infer`` and the API fold
unless told not to, with the same results."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from seglab.cli import main
from seglab.engine import test_model
from seglab.errors import ConfigError
from seglab.inference import infer_files, inference_model, init_model
from seglab.models.fold_bn import NotFoldableError, fold_batchnorm, folded_pairs, wants_fold
from seglab.models.layers.conv_module import ConvModule
from seglab.registry import MODELS

from .test_model_types import FEATURES, ROWS, features

# Types whose tiny model has BatchNorm but no conv -> BN pair that folds, and why (anything else must fold).
NOTHING_FOLDS = {
    "BNHead": "its BatchNorm normalises the head's input, before the 1x1 conv",
    "Feature2Pyramid": "its BatchNorm follows a ConvTranspose2d, which is not folded",
}
BUILT_KINDS = ("model", "cascade", "backbone", "head", "neck")  # rows that build a module with a forward


def randomise_batchnorms(model: nn.Module, generator: torch.Generator) -> int:
    """Random running statistics and affine parameters in every BatchNorm (a fresh one folds trivially)."""
    count = 0
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.running_var is not None:
            n = module.num_features
            module.running_mean.copy_(torch.rand(n, generator=generator) - 0.5)
            module.running_var.copy_(torch.rand(n, generator=generator) * 1.5 + 0.5)
            if module.weight is not None:
                module.weight.data.copy_(torch.rand(n, generator=generator) + 0.5)
                module.bias.data.copy_(torch.rand(n, generator=generator) * 0.6 - 0.3)
            count += 1
    return count


def tiny_case(name: str) -> tuple[nn.Module, Callable[[nn.Module], Any]]:
    """The tiny module of ``ROWS[name]`` (a cascade stage inside its two-stage model) and its eval forward;
    a timm-backed type skips the test where timm is not installed."""
    if "TIMMBackbone" in name:
        pytest.importorskip("timm")
    module, forward = _tiny_module(name)
    return module, lambda m: (torch.manual_seed(3), forward(m))[1]  # one seed: LightHamHead's NMF draws bases


def _tiny_module(name: str) -> tuple[nn.Module, Callable[[nn.Module], Any]]:
    row = copy.deepcopy(ROWS[name])
    if "cascade" in row:
        cascade = ROWS["CascadeEncoderDecoder"]["model"]
        stages = [cascade["decode_head"][0], {**row.pop("cascade"), "type": name}]
        row["model"] = {**cascade, **row.pop("cascade_model", {}), "decode_head": stages}
        name = "CascadeEncoderDecoder"
    torch.manual_seed(0)
    if "model" in row:
        image = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
        samples = [{"img_shape": (64, 64), "ori_shape": (64, 64)}]
        return MODELS.build({**row["model"], "type": name}), lambda m: m.predict(image, samples)
    if "backbone" in row:
        image = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
        return MODELS.build({**row["backbone"], "type": name}), lambda m: m(image)
    feats = features(False, row.get("features", FEATURES))
    if "neck" in row:
        return MODELS.build({**row["neck"], "type": name}), lambda m: m(feats)
    if row.get("cls_tokens"):
        feats = [[f, f.mean((2, 3))] for f in feats]
    metas = [{"pad_shape": (64, 64)}] * 2
    return MODELS.build({**row["head"], "type": name}), lambda m: m.predict(feats, metas, {})


def logits_and_labels(outputs: Any) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Logit maps (or feature maps) to compare, and the label maps among them (predictions and head outputs)."""
    if isinstance(outputs, list) and outputs and isinstance(outputs[0], dict):  # a segmentor's predictions
        return [s["seg_logits"] for s in outputs], [s["pred_sem_seg"] for s in outputs]
    if isinstance(outputs, torch.Tensor):  # a head's logits
        return [outputs], [outputs.argmax(1)]
    return list(outputs), []  # a backbone's or neck's feature maps


def built_types() -> list[str]:
    return sorted(n for n, row in ROWS.items() if any(kind in row for kind in BUILT_KINDS))


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("name", built_types())
@torch.no_grad()
def test_folded_model_predicts_what_the_unfolded_model_predicts(name):
    model, run = tiny_case(name)
    norms = randomise_batchnorms(model.eval(), torch.Generator().manual_seed(1))
    if norms == 0:
        assert name not in NOTHING_FOLDS
        pytest.skip("no BatchNorm")
    folded, expected = fold_batchnorm(model, run, inplace=True)  # the traced forward is the unfolded prediction
    assert folded_pairs(folded) > 0 if name not in NOTHING_FOLDS else folded_pairs(folded) == 0
    left = [m for m in folded.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert len(left) == norms - folded_pairs(folded)  # each folded BatchNorm is gone
    got_logits, got_labels = logits_and_labels(run(folded))
    want_logits, want_labels = logits_and_labels(expected)
    for got, want in zip(got_logits, want_logits, strict=True):
        assert (got - want).abs().max() <= 1e-4 * want.abs().max() + 1e-6
    assert all(torch.equal(g, w) for g, w in zip(got_labels, want_labels, strict=True))


class Layouts(nn.Module):
    """conv -> bn (folds); norm before conv, conv -> act -> bn, a conv output read twice (none folds)."""

    def __init__(self) -> None:
        super().__init__()
        self.plain = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.norm_first = ConvModule(8, 8, 3, padding=1, norm_cfg=dict(type="BN"), order=("norm", "conv", "act"))
        self.act_between = ConvModule(8, 8, 3, padding=1, norm_cfg=dict(type="BN"), order=("conv", "act", "norm"))
        self.shared_conv = nn.Conv2d(8, 8, 1)
        self.shared_bn = nn.BatchNorm2d(8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act_between(self.norm_first(self.plain(x)))
        y = self.shared_conv(x)
        return self.shared_bn(y) + y  # y is read twice: folding would change the second read


def layouts() -> Layouts:
    torch.manual_seed(0)
    model = Layouts()
    randomise_batchnorms(model, torch.Generator().manual_seed(1))
    return model.eval()


@torch.no_grad()
def test_only_a_batchnorm_that_directly_follows_a_conv_folds():
    model, image = layouts(), torch.randn(2, 3, 16, 16)
    folded, expected = fold_batchnorm(model, lambda m: m(image))
    assert torch.equal(expected, model(image))  # what the trace returns is the unfolded model's output
    assert folded_pairs(folded) == 1
    assert isinstance(folded.plain[1], nn.Identity)
    kept = [name for name, m in folded.named_modules() if isinstance(m, nn.BatchNorm2d)]
    assert kept == ["norm_first.bn", "act_between.bn", "shared_bn"]
    assert torch.allclose(folded(image), expected, atol=1e-5)


def test_training_mode_is_never_folded_and_a_folded_model_cannot_train():
    model, image = layouts(), torch.randn(2, 3, 16, 16)
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(ValueError, match="eval-mode"):
        fold_batchnorm(model.train(), lambda m: m(image))
    folded, _ = fold_batchnorm(model.eval(), lambda m: m(image))
    with pytest.raises(NotFoldableError):
        folded.train()
    with pytest.raises(NotFoldableError):
        copy.deepcopy(folded).train()  # a copy of a folded model is guarded too
    folded.eval()  # eval is fine
    state = model.state_dict()  # the original (and so any checkpoint made from it) is untouched and trains
    assert state.keys() == before.keys() and all(torch.equal(state[k], before[k]) for k in state)
    model.train()
    model(image).sum().backward()
    assert model.plain[1].weight.grad is not None


def random_statistics_checkpoint(config: Path, path: Path) -> nn.Module:
    """The config's model with random BatchNorm statistics (a fresh one folds trivially), saved to ``path``."""
    model = init_model(config)
    randomise_batchnorms(model, torch.Generator().manual_seed(1))
    torch.save({"state_dict": model.state_dict(), "meta": {}}, path)
    return model


@pytest.mark.usefixtures("one_thread")
def test_seglab_test_folds_unless_told_not_to_and_scores_the_same(tiny_config, tmp_path, capsys):
    """``seglab test`` folds by default, not with ``test_cfg.fold_bn=False``, and both give the same mIoU."""
    config, checkpoint = tiny_config(), tmp_path / "random.pth"
    random_statistics_checkpoint(config, checkpoint)
    runs = {}
    for name, extra in (("default", []), ("unfolded", ["test_cfg.fold_bn=False"])):
        options = ["--cfg-options", "test_dataloader.dataset.indices=2", *extra]  # 2 images are enough
        assert main(["test", str(config), str(checkpoint), "--work-dir", str(tmp_path / name), *options]) == 0
        log = next((tmp_path / name).rglob("*.log")).read_text()
        runs[name] = (re.findall(r"mIoU: (\d+\.\d+)", capsys.readouterr().out)[-1], "folded into" in log)
    assert runs == {"default": (runs["default"][0], True), "unfolded": (runs["default"][0], False)}
    with pytest.raises(ConfigError, match="fold_bn"):
        wants_fold({"test_cfg": {"fold_bn": "yes"}})


@pytest.mark.usefixtures("one_thread")
def test_seglab_test_traces_a_subsampled_image_or_else_the_image_itself(tiny_config, tmp_path, capsys, monkeypatch):
    """The folding trace runs on the first image subsampled (here 64x64 -> 16x16) and folds the same layers,
    with the same mIoU, as a trace of the image itself; a model that cannot take the small image (here: one
    colour channel instead of three) is traced on the image as it is."""
    config, checkpoint = tiny_config(), tmp_path / "random.pth"
    random_statistics_checkpoint(config, checkpoint)
    traced, real = [], test_model.subsampled
    monkeypatch.setattr(test_model, "subsampled", lambda sample, side: traced.append(real(sample, side)) or traced[-1])
    runs = {}
    for name, side, broken in (("full", 1000, False), ("small", 16, False), ("fallback", 16, True)):
        monkeypatch.setattr(test_model, "TRACE_SIDE", side)
        if broken:
            monkeypatch.setattr(
                test_model, "subsampled", lambda sample, side: {**sample, "inputs": sample["inputs"][:1]}
            )
        options = ["--cfg-options", "test_dataloader.dataset.indices=2"]
        assert main(["test", str(config), str(checkpoint), "--work-dir", str(tmp_path / name), *options]) == 0
        log = next((tmp_path / name).rglob("*.log")).read_text()
        mious = re.findall(r"mIoU: (\d+\.\d+)", capsys.readouterr().out)
        runs[name] = (mious[-1], re.search(r"test: (\d+) BatchNorm layer\(s\) folded", log).group(1))
    assert [tuple(sample["inputs"].shape[-2:]) for sample in traced] == [(64, 64), (16, 16)]
    assert runs["small"] == runs["full"] == runs["fallback"] and int(runs["full"][1]) > 0


@pytest.mark.usefixtures("one_thread")
def test_inference_folds_unless_told_not_to_and_predicts_the_same(tiny_config, tmp_path):
    """``inference_model`` predicts with a folded copy unless ``fold_bn=False``, with the same labels; ``seglab
    infer`` (``infer_files``) follows the config's ``test_cfg.fold_bn``."""
    model = random_statistics_checkpoint(tiny_config(), tmp_path / "random.pth")
    image = np.random.default_rng(0).integers(0, 255, (48, 80, 3), dtype=np.uint8)
    plain = inference_model(model, image, fold_bn=False, winograd=False)
    assert "_seglab_folded_copy" not in model.__dict__  # neither folding nor Winograd: no copy
    folded = inference_model(model, image, winograd=False)
    assert folded_pairs(model.__dict__["_seglab_folded_copy"][1]) > 0
    again = inference_model(model, image, winograd=False)  # from the folded copy this time
    assert torch.equal(again["pred_sem_seg"], plain["pred_sem_seg"])
    assert torch.equal(folded["pred_sem_seg"], plain["pred_sem_seg"])
    assert torch.allclose(again["seg_logits"], plain["seg_logits"], atol=1e-4)
    cv2.imwrite(str(tmp_path / "a.png"), image)
    for fold in (False, True):
        model.__dict__.pop("_seglab_folded_copy", None)
        model.cfg.test_cfg.update(fold_bn=fold, winograd=False)
        infer_files(model, [str(tmp_path / "a.png")], tmp_path / f"out{fold}")
        assert ("_seglab_folded_copy" in model.__dict__) is fold
