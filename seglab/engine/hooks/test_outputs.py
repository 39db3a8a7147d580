"""What ``seglab test`` writes besides its metrics: ``--out``/``--show-dir`` pictures and ``--confusion-matrix``.

The runner adds these hooks for the command-line flags (they are not config types), after the configured
hooks, so their files and log lines come once the configured hooks have seen each batch and the results.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seglab import dist
from seglab.engine.hooks.base import Hook

if TYPE_CHECKING:
    from seglab.engine.runner import Runner
    from seglab.visualize import PredictionWriter

logger = logging.getLogger("seglab")


class PredictionWriterHook(Hook):
    """Hands each test batch's predicted samples to ``writer`` (label maps to ``--out``, ground truth |
    prediction pictures to ``--show-dir``) and says where the pictures went once the test ends."""

    priority = "LOWEST"

    def __init__(self, writer: PredictionWriter) -> None:
        self.writer = writer

    def after_test_iter(self, runner: Runner, batch_idx: int, data_batch: Any = None, outputs: Any = None) -> None:
        self.writer(outputs)

    def after_test_epoch(self, runner: Runner, metrics: dict[str, float] | None = None) -> None:
        if self.writer.show_dir is not None:
            logger.info(f"ground truth | prediction overlays saved to {self.writer.show_dir.resolve()}")


class ConfusionMatrixHook(Hook):
    """After the test, ``confusion_matrix.png`` and ``.csv`` of ``metric``'s pixel counts into ``runner.log_dir``
    (on the main process: the metric has gathered every process's counts)."""

    priority = "LOWEST"

    def __init__(self, metric: Any) -> None:
        self.metric = metric

    def after_test_epoch(self, runner: Runner, metrics: dict[str, float] | None = None) -> None:
        if not dist.is_main():
            return
        from seglab.visualize import save_confusion_matrix

        png, csv = save_confusion_matrix(
            self.metric.total_confusion(), self.metric.class_names, Path(runner.log_dir) / "confusion_matrix.png"
        )
        logger.info(f"confusion matrix saved to {png} and {csv}")
