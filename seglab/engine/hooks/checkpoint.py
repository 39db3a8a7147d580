"""CheckpointHook as MMEngine 0.10.7's: periodic ``iter_N.pth``/``epoch_N.pth`` (``filename_tmpl``) every
``interval`` from ``save_begin``, the last one (``save_last``), ``max_keep_ckpts``, ``out_dir``, and one best
checkpoint per ``save_best`` key (any key of the validation results: ``mIoU``, ``IoU.road``, ``val/loss``,
``'auto'``) named ``best_<key>_<file name>`` with '/' replaced by '_', the previous best removed.

As in MMEngine, best checkpoints carry no optimizer or scheduler state, a new best also re-saves the periodic
checkpoint of that step (so resuming from it knows the best so far), and ``published_keys`` publishes the
last and best checkpoints after training as ``<name>-<sha256[:8]>.pth`` with only those keys. Differences:
the hash is of the published file's bytes (``sha256sum``), not of MMEngine's in-memory pickle; after an
early stop (EarlyStoppingHook) the last checkpoint is saved at the step where training stopped.
A failed save (disk full, no permission) stops training with one message: the run could not be resumed
past the last checkpoint anyway, and each further interval of training would be lost the same way.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seglab import dist
from seglab.engine.hooks.base import Hook
from seglab.errors import ConfigError
from seglab.fileio.checkpoint import read_checkpoint, save_checkpoint, write_marker
from seglab.fileio.download import sha256
from seglab.registry import HOOKS

if TYPE_CHECKING:
    from seglab.engine.runner import Runner

logger = logging.getLogger("seglab")

GREATER_KEYS = ["acc", "top", "AR@", "auc", "precision", "mAP", "mDice", "mIoU", "mAcc", "aAcc"]
LESS_KEYS = ["loss"]
CLASS_COLUMNS = ("IoU", "Acc", "Dice", "Fscore", "Precision", "Recall")  # IoUMetric's per-class keys
RULES = ("greater", "less")
INITIAL = {"greater": -math.inf, "less": math.inf}  # the best score before any validation


def infer_rule(key: str, greater_keys=GREATER_KEYS, less_keys=LESS_KEYS, where: str = "rule") -> str:
    """MMEngine's inference (case-insensitive: exact greater, exact less, substring greater, substring less);
    where MMEngine gives up, seglab's per-class keys (``IoU.road``, ``Dice.car`` ...) are 'greater'."""
    lower = key.lower()
    greater = {k.lower() for k in greater_keys}
    less = {k.lower() for k in less_keys}
    if lower in greater:
        return "greater"
    if lower in less:
        return "less"
    if any(k in lower for k in greater):
        return "greater"
    if any(k in lower for k in less):
        return "less"
    if "." in key and key.split(".", 1)[0] in CLASS_COLUMNS:
        return "greater"
    raise ConfigError(
        f"{where}: cannot infer whether a higher or a lower '{key}' is better; set rule='greater' or 'less'"
    )


def better(rule: str, score: float, best: float) -> bool:
    return score > best if rule == "greater" else score < best


def _names(value: Any, key: str, unique: bool = True) -> list[str] | None:
    if value is None:
        return None
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
        raise ConfigError(f"CheckpointHook: {key} must be a str or a list of str, got {value!r}")
    if unique and len(set(names)) != len(names):
        raise ConfigError(f"CheckpointHook: {key}={value!r} names a key twice; list each once")
    return list(names)


@HOOKS.register()
class CheckpointHook(Hook):
    """Saves atomically and writes ``last_checkpoint``; see the module docstring for the rules."""

    priority = "VERY_LOW"
    IGNORED_ARGS = {"file_client_args": None, "backend_args": None}

    def __init__(
        self,
        interval: int = -1,
        by_epoch: bool = True,
        save_optimizer: bool = True,
        save_param_scheduler: bool = True,
        out_dir: str | Path | None = None,
        max_keep_ckpts: int = -1,
        save_last: bool = True,
        save_best: str | list[str] | None = None,
        rule: str | list[str] | None = None,
        greater_keys: str | list[str] | None = None,
        less_keys: str | list[str] | None = None,
        file_client_args: dict | None = None,
        filename_tmpl: str | None = None,
        backend_args: dict | None = None,
        published_keys: str | list[str] | None = None,
        save_begin: int = 0,
    ) -> None:
        if not isinstance(save_begin, int) or save_begin < 0:
            raise ConfigError(f"CheckpointHook: save_begin must be an int >= 0, got {save_begin!r}")
        self.interval = interval
        self.by_epoch = by_epoch
        self.save_optimizer = save_optimizer
        self.save_param_scheduler = save_param_scheduler
        self.out_dir = Path(out_dir) if out_dir else None
        self.max_keep = max_keep_ckpts
        self.save_last = save_last
        self.save_begin = save_begin
        self.filename_tmpl = filename_tmpl or ("epoch_{}.pth" if by_epoch else "iter_{}.pth")
        try:
            distinct = self.filename_tmpl.format(1) != self.filename_tmpl.format(2)
        except (IndexError, KeyError, ValueError):
            distinct = False
        if not distinct:
            raise ConfigError(f"CheckpointHook: filename_tmpl={filename_tmpl!r} needs one '{{}}' for the step")
        self.greater_keys = _names(greater_keys, "greater_keys") or GREATER_KEYS
        self.less_keys = _names(less_keys, "less_keys") or LESS_KEYS
        self.keys = _names(save_best, "save_best") or []
        if "auto" in self.keys and len(self.keys) > 1:
            raise ConfigError("CheckpointHook: save_best='auto' cannot be combined with other keys")
        rules = _names(rule, "rule", unique=False) or [None]
        if len(rules) not in (1, len(self.keys) or 1) or any(r not in (None, *RULES) for r in rules):
            raise ConfigError(
                f"CheckpointHook: rule={rule!r} must be 'greater', 'less' or one of them per save_best key"
            )
        rules = rules * len(self.keys) if len(rules) == 1 else rules
        self.rules = [self._rule(k, r) for k, r in zip(self.keys, rules)]
        self.published_keys = _names(published_keys, "published_keys")
        self.saved: list[Path] = []
        self.best: dict[str, dict[str, Any]] = {}  # key -> {"score": float, "path": Path}
        self.last_ckpt: Path | None = None
        self._without_schedulers = False  # set while save() writes a checkpoint without param_schedulers

    def _rule(self, key: str, rule: str | None) -> str | None:
        if rule is not None or key == "auto":
            return rule
        return infer_rule(key, self.greater_keys, self.less_keys, f"CheckpointHook(save_best='{key}')")

    def folder(self, runner: Runner) -> Path:
        return self.out_dir / runner.work_dir.name if self.out_dir else runner.work_dir

    def _due(self, count: int, total: int) -> bool:
        """MMEngine's ``every_n_*(interval, save_begin)`` or the last one."""
        since = count - self.save_begin
        return (self.interval > 0 and since >= 0 and since % self.interval == 0) or (self.save_last and count == total)

    def after_train_iter(
        self, runner: Runner, batch_idx: int, data_batch: Any = None, outputs: dict | None = None
    ) -> None:
        if not self.by_epoch and self._due(runner.iter, runner.max_iters):
            self.save(runner, self.filename_tmpl.format(runner.iter), f"{runner.iter} iterations")

    def after_train_epoch(self, runner: Runner) -> None:
        if self.by_epoch and self._due(runner.epoch, runner.max_epochs or 0):
            self.save(runner, self.filename_tmpl.format(runner.epoch), f"{runner.epoch} epochs")

    def before_train(self, runner: Runner) -> None:
        """Remove temp files of saves a kill -9 cut short (finished saves are renamed to ``*.pth``), and
        checkpoints beyond ``max_keep_ckpts`` that a resumed run still lists."""
        folder = self.folder(runner)
        if self.out_dir:
            logger.info(f"Checkpoints will be saved to {folder}.")
        if dist.is_main() and folder.is_dir():
            for partial in folder.glob(".*.pth.*.tmp"):
                partial.unlink(missing_ok=True)
                logger.info(f"removed {partial.name}, left by a save that was interrupted")
        self._drop_old(runner)

    def _drop_old(self, runner: Runner) -> None:
        while 0 < self.max_keep < len(self.saved):
            old = self.saved.pop(0)
            if dist.is_main():
                old.unlink(missing_ok=True)

    def save(self, runner: Runner, filename: str, when: str, with_optimizer: bool | None = None) -> Path:
        """Save ``filename`` in the checkpoint folder, point ``last_checkpoint`` at it, keep ``max_keep_ckpts``."""
        path = self.folder(runner) / filename
        if dist.is_main():
            self._without_schedulers = not self.save_param_scheduler
            try:
                runner.save_checkpoint(path, self.save_optimizer if with_optimizer is None else with_optimizer)
            finally:
                self._without_schedulers = False
            write_marker(runner.work_dir, path)
            logger.info(f"Saving checkpoint at {when}")
        if path not in self.saved:
            self.saved.append(path)
        self.last_ckpt = path
        self._drop_old(runner)
        dist.barrier()
        return path

    def save_resumable(self, runner: Runner, again: bool = False) -> Path:
        """A checkpoint to resume from at this point (a stop signal, an early stop): the one just saved when
        this step's periodic save has optimizer state (unless ``again``: hooks' state changed since), else a new
        one (``filename_tmpl`` of this iteration, or epoch at the end of an epoch of an epoch-based run;
        ``iter_N.pth`` mid-epoch there)."""
        at_epoch_end = runner.by_epoch and runner.iter == runner.epoch * runner.epoch_length
        if self.by_epoch and at_epoch_end:
            name, when = self.filename_tmpl.format(runner.epoch), f"{runner.epoch} epochs"
        else:
            template = "iter_{}.pth" if self.by_epoch else self.filename_tmpl
            name, when = template.format(runner.iter), f"{runner.iter} iterations"
        path = self.folder(runner) / name
        if not again and self.saved and self.saved[-1] == path and path.is_file() and self.save_optimizer:
            return path
        return self.save(runner, name, when, with_optimizer=True)

    def after_val_epoch(self, runner: Runner, metrics: dict[str, float] | None = None) -> None:
        if not self.keys:
            return
        if not metrics:
            logger.warning("the validation metrics are empty: no best checkpoint this time")
            return
        if self.keys == ["auto"]:  # the first key of the first results, as MMEngine
            key = next(iter(metrics))
            self.keys, self.rules = [key], [self._rule(key, self.rules[0])]
        unit, count = ("epoch", runner.epoch) if self.by_epoch else ("iter", runner.iter)
        filename = self.filename_tmpl.format(count)
        updated = False
        for key, rule in zip(self.keys, self.rules):
            if key not in metrics:
                logger.warning(f"save_best='{key}' is not among the validation metrics {list(metrics)}")
                continue
            score = metrics[key]
            previous = self.best.get(key, {})
            if score is None or math.isnan(score) or not better(rule, score, previous.get("score", INITIAL[rule])):
                continue
            updated = True
            name = f"best_{key}_{filename}".replace("/", "_")
            path = self.folder(runner) / name
            self.best[key] = {"score": float(score), "path": path}
            if dist.is_main():
                runner.save_checkpoint(path, with_optimizer=False)  # the old best stays if this fails
                old = previous.get("path")
                if old is not None and Path(old) != path and Path(old).is_file():
                    Path(old).unlink()
                    logger.info(f"The previous best checkpoint {old} is removed")
                logger.info(f"The best checkpoint with {score:.4f} {key} at {count} {unit} is saved to {name}.")
        if updated and self.last_ckpt is not None:  # the resumable checkpoint of this step knows the new best
            self.save(runner, filename, f"{count} {unit}s")
        dist.barrier()

    def after_train(self, runner: Runner) -> None:
        """After an early stop: the last checkpoint (``save_last``). Then ``published_keys`` publishing."""
        if getattr(runner, "stop_training", False) and self.save_last:
            self.save_resumable(runner, again=True)  # with the EarlyStoppingHook's final state
        if self.published_keys is None or not dist.is_main():
            return
        paths = [self.last_ckpt] if self.save_last and self.last_ckpt is not None else []
        paths += [Path(best["path"]) for best in self.best.values()]
        for path in dict.fromkeys(paths):
            if path.is_file():
                self.publish(path)

    def publish(self, path: Path) -> Path:
        """``<stem>-<sha256[:8]>.pth`` beside ``path`` with only ``published_keys``."""
        checkpoint = read_checkpoint(path)
        removed = [k for k in checkpoint if k not in self.published_keys]
        if removed:
            logger.info(f"Key {removed} will be removed because they are not found in published_keys")
        tmp = save_checkpoint(
            {k: v for k, v in checkpoint.items() if k in self.published_keys}, path.with_suffix(".publishing")
        )
        final = path.with_name(f"{path.stem}-{sha256(tmp)[:8]}.pth")  # read in chunks, not whole
        tmp.replace(final)
        logger.info(f"The checkpoint ({path}) is published to {final}.")
        return final

    def before_save_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        if self._without_schedulers:
            checkpoint.pop("param_schedulers", None)
        msgs = checkpoint.setdefault("meta", {}).setdefault("hook_msgs", {})
        msgs["saved"] = [str(p) for p in self.saved]
        msgs["best"] = {k: {"score": v["score"], "path": str(v["path"])} for k, v in self.best.items()}
        if len(self.best) == 1:  # the single-key layout earlier seglab versions read
            (only,) = self.best.values()
            msgs.update(best_score=only["score"], best_path=str(only["path"]))

    def after_load_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        state = (checkpoint.get("meta") or {}).get("hook_msgs") or {}
        best = state.get("best")
        if best is None and state.get("best_path") and len(self.keys) == 1:  # a checkpoint of an earlier seglab
            best = {self.keys[0]: {"score": state.get("best_score"), "path": state["best_path"]}}
        self.best = {k: {"score": v["score"], "path": Path(v["path"])} for k, v in (best or {}).items()}
        self.saved = [Path(p) for p in state.get("saved", [])]
        self.last_ckpt = self.saved[-1] if self.saved else None
