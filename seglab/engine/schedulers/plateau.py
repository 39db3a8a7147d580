"""MMEngine 0.10.7's ``ReduceOnPlateauParamScheduler``: multiplies a value by ``factor`` once the validation
metric ``monitor`` has not improved for more than ``patience`` validations (PyTorch's ReduceLROnPlateau)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch

from seglab.engine.schedulers.base import INF, ParamScheduler
from seglab.errors import ConfigError
from seglab.registry import PARAM_SCHEDULERS

logger = logging.getLogger("seglab")


@PARAM_SCHEDULERS.register()
class ReduceOnPlateauParamScheduler(ParamScheduler):
    """Steps on validation results (``step(metrics)``); ``step()`` after a training epoch only counts the epoch,
    so ``begin``/``end`` are epochs. In an iteration-based loop the count stays 0: it acts on every validation."""

    need_val_args = True
    STATE_KEYS = ("last_step", "_global_step", "best", "num_bad_epochs", "cooldown_counter")

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        param_name: str,
        monitor: str = "loss",
        rule: str = "less",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_rule: str = "rel",
        cooldown: int = 0,
        min_value: float | Sequence[float] = 0.0,
        eps: float = 1e-8,
        begin: int = 0,
        end: int = INF,
        last_step: int = -1,
        by_epoch: bool = True,
        verbose: bool = False,
    ) -> None:
        name = type(self).__name__
        if end <= begin:
            raise ConfigError(f"{name}: end ({end}) must be greater than begin ({begin})")
        if not by_epoch:
            raise ConfigError(f"{name} steps on validation results and needs by_epoch=True (as in MMEngine)")
        if factor >= 1.0:
            raise ConfigError(f"{name}: factor={factor} must be below 1.0")
        if threshold < 0:
            raise ConfigError(f"{name}: threshold={threshold} must be >= 0")
        if rule not in ("less", "greater") or threshold_rule not in ("rel", "abs"):
            raise ConfigError(f"{name}: rule must be 'less' or 'greater' and threshold_rule 'rel' or 'abs'")
        self.optimizer, self.param_name = optimizer, param_name
        self.begin, self.end, self.by_epoch, self.verbose = begin, end, by_epoch, verbose
        self.initial_values(last_step)
        groups = len(optimizer.param_groups)
        if isinstance(min_value, list | tuple):
            if len(min_value) != groups:
                raise ConfigError(f"{name}: min_value lists {len(min_value)} values for {groups} parameter groups")
            self.min_values = list(min_value)
        else:
            self.min_values = [min_value] * groups
        self.monitor, self.rule, self.factor, self.patience = monitor, rule, factor, patience
        self.threshold, self.threshold_rule, self.cooldown, self.eps = threshold, threshold_rule, cooldown, eps
        self.last_step = last_step
        self._global_step = 0  # MMEngine builds it without a first step
        self.best: float = INF if rule == "less" else -INF
        self.num_bad_epochs = 0
        self.cooldown_counter = 0

    def is_better(self, value: float) -> bool:
        if self.threshold_rule == "rel":
            scale = 1.0 - self.threshold if self.rule == "less" else self.threshold + 1.0
            return value < self.best * scale if self.rule == "less" else value > self.best * scale
        return value < self.best - self.threshold if self.rule == "less" else value > self.best + self.threshold

    def step(self, metrics: dict[str, float] | None = None) -> None:
        """Without ``metrics``: one more training epoch. With them: judge ``metrics[monitor]``."""
        if metrics is None:
            self._global_step += 1
            return
        if not self.begin <= self._global_step < self.end:
            return
        self.last_step += 1
        if self.monitor not in metrics:
            raise ConfigError(
                f"{type(self).__name__}: monitor='{self.monitor}' is not a validation metric; "
                f"use one of {sorted(metrics)}"
            )
        metric = float(metrics[self.monitor])
        if self.is_better(metric):
            self.best, self.num_bad_epochs = metric, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for i, group in enumerate(self.optimizer.param_groups):
                value = max(float(group[self.param_name]) * self.factor, self.min_values[i])
                if group[self.param_name] - value > self.eps:
                    group[self.param_name] = value
                    if self.verbose:
                        logger.info(f"{type(self).__name__}: {self.param_name} of group {i} set to {value:.4e}")
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
