"""The training-loop hooks that ``default_hooks`` configures: logging and checkpointing.

Each hook has the few call points the loops use: ``after_train_iter``, ``after_train_epoch`` and
``after_val``. Hooks that have nothing to do in seglab (timer, sampler seed, param scheduler: the
loops do these themselves) are accepted by name.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING

from seglab.engine import dist
from seglab.engine.log import Smoother, format_value, progress_tag
from seglab.errors import ConfigError

if TYPE_CHECKING:
    from seglab.engine.runner import Runner

logger = logging.getLogger("seglab")

BUILT_IN = {"IterTimerHook", "ParamSchedulerHook", "DistSamplerSeedHook", "RuntimeInfoHook"}


class LoggerHook:
    """Every ``interval`` iterations: one log line (window means) and one ``scalars.json`` record."""

    def __init__(
        self,
        interval: int = 10,
        log_metric_by_epoch: bool = True,
        ignore_last: bool = True,
        interval_exp_name: int = 1000,
        out_dir: str | None = None,
        out_suffix=None,
        keep_local: bool = True,
        file_client_args=None,
        backend_args=None,
    ) -> None:
        if interval < 1:
            raise ConfigError("default_hooks.logger.interval must be >= 1")
        self.interval = interval
        self.ignore_last = ignore_last
        self.smoother: Smoother | None = None

    def after_train_iter(self, runner: Runner, values: dict[str, float]) -> None:
        if self.smoother is None:
            self.smoother = Smoother(runner.log_window or self.interval)
        self.smoother.update(values)
        step = runner.iter + 1
        inner = runner.inner_iter + 1
        last_in_epoch = runner.by_epoch and inner == runner.epoch_length
        last = step == runner.max_iters
        if inner % self.interval and not (last or (last_in_epoch and not self.ignore_last)):
            return
        means = self.smoother.means()
        lr = runner.current_lr()
        parts = [
            format_value("lr", lr),
            f"eta: {self.smoother.eta(runner.max_iters - step)}",
            format_value("time", means["time"]),
            format_value("data_time", means["data_time"]),
        ]
        if "memory" in values:
            parts.append(f"memory: {int(values['memory'])}")
        losses = {k: v for k, v in means.items() if k not in ("time", "data_time", "memory")}
        parts += [format_value(k, v) for k, v in losses.items()]
        if runner.by_epoch:
            tag = progress_tag("train", inner, runner.epoch_length, runner.epoch + 1)
        else:
            tag = progress_tag("train", step, runner.max_iters)
        logger.info(f"{tag}  " + "  ".join(parts))
        record = {"lr": lr, "data_time": means["data_time"], **losses, "time": means["time"]}
        if runner.by_epoch:
            record["epoch"] = runner.epoch + 1
        record.update(iter=step, step=step)
        runner.scalars.write(record)


class CheckpointHook:
    """Saves ``iter_N.pth``/``epoch_N.pth`` every ``interval``, keeps ``max_keep_ckpts``, tracks ``save_best``."""

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

    def after_train_iter(self, runner: Runner) -> None:
        if not self.by_epoch and self._due(runner.iter + 1, runner.max_iters):
            self.save(runner, "iter", runner.iter + 1)

    def after_train_epoch(self, runner: Runner) -> None:
        if self.by_epoch and self._due(runner.epoch + 1, runner.max_epochs or 0):
            self.save(runner, "epoch", runner.epoch + 1)

    def save(self, runner: Runner, unit: str, count: int) -> None:
        path = self.folder(runner) / f"{unit}_{count}.pth"
        if dist.is_main():
            runner.save_checkpoint(path, self.save_optimizer)
            (runner.work_dir / "last_checkpoint").write_text(str(path.resolve()))
            logger.info(f"Saving checkpoint at {count} {unit}s")
            if path not in self.saved:
                self.saved.append(path)
            while 0 < self.max_keep < len(self.saved):
                self.saved.pop(0).unlink(missing_ok=True)
        dist.barrier()

    def after_val(self, runner: Runner, metrics: dict[str, float]) -> None:
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
        unit, count = ("epoch", runner.epoch) if self.by_epoch else ("iter", runner.iter + 1)
        name = f"best_{key}_{unit}_{count}.pth"
        if dist.is_main():
            if self.best_path is not None:
                self.best_path.unlink(missing_ok=True)
            self.best_path = self.folder(runner) / name
            runner.save_checkpoint(self.best_path, self.save_optimizer)
            logger.info(f"The best checkpoint with {score:.4f} {key} at {count} {unit} is saved to {name}.")
        dist.barrier()

    def state_dict(self) -> dict:
        return {
            "best_score": self.best_score,
            "best_path": str(self.best_path) if self.best_path else None,
            "saved": [str(p) for p in self.saved],
        }

    def load_state_dict(self, state: dict) -> None:
        self.best_score = state.get("best_score", self.best_score)
        self.best_path = Path(state["best_path"]) if state.get("best_path") else None
        self.saved = [Path(p) for p in state.get("saved", [])]


def build_hooks(default_hooks: dict | None) -> tuple[LoggerHook, CheckpointHook, list[str]]:
    """The logger and checkpoint hooks, plus notices for hooks accepted without effect."""
    notices = []
    hooks = dict(default_hooks or {})
    logger_cfg = dict(hooks.pop("logger", None) or {"type": "LoggerHook"})
    ckpt_cfg = dict(hooks.pop("checkpoint", None) or {"type": "CheckpointHook", "interval": -1})
    for name, table, cfg in (("logger", "LoggerHook", logger_cfg), ("checkpoint", "CheckpointHook", ckpt_cfg)):
        if cfg.pop("type", table) != table:
            raise ConfigError(f"default_hooks.{name} must be a {table}")
    for name, cfg in hooks.items():
        hook_type = (cfg or {}).get("type")
        if hook_type in BUILT_IN or cfg is None:
            continue
        if hook_type == "SegVisualizationHook":
            if cfg.get("draw"):
                notices.append(
                    "default_hooks.visualization(draw=True): use 'seglab test --show-dir DIR' to save predictions"
                )
            continue
        notices.append(f"default_hooks.{name} ({hook_type}) is not supported by seglab and is ignored")
    from seglab.registry import check_arguments

    check_arguments(LoggerHook, logger_cfg, "default_hooks.logger")
    check_arguments(CheckpointHook, ckpt_cfg, "default_hooks.checkpoint")
    return LoggerHook(**logger_cfg), CheckpointHook(**ckpt_cfg), notices
