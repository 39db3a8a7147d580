"""One pass of validation or test: predict every batch, feed the metric, log the class table and the
summary line, and hand the results to the hooks (``after_val_epoch`` / ``after_test_epoch``).

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
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from tqdm import tqdm

from seglab import dist
from seglab.data.transforms import unpack_tta_batch
from seglab.engine.hooks.logger import LoggerHook
from seglab.engine.log import progress_tag
from seglab.errors import ConfigError
from seglab.evaluation.metrics import format_table
from seglab.inference import merge_augmented, tta_predict

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
    runner: Runner,
    loader: Any,
    metric: Any,
    mode: str = "val",
    on_predictions: Callable[[list[dict]], None] | None = None,
    tta_scales: Any = None,
) -> dict[str, float]:
    """``Runner.evaluate``: see the module docstring. The validation loss (``runner.val_loss``) comes from the
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
    interval = next((h.interval for h in runner.hooks if isinstance(h, LoggerHook)), 50)
    total = len(loader)
    times, data_times = [], []
    start = time.perf_counter()
    bar = tqdm(loader, desc=mode, total=total, disable=not dist.is_main() or None, leave=False)
    for i, batch in enumerate(bar):
        data_times.append(time.perf_counter() - start)
        if isinstance(batch["inputs"][0], list):  # a TestTimeAug pipeline: several copies per image
            predictions = [merge_augmented(model, copies) for copies in unpack_tta_batch(batch)]
        elif tta_scales:
            predictions = [{**s, **tta_predict(model, s["img_path"], tta_scales)} for s in batch["data_samples"]]
        elif with_loss:
            predictions, batch_losses = model.val_step(*model.data_preprocessor(batch, training=False))
            losses.add(batch_losses)
        else:
            predictions = model.predict(*model.data_preprocessor(batch, training=False))
        metric.process(predictions)
        if on_predictions is not None:
            on_predictions(predictions)
        runner.call_hook(f"after_{mode}_iter", batch_idx=i, data_batch=batch, outputs=predictions)
        times.append(time.perf_counter() - start)
        start = time.perf_counter()
        if (i + 1) % interval == 0 and i + 1 < total:
            eta = int(np.mean(times) * (total - i - 1))
            logger.info(
                f"{progress_tag(mode, i + 1, total)}    eta: {eta // 3600}:{eta % 3600 // 60:02d}:"
                f"{eta % 60:02d}  time: {np.mean(times[-10:]):.4f}  data_time: {np.mean(data_times[-10:]):.4f}"
            )
    summary, per_class = metric.compute()
    logger.info("per class results:\n" + format_table(classes, per_class))
    class_scalars = metric.class_scalars() if hasattr(metric, "class_scalars") else {}
    loss_means = losses.results(mode)
    timing = {"data_time": float(np.mean(data_times)), "time": float(np.mean(times))}
    shown = "  ".join(f"{k}: {v:.4f}" for k, v in {**summary, **loss_means, **timing}.items())
    logger.info(f"{progress_tag(mode, total, total)}    {shown}")
    results = {**summary, **class_scalars, **loss_means, **timing}
    runner.call_hook(f"after_{mode}_epoch", metrics=results)
    return results
