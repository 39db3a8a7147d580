"""EarlyStoppingHook and CheckpointHook with MMEngine 0.10.7's arguments: a tiny run that stops early from the
command line, then the rules (best keys, rules, file names, max_keep_ckpts, save_last, published_keys) on
a stand-in runner."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pytest
import torch

from seglab.cli import main
from seglab.engine.hooks.checkpoint import CheckpointHook
from seglab.engine.hooks.early_stopping import EarlyStoppingHook
from seglab.errors import ConfigError
from seglab.fileio.checkpoint import read_checkpoint
from tests.conftest import write_tiny_config

# lr=0: the weights never change, so mIoU stays where it starts and never improves by min_delta
PLATEAU = """
train_cfg = dict(val_interval=1)
val_cfg = dict(type='ValLoop', val_loss=True)
train_dataloader = dict(batch_size=2)
val_dataloader = dict(dataset=dict(indices=2))
optim_wrapper = dict(optimizer=dict(lr=0.0))
custom_hooks = [dict(type='EarlyStoppingHook', monitor='mIoU', patience=2)]
default_hooks = dict(checkpoint=dict(interval=2, max_keep_ckpts=1, save_best=['IoU.class1', 'val/loss'],
                                     out_dir={out_dir!r}, filename_tmpl='ckpt_{{:03d}}.pth'))
"""


@pytest.fixture(scope="module")
def stopped(tmp_path_factory, learnable_data):
    """One 10-iteration run that stops early at iteration 3: (work_dir, checkpoint folder, output, records)."""
    root = tmp_path_factory.mktemp("early")
    path = write_tiny_config(root, learnable_data, max_iters=10, extra=PLATEAU.format(out_dir=str(root / "ckpts")))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main(["train", str(path)]) == 0
    finally:
        torch.set_num_threads(threads)
    work = root / "work"
    (scalars,) = work.glob("*/vis_data/scalars.json")
    (log,) = work.glob("*/*.log")
    records = [json.loads(line) for line in scalars.read_text().splitlines()]
    return work, root / "ckpts" / "work", log.read_text(), records


def test_training_stops_after_patience_validations_without_improvement(stopped):
    work, folder, log, records = stopped
    vals = [r for r in records if "mIoU" in r]
    assert [r["step"] for r in vals] == [1, 2, 3]  # max_iters=10, stopped at 3
    assert "Early stopping at iteration 3: mIoU did not improve on its best" in log and "(patience=2)" in log
    assert "Iter(train) [10/10]" not in log
    final = Path((work / "last_checkpoint").read_text())
    assert final == folder / "ckpt_003.pth"  # out_dir/<work_dir name>, filename_tmpl
    ckpt = read_checkpoint(final)
    assert ckpt["meta"]["iter"] == 3 and "optimizer" in ckpt  # resumable where training stopped
    assert ckpt["meta"]["hook_msgs"]["early_stopping"]["wait_count"] == 2


def test_best_checkpoints_follow_each_key_and_max_keep_applies(stopped):
    work, folder, _, records = stopped
    vals = [r for r in records if "mIoU" in r]
    assert not list(work.glob("*.pth"))  # everything went to out_dir
    names = sorted(p.name for p in folder.glob("*.pth"))
    periodic = [n for n in names if not n.startswith("best_")]
    assert periodic == ["ckpt_003.pth"]  # max_keep_ckpts=1 removed ckpt_002
    iou = [r["IoU.class1"] for r in vals]
    loss = [r["val/loss"] for r in vals]
    first_best_iou = 1 + iou.index(max(iou))  # 'greater': a tie is no improvement
    best_loss = 1 + loss.index(min(loss))
    assert [n for n in names if n.startswith("best_")] == sorted(
        [f"best_IoU.class1_ckpt_{first_best_iou:03d}.pth", f"best_val_loss_ckpt_{best_loss:03d}.pth"]
    )
    best = read_checkpoint(folder / f"best_val_loss_ckpt_{best_loss:03d}.pth")
    assert "optimizer" not in best and "param_schedulers" not in best  # as MMEngine saves best checkpoints


class StandIn:
    """The part of the runner CheckpointHook uses; checkpoints are tiny files."""

    def __init__(self, work_dir: Path, max_iters: int, hooks=()):
        self.work_dir, self.max_iters, self.hooks = work_dir, max_iters, list(hooks)
        self.iter = self.epoch = 0
        self.by_epoch, self.max_epochs, self.epoch_length, self.stop_training = False, None, 1, False

    def save_checkpoint(self, path: Path, with_optimizer: bool = True) -> None:
        state = {"meta": {"iter": self.iter}, "state_dict": {"w": torch.ones(1)}}
        if with_optimizer:
            state.update(optimizer={}, param_schedulers=[])
        for hook in self.hooks:
            hook.before_save_checkpoint(self, state)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(state, path)

    def run(self, hook: CheckpointHook, metrics: dict[int, dict] | None = None) -> list[str]:
        self.hooks = [hook]
        hook.before_train(self)
        while self.iter < self.max_iters and not self.stop_training:
            self.iter += 1
            hook.after_train_iter(self, self.iter - 1)
            if metrics and self.iter in metrics:
                hook.after_val_epoch(self, metrics[self.iter])
        hook.after_train(self)
        return sorted(p.name for p in self.work_dir.glob("*.pth"))


def test_save_last_interval_and_save_begin_as_mmengine(tmp_path):
    assert StandIn(tmp_path / "a", 6).run(CheckpointHook(interval=4, by_epoch=False)) == ["iter_4.pth", "iter_6.pth"]
    assert StandIn(tmp_path / "b", 6).run(CheckpointHook(interval=4, by_epoch=False, save_last=False)) == ["iter_4.pth"]
    # every_n_train_iters(interval, save_begin): from save_begin on, every interval
    hook = CheckpointHook(interval=2, by_epoch=False, save_begin=3, save_last=False)
    assert StandIn(tmp_path / "c", 8).run(hook) == ["iter_3.pth", "iter_5.pth", "iter_7.pth"]


def test_list_of_keys_with_rules_keeps_one_best_each_and_removes_the_old(tmp_path):
    metrics = {
        1: {"aAcc": 50.0, "IoU.road": 10.0, "val/loss": 2.0},
        2: {"aAcc": 60.0, "IoU.road": 30.0, "val/loss": 2.5},
        3: {"aAcc": 55.0, "IoU.road": 20.0, "val/loss": 1.5},
    }
    hook = CheckpointHook(interval=-1, by_epoch=False, save_best=["IoU.road", "val/loss"], save_last=False)
    assert hook.rules == ["greater", "less"]  # inferred: a per-class IoU, a loss
    names = StandIn(tmp_path, 3).run(hook, metrics)
    assert names == ["best_IoU.road_iter_2.pth", "best_val_loss_iter_3.pth"]
    hook = CheckpointHook(by_epoch=False, save_best=["aAcc", "IoU.road"], rule="less", save_last=False)
    assert StandIn(tmp_path / "less", 3).run(hook, metrics) == ["best_IoU.road_iter_1.pth", "best_aAcc_iter_1.pth"]
    hook = CheckpointHook(by_epoch=False, save_best="auto", save_last=False)  # the first key: aAcc, 'greater'
    assert StandIn(tmp_path / "auto", 3).run(hook, metrics) == ["best_aAcc_iter_2.pth"]


def test_a_new_best_resaves_the_resumable_checkpoint_which_then_knows_it(tmp_path):
    metrics = {2: {"mIoU": 40.0}, 3: {"mIoU": 45.0}}
    hook = CheckpointHook(interval=2, by_epoch=False, save_best="mIoU", save_last=False)
    assert StandIn(tmp_path, 3).run(hook, metrics) == ["best_mIoU_iter_3.pth", "iter_2.pth", "iter_3.pth"]
    state = torch.load(tmp_path / "iter_3.pth", weights_only=True)["meta"]["hook_msgs"]
    assert state["best"]["mIoU"]["score"] == 45.0
    resumed = CheckpointHook(interval=2, by_epoch=False, save_best="mIoU")
    resumed.after_load_checkpoint(None, {"meta": {"hook_msgs": state}})
    assert resumed.best["mIoU"]["path"] == tmp_path / "best_mIoU_iter_3.pth"


def test_published_keys_publish_the_last_and_best_checkpoints(tmp_path):
    hook = CheckpointHook(interval=2, by_epoch=False, save_best="mIoU", published_keys=["meta", "state_dict"])
    names = StandIn(tmp_path, 2).run(hook, {1: {"mIoU": 1.0}})
    (published,) = [n for n in names if n.startswith("iter_2-")]
    data = (tmp_path / published).read_bytes()
    assert published == f"iter_2-{hashlib.sha256(data).hexdigest()[:8]}.pth"
    assert set(torch.load(tmp_path / published, weights_only=True)) == {"meta", "state_dict"}
    assert any(n.startswith("best_mIoU_iter_1-") for n in names)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(save_best="throughput"), "cannot infer whether a higher or a lower 'throughput'"),
        (dict(save_best=["mIoU", "aAcc"], rule=["greater"] * 3), "one of them per save_best key"),
        (dict(save_best=["auto", "mIoU"]), "'auto' cannot be combined"),
        (dict(filename_tmpl="ckpt.pth"), "needs one '{}'"),
        (dict(published_keys=["meta", "meta"]), "names a key twice"),
    ],
)
def test_checkpoint_hook_mistakes_are_one_line_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("{", r"\{")):
        CheckpointHook(**kwargs)


def test_early_stopping_rules_as_mmengine():
    assert EarlyStoppingHook("mIoU").rule == "greater" and EarlyStoppingHook("val/loss").rule == "less"
    assert EarlyStoppingHook("IoU.road").rule == "greater"
    with pytest.raises(ConfigError, match="set rule='greater' or 'less'"):
        EarlyStoppingHook("throughput")
    hook = EarlyStoppingHook("val/loss", min_delta=0.1, patience=2)
    assert [hook.check(v) for v in (1.0, 0.95, 0.5)] == [None, None, None]  # 0.95: not 0.1 better, but not 2 yet
    assert hook.wait_count == 0 and hook.best_score == 0.5
    assert hook.check(0.45) is None and "did not improve" in hook.check(0.44)
    assert "stopping_threshold" in EarlyStoppingHook("mIoU", stopping_threshold=80).check(81.0)
    assert "not finite" in EarlyStoppingHook("mIoU").check(math.nan)
    assert EarlyStoppingHook("mIoU", check_finite=False).check(math.nan) is None


def test_missing_monitor_warns_once_or_fails_when_strict(seglab_log):
    runner = StandIn(Path("."), 1)
    hook = EarlyStoppingHook("mDice")
    hook.after_val_epoch(runner, {"mIoU": 1.0})
    hook.after_val_epoch(runner, {"mIoU": 1.0})
    assert seglab_log.text.count("monitor='mDice' is not among the validation results") == 1
    assert not runner.stop_training
    with pytest.raises(ConfigError, match="set strict=False"):
        EarlyStoppingHook("mDice", strict=True).after_val_epoch(runner, {"mIoU": 1.0})
