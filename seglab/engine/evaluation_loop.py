"""One pass of validation or test (``ValLoop``/``TestLoop``): predict every batch, feed the metric, log the class
table and the summary line, and hand the results to the hooks (``after_val_epoch`` / ``after_test_epoch``).

The results hold the summary (``aAcc``, ``mIoU`` ...), the class table's values as ``IoU.<class>``,
``Acc.<class>`` ..., with ``val_cfg=dict(type='ValLoop', val_loss=True)`` the validation loss of the
same forward (``val/loss`` and its terms such as ``val/decode.loss_ce``; see ``EncoderDecoder.val_step``),
and ``data_time``/``time``. The LoggerHook writes them to scalars.json; ``save_best`` and
``EarlyStoppingHook(monitor=...)`` may name any of them.

The validation loss is off by default: its extra head forwards and full-resolution losses cost 15-25% of a
validation (PSPNet-R50, 512x683 ADE20K image, CPU), and MMSegmentation never reports one.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import torch

from seglab import dist
from seglab.engine.evaluation_progress import EvaluationProgress
from seglab.engine.hooks.logger import LoggerHook
from seglab.errors import ConfigError
from seglab.evaluation.metrics import format_table
from seglab.models.segmentors.tta import SegTTAModel

if TYPE_CHECKING:
    from seglab.engine.runner import Runner

logger = logging.getLogger("seglab")


def wants_val_loss(cfg: Any) -> bool:
    """``val_cfg.val_loss`` (seglab's key; MMEngine's ValLoop reports a loss only from models that return one)."""
    value = (cfg.get("val_cfg") or {}).get("val_loss", False)
    if not isinstance(value, bool):
        raise ConfigError(f"val_cfg.val_loss must be True or False, got {value!r}")
    return value


class LossMeans:
    """Per-key means over batches of the validation loss terms, as MMEngine's ValLoop averages them;
    ``<mode>/loss`` is the sum of the means of the terms named ``*loss*``."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def add(self, losses: dict[str, torch.Tensor]) -> None:
        for key, value in losses.items():
            self.sums[key] = self.sums.get(key, 0.0) + float(value)
            self.counts[key] = self.counts.get(key, 0) + 1

    def results(self, mode: str) -> dict[str, float]:
        keys = sorted(self.sums)
        if dist.is_distributed():  # every process validated its share of the batches
            pairs = [[self.sums[k], self.counts[k]] for k in keys]
            totals = dist.all_reduce_sum(torch.tensor(pairs, dtype=torch.float64).reshape(-1, 2))
            self.sums = {k: float(totals[i, 0]) for i, k in enumerate(keys)}
            self.counts = {k: int(totals[i, 1]) for i, k in enumerate(keys)}
        means = {k: self.sums[k] / max(self.counts[k], 1) for k in self.sums}
        if not means:
            return {}
        total = sum(v for k, v in means.items() if "loss" in k)
        return {f"{mode}/loss": total, **{f"{mode}/{k}": v for k, v in means.items()}}


@torch.no_grad()
def run_evaluation(
    runner: Runner, loader: Any, metric: Any, mode: str = "val", tta: SegTTAModel | None = None
) -> dict[str, float]:
    """``ValLoop.run``/``TestLoop.run``: see the module docstring. With ``tta``, each image is predicted from its
    file with flip + multi-scale test-time augmentation. The validation loss (``runner.val_loss``) comes from the
    plain path only (no test-time augmentation), and from a model that offers ``val_step``."""
    model = runner.model
    runner.call_hook(f"before_{mode}_epoch")
    model.eval()
    dist.sync_buffers(model)
    if not (model.dataset_meta or {}).get("classes"):
        model.dataset_meta = runner.dataset_meta or loader.dataset.dataset_meta
    classes = model.class_names()
    metric.reset(classes)
    losses = LossMeans()
    with_loss = mode == "val" and getattr(runner, "val_loss", False) and hasattr(model, "val_step")
    augmented = tta or SegTTAModel(model)  # a TestTimeAug pipeline's batches need it without --tta too
    interval = next((h.interval for h in runner.hooks if isinstance(h, LoggerHook)), 50)
    progress = EvaluationProgress(mode, len(loader), interval)
    for i, batch in enumerate(progress.batches(loader)):
        if isinstance(batch["inputs"][0], list):  # a TestTimeAug pipeline: several copies per image
            predictions = augmented.test_step(batch)
        elif tta is not None:
            predictions = tta.predict_samples(batch["data_samples"])
        elif with_loss:
            predictions, batch_losses = model.val_step(*model.data_preprocessor(batch, training=False))
            losses.add(batch_losses)
        else:
            predictions = model.predict(*model.data_preprocessor(batch, training=False))
        metric.process(predictions)
        runner.call_hook(f"after_{mode}_iter", batch_idx=i, data_batch=batch, outputs=predictions)
        progress.step_done(i)
    summary, per_class = metric.compute()
    logger.info("per class results:\n" + format_table(classes, per_class))
    class_scalars = metric.class_scalars() if hasattr(metric, "class_scalars") else {}
    loss_means = losses.results(mode)
    timing = progress.timing()
    progress.log_summary({**summary, **loss_means, **timing})
    results = {**summary, **class_scalars, **loss_means, **timing}
    runner.call_hook(f"after_{mode}_epoch", metrics=results)
    return results
