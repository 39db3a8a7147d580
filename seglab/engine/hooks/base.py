"""The hook protocol: the runner calls these methods, in priority order, at fixed points of its loops.

A hook overrides only what it needs. Every call receives the runner, whose public surface for hooks
is: ``model`` (unwrapped), ``iter`` (iterations completed so far; it only moves forward), ``epoch``
(epochs completed), ``max_iters``, ``max_epochs``, ``by_epoch``, ``epoch_length``, ``inner_iter``,
``work_dir``, ``log_dir``, ``timestamp``, ``scalars`` (the scalars.json writer), ``optim``,
``schedule``, ``dataset_meta``, ``log_window``, ``current_lr()`` and ``save_checkpoint(path)``.
Names and arguments follow MMEngine's hooks, so a hook written for MMEngine ports by changing its imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from seglab.errors import ConfigError

if TYPE_CHECKING:
    from seglab.engine.runner import Runner

PRIORITIES = {
    "HIGHEST": 0,
    "VERY_HIGH": 10,
    "HIGH": 30,
    "ABOVE_NORMAL": 40,
    "NORMAL": 50,
    "BELOW_NORMAL": 60,
    "LOW": 70,
    "VERY_LOW": 90,
    "LOWEST": 100,
}


def priority_value(priority: int | str) -> int:
    if isinstance(priority, int):
        return priority
    if priority not in PRIORITIES:
        raise ConfigError(f"hook priority '{priority}' is not one of {list(PRIORITIES)} or an integer")
    return PRIORITIES[priority]


class Hook:
    """Does nothing at every call point; subclasses override the ones they use."""

    priority: int | str = "NORMAL"

    def before_train(self, runner: Runner) -> None: ...

    def before_train_epoch(self, runner: Runner) -> None: ...

    def before_train_iter(self, runner: Runner, batch_idx: int, data_batch: Any = None) -> None: ...

    def after_train_iter(
        self, runner: Runner, batch_idx: int, data_batch: Any = None, outputs: dict | None = None
    ) -> None: ...

    def after_train_epoch(self, runner: Runner) -> None: ...

    def before_val_epoch(self, runner: Runner) -> None: ...

    def after_val_iter(self, runner: Runner, batch_idx: int, data_batch: Any = None, outputs: Any = None) -> None: ...

    def after_val_epoch(self, runner: Runner, metrics: dict[str, float] | None = None) -> None: ...

    def before_test_epoch(self, runner: Runner) -> None: ...

    def after_test_iter(self, runner: Runner, batch_idx: int, data_batch: Any = None, outputs: Any = None) -> None: ...

    def after_test_epoch(self, runner: Runner, metrics: dict[str, float] | None = None) -> None: ...

    def before_save_checkpoint(self, runner: Runner, checkpoint: dict) -> None: ...

    def after_load_checkpoint(self, runner: Runner, checkpoint: dict) -> None: ...

    def after_train(self, runner: Runner) -> None: ...
