"""EarlyStoppingHook as MMEngine 0.10.7's: stop training when the monitored validation result stops improving.

After each validation: a non-finite value stops training (``check_finite``); reaching ``stopping_threshold``
stops it; a value not better than the best by more than ``min_delta`` counts one more validation without
improvement, and ``patience`` of those in a row stop it; a better one resets the count. ``monitor`` may
name any key of the validation results (``mIoU``, ``IoU.road``, ``val/loss`` ...); ``rule=None`` infers
'greater' or 'less' from the key as MMEngine does (per-class ``IoU.<class>`` keys are 'greater').

The loop ends after the current iteration (or epoch); the CheckpointHook then saves the last checkpoint
at that step, so ``--resume`` continues from where training stopped. Unlike MMEngine, the count and the
best value are kept in checkpoints, so a resumed run stops where the uninterrupted one would have.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING

from seglab.engine.hooks.base import Hook
from seglab.engine.hooks.checkpoint import INITIAL, RULES, better, infer_rule
from seglab.errors import ConfigError
from seglab.registry import HOOKS

if TYPE_CHECKING:
    from seglab.engine.runner import Runner

logger = logging.getLogger("seglab")


@HOOKS.register()
class EarlyStoppingHook(Hook):
    """Sets ``runner.stop_training`` when ``monitor`` has not improved for ``patience`` validations."""

    priority = "LOWEST"

    def __init__(
        self,
        monitor: str,
        rule: str | None = None,
        min_delta: float = 0.1,
        strict: bool = False,
        check_finite: bool = True,
        patience: int = 5,
        stopping_threshold: float | None = None,
    ) -> None:
        if not isinstance(monitor, str) or not monitor:
            raise ConfigError(f"EarlyStoppingHook: monitor must be a result key such as 'mIoU', got {monitor!r}")
        if rule not in (None, *RULES):
            raise ConfigError(f"EarlyStoppingHook: rule must be 'greater' or 'less', got {rule!r}")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ConfigError(f"EarlyStoppingHook: patience must be an int >= 0, got {patience!r}")
        if isinstance(min_delta, bool) or not isinstance(min_delta, int | float):
            raise ConfigError(f"EarlyStoppingHook: min_delta must be a number, got {min_delta!r}")
        self.monitor = monitor
        self.rule = rule or infer_rule(monitor, where=f"EarlyStoppingHook(monitor='{monitor}')")
        self.min_delta = min_delta if self.rule == "greater" else -min_delta
        self.strict = strict
        self.check_finite = check_finite
        self.patience = patience
        self.stopping_threshold = stopping_threshold
        self.wait_count = 0
        self.best_score = INITIAL[self.rule]
        self._said_missing = False

    def after_val_epoch(self, runner: Runner, metrics: dict[str, float] | None = None) -> None:
        metrics = metrics or {}
        if self.monitor not in metrics:
            if self.strict:
                raise ConfigError(
                    f"EarlyStoppingHook: monitor='{self.monitor}' is not among the validation results "
                    f"{list(metrics)}; name one of them, or set strict=False"
                )
            if not self._said_missing:
                self._said_missing = True
                logger.warning(
                    f"EarlyStoppingHook: monitor='{self.monitor}' is not among the validation results "
                    f"{list(metrics)}; early stopping is skipped"
                )
            return
        reason = self.check(float(metrics[self.monitor]))
        if reason:
            runner.stop_training = True
            step = f"epoch {runner.epoch}" if runner.by_epoch else f"iteration {runner.iter}"
            logger.info(f"Early stopping at {step}: {reason}")

    def check(self, score: float) -> str | None:
        """Update the count and the best value with one validation's score; why to stop, or None."""
        if self.check_finite and not math.isfinite(score):
            return f"{self.monitor} = {score} is not finite (best {self.best_score:.4f})"
        if self.stopping_threshold is not None and better(self.rule, score, self.stopping_threshold):
            self.best_score = score
            return f"{self.monitor} = {score:.4f} is {self.rule} than stopping_threshold={self.stopping_threshold}"
        if better(self.rule, self.best_score + self.min_delta, score):
            self.wait_count += 1
            if self.wait_count >= self.patience:
                return (
                    f"{self.monitor} did not improve on its best {self.best_score:.4f} by more than "
                    f"min_delta={abs(self.min_delta)} in the last {self.wait_count} validations (patience={self.patience})"
                )
            return None
        self.best_score = score
        self.wait_count = 0
        return None

    def before_save_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        msgs = checkpoint.setdefault("meta", {}).setdefault("hook_msgs", {})
        msgs["early_stopping"] = {"monitor": self.monitor, "best_score": self.best_score, "wait_count": self.wait_count}

    def after_load_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        state = ((checkpoint.get("meta") or {}).get("hook_msgs") or {}).get("early_stopping") or {}
        if state.get("monitor") == self.monitor:
            self.best_score = float(state["best_score"])
            self.wait_count = int(state["wait_count"])
