"""Runs that are stopped (SIGTERM, Ctrl-C, kill -9) resume to the uninterrupted run's weights, bitwise.

Real subprocesses of ``seglab train`` with two data workers and random photometric + geometric
augmentation; one thread everywhere, so the in-process reference run computes the same floats.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from seglab import Config
from seglab.engine.hooks.base import Hook
from seglab.engine.runner import Runner
from seglab.errors import TrainingInterrupted
from tests.conftest import write_tiny_config

MAX_ITERS = 12
AUGMENTED = (
    "train_pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),\n"
    "    dict(type='RandomResize', scale=(64, 64), ratio_range=(0.5, 2.0), keep_ratio=True),\n"
    "    dict(type='RandomCrop', crop_size=(64, 64), cat_max_ratio=0.75), dict(type='RandomFlip', prob=0.5),\n"
    "    dict(type='PhotoMetricDistortion'), dict(type='PackSegInputs')]\n"
    "train_dataloader = dict(batch_size=4, num_workers=2, persistent_workers=True,\n"
    "                        dataset=dict(pipeline=train_pipeline))\n"
    "val_cfg = None\n"
    "default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=4))\n"
    "optim_wrapper = dict(optimizer=dict(lr=0.001))\n"
)
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True, map_location="cpu")["state_dict"]


def assert_bitwise_equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"{len(different)} tensors differ, e.g. {different[:3]}"


@pytest.fixture(scope="module")
def augmented(tmp_path_factory, learnable_data):
    """(config path, final weights of the uninterrupted run, trained in this process on one thread)."""
    folder = tmp_path_factory.mktemp("long_runs")
    path = write_tiny_config(folder, learnable_data, MAX_ITERS, AUGMENTED)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cfg = Config.fromfile(path)
        cfg.work_dir = str(folder / "straight")
        Runner.from_cfg(cfg).train()
    finally:
        torch.set_num_threads(threads)
    return path, weights(folder / "straight" / f"iter_{MAX_ITERS}.pth")


def logged_iters(text: str) -> list[int]:
    return [int(m) for m in re.findall(rf"Iter\(train\) \[\s*(\d+)/{MAX_ITERS}\]", text)]


def run(config: Path, work: Path, resume: bool, stop: tuple[int, int, bool] | None = None):
    """Run ``seglab train``; ``stop=(signal, iteration, whole_group)`` sends the signal once that iteration is
    logged (to the process group, as a terminal's Ctrl-C does, when ``whole_group``). Returns
    (exit code, stdout, stderr, the last iteration logged before the signal)."""
    out, err = work.parent / f"{work.name}.out", work.parent / f"{work.name}.err"
    cmd = [sys.executable, "-m", "seglab", "train", str(config), "--work-dir", str(work)]
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen(
            [*cmd, *(["--resume"] if resume else [])], stdout=stdout, stderr=stderr, env=ENV, start_new_session=True
        )
        seen = 0
        try:
            deadline = time.time() + 300
            while stop is not None:
                assert proc.poll() is None, f"ended before the signal: {err.read_text()}"
                assert time.time() < deadline, "no progress"
                seen = max(logged_iters(out.read_text()) or [0])
                if seen >= stop[1]:
                    os.killpg(proc.pid, stop[0]) if stop[2] else os.kill(proc.pid, stop[0])
                    break
                time.sleep(0.01)
            proc.wait(timeout=300)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    return proc.returncode, out.read_text(), err.read_text(), seen


def pointed(work: Path) -> Path:
    return Path((work / "last_checkpoint").read_text().strip())


def test_sigterm_and_ctrl_c_save_at_the_end_of_the_iteration_and_resume_bitwise(augmented, tmp_path):
    config, final = augmented
    work = tmp_path / "work"
    previous = 0
    for signum, at, group in ((signal.SIGTERM, 2, False), (signal.SIGINT, 6, True)):
        code, out, err, seen = run(config, work, resume=previous > 0, stop=(signum, at, group))
        assert code == 128 + signum, err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        stopped = int(re.search(r"stopped after iteration (\d+)", err).group(1))
        assert seen <= stopped < MAX_ITERS and stopped > previous
        assert f"{signal.Signals(signum).name} received" in err and f"--work-dir {work} --resume" in err
        assert pointed(work).name == f"iter_{stopped}.pth" and f"'{pointed(work)}'" in out
        assert logged_iters(out)[-1] == stopped  # no step after the signal was acted on
        previous = stopped
    code, out, err, _ = run(config, work, resume=True)
    assert code == 0, err
    assert f"at iter {previous}" in out and logged_iters(out)[0] == previous + 1
    assert_bitwise_equal(weights(work / f"iter_{MAX_ITERS}.pth"), final)


def test_kill_9_at_several_moments_resumes_from_the_last_periodic_checkpoint_bitwise(augmented, tmp_path):
    """Killed mid-step (iteration 5 logged) and while iteration 8's checkpoint is being written."""
    config, final = augmented
    work = tmp_path / "work"
    for at, resume in ((5, False), (8, True)):
        code, out, err, seen = run(config, work, resume=resume, stop=(signal.SIGKILL, at, True))
        assert code == -signal.SIGKILL
        saved = pointed(work)
        assert saved.is_file() and int(saved.stem.split("_")[1]) % 4 == 0  # a periodic one, whole and loadable
        assert weights(saved)
    code, out, err, _ = run(config, work, resume=True)
    assert code == 0, err
    assert not list(work.glob(".*.tmp")), "a partial checkpoint of the killed save was left behind"
    assert_bitwise_equal(weights(work / f"iter_{MAX_ITERS}.pth"), final)


class SignalAt(Hook):
    """Sends this process a signal after the given iterations, as ``kill`` from outside would."""

    def __init__(self, *iterations: int) -> None:
        self.iterations = set(iterations)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if runner.iter in self.iterations:
            os.kill(os.getpid(), signal.SIGTERM)


def test_an_epoch_based_run_stopped_mid_epoch_and_at_its_end_resumes_bitwise(tiny_config, tmp_path, one_thread):
    """48 images, batches of 8: 6 iterations per epoch; stops after iteration 3 (mid-epoch: the resumed
    run skips the epoch's first 3 batches) and 6 (end of epoch 1: epoch_1.pth)."""
    path = tiny_config(
        extra="train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop', max_epochs=2, val_interval=10)\n"
        "train_dataloader = dict(sampler=dict(type='DefaultSampler', shuffle=True))\n"
        "val_cfg = None\n"
        "default_hooks = dict(logger=dict(interval=1), checkpoint=dict(by_epoch=True, interval=1))\n"
        "param_scheduler = [dict(type='PolyLR', power=0.9, begin=0, end=2, by_epoch=True)]\n"
    )

    def runner(work: str, resume: bool, *stops: int) -> Runner:
        cfg = Config.fromfile(path)
        cfg.work_dir, cfg.resume = str(tmp_path / work), resume
        cfg.custom_hooks = [SignalAt(*stops)]
        return Runner.from_cfg(cfg)

    handler = signal.getsignal(signal.SIGTERM)
    runner("straight", False).train()
    for resume, stop, saved in ((False, 3, "iter_3.pth"), (True, 6, "epoch_1.pth")):
        with pytest.raises(TrainingInterrupted) as info:
            runner("stopped", resume, stop).train()
        assert info.value.exit_code == 143 and pointed(tmp_path / "stopped").name == saved
    assert signal.getsignal(signal.SIGTERM) is handler  # training's handler is gone with it
    runner("stopped", True).train()
    assert_bitwise_equal(weights(tmp_path / "stopped" / "epoch_2.pth"), weights(tmp_path / "straight" / "epoch_2.pth"))
