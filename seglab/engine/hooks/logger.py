"""LoggerHook: the ``Iter(train) [ 10/200]  lr: ...  loss: ...`` lines and ``scalars.json`` records."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from seglab.engine.hooks.base import Hook
from seglab.engine.log import Smoother, format_value, progress_tag
from seglab.errors import ConfigError
from seglab.registry import HOOKS

if TYPE_CHECKING:
    from seglab.engine.runner import Runner

logger = logging.getLogger("seglab")


@HOOKS.register()
class LoggerHook(Hook):
    """Every ``interval`` iterations: one log line (window means) and one ``scalars.json`` record;
    after each validation or test, one record of its metrics (stepped by epoch when
    ``log_metric_by_epoch`` and the loop is epoch-based, else by iteration, as MMEngine does)."""

    priority = "BELOW_NORMAL"
    IGNORED_ARGS = {
        "interval_exp_name": 1000,
        "out_dir": None,
        "out_suffix": (".json", ".log", ".py", "yaml"),
        "keep_local": True,
        "file_client_args": None,
        "backend_args": None,
    }

    def __init__(
        self,
        interval: int = 10,
        ignore_last: bool = True,
        log_metric_by_epoch: bool = True,
        interval_exp_name: int = 1000,
        out_dir: str | None = None,
        out_suffix=(".json", ".log", ".py", "yaml"),
        keep_local: bool = True,
        file_client_args=None,
        backend_args=None,
    ) -> None:
        if interval < 1:
            raise ConfigError("default_hooks.logger.interval must be >= 1")
        self.interval = interval
        self.ignore_last = ignore_last
        self.log_metric_by_epoch = log_metric_by_epoch
        self.smoother: Smoother | None = None

    def after_train_iter(
        self, runner: Runner, batch_idx: int, data_batch: Any = None, outputs: dict | None = None
    ) -> None:
        values = outputs or {}
        if self.smoother is None:
            self.smoother = Smoother(runner.log_window or self.interval)
        self.smoother.update(values)
        step = runner.iter
        inner = runner.inner_iter + 1
        last_in_epoch = runner.by_epoch and inner == runner.epoch_length
        if inner % self.interval and not (step == runner.max_iters or (last_in_epoch and not self.ignore_last)):
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
        skipped = getattr(runner, "skipped_steps", 0)  # train_cfg.nonfinite_loss='skip'
        if skipped:
            parts.append(f"skipped_steps: {skipped}")
        if runner.by_epoch:
            tag = progress_tag("train", inner, runner.epoch_length, runner.epoch + 1)
        else:
            tag = progress_tag("train", step, runner.max_iters)
        logger.info(f"{tag}  " + "  ".join(parts))
        record = {"lr": lr, "data_time": means["data_time"], **losses, "time": means["time"]}
        if skipped:
            record["skipped_steps"] = skipped
        if runner.by_epoch:
            record["epoch"] = runner.epoch + 1
        record.update(iter=step, step=step)
        runner.scalars.write(record)

    def after_val_epoch(self, runner: Runner, metrics: dict[str, float] | None = None) -> None:
        step = runner.epoch if runner.by_epoch and self.log_metric_by_epoch else runner.iter
        runner.scalars.write({**(metrics or {}), "step": step})

    def after_test_epoch(self, runner: Runner, metrics: dict[str, float] | None = None) -> None:
        runner.scalars.write({**(metrics or {}), "step": 0})
