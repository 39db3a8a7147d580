"""From a checkpoint to pictures: init_model/inference_model, seglab infer, plots, confusion matrix, benchmark."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from seglab.benchmark import count_flops, count_parameters
from seglab.cli import main
from seglab.inference import inference_model, init_model


def val_images(data_root: Path) -> list[Path]:
    return sorted((data_root / "img_dir" / "val").glob("*.jpg"))


def test_api_round_trip_predicts_what_the_trained_model_predicted(trained, learnable_data):
    runner, _ = trained
    config, checkpoint = runner.work_dir / "tiny.py", runner.work_dir / "iter_300.pth"
    model = init_model(config, checkpoint)
    assert model.dataset_meta["classes"] == ("background", "class1", "class2")
    images = val_images(learnable_data)[:3]
    runner.model.eval()
    for path in images:
        ours = inference_model(model, str(path))
        batch = {
            "inputs": [torch.from_numpy(cv2.imread(str(path)).transpose(2, 0, 1).copy())],
            "data_samples": [{"ori_shape": (64, 64)}],
        }
        with torch.no_grad():
            before = runner.model.predict(*runner.model.data_preprocessor(batch))[0]
        assert torch.equal(ours["pred_sem_seg"], before["pred_sem_seg"])
        assert ours["pred_sem_seg"].shape == (64, 64) and ours["seg_logits"].shape == (3, 64, 64)


def test_list_equals_per_image_calls_including_arrays_and_sizes(trained, learnable_data):
    runner, _ = trained
    model = init_model(runner.work_dir / "tiny.py", runner.work_dir / "iter_300.pth")
    paths = val_images(learnable_data)[:3]
    wide = cv2.resize(cv2.imread(str(paths[0])), (96, 48))
    inputs = [str(paths[0]), cv2.imread(str(paths[1])), wide, str(paths[2])]
    together = inference_model(model, inputs)
    for item, result in zip(inputs, together):
        alone = inference_model(model, item)
        assert torch.equal(alone["pred_sem_seg"], result["pred_sem_seg"])
        assert torch.allclose(alone["seg_logits"], result["seg_logits"], atol=1e-5)
    assert together[2]["pred_sem_seg"].shape == (48, 96)
    tta = inference_model(model, str(paths[0]), tta=True, tta_scales=[0.75, 1.0])
    assert tta["pred_sem_seg"].shape == (64, 64)
    agreement = (tta["pred_sem_seg"] == together[0]["pred_sem_seg"]).float().mean()
    assert agreement > 0.9


def test_a_long_list_runs_in_batches_of_batch_size(trained, learnable_data, monkeypatch):
    """A list of same-size images is predicted batch_size at a time (memory stays that of a batch), with the
    results of one batch holding everything."""
    import seglab.inference as inference

    runner, _ = trained
    model = init_model(runner.work_dir / "tiny.py", runner.work_dir / "iter_300.pth")
    paths = [str(p) for p in val_images(learnable_data)[:5]]
    sizes, predict = [], inference._predict
    monkeypatch.setattr(
        inference, "_predict", lambda m, packed, *rest: sizes.append(len(packed)) or predict(m, packed, *rest)
    )
    chunked = inference_model(model, paths, batch_size=2)
    assert sizes == [2, 2, 1]
    whole = inference_model(model, paths, batch_size=5)
    for a, b in zip(chunked, whole):
        assert torch.equal(a["pred_sem_seg"], b["pred_sem_seg"])


def test_infer_command_with_a_corrupt_file(trained, learnable_data, tmp_path, capsys):
    runner, _ = trained
    inputs = tmp_path / "in"
    inputs.mkdir()
    good = val_images(learnable_data)[:2]
    for path in good:
        (inputs / path.name).write_bytes(path.read_bytes())
    (inputs / "broken.jpg").write_bytes(b"\xff\xd8 this is not a jpeg")
    code = main(
        [
            "infer",
            str(runner.work_dir / "tiny.py"),
            str(runner.work_dir / "iter_300.pth"),
            str(inputs),
            "--out",
            str(tmp_path / "out"),
            "--opacity",
            "0.6",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and "broken.jpg" in err and "1 input(s) failed" in err
    for path in good:
        label = np.array(__import__("PIL.Image", fromlist=["Image"]).open(tmp_path / "out" / f"{path.stem}.png"))
        assert label.shape == (64, 64) and label.max() <= 2
        over = cv2.imread(str(tmp_path / "out" / f"{path.stem}_overlay.png"))
        assert over.shape[1] == 64 and over.shape[0] > 64  # legend strip under the image
        img = cv2.imread(str(path))
        foreground = label > 0
        changed = np.abs(over[:64].astype(int) - img.astype(int)).sum(axis=2) > 0
        assert foreground.any() and changed[foreground].mean() > 0.9
    assert not (tmp_path / "out" / "broken.png").exists()


def test_test_command_saves_overlays_and_confusion_matrix(trained, tmp_path, capsys):
    runner, metrics = trained
    show = tmp_path / "show"
    code = main(
        [
            "test",
            str(runner.work_dir / "tiny.py"),
            str(runner.work_dir / "iter_300.pth"),
            "--work-dir",
            str(tmp_path / "t"),
            "--show-dir",
            str(show),
            "--confusion-matrix",
            "--out",
            str(tmp_path / "labels"),
        ]
    )
    assert code == 0
    pictures = sorted(show.glob("*.png"))
    assert len(pictures) == 12
    labels = sorted((tmp_path / "labels").glob("*.png"))
    assert [p.name for p in labels] == [p.name for p in pictures]
    picture = cv2.imread(str(pictures[0]))
    assert picture.shape[1] == 128 and picture.shape[0] > 64 and picture.std() > 10
    (matrix_png,) = (tmp_path / "t").glob("*/confusion_matrix.png")
    assert cv2.imread(str(matrix_png)).std() > 10
    rows = list(csv.reader(matrix_png.with_suffix(".csv").open()))
    assert rows[0][1:] == ["background", "class1", "class2"]
    counts = np.array([[int(v) for v in row[1:]] for row in rows[1:]])
    assert counts.sum() == 12 * 64 * 64
    assert np.trace(counts) / counts.sum() * 100 == pytest.approx(metrics["aAcc"], abs=0.01)


def test_plot_command_draws_curves(trained, capsys):
    runner, _ = trained
    assert main(["plot", str(runner.work_dir)]) == 0
    png = cv2.imread(str(runner.work_dir / "curves.png"))
    assert png.shape[0] >= 300 and png.shape[1] >= 1000 and png.std() > 10
    rows = list(csv.DictReader((runner.work_dir / "curves.csv").open()))
    assert {"step", "loss", "lr", "mIoU"} <= set(rows[0])
    assert len([r for r in rows if r["mIoU"]]) == 2


def conv_flops_by_hand(model: nn.Module, x: torch.Tensor) -> int:
    """2 x multiply-adds of every convolution, from the shapes each one sees."""
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        kh, kw = module.kernel_size
        total += 2 * output.numel() * (module.in_channels // module.groups) * kh * kw

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        model(x, mode="tensor")
    for handle in handles:
        handle.remove()
    return total


def params_by_hand(model: nn.Module) -> int:
    total = 0
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            kh, kw = m.kernel_size
            total += m.out_channels * (m.in_channels // m.groups) * kh * kw + (
                m.out_channels if m.bias is not None else 0
            )
        elif isinstance(m, nn.BatchNorm2d):
            total += 2 * m.num_features
    return total


def test_benchmark_counts_match_a_hand_count(trained, capsys):
    runner, _ = trained
    model = init_model(runner.work_dir / "tiny.py")
    assert count_parameters(model) == params_by_hand(model)
    assert count_flops(model, 64, 96) == conv_flops_by_hand(model, torch.zeros(1, 3, 64, 96))
    assert main(["benchmark", str(runner.work_dir / "tiny.py"), "--shape", "64", "96", "--iters", "2"]) == 0
    out = capsys.readouterr().out
    assert f"{count_parameters(model):,}" in out and f"{count_flops(model, 64, 96):,}" in out and "images / s" in out


def test_test_command_with_tta(trained, tmp_path, capsys):
    runner, metrics = trained
    path = runner.work_dir / "tiny.py"
    code = main(
        [
            "test",
            str(path),
            str(runner.work_dir / "iter_300.pth"),
            "--work-dir",
            str(tmp_path / "t"),
            "--tta",
            "--cfg-options",
            "img_ratios=[1.0,1.25]",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    miou = float(re.findall(r"mIoU: (\d+\.\d+)", out)[-1])
    assert miou != metrics["mIoU"] and abs(miou - metrics["mIoU"]) < 10


def test_test_command_runs_the_configs_tta_pipeline(trained, tmp_path, capsys):
    """With a ``tta_pipeline`` (TestTimeAug), ``--tta`` runs it as MMSegmentation's tools/test.py does; at the
    same scales and flips it gives what the built-in flip + multi-scale path gives."""
    runner, _ = trained
    path = runner.work_dir / "tiny.py"
    tta_pipeline = (
        "[dict(type='LoadImageFromFile'), dict(type='TestTimeAug', transforms=["
        "[dict(type='Resize', scale_factor=r, keep_ratio=True) for r in (1.0, 1.25)], "
        "[dict(type='RandomFlip', prob=0.0, direction='horizontal'), "
        "dict(type='RandomFlip', prob=1.0, direction='horizontal')], "
        "[dict(type='LoadAnnotations')], [dict(type='PackSegInputs')]])]"
    )
    child = tmp_path / "tta.py"
    child.write_text(f"_base_ = '{path}'\ntta_pipeline = {tta_pipeline}\n")
    checkpoint = str(runner.work_dir / "iter_300.pth")
    common = ["--tta", "--cfg-options", "img_ratios=[1.0,1.25]"]
    assert main(["test", str(child), checkpoint, "--work-dir", str(tmp_path / "a"), *common]) == 0
    with_pipeline = float(re.findall(r"mIoU: (\d+\.\d+)", capsys.readouterr().out)[-1])
    assert main(["test", str(path), checkpoint, "--work-dir", str(tmp_path / "b"), *common]) == 0
    built_in = float(re.findall(r"mIoU: (\d+\.\d+)", capsys.readouterr().out)[-1])
    assert with_pipeline == built_in


def test_init_model_imports_the_configs_custom_modules(tiny_config, tmp_path, monkeypatch):
    """A head registered by the user's own module (``custom_imports``) builds for inference as for training."""
    (tmp_path / "my_inference_plugin.py").write_text(
        "from seglab.models.heads.fcn import FCNHead\nfrom seglab.registry import MODELS\n\n"
        "@MODELS.register()\nclass MyPluginHead(FCNHead):\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    extra = (
        "custom_imports = dict(imports=['my_inference_plugin'])\n"
        "model = dict(decode_head=dict(_delete_=True, type='MyPluginHead', in_channels=128, in_index=3, channels=8,"
        " num_classes=3))\n"
    )
    model = init_model(str(tiny_config(extra=extra)))
    assert type(model.decode_head).__name__ == "MyPluginHead"
