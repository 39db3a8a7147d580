"""Hooks: default and custom hooks run in priority order; EMA and visualisation work end to end."""

from __future__ import annotations

import pytest
import torch

from seglab import Config
from seglab.cli import main
from seglab.engine.hooks import build_hooks
from seglab.engine.hooks.base import Hook
from seglab.engine.runner import Runner
from seglab.errors import ConfigError
from seglab.fileio.checkpoint import read_checkpoint
from seglab.registry import HOOKS

EVENTS: list[tuple[str, int]] = []


@HOOKS.register()
class RecordingHook(Hook):
    """Writes down what it is called with (a custom hook as a user would write one)."""

    def before_train(self, runner):
        EVENTS.append(("before_train", runner.iter))

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        assert runner.iter == batch_idx + 1 and "loss" in outputs
        EVENTS.append(("after_train_iter", runner.iter))

    def after_val_epoch(self, runner, metrics=None):
        EVENTS.append(("after_val_epoch", int(metrics["mIoU"] >= 0)))

    def after_train(self, runner):
        EVENTS.append(("after_train", runner.iter))


def test_custom_hooks_run_at_every_call_point(tiny_config):
    EVENTS.clear()
    path = tiny_config(
        max_iters=4,
        extra="custom_hooks = [dict(type='RecordingHook', priority='VERY_LOW')]\ntrain_cfg = dict(val_interval=2)",
    )
    Runner.from_cfg(Config.fromfile(path)).train()
    assert EVENTS == [
        ("before_train", 0),
        ("after_train_iter", 1),
        ("after_train_iter", 2),
        ("after_val_epoch", 1),
        ("after_train_iter", 3),
        ("after_train_iter", 4),
        ("after_val_epoch", 1),
        ("after_train", 4),
    ]


def test_hooks_are_sorted_by_priority_and_none_removes_a_default():
    hooks = build_hooks(
        dict(checkpoint=None, logger=dict(type="LoggerHook", interval=3)),
        [dict(type="RecordingHook", priority="HIGHEST"), dict(type="EMAHook", priority=95)],
    )
    names = [type(h).__name__ for h in hooks]
    assert names[0] == "RecordingHook" and names[-1] == "EMAHook" and "CheckpointHook" not in names
    assert names.index("RuntimeInfoHook") < names.index("LoggerHook") < names.index("ParamSchedulerHook")
    with pytest.raises(ConfigError, match=r"custom_hooks\[0\] got an unknown key 'momentun'.*momentum"):
        build_hooks(None, [dict(type="EMAHook", momentun=0.1)])
    with pytest.raises(ConfigError, match="hook priority 'SOON'"):
        build_hooks(None, [dict(type="EMAHook", priority="SOON")])


class FakeRunner:
    def __init__(self, model):
        self.model, self.iter, self.epoch = model, 0, 0


def test_ema_follows_mmengines_update_rule():
    model = torch.nn.Linear(2, 1, bias=False)
    runner = FakeRunner(model)
    hook = HOOKS.build(dict(type="EMAHook", momentum=0.25))
    hook.before_train(runner)
    expected = model.weight.detach().clone()
    for step in range(4):
        with torch.no_grad():
            model.weight.add_(1.0)
        runner.iter += 1
        hook.after_train_iter(runner, step)
        expected = model.weight.detach().clone() if step == 0 else 0.75 * expected + 0.25 * model.weight.detach()
        assert torch.allclose(hook.average["weight"], expected)
    raw = model.weight.detach().clone()
    hook.before_val_epoch(runner)
    assert torch.allclose(model.weight, expected)
    hook.after_val_epoch(runner, {})
    assert torch.equal(model.weight, raw)


EMA = "custom_hooks = [dict(type='EMAHook', momentum=0.05)]\n"


def test_ema_hook_validates_and_saves_the_averaged_weights(tiny_config, tmp_path):
    runner = Runner.from_cfg(Config.fromfile(tiny_config(max_iters=20, extra=EMA)))
    metrics = runner.train()
    ckpt = read_checkpoint(runner.work_dir / "iter_20.pth")
    averaged, raw = ckpt["state_dict"], ckpt["ema_state_dict"]
    assert int(raw["steps"]) == 20
    diff = max((averaged[k].float() - raw[f"module.{k}"].float()).abs().max().item() for k in averaged)
    assert diff > 1e-3  # the validated/saved weights are not the trained ones
    live = runner.model.state_dict()
    assert all(torch.equal(live[k].cpu(), raw[f"module.{k}"]) for k in live)  # training goes on from the raw ones
    # `seglab test` on the checkpoint reproduces the validation: it was run with the averaged weights
    config = Config.fromfile(tiny_config(max_iters=20, extra=EMA))
    config.work_dir = str(tmp_path / "test")
    tested = Runner(config)
    config.load_from = str(runner.work_dir / "iter_20.pth")
    assert tested.test()["mIoU"] == metrics["mIoU"]


def test_resume_with_ema_ends_as_the_uninterrupted_run(tiny_config, tmp_path):
    extra = EMA + "default_hooks = dict(checkpoint=dict(interval=10))\n"
    straight = Runner.from_cfg(Config.fromfile(tiny_config(max_iters=20, extra=extra, name="a.py")))
    straight.train()
    cfg = Config.fromfile(tiny_config(max_iters=20, extra=extra, name="b.py"))
    cfg.work_dir = str(tmp_path / "resumed")
    cfg.resume = str(straight.work_dir / "iter_10.pth")
    resumed = Runner(cfg)
    resumed.train()
    a = read_checkpoint(straight.work_dir / "iter_20.pth")
    b = read_checkpoint(resumed.work_dir / "iter_20.pth")
    for key in ("state_dict", "ema_state_dict"):
        assert all(torch.allclose(a[key][k].float(), b[key][k].float(), atol=1e-5) for k in a[key]), key


def test_visualization_hook_draws_during_validation(tiny_config):
    path = tiny_config(
        max_iters=4,
        extra="default_hooks = dict(visualization=dict(type='SegVisualizationHook', draw=True, interval=5))\n"
        "train_cfg = dict(val_interval=2)",
    )
    runner = Runner.from_cfg(Config.fromfile(path))
    runner.train()
    pictures = sorted(p.name for p in (runner.log_dir / "vis_data" / "vis_image").glob("*.png"))
    # 12 validation images, every 5th drawn, at iterations 2 and 4
    assert len(pictures) == 6 and all(p.startswith("val_") for p in pictures)
    assert sum(p.endswith("_2.png") for p in pictures) == 3 and sum(p.endswith("_4.png") for p in pictures) == 3


def test_without_draw_the_visualization_hook_writes_nothing(tiny_config):
    path = tiny_config(max_iters=2, extra="default_hooks = dict(visualization=dict(type='SegVisualizationHook'))")
    assert main(["train", str(path)]) == 0
    assert not list((path.parent / "work").rglob("vis_image"))
