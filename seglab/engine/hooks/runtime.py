"""The small default hooks MMSegmentation configs list in ``default_hooks``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from seglab.engine.hooks.base import Hook
from seglab.registry import HOOKS

if TYPE_CHECKING:
    from seglab.engine.runner import Runner


@HOOKS.register()
class IterTimerHook(Hook):
    """Accepted for compatibility: the loop itself measures ``time`` and ``data_time`` of every iteration."""


@HOOKS.register()
class RuntimeInfoHook(Hook):
    """Accepted for compatibility: iteration, epoch and learning rate are read off the runner directly."""

    priority = "VERY_HIGH"


@HOOKS.register()
class ParamSchedulerHook(Hook):
    """Sets every parameter group's learning rate (and momentum) for the coming iteration; after a validation
    during training, ReduceOnPlateau* schedulers judge its metrics (MMEngine's ``after_val_epoch``)."""

    priority = "LOW"

    def before_train_iter(self, runner: Runner, batch_idx: int, data_batch: Any = None) -> None:
        runner.schedule.set_step(runner.iter, runner.epoch)

    def after_val_epoch(self, runner: Runner, metrics: dict[str, float] | None = None) -> None:
        if metrics is not None and getattr(runner, "schedule", None) is not None:
            runner.schedule.set_step(runner.iter, runner.epoch)
            runner.schedule.step_on_metrics(metrics)

    def after_load_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        if getattr(runner, "schedule", None) is not None:  # resuming: continue the schedulers' counters
            runner.schedule.load_state_dict(checkpoint.get("param_schedulers"), runner.iter, runner.epoch)


@HOOKS.register()
class DistSamplerSeedHook(Hook):
    """Reshuffles an epoch-based sampler differently every epoch (and identically on every process)."""

    def before_train_epoch(self, runner: Runner) -> None:
        sampler = getattr(runner.train_loader, "sampler", None)
        if runner.by_epoch and hasattr(sampler, "set_epoch"):
            sampler.set_epoch(runner.epoch)
