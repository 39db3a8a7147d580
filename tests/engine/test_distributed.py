"""Two CPU processes under torchrun (gloo): training runs, and the reduced metric equals a
single-process evaluation of the same checkpoint."""

from __future__ import annotations

import re
import subprocess
import sys

from seglab.cli import main


def test_two_process_training_and_validation_match_single_process(tiny_config, tmp_path, capsys):
    path = tiny_config(
        max_iters=30,
        extra="default_hooks = dict(logger=dict(interval=10))\n"
        "model = dict(backbone=dict(norm_cfg=dict(type='SyncBN')))",
    )
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",  # picks a free port
            "--nproc_per_node",
            "2",
            "-m",
            "seglab",
            "train",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "world size 2" in run.stdout and "Iter(train) [30/30]" in run.stdout
    ddp_miou = float(re.findall(r"mIoU: (\d+\.\d+)", run.stdout)[-1])
    assert main(["test", str(path), str(tmp_path / "work" / "iter_30.pth"), "--work-dir", str(tmp_path / "t")]) == 0
    single = float(re.findall(r"mIoU: (\d+\.\d+)", capsys.readouterr().out)[-1])
    assert single == ddp_miou
