"""What a training checkpoint holds, and how ``resume`` puts it back, so a resumed run continues exactly.

A checkpoint holds MMEngine's keys: ``meta`` (progress, seed, class names and colours, RNG state),
``state_dict``, ``optimizer`` (and ``loss_scaler`` under float16 AMP) and ``param_schedulers``; hooks add
theirs in ``before_save_checkpoint`` (EMA weights, best scores ...) and read them in ``after_load_checkpoint``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from seglab import __version__
from seglab.engine.resume import latest_resumable
from seglab.engine.settings import rng_state
from seglab.errors import ConfigError
from seglab.fileio.checkpoint import apply_checkpoint, read_checkpoint

if TYPE_CHECKING:
    from seglab.config import Config
    from seglab.engine.runner import Runner

logger = logging.getLogger("seglab")


def resume_source(cfg: Config, work_dir: Path) -> tuple[str | None, dict | None]:
    """(checkpoint to resume from, the checkpoint when already read) as ``resume`` and ``load_from`` ask:
    ``resume=True`` without ``load_from`` continues from ``work_dir``'s latest checkpoint, if any."""
    resume = cfg.get("resume", False)
    if not resume:
        return None, None
    if isinstance(resume, str):
        return resume, None
    if cfg.get("load_from"):
        return str(cfg.load_from), None
    found = latest_resumable(work_dir)  # falls back to the newest readable iter_*.pth, with a warning
    if found:
        return found
    logger.warning(f"resume=True but no checkpoint was found in {work_dir}; training from the start")
    return None, None


def checkpoint_state(runner: Runner, with_optimizer: bool = True) -> dict:
    """Model, optimizer, schedule, progress and RNG state of ``runner``, before the hooks add theirs."""
    meta = {
        "seglab_version": __version__,
        "epoch": runner.epoch,
        "iter": runner.iter,
        "seed": runner.seed,
        "skipped_steps": runner.skipped_steps,
        "experiment_name": runner.timestamp,
        "time": time.strftime("%Y%m%d_%H%M%S"),
        "dataset_meta": {
            "classes": tuple(runner.dataset_meta.get("classes") or ()),
            "palette": [list(c) for c in runner.dataset_meta.get("palette") or []],
        },
        "rng": rng_state(),
    }
    state = {"meta": meta, "state_dict": {k: v.detach().cpu() for k, v in runner.model.state_dict().items()}}
    if with_optimizer:
        state.update(runner.optim.state_dict())  # 'optimizer' (and 'loss_scaler' under float16 AMP)
        state["param_schedulers"] = runner.schedule.state_dict()
    return state


def resume(runner: Runner, source: str, ckpt: dict | None = None) -> None:
    """Load ``source`` (or ``ckpt``, already read from it) into the built model, optimizer and progress
    counters; the RNG state waits in ``runner.pending_rng`` until the loop has drawn what it draws first."""
    ckpt = ckpt or read_checkpoint(source)
    apply_checkpoint(runner.model, ckpt, source, strict=True)
    if "optimizer" not in ckpt:
        raise ConfigError(f"cannot resume from '{source}': it was saved without optimizer state")
    runner.optim.load_state_dict(ckpt)
    meta = ckpt.get("meta") or {}
    runner.iter = int(meta.get("iter", 0))
    runner.epoch = int(meta.get("epoch", 0))
    runner.skipped_steps = int(meta.get("skipped_steps", 0))
    runner.pending_rng = meta.get("rng")
    runner.call_hook("after_load_checkpoint", checkpoint=ckpt)
    unit = f"epoch {runner.epoch}" if runner.by_epoch else f"iter {runner.iter}"
    logger.info(f"resumed from {source} at {unit}")
