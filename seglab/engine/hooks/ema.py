"""EMAHook: validate, test and save with an exponential moving average of the weights.

As MMEngine's ``ExponentialMovingAverage``: ``avg = (1 - momentum) * avg + momentum * weight`` every
``interval`` iterations from ``begin_iter``/``begin_epoch`` on (the first update copies the weights);
buffers (BatchNorm statistics) are copied unless ``update_buffers=True``. Checkpoints hold the averaged
weights under ``state_dict`` and the raw ones under ``ema_state_dict`` (keys ``module.<name>`` and
``steps``), so a published EMA checkpoint loads as the model and resume restores both.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import torch

from seglab.engine.hooks.base import Hook
from seglab.errors import ConfigError
from seglab.registry import HOOKS

if TYPE_CHECKING:
    from seglab.engine.runner import Runner

logger = logging.getLogger("seglab")


@HOOKS.register()
class EMAHook(Hook):
    def __init__(
        self,
        ema_type: str = "ExponentialMovingAverage",
        strict_load: bool = True,
        begin_iter: int = 0,
        begin_epoch: int = 0,
        momentum: float = 0.0002,
        interval: int = 1,
        update_buffers: bool = False,
    ) -> None:
        if ema_type != "ExponentialMovingAverage":
            raise ConfigError(f"EMAHook ema_type '{ema_type}' is not supported; use 'ExponentialMovingAverage'")
        if not 0 < momentum <= 1:
            raise ConfigError(f"EMAHook momentum must be in (0, 1], got {momentum}")
        if begin_iter and begin_epoch:
            raise ConfigError("EMAHook: set begin_iter or begin_epoch, not both")
        self.strict_load = strict_load
        self.begin_iter = begin_iter
        self.begin_epoch = begin_epoch
        self.momentum = momentum
        self.interval = interval
        self.update_buffers = update_buffers
        self.average: dict[str, torch.Tensor] = {}
        self.steps = 0

    def _tracked(self, runner: Runner) -> dict[str, torch.Tensor]:
        model = runner.model
        if self.update_buffers:
            return {k: v for k, v in model.state_dict(keep_vars=True).items() if v.dtype.is_floating_point}
        return dict(model.named_parameters())

    def before_train(self, runner: Runner) -> None:
        if not self.average:
            self.average = weights_copy(runner.model)

    def _started(self, runner: Runner) -> bool:
        if self.begin_epoch:
            return runner.epoch + 1 >= self.begin_epoch  # runner.epoch: epochs completed before this one
        return runner.iter >= self.begin_iter

    @torch.no_grad()
    def after_train_iter(
        self, runner: Runner, batch_idx: int, data_batch: Any = None, outputs: dict | None = None
    ) -> None:
        if not self._started(runner):
            self.average = weights_copy(runner.model)
            return
        if self.steps % self.interval == 0:
            tracked = self._tracked(runner)
            for name, value in runner.model.state_dict().items():
                if name in tracked and self.steps > 0:
                    self.average[name].lerp_(value.detach().to(self.average[name].dtype), self.momentum)
                else:
                    self.average[name].copy_(value)
        self.steps += 1

    # Validation and test see the averaged weights; training continues from the raw ones.
    def _swap(self, runner: Runner) -> None:
        state = runner.model.state_dict()
        for name, value in state.items():
            raw = value.detach().clone()
            value.copy_(self.average[name])
            self.average[name] = raw

    def before_val_epoch(self, runner: Runner) -> None:
        if self.average:
            self._swap(runner)

    def after_val_epoch(self, runner: Runner, metrics: dict[str, float] | None = None) -> None:
        if self.average:
            self._swap(runner)

    def before_save_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        if not self.average:
            return
        raw = checkpoint["state_dict"]
        checkpoint["state_dict"] = {k: v.detach().cpu().clone() for k, v in self.average.items()}
        checkpoint["ema_state_dict"] = {f"module.{k}": v for k, v in raw.items()}
        checkpoint["ema_state_dict"]["steps"] = torch.tensor(self.steps)

    def after_load_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        """On resume: the model gets the raw weights back, the average its saved state."""
        saved = checkpoint.get("ema_state_dict")
        if not saved:
            logger.warning("EMAHook: the checkpoint has no ema_state_dict; the average restarts from its weights")
            self.average = weights_copy(runner.model)
            return
        self.steps = int(saved.get("steps", 0))
        state = runner.model.state_dict()
        self.average = weights_copy(runner.model)  # the averaged weights just loaded
        for name, value in state.items():
            raw = saved.get(f"module.{name}")
            if raw is not None:
                value.copy_(raw)
            elif self.strict_load:
                raise ConfigError(f"EMAHook: the checkpoint's ema_state_dict has no 'module.{name}' (strict_load=True)")

    def before_test_epoch(self, runner: Runner) -> None:
        """Testing loads a checkpoint whose ``state_dict`` already holds the averaged weights."""


def weights_copy(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached copy of every parameter and buffer."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}
