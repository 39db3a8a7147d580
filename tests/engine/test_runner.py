"""Training end to end on learnable data: it learns, logs like MMSegmentation, and saves reloadable checkpoints."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from seglab import Config, build_model, load_checkpoint
from seglab.cli import main
from seglab.engine.runner import Runner
from seglab.errors import ConfigError

TRAIN_LINE = re.compile(
    r"^\d\d/\d\d \d\d:\d\d:\d\d - seglab - INFO - Iter\(train\) \[\s*\d+/\d+\]  lr: \d\.\d{4}e[-+]\d\d  "
    r"eta: \d+:\d\d:\d\d  time: \d+\.\d{4}  data_time: \d+\.\d{4}  loss: \d+\.\d{4}  decode\.loss_ce: \d+\.\d{4}  "
    r"decode\.acc_seg: \d+\.\d{4}  aux\.loss_ce: \d+\.\d{4}  aux\.acc_seg: \d+\.\d{4}$"
)


def read_scalars(work_dir: Path) -> list[dict]:
    (path,) = work_dir.glob("*/vis_data/scalars.json")
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_training_learns_and_reaches_high_miou(trained):
    runner, metrics = trained
    assert metrics["mIoU"] >= 85.0, metrics
    records = [r for r in read_scalars(runner.work_dir) if "loss" in r]
    assert records[-1]["loss"] < 0.5 * records[0]["loss"]
    vals = [r for r in read_scalars(runner.work_dir) if "mIoU" in r]
    assert [r["step"] for r in vals] == [150, 300]
    per_class = {f"{col}.{c}" for col in ("IoU", "Acc") for c in ("background", "class1", "class2")}
    assert set(vals[0]) == {"aAcc", "mIoU", "mAcc", "data_time", "time", "step"} | per_class


def test_work_dir_layout_and_log_format(trained):
    runner, _ = trained
    work = runner.work_dir
    assert {p.name for p in work.glob("*.pth")} == {"iter_150.pth", "iter_300.pth", "best_mIoU_iter_300.pth"} or {
        p.name for p in work.glob("*.pth")
    } == {"iter_150.pth", "iter_300.pth", "best_mIoU_iter_150.pth"}
    assert Path((work / "last_checkpoint").read_text()) == work / "iter_300.pth"
    assert (work / "tiny.py").is_file() and Config.fromfile(work / "tiny.py").train_cfg.max_iters == 300
    log = (runner.log_dir / f"{runner.timestamp}.log").read_text().splitlines()
    train_lines = [line for line in log if "Iter(train)" in line]
    assert len(train_lines) == 30 and all(TRAIN_LINE.match(line) for line in train_lines), train_lines[0]
    assert "Iter(train) [ 10/300]" in train_lines[0]
    assert any(line.endswith("per class results:") for line in log)
    assert any(
        re.search(r"Iter\(val\) \[12/12\]    aAcc: \d+\.\d{4}  mIoU: \d+\.\d{4}  mAcc: \d+\.\d{4}", line)
        for line in log
    )
    assert "|   Class    |  IoU  |  Acc  |" in "\n".join(log)
    assert (runner.log_dir / "vis_data" / "config.py").is_file()


def test_checkpoint_is_plain_data_and_reloads_to_identical_predictions(trained):
    runner, _ = trained
    ckpt = torch.load(runner.work_dir / "iter_300.pth", weights_only=True)
    assert {"meta", "state_dict", "optimizer", "param_schedulers"} <= set(ckpt)
    assert ckpt["meta"]["iter"] == 300
    assert ckpt["meta"]["dataset_meta"]["classes"] == ("background", "class1", "class2")
    fresh = build_model(runner.cfg.model, load_pretrained=False).eval()
    report = load_checkpoint(fresh, runner.work_dir / "iter_300.pth", strict=True)
    assert report.loaded == len(fresh.state_dict())
    runner.model.eval()
    batch = {"inputs": [torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8) for _ in range(3)]}
    with torch.no_grad():
        a = runner.model.predict(*runner.model.data_preprocessor(batch))
        b = fresh.predict(*fresh.data_preprocessor(batch))
    for x, y in zip(a, b):
        assert torch.equal(x["pred_sem_seg"], y["pred_sem_seg"]) and torch.equal(x["seg_logits"], y["seg_logits"])


def test_seglab_test_command_evaluates_a_checkpoint(trained, capsys):
    runner, metrics = trained
    code = main(
        [
            "test",
            str(runner.work_dir / "tiny.py"),
            str(runner.work_dir / "iter_300.pth"),
            "--work-dir",
            str(runner.work_dir / "test"),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert f"mIoU: {metrics['mIoU']:.4f}" in out


def test_epoch_based_loop(tiny_config):
    path = tiny_config(
        extra=(
            "train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop', max_epochs=2, val_interval=2)\n"
            "train_dataloader = dict(sampler=dict(_delete_=True, type='DefaultSampler', shuffle=True))\n"
            "default_hooks = dict(checkpoint=dict(by_epoch=True, interval=1), logger=dict(interval=3))\n"
            "param_scheduler = [dict(type='LinearLR', start_factor=0.1, begin=0, end=1, by_epoch=True),"
            " dict(type='MultiStepLR', milestones=[1], gamma=0.5, by_epoch=True)]"
        )
    )
    runner = Runner.from_cfg(Config.fromfile(path))
    metrics = runner.train()
    assert {p.name for p in runner.work_dir.glob("*.pth")} == {"epoch_1.pth", "epoch_2.pth"}
    log = (runner.log_dir / f"{runner.timestamp}.log").read_text()
    assert "Epoch(train) [1][3/6]" in log and "Epoch(train) [2][6/6]" in log
    assert "mIoU" in metrics
    assert torch.load(runner.work_dir / "epoch_2.pth", weights_only=True)["meta"]["epoch"] == 2


def test_amp_trains_in_bfloat16_on_cpu(tiny_config, capsys):
    path = tiny_config(max_iters=4)
    # force: plain --amp would first measure, and keep float32 where bfloat16 is slower (tests/engine/test_amp.py)
    assert main(["train", str(path), "--amp", "force", "--cfg-options", "default_hooks.logger.interval=2"]) == 0
    out = capsys.readouterr().out
    assert "autocast to torch.bfloat16" in out and "Iter(train) [4/4]" in out


def test_preflight_catches_class_count_mismatch(tiny_config):
    path = tiny_config(extra="model = dict(decode_head=dict(num_classes=5), auxiliary_head=dict(num_classes=5))")
    with pytest.raises(ConfigError, match=r"num_classes=5 but the dataset names 3 classes.*num_classes=3"):
        Runner.from_cfg(Config.fromfile(path)).train()


def test_preflight_catches_missing_pad_size(tiny_config):
    path = tiny_config(extra="model = dict(data_preprocessor=dict(size=None))")
    with pytest.raises(ConfigError, match="add size=crop_size to model.data_preprocessor"):
        Runner.from_cfg(Config.fromfile(path)).train()


def test_preflight_catches_label_values_beyond_num_classes(tiny_config):
    path = tiny_config(
        extra="metainfo = dict(classes=('a', 'b'))\n"
        "model = dict(decode_head=dict(num_classes=2), auxiliary_head=dict(num_classes=2))\n"
        "train_dataloader = dict(dataset=dict(metainfo=metainfo))"
    )
    with pytest.raises(ConfigError, match=r"holds value\(s\) \[2\].*num_classes=2"):
        Runner.from_cfg(Config.fromfile(path)).train()


def test_wrong_data_root_is_one_line_error(tiny_config, capsys):
    path = tiny_config(extra="train_dataloader = dict(dataset=dict(data_root='/nowhere'))")
    assert main(["train", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "/nowhere" in err[0] and "data_prefix.img_path" in err[0]


def test_misspelt_runner_key_is_an_error(tiny_config):
    path = tiny_config(extra="trian_cfg = dict(max_iters=5)")
    with pytest.raises(ConfigError, match="'trian_cfg' is not used by seglab — did you mean 'train_cfg'"):
        Runner.from_cfg(Config.fromfile(path))


def test_tensorboard_backend_without_tensorboard_stops_before_training(tiny_config, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_tensorboard(name, *args, **kwargs):
        if name.startswith("torch.utils.tensorboard"):
            raise ImportError("No module named 'tensorboard'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    path = tiny_config(
        max_iters=1,
        extra="visualizer = dict(vis_backends=[dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')])",
    )
    with pytest.raises(
        ConfigError, match=r"vis_backends\[1\]: TensorboardVisBackend .* pip install -e '\.\[tensorboard\]'"
    ):
        Runner.from_cfg(Config.fromfile(path))
