"""Parameter schedulers give MMEngine 0.10.7's values at every iteration, resume exactly, and drive training.

The reference values come from ``tests/records/recorders/record_schedulers.py`` (MMEngine's own schedulers,
stepped by its ParamSchedulerHook); here the same cases run through seglab's ParamSchedulerHook.
"""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from seglab.cli import main
from seglab.engine.hooks.runtime import ParamSchedulerHook
from seglab.engine.schedulers import ParamSchedule
from seglab.errors import ConfigError

RECORD_PATH = Path(__file__).parents[1] / "records" / "schedulers" / "mmengine_0.10.7_schedulers.json.gz"
RECORD = json.loads(gzip.decompress(RECORD_PATH.read_bytes()))
CASES = RECORD["cases"]


def build_optimizer(spec: dict) -> torch.optim.Optimizer:
    spec = copy.deepcopy(spec)
    cls = getattr(torch.optim, spec.pop("type"))
    groups = [dict(params=[torch.nn.Parameter(torch.zeros(1))], **g) for g in spec.pop("groups")]
    for group in groups:
        if "betas" in group:
            group["betas"] = tuple(group["betas"])
    return cls(groups, **{k: tuple(v) if isinstance(v, list) else v for k, v in spec.items()})


class Run:
    """One case driven as seglab's runner drives the hook: ``before_train_iter`` before every iteration,
    ``after_val_epoch`` after every due validation (after the epoch count moved on, in an epoch loop)."""

    def __init__(self, spec: dict) -> None:
        self.spec, loop = spec, spec["loop"]
        self.length, self.by_epoch = loop["epoch_length"], loop["by_epoch"]
        self.max_epochs = loop.get("max_epochs")
        self.max_iters = loop.get("max_iters") or self.max_epochs * self.length
        self.optimizer = build_optimizer(spec["optimizer"])
        cfgs = copy.deepcopy(spec["param_scheduler"])
        self.schedule = ParamSchedule(cfgs, self.optimizer, self.by_epoch, self.length, self.max_iters, self.max_epochs)
        self.runner = SimpleNamespace(schedule=self.schedule, iter=0, epoch=0)
        self.hook = ParamSchedulerHook()
        self.metrics = list(spec["metrics"])
        self.values: dict[str, list] = {name: [] for name in spec["record"]}

    def read(self) -> None:
        for name in self.values:
            groups = self.optimizer.param_groups
            key = "betas" if name == "momentum" and "betas" in self.optimizer.defaults else name
            self.values[name].append([g[key][0] if key == "betas" else g[key] for g in groups])

    def run(self, until: int | None = None) -> Run:
        runner = self.runner
        while runner.iter < (until or self.max_iters):
            self.hook.before_train_iter(runner, runner.iter)
            self.read()
            runner.iter += 1
            if self.by_epoch and runner.iter % self.length == 0:
                runner.epoch += 1
                self.validate(runner.epoch, self.max_epochs)
            elif not self.by_epoch:
                self.validate(runner.iter, self.max_iters)
        return self

    def validate(self, done: int, total: int) -> None:
        every = self.spec["loop"]["val_interval"]
        if self.spec["monitor"] and (done % every == 0 or done == total):
            self.hook.after_val_epoch(self.runner, {self.spec["monitor"]: self.metrics.pop(0), "mAcc": 50.0})


@pytest.mark.parametrize("name", list(CASES))
def test_values_equal_mmengine_at_every_iteration(name):
    spec = CASES[name]
    ours = Run(spec).run().values
    for key, expected in spec["values"].items():
        assert len(ours[key]) == len(expected)
        for i, (got, want) in enumerate(zip(ours[key], expected)):
            assert got == pytest.approx(want, rel=0, abs=1e-10), f"{name}: {key} at iteration {i}"


@pytest.mark.parametrize("name", [n for n in CASES if "Plateau" in n or "chain" in n or "convert" in n])
def test_a_resumed_schedule_continues_bitwise(name):
    """Save (optimizer state + schedule state) mid-run, restore into fresh objects, continue: same floats."""
    spec = CASES[name]
    straight = Run(spec).run().values
    stop = spec["loop"].get("max_iters", 30) // 2 + 1  # not a validation point: a checkpoint precedes validation
    first = Run(spec).run(until=stop)
    saved = copy.deepcopy({"optimizer": first.optimizer.state_dict(), "param_schedulers": first.schedule.state_dict()})
    second = Run(spec)
    second.optimizer.load_state_dict(saved["optimizer"])
    second.runner.iter, second.runner.epoch = stop, stop // second.length if second.by_epoch else 0
    second.metrics = first.metrics
    second.hook.after_load_checkpoint(second.runner, saved)
    second.run()
    for key in straight:
        assert first.values[key] + second.values[key] == straight[key], key


def test_a_checkpoint_without_scheduler_counters_replays_the_chain():
    spec = CASES["chain_lr_and_momentum"]
    straight = Run(spec).run().values
    first = Run(spec).run(until=17)
    old_format = [{k: s[k] for k in ("type", "begin", "end", "by_epoch")} for s in first.schedule.state_dict()]
    second = Run(spec)
    second.optimizer.load_state_dict(first.optimizer.state_dict())
    second.runner.iter = 17
    second.hook.after_load_checkpoint(second.runner, {"param_schedulers": old_format})
    second.run()
    assert first.values["lr"] + second.values["lr"] == straight["lr"]
    assert first.values["momentum"] + second.values["momentum"] == straight["momentum"]


@pytest.mark.parametrize(
    "cfg, optimizer, message",
    [
        (dict(type="ReduceOnPlateauLR", by_epoch=False), "SGD", "needs by_epoch=True"),
        (dict(type="PolyLR", by_epoch=False, convert_to_iter_based=True), "SGD", "needs by_epoch=True"),
        (dict(type="ReduceOnPlateauLR", convert_to_iter_based=True), "SGD", "cannot be converted"),
        (dict(type="CosineRestartLR", periods=[5], by_epoch=False), "SGD", "exactly one of eta_min"),
        (dict(type="LinearMomentum", by_epoch=False), "Adagrad", "momentum .SGD. or betas"),
        (dict(type="OneCycleLR", eta_max=0.1, total_steps=5, by_epoch=False), "SGD", "total_steps=5 is shorter"),
        (dict(type="CosineAnnealingParamScheduler", param_name="momentun", by_epoch=False), "SGD", "no 'momentun'"),
        (dict(type="PolyLR", by_epoch=False, eta_mni=0.0), "SGD", "unknown key 'eta_mni'"),
    ],
)
def test_config_mistakes_name_the_scheduler_and_the_fix(cfg, optimizer, message):
    opt = getattr(torch.optim, optimizer)([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(ConfigError, match=rf"^param_scheduler\[1\]: .*{message}") as err:
        ParamSchedule([dict(type="ConstantLR", by_epoch=False), cfg], opt, False, 10, 40, None)
    assert "\n" not in str(err.value)


def test_plateau_names_the_metrics_it_can_monitor():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    schedule = ParamSchedule(dict(type="ReduceOnPlateauLR"), opt, False, 10, 40, None)
    with pytest.raises(ConfigError, match=r"monitor='loss' is not a validation metric; use one of \['aAcc', 'mIoU'\]"):
        schedule.step_on_metrics({"mIoU": 40.0, "aAcc": 80.0})


def test_training_from_the_cli_applies_momentum_and_plateau_schedules(tiny_config, tmp_path, one_thread):
    """SGD momentum warms up linearly over 3 iterations; the lr halves after the second validation, whose mIoU
    cannot beat the first by the absolute threshold of 200 (patience 0)."""
    path = tiny_config(
        max_iters=3,
        extra="optim_wrapper = dict(optimizer=dict(_delete_=True, type='SGD', lr=0.01, momentum=0.9))\n"
        "param_scheduler = [dict(type='LinearMomentum', start_factor=0.5, begin=0, end=3, by_epoch=False),\n"
        "    dict(type='ReduceOnPlateauLR', monitor='mIoU', rule='greater', threshold=200.0,\n"
        "         threshold_rule='abs', patience=0, factor=0.5)]\n"
        "train_cfg = dict(max_iters=3, val_interval=1)\n"
        "default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1))\n",
    )
    assert main(["train", str(path)]) == 0
    work = tmp_path / "work"
    scalars = [json.loads(line) for line in next(work.glob("*/vis_data/scalars.json")).read_text().splitlines()]
    assert [(s["step"], s["lr"]) for s in scalars if "lr" in s] == [(1, 0.01), (2, 0.01), (3, 0.005)]
    groups = [torch.load(work / f"iter_{i}.pth", weights_only=True)["optimizer"]["param_groups"] for i in (1, 2, 3)]
    assert [g[0]["momentum"] for g in groups] == pytest.approx([0.45, 0.675, 0.9], abs=1e-12)
    assert [g[0]["lr"] for g in groups] == [0.01, 0.01, 0.005]
