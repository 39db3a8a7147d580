"""The parameter-scheduler protocol of MMEngine 0.10.7 (``mmengine/optim/scheduler/param_scheduler.py``).

A scheduler changes one key (``lr``, ``momentum``, ``weight_decay`` ...) of every optimizer parameter group,
one step at a time, in MMEngine's chainable form: each step reads the value the group holds now (left there
by this scheduler's previous step and by the schedulers before it in ``param_scheduler``) and writes the next
one. Replaying the same steps gives the same floats, so resuming needs the step counters only (saved in the
checkpoint) besides the optimizer's own param groups.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from seglab.errors import ConfigError

logger = logging.getLogger("seglab")

INF = 10**9  # MMEngine's default ``end``: int(1e9)


class ParamScheduler:
    """Base of every scheduler: active on steps ``begin <= step < end`` (epochs when ``by_epoch``, else
    iterations); ``step()`` advances one step and, inside that range, writes ``get_values()``."""

    need_val_args = False  # True for schedulers stepped on validation results (ReduceOnPlateau*)
    STEP_ARGS: tuple[str, ...] = ()  # arguments counted in steps, scaled by ``convert_to_iter_based``
    STATE_KEYS = ("last_step", "_global_step", "base_values")

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        param_name: str,
        begin: int = 0,
        end: int = INF,
        last_step: int = -1,
        by_epoch: bool = True,
        verbose: bool = False,
    ) -> None:
        self.optimizer, self.param_name = optimizer, param_name
        self.begin, self.end, self.by_epoch, self.verbose = begin, end, by_epoch, verbose
        if end <= begin:
            raise ConfigError(f"{type(self).__name__}: end ({end}) must be greater than begin ({begin})")
        self.base_values = self.initial_values(last_step)
        self.last_step = last_step
        self._global_step = -1
        self.step()  # as MMEngine: the value of step 0 is written when the scheduler is built

    def initial_values(self, last_step: int) -> list[float]:
        """Each group's ``initial_<param>`` (recorded from its current value on a fresh start)."""
        name, key = self.param_name, f"initial_{self.param_name}"
        for group in self.optimizer.param_groups:
            if name not in group:
                keys = sorted(k for k in group if k != "params")
                raise ConfigError(
                    f"{type(self).__name__}: the optimizer's parameter groups have no '{name}' to schedule; "
                    f"use one of {keys}"
                )
            if last_step == -1:
                group.setdefault(key, group[name])
            elif key not in group:
                raise ConfigError(
                    f"{type(self).__name__}: last_step={last_step} resumes an optimizer that holds '{key}'; "
                    "leave last_step at -1 (resuming restores schedulers from the checkpoint)"
                )
        return [group[key] for group in self.optimizer.param_groups]

    @classmethod
    def iter_based(cls, args: dict, epoch_length: int) -> dict:
        """MMEngine's ``build_iter_from_epoch``: the same schedule counted in iterations."""
        args = dict(args, by_epoch=False)
        args["begin"] = int(args.get("begin", 0) * epoch_length)
        if args.get("end", INF) != INF:
            args["end"] = int(args["end"] * epoch_length)
        for key in cls.STEP_ARGS:
            value = args.get(key)
            if isinstance(value, list | tuple):
                args[key] = [v * epoch_length for v in value]
            elif value is not None:
                args[key] = value * epoch_length
        return args

    def current(self) -> list[float]:
        name = self.param_name
        return [group[name] for group in self.optimizer.param_groups]

    def get_values(self) -> list[float]:
        """The values for step ``self.last_step`` (counted from ``begin``)."""
        raise NotImplementedError

    def step(self) -> None:
        self._global_step += 1
        if self.begin <= self._global_step < self.end:
            self.last_step += 1
            values, name = self.get_values(), self.param_name
            for group, value in zip(self.optimizer.param_groups, values):
                group[name] = value
            if self.verbose:
                for i, value in enumerate(values):
                    logger.info(f"{type(self).__name__}: {name} of group {i} set to {value:.4e}")

    def state_dict(self) -> dict[str, Any]:
        """Counters (MMEngine's attribute names) plus what identifies the scheduler in its chain."""
        state = {"type": type(self).__name__, "begin": self.begin, "end": self.end, "by_epoch": self.by_epoch}
        state.update({key: getattr(self, key) for key in self.STATE_KEYS})
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key in self.STATE_KEYS:
            setattr(self, key, state[key])


class LRMixin:
    """Makes a ``*ParamScheduler`` the ``*LR`` scheduler: it schedules ``lr``."""

    def __init__(self, optimizer: torch.optim.Optimizer, **kwargs: Any) -> None:
        super().__init__(optimizer, "lr", **kwargs)


class MomentumMixin:
    """Makes a ``*ParamScheduler`` the ``*Momentum`` scheduler: it schedules SGD's (RMSprop's ...)
    ``momentum``, or ``betas[0]`` of the Adam family through a ``momentum`` key, as MMEngine does."""

    def __init__(self, optimizer: torch.optim.Optimizer, **kwargs: Any) -> None:
        self.use_betas = False
        if "momentum" not in optimizer.defaults:
            if "betas" not in optimizer.defaults:
                raise ConfigError(
                    f"{type(self).__name__} needs an optimizer with momentum (SGD) or betas (Adam, AdamW); "
                    f"{type(optimizer).__name__} has neither"
                )
            self.use_betas = True
            for group in optimizer.param_groups:
                group["momentum"] = group["betas"][0]
        super().__init__(optimizer, "momentum", **kwargs)

    def step(self, *args: Any) -> None:
        super().step(*args)
        if self.use_betas:
            for group in self.optimizer.param_groups:
                group["betas"] = (group["momentum"], group["betas"][1])
