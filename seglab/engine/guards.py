"""What lets a long run stop well: stop signals and non-finite losses.

SIGTERM (a cluster's time limit, ``kill``) and SIGINT (Ctrl-C) only mark the run as stopping; the loop
finishes the iteration under way, saves a resumable checkpoint and raises ``TrainingInterrupted``, so a
signal never cuts a step or a save in half. A non-finite loss stops training before the optimizer steps
(nothing is saved over the last good checkpoint), or, with ``train_cfg.nonfinite_loss='skip'``, the step
is skipped and the BatchNorm statistics its forward pass touched are put back.
"""

from __future__ import annotations

import logging
import math
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

import torch
from torch import nn

from seglab import dist
from seglab.engine.hooks.checkpoint import CheckpointHook
from seglab.errors import ConfigError, TrainingError, TrainingInterrupted
from seglab.fileio.checkpoint import write_marker

if TYPE_CHECKING:
    from seglab.engine.runner import Runner

logger = logging.getLogger("seglab")

NONFINITE_MODES = ("error", "skip")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopSignals:
    """Within ``with``: the first SIGTERM/SIGINT is recorded in ``received`` (the loop stops at the end of
    its iteration); a second one acts as it would without this (SIGINT raises KeyboardInterrupt, SIGTERM
    ends the process), for a user who does not want to wait. Nothing is printed inside the handler:
    writing to a stream the interrupted code is writing to raises a reentrancy error."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():  # signal.signal works only there
            for signum in STOP_SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)  # None: set outside Python
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is None:
            self.received = signum
            return
        self.__exit__()
        signal.raise_signal(signum)

    def agreed(self, device: torch.device) -> int | None:
        """The signal received by any process (every rank stops at the same iteration), else None."""
        if not dist.is_distributed():
            return self.received
        flag = torch.tensor([self.received or 0], device=device)
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        return int(flag.item()) or None


def stop_for_signal(runner: Runner, signum: int) -> NoReturn:
    """Save a checkpoint to resume from (through the CheckpointHook, so ``max_keep_ckpts`` and ``out_dir``
    apply), log where it is and how to continue, and raise ``TrainingInterrupted``."""
    hook = next((h for h in runner.hooks if isinstance(h, CheckpointHook)), None)
    if hook is not None:
        path = hook.save_resumable(runner)
    else:
        path = runner.work_dir / f"iter_{runner.iter}.pth"
        if dist.is_main():
            runner.save_checkpoint(path)
            write_marker(runner.work_dir, path)
        dist.barrier()
    config = runner.cfg.filename or "CONFIG"
    message = (
        f"{signal.Signals(signum).name} received: stopped after iteration {runner.iter} with a resumable "
        f"checkpoint '{path}' (last_checkpoint points at it); continue with: "
        f"seglab train {config} --work-dir {runner.work_dir} --resume"
    )
    logger.info(message)
    raise TrainingInterrupted(message, signum)


def last_checkpoint(work_dir: Path) -> str | None:
    marker = work_dir / "last_checkpoint"
    return (marker.read_text().strip() or None) if marker.is_file() else None


def nonfinite_mode(train_cfg: dict) -> str:
    mode = train_cfg.get("nonfinite_loss", "error")
    if mode not in NONFINITE_MODES:
        raise ConfigError(f"train_cfg.nonfinite_loss={mode!r} must be one of {list(NONFINITE_MODES)}")
    return mode


def nonfinite_terms(losses: dict[str, torch.Tensor], total: torch.Tensor, device: torch.device) -> list[str]:
    """``['decode.loss_ce is nan', ...]``: the loss terms (or the total) that are not finite, on this
    process; with several processes, a bad loss on another one gives ``['the loss on another process ...']``
    so that all of them skip or stop together."""
    bad = []
    total_value = float(total.detach())  # the sum of the loss terms: finite only when every term is
    if not math.isfinite(total_value):  # one sync per step; the terms are read only to name the culprit
        bad = [
            f"{key} is {float(value.detach().float().sum()):.4g}"
            for key, value in losses.items()
            if "loss" in key and isinstance(value, torch.Tensor) and not torch.isfinite(value).all()
        ] or [f"the total loss is {total_value:.4g}"]
    if dist.is_distributed():
        flag = torch.tensor([len(bad)], device=device)
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        if flag.item() and not bad:
            bad = ["the loss on another process is not finite"]
    return bad


def nonfinite_message(bad: list[str], iteration: int, last_checkpoint: str | None) -> str:
    kept = f"the last good checkpoint is '{last_checkpoint}'" if last_checkpoint else "no checkpoint was saved yet"
    return (
        f"{' and '.join(bad)} at iteration {iteration}: training stopped before the optimizer step, and "
        f"{kept}. Usual causes: a learning rate too high (lower optim_wrapper.optimizer.lr, add warm-up or "
        "clip_grad), label values out of range (run 'seglab check-data CONFIG'), float16 overflow under AMP "
        "(train without --amp, or with optim_wrapper.dtype='bfloat16'). train_cfg.nonfinite_loss='skip' "
        "skips such steps instead"
    )


def skip_nonfinite(
    runner: Runner, losses: dict, total: torch.Tensor, saved_buffers: list[tuple[torch.Tensor, torch.Tensor]] | None
) -> bool:
    """False for finite losses. Otherwise: with ``saved_buffers`` (skip mode) put them back, count and log
    the skipped step and return True; without, raise TrainingError (the optimizer has not stepped)."""
    bad = nonfinite_terms(losses, total, runner.device)
    if not bad:
        return False
    if saved_buffers is None:
        raise TrainingError(nonfinite_message(bad, runner.iter + 1, last_checkpoint(runner.work_dir)))
    restore_buffers(saved_buffers)
    runner.skipped_steps += 1
    logger.warning(
        f"{' and '.join(bad)} at iteration {runner.iter + 1}: step skipped (train_cfg.nonfinite_loss='skip'); "
        f"{runner.skipped_steps} skipped so far"
    )
    return True


def buffers_copy(model: nn.Module) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(buffer, copy) pairs: BatchNorm statistics are small, and a NaN forward pass would poison them."""
    return [(buf, buf.detach().clone()) for buf in model.buffers()]


def restore_buffers(saved: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
    with torch.no_grad():
        for buf, copy in saved:
            buf.copy_(copy)
