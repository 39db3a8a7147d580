"""The loops the runner hands over to, named after MMEngine's: ``IterBasedTrainLoop``, ``EpochBasedTrainLoop``,
``ValLoop`` and ``TestLoop``.

A train loop counts iterations (and epochs) on the runner, where hooks read them, runs one optimizer step per
batch, validates when ``train_cfg.val_interval``/``val_begin`` say so, and after SIGTERM/SIGINT saves a
resumable checkpoint and stops (``guards.stop_for_signal``). ``ValLoop``/``TestLoop`` are one pass of
``evaluation_loop.run_evaluation``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import torch

from seglab.engine.evaluation_loop import run_evaluation
from seglab.engine.guards import buffers_copy, nonfinite_mode, skip_nonfinite, stop_for_signal
from seglab.errors import ConfigError

if TYPE_CHECKING:
    from seglab.engine.runner import Runner
    from seglab.models.segmentors.tta import SegTTAModel

logger = logging.getLogger("seglab")


def whole_number(train_cfg: dict, key: str, default: int | None = None) -> int:
    """``train_cfg[key]`` as an int, or a ConfigError naming the key, the value and the expected form."""
    value = train_cfg.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value) or value < 0:
        raise ConfigError(f"train_cfg.{key}={value!r} must be a whole number >= 0 (e.g. train_cfg.{key}=20000)")
    return int(value)


class ValLoop:
    """One validation pass over ``dataloader``, scored by ``evaluator``; ``run`` returns the metrics."""

    mode = "val"

    def __init__(self, runner: Runner, dataloader: Any, evaluator: Any, tta: SegTTAModel | None = None) -> None:
        self.runner = runner
        self.dataloader = dataloader
        self.evaluator = evaluator
        self.tta = tta  # predicts each image from its file with flip + multi-scale test-time augmentation

    def run(self) -> dict[str, float]:
        return run_evaluation(self.runner, self.dataloader, self.evaluator, self.mode, self.tta)


class TestLoop(ValLoop):
    """One test pass: as ``ValLoop``, with the ``*_test_*`` hook events and ``Iter(test)`` log lines."""

    mode = "test"


class TrainLoop:
    """What both train loops share: one training step, the validation schedule and the stop signals."""

    def __init__(
        self,
        runner: Runner,
        dataloader: Any,
        val_loop: ValLoop | None,
        val_interval: int,
        val_begin: int,
        nonfinite: str,
    ) -> None:
        self.runner = runner
        self.dataloader = dataloader
        self.val_loop = val_loop
        self.val_interval = val_interval
        self.val_begin = val_begin
        self.nonfinite = nonfinite  # train_cfg.nonfinite_loss: 'error' or 'skip'

    def run(self) -> dict[str, float]:
        raise NotImplementedError

    def due(self, done: int, total: int) -> bool:
        """Validate after ``done`` iterations/epochs?"""
        return done >= self.val_begin and (done % self.val_interval == 0 or done == total)

    def stop_if_signalled(self) -> None:
        """After SIGTERM/SIGINT (on any process): save a resumable checkpoint and raise TrainingInterrupted.
        A signal during validation takes effect when it ends; after the last iteration the run just finishes."""
        runner = self.runner
        signum = runner.signals.agreed(runner.device) if runner.iter < runner.max_iters else None
        if signum:
            stop_for_signal(runner, signum)

    def run_iter(self, batches: Iterator) -> None:
        """One iteration; ``runner.iter`` counts it as done before ``after_train_iter`` runs."""
        runner = self.runner
        start = time.perf_counter()
        batch_idx = runner.iter
        runner.call_hook("before_train_iter", batch_idx=batch_idx)
        batch = next(batches)
        data_time = time.perf_counter() - start
        model = runner.ddp_model
        model.train()
        inputs, samples = runner.model.data_preprocessor(batch, training=True)
        saved_buffers = buffers_copy(runner.model) if self.nonfinite == "skip" else None
        with runner.optim.autocast():
            losses = model(inputs, samples, mode="loss")
        total = sum(v for k, v in losses.items() if "loss" in k)
        if skip_nonfinite(runner, losses, total, saved_buffers):  # or a TrainingError, before any step or save
            values = {"data_time": data_time}
        else:
            runner.optim.update(total)
            values = {"data_time": data_time, "loss": float(total.detach())}
            values.update({k: float(v.detach()) for k, v in losses.items()})
        values["time"] = time.perf_counter() - start
        if runner.device.type == "cuda":
            values["memory"] = torch.cuda.max_memory_allocated() // (1024 * 1024)
        runner.iter += 1
        runner.call_hook("after_train_iter", batch_idx=batch_idx, data_batch=batch, outputs=values)


class IterBasedTrainLoop(TrainLoop):
    """``max_iters`` iterations over an endless sampler; validates every ``val_interval`` iterations."""

    def __init__(self, runner: Runner, dataloader: Any, max_iters: int, val_loop: ValLoop | None, **common) -> None:
        super().__init__(runner, dataloader, val_loop, **common)
        runner.by_epoch = False
        runner.max_iters = max_iters

    def run(self) -> dict[str, float]:
        runner, loader = self.runner, self.dataloader
        sampler = loader.sampler
        if hasattr(sampler, "start"):
            sampler.start = runner.iter * loader.batch_size
        runner.call_hook("before_train_epoch")
        batches = iter(loader)
        # Creating the iterator draws from torch's generator; an uninterrupted run drew that at
        # iteration 0, so a resumed run restores the saved state only after drawing it.
        runner.restore_pending_rng()
        metrics: dict[str, float] = {}
        while runner.iter < runner.max_iters and not runner.stop_training:
            runner.inner_iter = runner.iter
            self.run_iter(batches)
            if self.val_loop is not None and self.due(runner.iter, runner.max_iters):
                metrics = self.val_loop.run()
            self.stop_if_signalled()
        runner.call_hook("after_train_epoch")
        return metrics


class EpochBasedTrainLoop(TrainLoop):
    """``max_epochs`` passes over the data; validates every ``val_interval`` epochs. A run stopped by a
    signal mid-epoch resumes there: the batches it trained on are loaded again and skipped."""

    def __init__(self, runner: Runner, dataloader: Any, max_epochs: int, val_loop: ValLoop | None, **common) -> None:
        super().__init__(runner, dataloader, val_loop, **common)
        runner.by_epoch = True
        runner.max_epochs = max_epochs
        runner.max_iters = max_epochs * runner.epoch_length

    def run(self) -> dict[str, float]:
        runner, loader = self.runner, self.dataloader
        metrics: dict[str, float] = {}
        done = runner.iter - runner.epoch * runner.epoch_length  # a run stopped by a signal resumes mid-epoch
        if not done:
            runner.restore_pending_rng()
        while runner.epoch < (runner.max_epochs or 0) and not runner.stop_training:
            runner.call_hook("before_train_epoch")
            batches = iter(loader)
            if done:
                logger.info(f"loading (and skipping) the {done} batches of epoch {runner.epoch + 1} trained before")
                for _ in range(done):
                    next(batches)
                runner.restore_pending_rng()
            for inner in range(done, runner.epoch_length):
                runner.inner_iter = inner
                self.run_iter(batches)
                if inner + 1 < runner.epoch_length:
                    self.stop_if_signalled()
            done = 0
            runner.epoch += 1
            runner.call_hook("after_train_epoch")
            if self.val_loop is not None and self.due(runner.epoch, runner.max_epochs or 0):
                metrics = self.val_loop.run()
            self.stop_if_signalled()
        return metrics


def build_train_loop(runner: Runner, train_cfg: dict, dataloader: Any, val_loop: ValLoop | None = None) -> TrainLoop:
    """The loop ``train_cfg`` asks for; it sets ``runner.max_iters``, ``max_epochs``, ``epoch_length`` and
    ``by_epoch``, which the optimizer schedule and the hooks read before training starts."""
    kind = train_cfg.get("type", "IterBasedTrainLoop")
    common = dict(
        val_interval=whole_number(train_cfg, "val_interval", 1),
        val_begin=whole_number(train_cfg, "val_begin", 1),
        nonfinite=nonfinite_mode(train_cfg),
    )
    runner.epoch_length = max(len(dataloader), 1)
    if kind == "IterBasedTrainLoop":
        if "max_iters" not in train_cfg:
            raise ConfigError("train_cfg type IterBasedTrainLoop needs max_iters")
        return IterBasedTrainLoop(runner, dataloader, whole_number(train_cfg, "max_iters"), val_loop, **common)
    if kind == "EpochBasedTrainLoop":
        if "max_epochs" not in train_cfg:
            raise ConfigError("train_cfg type EpochBasedTrainLoop needs max_epochs")
        return EpochBasedTrainLoop(runner, dataloader, whole_number(train_cfg, "max_epochs"), val_loop, **common)
    raise ConfigError(f"unknown train_cfg type '{kind}'; use IterBasedTrainLoop or EpochBasedTrainLoop")
