"""Runner: builds data, model, optimizer and hooks from a config and runs training, validation and test.

It reads the keys MMSegmentation configs use (``train_cfg``, ``optim_wrapper``, ``param_scheduler``,
``default_hooks``, ``load_from``, ``resume`` ...) and writes ``work_dirs/<config>/`` the same way:
``<timestamp>/<timestamp>.log``, ``<timestamp>/vis_data/scalars.json``, ``iter_N.pth``, ``last_checkpoint``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import torch
from torch import nn

from seglab import __version__, dist
from seglab.config import Config
from seglab.config_types import check_config_types
from seglab.data.loader import build_dataloader
from seglab.engine import preflight
from seglab.engine.amp import choose_amp_dtype
from seglab.engine.compile import compile_model
from seglab.engine.evaluation_loop import run_evaluation, wants_val_loss
from seglab.engine.guards import StopSignals, buffers_copy, nonfinite_mode, skip_nonfinite, stop_for_signal
from seglab.engine.hooks import build_hooks
from seglab.engine.hooks.base import Hook
from seglab.engine.log import ScalarWriter, setup_logging
from seglab.engine.lr_scaling import scale_lr
from seglab.engine.optim import LRSchedule, build_optim_wrapper
from seglab.engine.resume import latest_resumable
from seglab.engine.settings import apply_environment, check_key_spelling, collect_notices, restore_rng, rng_state
from seglab.errors import ConfigError
from seglab.fileio.checkpoint import apply_checkpoint, load_checkpoint, read_checkpoint, save_checkpoint
from seglab.inference import DEFAULT_TTA_SCALES
from seglab.models.builder import build_initialised, init_pretrained
from seglab.registry import METRICS, import_custom_modules

logger = logging.getLogger("seglab")


class Runner:
    """One experiment: ``Runner.from_cfg(cfg).train()`` or ``.test()``."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        check_key_spelling(cfg)
        check_config_types(cfg)  # model=(1, 2) and friends: one line naming the key
        dist.init(cfg.get("launcher") or "none", (cfg.get("env_cfg") or {}).get("dist_cfg"))
        stem = Path(cfg.filename).stem if cfg.filename else "seglab"
        self.work_dir = Path(cfg.get("work_dir") or Path("work_dirs") / stem).resolve()
        self.timestamp = dist.broadcast_object(time.strftime("%Y%m%d_%H%M%S"))
        self.log_dir = self.work_dir / self.timestamp
        setup_logging(self.log_dir / f"{self.timestamp}.log", cfg.get("log_level", "INFO"))
        import_custom_modules(cfg.get("custom_imports"))  # after the log is set up: it says what it skips
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.seed = apply_environment(cfg)
        self.scalars = ScalarWriter.from_cfg(cfg, self.work_dir, self.log_dir / "vis_data", self.timestamp)
        for notice in collect_notices(cfg):
            logger.info(notice)
        if dist.is_main():
            resolved = self.work_dir / f"{stem}.py"
            if not (cfg.filename and resolved.exists() and resolved.samefile(cfg.filename)):
                cfg.dump(resolved)
            self.scalars.add_config(cfg)  # vis_data/config.py (LocalVisBackend), the other backends' config
        logger.info(
            f"seglab {__version__}, torch {torch.__version__}, device {self.device}, seed {self.seed}, "
            f"world size {dist.world_size()}"
        )
        self.model: nn.Module | None = None
        self.iter = self.epoch = self.inner_iter = 0
        self.skipped_steps = 0  # non-finite losses skipped (train_cfg.nonfinite_loss='skip')
        self.stop_training = False  # set by a hook (EarlyStoppingHook): the loop ends after this iteration/epoch
        self.max_iters = 0
        self.max_epochs: int | None = None
        self.epoch_length = 1
        self.by_epoch = False
        self.log_window = (cfg.get("log_processor") or {}).get("window_size", 10)
        self.dataset_meta: dict = {}
        self.hooks: list[Hook] = []
        self.train_loader = None

    @classmethod
    def from_cfg(cls, cfg: Config) -> Runner:
        return cls(cfg)

    # ------------------------------------------------------------------ building
    def _resume_source(self) -> str | None:
        resume = self.cfg.get("resume", False)
        if not resume:
            return None
        if isinstance(resume, str):
            return resume
        if self.cfg.get("load_from"):
            return str(self.cfg.load_from)
        found = latest_resumable(self.work_dir)  # falls back to the newest readable iter_*.pth, with a warning
        if found:
            source, self._resume_ckpt = found
            return source
        logger.warning(f"resume=True but no checkpoint was found in {self.work_dir}; training from the start")
        return None

    def _build_model(self, keep_pretrained: bool = False) -> nn.Module:
        """The initialised model; its ``Pretrained`` weights (kept when asked) load later, see ``train``."""
        model = build_initialised(self.cfg.model, keep_pretrained).to(self.device)
        model.dataset_meta = self.dataset_meta
        self.model = model
        return model

    def call_hook(self, event: str, **kwargs) -> None:
        for hook in self.hooks:
            getattr(hook, event)(self, **kwargs)

    def _build_evaluation(self, mode: str):
        loader_cfg = self.cfg.get(f"{mode}_dataloader")
        evaluator = self.cfg.get(f"{mode}_evaluator")
        if not loader_cfg or not evaluator or self.cfg.get(f"{mode}_cfg") is None:
            return None, None
        loader = build_dataloader(loader_cfg, self.seed, training=False, name=f"{mode}_dataloader")
        evaluator = evaluator[0] if isinstance(evaluator, list | tuple) else evaluator
        return loader, METRICS.build(evaluator)

    def _wrap_distributed(self, model: nn.Module) -> nn.Module:
        if not dist.is_distributed():
            return model
        unused = bool(self.cfg.get("find_unused_parameters", False))  # MMEngine's runner key
        if self.device.type == "cuda":
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
            return nn.parallel.DistributedDataParallel(
                model, device_ids=[self.device.index or 0], find_unused_parameters=unused
            )
        if any(getattr(m, "_seglab_sync", False) for m in model.modules()):
            logger.info(
                "norm_cfg asks for SyncBN; torch syncs BatchNorm on GPUs only, so on CPU each process "
                "normalises its own batch"
            )
        return nn.parallel.DistributedDataParallel(model, find_unused_parameters=unused)

    # ------------------------------------------------------------------ training
    def train(self) -> dict[str, float]:
        cfg = self.cfg
        resume_from = self._resume_source()
        if not resume_from:
            preflight.check_load_from(cfg)
        preflight.check_batch_padding(cfg)
        preflight.check_label_settings(cfg)  # dataset vs LoadAnnotations reduce_zero_label
        train_loader = build_dataloader(cfg.train_dataloader, self.seed, training=True, name="train_dataloader")
        self.train_loader = train_loader
        dataset = train_loader.dataset
        self.dataset_meta = dataset.dataset_meta
        # Build before anything heavy, then ask the model (not the config's layout) what it predicts.
        # load_from/resume overwrite pre-trained backbone weights, so those are not even downloaded then.
        use_pretrained = not (cfg.get("load_from") or resume_from)
        model = self._build_model(keep_pretrained=use_pretrained)
        preflight.check_num_classes(model, self.dataset_meta.get("classes"))
        preflight.check_label_values(dataset, model.num_classes, model.ignore_index)
        val_loader, val_metric = self._build_evaluation("val")
        self.val_loss = wants_val_loss(cfg)  # val_cfg.val_loss: val/loss from the validation forward
        self.hooks = build_hooks(cfg.get("default_hooks"), cfg.get("custom_hooks"))
        if use_pretrained:
            init_pretrained(model)
        if cfg.get("load_from") and not resume_from:
            load_checkpoint(model, cfg.load_from)
        self._setup_loop(cfg.get("train_cfg") or {}, train_loader)
        self.optim = build_optim_wrapper(model, cfg.optim_wrapper, device_type=self.device.type)
        self.optim.amp_dtype = choose_amp_dtype(self.optim.amp_dtype, self.device.type, cfg.optim_wrapper)
        if self.optim.amp_dtype is not None:
            logger.info(f"mixed precision: autocast to {self.optim.amp_dtype} on {self.device.type}")
        scale_lr(self.optim.optimizer, cfg.get("auto_scale_lr"), train_loader.batch_size)  # before the schedule
        self.schedule = LRSchedule(
            cfg.get("param_scheduler"),
            self.optim.optimizer,
            self.by_epoch,
            self.epoch_length,
            self.max_iters,
            self.max_epochs,
        )
        if resume_from:
            self._resume(resume_from)
        compile_model(model, cfg.get("compile"), self.device)  # in place: state-dict keys stay plain
        self.ddp_model = self._wrap_distributed(model)
        logger.info(f"work_dir: {self.work_dir}")
        self.call_hook("before_train")
        with StopSignals() as self.signals:  # SIGTERM/SIGINT: checkpoint at the end of the iteration, then stop
            if self.by_epoch:
                metrics = self._train_epochs(train_loader, val_loader, val_metric)
            else:
                metrics = self._train_iters(train_loader, val_loader, val_metric)
        self.call_hook("after_train")
        self.scalars.close()
        return metrics

    def _setup_loop(self, train_cfg: dict, loader) -> None:
        loop = train_cfg.get("type", "IterBasedTrainLoop")
        self.val_interval = whole_number(train_cfg, "val_interval", 1)
        self.val_begin = whole_number(train_cfg, "val_begin", 1)
        self.nonfinite = nonfinite_mode(train_cfg)
        self.epoch_length = max(len(loader), 1)
        if loop == "IterBasedTrainLoop":
            if "max_iters" not in train_cfg:
                raise ConfigError("train_cfg type IterBasedTrainLoop needs max_iters")
            self.max_iters = whole_number(train_cfg, "max_iters")
        elif loop == "EpochBasedTrainLoop":
            if "max_epochs" not in train_cfg:
                raise ConfigError("train_cfg type EpochBasedTrainLoop needs max_epochs")
            self.by_epoch = True
            self.max_epochs = whole_number(train_cfg, "max_epochs")
            self.max_iters = self.max_epochs * self.epoch_length
        else:
            raise ConfigError(f"unknown train_cfg type '{loop}'; use IterBasedTrainLoop or EpochBasedTrainLoop")

    def _train_iters(self, loader, val_loader, val_metric) -> dict[str, float]:
        sampler = loader.sampler
        if hasattr(sampler, "start"):
            sampler.start = self.iter * loader.batch_size
        self.call_hook("before_train_epoch")
        batches = iter(loader)
        # Creating the iterator draws from torch's generator; an uninterrupted run drew that at
        # iteration 0, so a resumed run restores the saved state only after drawing it.
        self._restore_pending_rng()
        metrics: dict[str, float] = {}
        while self.iter < self.max_iters and not self.stop_training:
            self.inner_iter = self.iter
            self._train_step(batches)
            if val_loader is not None and self._due(self.iter, self.max_iters):
                metrics = self.validate(val_loader, val_metric)
            self._stop_if_signalled()
        self.call_hook("after_train_epoch")
        return metrics

    def _train_epochs(self, loader, val_loader, val_metric) -> dict[str, float]:
        metrics: dict[str, float] = {}
        done = self.iter - self.epoch * self.epoch_length  # a run stopped by a signal resumes mid-epoch
        if not done:
            self._restore_pending_rng()
        while self.epoch < (self.max_epochs or 0) and not self.stop_training:
            self.call_hook("before_train_epoch")
            batches = iter(loader)
            if done:
                logger.info(f"loading (and skipping) the {done} batches of epoch {self.epoch + 1} trained before")
                for _ in range(done):
                    next(batches)
                self._restore_pending_rng()
            for inner in range(done, self.epoch_length):
                self.inner_iter = inner
                self._train_step(batches)
                if inner + 1 < self.epoch_length:
                    self._stop_if_signalled()
            done = 0
            self.epoch += 1
            self.call_hook("after_train_epoch")
            if val_loader is not None and self._due(self.epoch, self.max_epochs or 0):
                metrics = self.validate(val_loader, val_metric)
            self._stop_if_signalled()
        return metrics

    def _stop_if_signalled(self) -> None:
        """After SIGTERM/SIGINT (on any process): save a resumable checkpoint and raise TrainingInterrupted.
        A signal during validation takes effect when it ends; after the last iteration the run just finishes."""
        signum = self.signals.agreed(self.device) if self.iter < self.max_iters else None
        if signum:
            stop_for_signal(self, signum)

    def _due(self, done: int, total: int) -> bool:
        """Validate after ``done`` iterations/epochs?"""
        return done >= self.val_begin and (done % self.val_interval == 0 or done == total)

    def _train_step(self, batches) -> None:
        """One iteration; ``self.iter`` counts it as done before ``after_train_iter`` runs."""
        start = time.perf_counter()
        batch_idx = self.iter
        self.call_hook("before_train_iter", batch_idx=batch_idx)
        batch = next(batches)
        data_time = time.perf_counter() - start
        model = self.ddp_model
        model.train()
        inputs, samples = self.model.data_preprocessor(batch, training=True)
        saved_buffers = buffers_copy(self.model) if self.nonfinite == "skip" else None
        with self.optim.autocast():
            losses = model(inputs, samples, mode="loss")
        total = sum(v for k, v in losses.items() if "loss" in k)
        if skip_nonfinite(self, losses, total, saved_buffers):  # or a TrainingError, before any step or save
            values = {"data_time": data_time}
        else:
            self.optim.update(total)
            values = {"data_time": data_time, "loss": float(total.detach())}
            values.update({k: float(v.detach()) for k, v in losses.items()})
        values["time"] = time.perf_counter() - start
        if self.device.type == "cuda":
            values["memory"] = torch.cuda.max_memory_allocated() // (1024 * 1024)
        self.iter += 1
        self.call_hook("after_train_iter", batch_idx=batch_idx, data_batch=batch, outputs=values)

    def current_lr(self) -> float:
        return float(self.optim.param_groups[0]["lr"])

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, loader, metric, mode: str = "val", on_predictions=None, tta_scales=None) -> dict[str, float]:
        """Predict every batch of ``loader``, log the class table and the summary line (``evaluation_loop``).

        ``on_predictions(samples)``, when given, sees each batch's predicted samples (for pictures);
        ``tta_scales`` predicts each image from its file with flip + multi-scale test-time augmentation."""
        return run_evaluation(self, loader, metric, mode, on_predictions, tta_scales)

    def validate(self, loader, metric) -> dict[str, float]:
        return self.evaluate(loader, metric, "val")

    def test(
        self,
        show_dir: str | Path | None = None,
        confusion_matrix: bool = False,
        out_dir: str | Path | None = None,
        tta: bool = False,
    ) -> dict[str, float]:
        """Evaluate ``load_from`` (the checkpoint) on ``test_dataloader`` with ``test_evaluator``.

        ``show_dir`` receives ground truth | prediction overlays per image, ``out_dir`` the predicted label
        maps; ``confusion_matrix`` writes ``confusion_matrix.png``/``.csv`` into this run's log folder;
        ``tta`` runs the config's ``tta_pipeline`` (``TestTimeAug``), or without one averages flips and the
        config's ``img_ratios`` scales."""
        cfg = self.cfg
        if not cfg.get("load_from"):
            raise ConfigError("test needs a checkpoint: pass it on the command line or set load_from")
        preflight.check_load_from(cfg)
        use_tta_pipeline = tta and bool(cfg.get("tta_pipeline")) and bool(cfg.get("test_dataloader"))
        if use_tta_pipeline:  # as MMSegmentation's tools/test.py --tta
            cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        loader, metric = self._build_evaluation("test")
        if loader is None:
            raise ConfigError("test needs test_dataloader, test_evaluator and test_cfg in the config")
        from seglab.visualize import PredictionWriter

        writer = PredictionWriter.for_dataset(loader.dataset, show_dir, out_dir)  # a name clash fails here, first
        ckpt = read_checkpoint(cfg.load_from)
        meta = ckpt.get("meta") or {}
        self.dataset_meta = loader.dataset.dataset_meta
        if not self.dataset_meta.get("classes") and isinstance(meta.get("dataset_meta"), dict):
            self.dataset_meta = meta["dataset_meta"]
        model = self._build_model()
        apply_checkpoint(model, ckpt, cfg.load_from)
        compile_model(model, cfg.get("compile"), self.device)
        self.hooks = build_hooks(cfg.get("default_hooks"), cfg.get("custom_hooks"))
        if writer is not None:
            writer.use_classes(model.class_names(), self.dataset_meta.get("palette"))
        scales = (cfg.get("img_ratios") or DEFAULT_TTA_SCALES) if tta and not use_tta_pipeline else None
        results = self.evaluate(loader, metric, "test", on_predictions=writer, tta_scales=scales)
        if show_dir:
            logger.info(f"ground truth | prediction overlays saved to {Path(show_dir).resolve()}")
        if confusion_matrix and dist.is_main():
            from seglab.visualize import save_confusion_matrix

            png, csv = save_confusion_matrix(
                metric.total_confusion(), metric.class_names, self.log_dir / "confusion_matrix.png"
            )
            logger.info(f"confusion matrix saved to {png} and {csv}")
        self.scalars.close()
        return results

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self, path: Path, with_optimizer: bool = True) -> None:
        """Model, optimizer, schedule, progress and RNG state; hooks add theirs in ``before_save_checkpoint``."""
        meta = {
            "seglab_version": __version__,
            "epoch": self.epoch,
            "iter": self.iter,
            "seed": self.seed,
            "skipped_steps": self.skipped_steps,
            "experiment_name": self.timestamp,
            "time": time.strftime("%Y%m%d_%H%M%S"),
            "dataset_meta": {
                "classes": tuple(self.dataset_meta.get("classes") or ()),
                "palette": [list(c) for c in self.dataset_meta.get("palette") or []],
            },
            "rng": rng_state(),
        }
        state = {"meta": meta, "state_dict": {k: v.detach().cpu() for k, v in self.model.state_dict().items()}}
        if with_optimizer:
            state.update(self.optim.state_dict())  # 'optimizer' (and 'loss_scaler' under float16 AMP)
            state["param_schedulers"] = self.schedule.state_dict()
        self.call_hook("before_save_checkpoint", checkpoint=state)
        save_checkpoint(state, path)

    def _restore_pending_rng(self) -> None:
        if getattr(self, "_pending_rng", None):
            restore_rng(self._pending_rng)
            self._pending_rng = None

    def _resume(self, source: str) -> None:
        ckpt, self._resume_ckpt = getattr(self, "_resume_ckpt", None) or read_checkpoint(source), None
        apply_checkpoint(self.model, ckpt, source, strict=True)
        if "optimizer" not in ckpt:
            raise ConfigError(f"cannot resume from '{source}': it was saved without optimizer state")
        self.optim.load_state_dict(ckpt)
        meta = ckpt.get("meta") or {}
        self.iter = int(meta.get("iter", 0))
        self.epoch = int(meta.get("epoch", 0))
        self.skipped_steps = int(meta.get("skipped_steps", 0))
        self._pending_rng = meta.get("rng")
        self.call_hook("after_load_checkpoint", checkpoint=ckpt)
        unit = f"epoch {self.epoch}" if self.by_epoch else f"iter {self.iter}"
        logger.info(f"resumed from {source} at {unit}")


def whole_number(train_cfg: dict, key: str, default: int | None = None) -> int:
    """``train_cfg[key]`` as an int, or a ConfigError naming the key, the value and the expected form."""
    value = train_cfg.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value) or value < 0:
        raise ConfigError(f"train_cfg.{key}={value!r} must be a whole number >= 0 (e.g. train_cfg.{key}=20000)")
    return int(value)
