"""The tutorial as written: dummy data, a 19-class MMSegmentation checkpoint, tools/train.py."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import torch

from seglab import Config, build_model

from ..conftest import REPO

CONFIG = "configs/deeplabv3plus/deeplabv3plus_r50-d8_dummy-test.py"
CHECKPOINT = "checkpoints/deeplabv3plus_r50-d8_512x1024_40k_cityscapes_20200605_094610-d222ffcd.pth"


def write_cityscapes_checkpoint(path: Path) -> None:
    """Random weights under the published file's key names (19 classes), MMSegmentation 0.x layout."""
    model = build_model(
        Config.fromfile(REPO / "configs/deeplabv3plus/deeplabv3plus_r50-d8_4xb2-40k_cityscapes-512x1024.py").model,
        load_pretrained=False,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"meta": {"CLASSES": ("road",) * 19}, "state_dict": model.state_dict()}, path)


def test_tutorial_runs_as_written(tmp_path, tutorial_data):
    shutil.copytree(tutorial_data, tmp_path / "myfiles/data/dummy_dataset")
    write_cityscapes_checkpoint(tmp_path / CHECKPOINT)
    run = subprocess.run(
        [
            sys.executable,
            str(REPO / "tools/train.py"),
            str(REPO / CONFIG),
            "--cfg-options",
            "train_cfg.max_iters=2",
            "train_cfg.val_interval=2",
            "default_hooks.logger.interval=1",
            "default_hooks.checkpoint.interval=1",
            "train_dataloader.batch_size=2",
            "val_dataloader.dataset.indices=2",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    for key in (
        "decode_head.conv_seg.weight",
        "decode_head.conv_seg.bias",
        "auxiliary_head.conv_seg.weight",
        "auxiliary_head.conv_seg.bias",
    ):
        assert f"skipped {key}" in out
    assert re.search(
        r"Iter\(train\) \[1/2\]  lr: 1\.0000e-03  eta: \S+  time: \S+  data_time: \S+  loss: \S+  "
        r"decode\.loss_ce: \S+  decode\.acc_seg: \S+  aux\.loss_ce: \S+  aux\.acc_seg: \S+",
        out,
    )
    assert "| background |" in out and re.search(r"Iter\(val\) \[2/2\]    aAcc: \S+  mIoU: \S+  mAcc: \S+", out)
    work = tmp_path / "work_dirs/deeplabv3plus_r50-d8_dummy-test"
    assert (work / "iter_1.pth").is_file() and (work / "iter_2.pth").is_file()
    assert Path((work / "last_checkpoint").read_text()) == work / "iter_2.pth"
    assert (work / "deeplabv3plus_r50-d8_dummy-test.py").is_file()
    assert "loading pre-trained weights" not in out  # load_from overwrites the backbone: no download


def test_missing_load_from_stops_before_building_and_names_the_url(tmp_path, tutorial_data):
    shutil.copytree(tutorial_data, tmp_path / "myfiles/data/dummy_dataset")
    run = subprocess.run(
        [sys.executable, "-m", "seglab", "train", str(REPO / CONFIG)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2
    err = run.stderr.strip().splitlines()
    assert len(err) == 1
    assert CHECKPOINT in err[0] and "https://download.openmmlab.com/mmsegmentation/v0.5/deeplabv3plus/" in err[0]
    assert "Iter(train)" not in run.stdout
