"""An interrupted run resumes where its last checkpoint left off and ends as an uninterrupted run would."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from seglab import Config
from seglab.engine.runner import Runner

EXTRA = (
    "train_cfg = dict(val_interval=1000)\n"
    "default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=20))\n"
    "optim_wrapper = dict(optimizer=dict(lr=0.001))\n"
)


def logged_iters(log: Path) -> list[int]:
    return [int(m) for m in re.findall(r"Iter\(train\) \[\s*(\d+)/60\]", log.read_text())]


def test_kill_and_resume_continues_the_log_and_matches_an_uninterrupted_run(tiny_config, tmp_path):
    path = tiny_config(max_iters=60, extra=EXTRA)
    work = tmp_path / "work"
    cmd = [sys.executable, "-m", "seglab", "train", str(path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 120
    # last_checkpoint is written after iter_20.pth is renamed into place: wait for both before the kill
    while not ((work / "last_checkpoint").exists() and "iter_20" in (work / "last_checkpoint").read_text()):
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.time() < deadline, "no checkpoint appeared"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    saved = Path((work / "last_checkpoint").read_text())
    done = int(re.search(r"iter_(\d+)", saved.name).group(1))
    assert done < 60, "the run finished before it could be killed"
    assert not list(work.glob("**/*.tmp")), "a partial checkpoint was left behind"

    resumed = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    logs = sorted(work.glob("*/*.log"))
    assert len(logs) == 2
    assert logged_iters(logs[1])[0] == done + 5 and logged_iters(logs[1])[-1] == 60
    assert f"resumed from {saved} at iter {done}" in logs[1].read_text()
    assert (work / "iter_60.pth").is_file()

    straight_cfg = Config.fromfile(path)
    straight_cfg.work_dir = str(tmp_path / "straight")
    Runner.from_cfg(straight_cfg).train()
    a = torch.load(work / "iter_60.pth", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "straight" / "iter_60.pth", weights_only=True)["state_dict"]
    for key in b:
        assert torch.allclose(a[key].float(), b[key].float(), atol=1e-5), key


def test_resume_without_checkpoint_starts_fresh(tiny_config, capsys):
    path = tiny_config(max_iters=2, extra="default_hooks = dict(logger=dict(interval=1))")
    cfg = Config.fromfile(path)
    cfg.resume = True
    Runner.from_cfg(cfg).train()
    out = capsys.readouterr().out
    assert "no checkpoint was found" in out and "Iter(train) [1/2]" in out


WORKERS = (
    "train_pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),\n"
    "    dict(type='RandomResize', scale=(64, 64), ratio_range=(0.5, 2.0), keep_ratio=True),\n"
    "    dict(type='RandomCrop', crop_size=(64, 64), cat_max_ratio=0.75), dict(type='RandomFlip', prob=0.5),\n"
    "    dict(type='PhotoMetricDistortion'), dict(type='PackSegInputs')]\n"
    "train_dataloader = dict(num_workers=2, persistent_workers=True, dataset=dict(pipeline=train_pipeline))\n"
    "train_cfg = dict(val_interval=1000)\n"
    "default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=6))\n"
    "optim_wrapper = dict(optimizer=dict(lr=0.001))\n"
)


def test_resume_with_data_workers_and_random_augmentation_is_bitwise_exact(tiny_config, tmp_path):
    """Augmentation randomness follows each sample's position in the stream, not the worker that loads it."""
    path = tiny_config(max_iters=18, extra=WORKERS)
    straight = Runner.from_cfg(Config.fromfile(path))
    straight.train()
    final = torch.load(straight.work_dir / "iter_18.pth", weights_only=True)["state_dict"]
    for start in (6, 12):
        cfg = Config.fromfile(path)
        cfg.work_dir = str(tmp_path / f"from_{start}")
        cfg.resume = str(straight.work_dir / f"iter_{start}.pth")
        Runner.from_cfg(cfg).train()
        resumed = torch.load(tmp_path / f"from_{start}" / "iter_18.pth", weights_only=True)["state_dict"]
        assert all(torch.equal(final[k], resumed[k]) for k in final), f"resumed from iter {start}"
