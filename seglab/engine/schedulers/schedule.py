"""``param_scheduler`` of a config: its schedulers built and stepped as MMEngine's runner and
``ParamSchedulerHook`` build and step them, with their state saved in and restored from checkpoints."""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from typing import Any

import torch

from seglab.engine.schedulers.base import ParamScheduler
from seglab.errors import ConfigError
from seglab.registry import PARAM_SCHEDULERS

logger = logging.getLogger("seglab")


class ParamSchedule:
    """The chain of ``param_scheduler``: ``set_step(iteration, epoch)`` before each iteration brings every
    parameter group to its values for that iteration; ``step_on_metrics`` after each validation."""

    def __init__(
        self,
        cfgs: dict | Sequence[dict] | None,
        optimizer: torch.optim.Optimizer,
        by_epoch_loop: bool,
        epoch_length: int,
        max_iters: int | None = None,
        max_epochs: int | None = None,
    ) -> None:
        """``max_iters``/``max_epochs`` (the train loop's) are the default ``end``, as in MMEngine; an
        iteration-based loop counts as one epoch."""
        self.cfgs = [cfgs] if isinstance(cfgs, dict) else list(cfgs or [])
        self.optimizer, self.by_epoch_loop = optimizer, by_epoch_loop
        self.epoch_length = max(int(epoch_length), 1)
        self.max_iters, self.max_epochs = max_iters, max_epochs
        # the groups' hyper-parameters before any scheduler touched them, to rebuild from (see ``rebuild``)
        self.pristine = [{k: copy.copy(v) for k, v in g.items() if k != "params"} for g in optimizer.param_groups]
        self.schedulers = [self.build(i, cfg) for i, cfg in enumerate(self.cfgs)]
        self.iteration = self.epoch = 0

    def build(self, index: int, cfg: dict) -> ParamScheduler:
        where = f"param_scheduler[{index}]" if len(self.cfgs) > 1 else "param_scheduler"
        if not isinstance(cfg, dict) or "type" not in cfg:
            raise ConfigError(f"{where} must be a dict with a 'type' key, e.g. dict(type='PolyLR', power=0.9)")
        try:
            return self._build(where, dict(cfg))
        except ConfigError as err:
            raise ConfigError(f"{where}: {err}") from None

    def _build(self, where: str, args: dict) -> ParamScheduler:
        cls = PARAM_SCHEDULERS.get(args["type"]) if isinstance(args["type"], str) else args["type"]
        by_epoch = args.get("by_epoch", True)
        if self.max_iters is not None:
            args.setdefault("end", (self.max_epochs if self.by_epoch_loop else 1) if by_epoch else self.max_iters)
        if args.pop("convert_to_iter_based", False):
            if not by_epoch:
                raise ConfigError("convert_to_iter_based=True converts epochs; it needs by_epoch=True")
            if cls.need_val_args:
                raise ConfigError(f"{args['type']} cannot be converted to iterations; drop convert_to_iter_based")
            args = cls.iter_based(args, self.epoch_length)
        elif by_epoch and not self.by_epoch_loop and not cls.need_val_args:
            logger.warning(
                f"{where} {args['type']}: by_epoch=True in an iteration-based loop steps only after an epoch, "
                "so it keeps its first value (as in MMEngine); set by_epoch=False or convert_to_iter_based=True"
            )
        return PARAM_SCHEDULERS.build(args, optimizer=self.optimizer)

    def set_step(self, iteration: int, epoch: int) -> None:
        """Step the iteration-based schedulers up to ``iteration`` and the epoch-based ones up to ``epoch``,
        in MMEngine's order (after each iteration; after the iteration that ends an epoch)."""
        steps = [scheduler.step for scheduler in self.schedulers if not scheduler.by_epoch]
        by_epoch = len(steps) < len(self.schedulers)
        while self.iteration < iteration:
            self.iteration += 1
            for step in steps:
                step()
            if by_epoch:
                self._step_epochs(min(epoch, self.iteration // self.epoch_length))
        self._step_epochs(epoch)

    def _step_epochs(self, epoch: int) -> None:
        while self.epoch < epoch:
            self.epoch += 1
            for scheduler in self.schedulers:
                if scheduler.by_epoch:
                    scheduler.step()

    def step_on_metrics(self, metrics: dict[str, float]) -> None:
        """After a validation (MMEngine's ``ParamSchedulerHook.after_val_epoch``): ReduceOnPlateau* judge it."""
        for scheduler in self.schedulers:
            if scheduler.by_epoch and scheduler.need_val_args:
                scheduler.step(metrics)

    def state_dict(self) -> list[dict[str, Any]]:
        """One dict per scheduler: its type, range and counters (MMEngine's names)."""
        return [scheduler.state_dict() for scheduler in self.schedulers]

    def load_state_dict(self, states: list[dict] | None, iteration: int, epoch: int) -> None:
        """Continue from a checkpoint saved at (``iteration``, ``epoch``) whose optimizer state is loaded.

        A checkpoint without counters (older seglab) or from another chain is replayed from the start."""
        same = isinstance(states, list) and [s.get("type") for s in states] == [
            type(s).__name__ for s in self.schedulers
        ]
        if not (same and all("last_step" in s for s in states)):
            self.rebuild(iteration, epoch, "its saved scheduler state does not match param_scheduler")
            return
        for scheduler, state in zip(self.schedulers, states):
            scheduler.load_state_dict(state)
        # a scheduler's step count is the schedule's count of its kind (a kind without one: the runner's)
        self.iteration = next((s._global_step for s in self.schedulers if not s.by_epoch), iteration)
        self.epoch = next((s._global_step for s in self.schedulers if s.by_epoch), epoch)

    def rebuild(self, iteration: int, epoch: int, why: str) -> None:
        """Reset the groups' hyper-parameters, rebuild the chain and replay it to (``iteration``, ``epoch``)."""
        if any(s.need_val_args for s in self.schedulers):
            logger.warning(f"param_scheduler: {why}; ReduceOnPlateau starts over without its validation history")
        else:
            logger.info(f"param_scheduler: {why}; replaying it up to iteration {iteration}")
        for group, saved in zip(self.optimizer.param_groups, self.pristine):
            for key in [k for k in group if k != "params"]:
                del group[key]
            group.update(copy.deepcopy(saved))
        self.schedulers = [self.build(i, cfg) for i, cfg in enumerate(self.cfgs)]
        self.iteration = self.epoch = 0
        self.set_step(iteration, epoch)


LRSchedule = ParamSchedule  # the name the runner and older code import
