"""CheckpointHook: ``iter_N.pth``/``epoch_N.pth`` every ``interval``, ``max_keep_ckpts``, ``save_best``.

A failed save (disk full, no permission) stops training with one message: the run could not be resumed
past the last checkpoint anyway, and each further interval of training would be lost the same way.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seglab.engine import dist
from seglab.engine.checkpoint import write_marker
from seglab.engine.hooks.base import Hook
from seglab.errors import ConfigError
from seglab.registry import HOOKS

if TYPE_CHECKING:
    from seglab.engine.runner import Runner

logger = logging.getLogger("seglab")


@HOOKS.register()
class CheckpointHook(Hook):
    """Saves atomically and writes ``last_checkpoint``; the best one by ``save_best`` replaces the previous best."""

    priority = "VERY_LOW"
    IGNORED_ARGS = {
        "save_param_scheduler": True,
        "greater_keys": None,
        "less_keys": None,
        "file_client_args": None,
        "filename_tmpl": None,
        "backend_args": None,
        "published_keys": None,
    }

    def __init__(
        self,
        interval: int = -1,
        by_epoch: bool = True,
        save_optimizer: bool = True,
        save_param_scheduler: bool = True,
        out_dir: str | None = None,
        max_keep_ckpts: int = -1,
        save_last: bool = True,
        save_best: str | list | None = None,
        rule: str | None = None,
        greater_keys=None,
        less_keys=None,
        file_client_args=None,
        filename_tmpl: str | None = None,
        backend_args=None,
        published_keys=None,
        save_begin: int = 0,
    ) -> None:
        if rule not in (None, "greater", "less"):
            raise ConfigError(f"default_hooks.checkpoint.rule must be 'greater' or 'less', got '{rule}'")
        self.interval = interval
        self.by_epoch = by_epoch
        self.save_optimizer = save_optimizer
        self.out_dir = Path(out_dir) if out_dir else None
        self.max_keep = max_keep_ckpts
        self.save_last = save_last
        self.save_begin = save_begin
        if isinstance(save_best, list):
            save_best = save_best[0] if save_best else None
        self.save_best = save_best
        self.rule = rule or ("less" if save_best and "loss" in save_best else "greater")
        self.saved: list[Path] = []
        self.best_path: Path | None = None
        self.best_score = -math.inf if self.rule == "greater" else math.inf

    def folder(self, runner: Runner) -> Path:
        return self.out_dir / runner.work_dir.name if self.out_dir else runner.work_dir

    def _due(self, count: int, total: int) -> bool:
        if count <= self.save_begin:
            return False
        return (self.interval > 0 and count % self.interval == 0) or (self.save_last and count == total)

    def after_train_iter(
        self, runner: Runner, batch_idx: int, data_batch: Any = None, outputs: dict | None = None
    ) -> None:
        if not self.by_epoch and self._due(runner.iter, runner.max_iters):
            self.save(runner, "iter", runner.iter)

    def after_train_epoch(self, runner: Runner) -> None:
        if self.by_epoch and self._due(runner.epoch, runner.max_epochs or 0):
            self.save(runner, "epoch", runner.epoch)

    def before_train(self, runner: Runner) -> None:
        """Remove temp files of saves a kill -9 cut short (finished saves are renamed to ``*.pth``)."""
        folder = self.folder(runner)
        if dist.is_main() and folder.is_dir():
            for partial in folder.glob(".*.pth.*.tmp"):
                partial.unlink(missing_ok=True)
                logger.info(f"removed {partial.name}, left by a save that was interrupted")

    def save(self, runner: Runner, unit: str, count: int, with_optimizer: bool | None = None) -> Path:
        path = self.folder(runner) / f"{unit}_{count}.pth"
        if dist.is_main():
            runner.save_checkpoint(path, self.save_optimizer if with_optimizer is None else with_optimizer)
            write_marker(runner.work_dir, path)
            logger.info(f"Saving checkpoint at {count} {unit}s")
            if path not in self.saved:
                self.saved.append(path)
            while 0 < self.max_keep < len(self.saved):
                self.saved.pop(0).unlink(missing_ok=True)
        dist.barrier()
        return path

    def save_resumable(self, runner: Runner) -> Path:
        """A checkpoint to resume from at this point (a stop signal): the one just saved when this
        iteration's periodic save has optimizer state, else a new one (``iter_N``, or ``epoch_N`` at the
        end of an epoch of an epoch-based run)."""
        at_epoch_end = runner.by_epoch and runner.iter == runner.epoch * runner.epoch_length
        unit, count = ("epoch", runner.epoch) if at_epoch_end and self.by_epoch else ("iter", runner.iter)
        path = self.folder(runner) / f"{unit}_{count}.pth"
        if self.saved and self.saved[-1] == path and path.is_file() and self.save_optimizer:
            return path
        return self.save(runner, unit, count, with_optimizer=True)

    def after_val_epoch(self, runner: Runner, metrics: dict[str, float] | None = None) -> None:
        metrics = metrics or {}
        if not self.save_best:
            return
        key = self.save_best
        if key == "auto":
            key = next(iter(metrics), None)
        if key not in metrics:
            logger.warning(f"save_best='{self.save_best}' is not among the validation metrics {list(metrics)}")
            return
        score = metrics[key]
        better = score > self.best_score if self.rule == "greater" else score < self.best_score
        if not better or math.isnan(score):
            return
        self.best_score = score
        unit, count = ("epoch", runner.epoch) if self.by_epoch else ("iter", runner.iter)
        name = f"best_{key}_{unit}_{count}.pth"
        if dist.is_main():
            previous, self.best_path = self.best_path, self.folder(runner) / name
            runner.save_checkpoint(self.best_path, self.save_optimizer)  # the old best stays if this fails
            if previous is not None and previous != self.best_path:
                previous.unlink(missing_ok=True)
            logger.info(f"The best checkpoint with {score:.4f} {key} at {count} {unit} is saved to {name}.")
        dist.barrier()

    def before_save_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        checkpoint.setdefault("meta", {})["hook_msgs"] = {
            "best_score": self.best_score,
            "best_path": str(self.best_path) if self.best_path else None,
            "saved": [str(p) for p in self.saved],
        }

    def after_load_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        state = (checkpoint.get("meta") or {}).get("hook_msgs") or {}
        self.best_score = state.get("best_score", self.best_score)
        self.best_path = Path(state["best_path"]) if state.get("best_path") else None
        self.saved = [Path(p) for p in state.get("saved", [])]
