"""Runner: builds data, model, optimizer and hooks from a config, then hands over to a loop (``loops.py``):
``train()`` to ``IterBasedTrainLoop``/``EpochBasedTrainLoop`` (validating with ``ValLoop``), ``test()`` to ``TestLoop``.

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
from seglab.data.loader import build_dataloader, release_workers
from seglab.engine import preflight
from seglab.engine.amp import choose_amp_dtype, choose_inference_dtype
from seglab.engine.compile import compile_model
from seglab.engine.evaluation_loop import wants_val_loss
from seglab.engine.guards import StopSignals
from seglab.engine.hooks import build_hooks
from seglab.engine.hooks.base import Hook
from seglab.engine.hooks.test_outputs import ConfusionMatrixHook, PredictionWriterHook
from seglab.engine.log import ScalarWriter, setup_logging
from seglab.engine.loops import TestLoop, TrainLoop, ValLoop, build_train_loop
from seglab.engine.lr_scaling import scale_lr
from seglab.engine.optim import LRSchedule, build_optim_wrapper
from seglab.engine.settings import apply_environment, check_key_spelling, collect_notices, restore_rng
from seglab.engine.test_model import cpu_kernels_for_test, fold_for_test, keep_freed_memory_for_test, test_precision
from seglab.engine.training_state import checkpoint_state, resume, resume_source
from seglab.errors import ConfigError
from seglab.fileio.checkpoint import apply_checkpoint, load_checkpoint, read_checkpoint, save_checkpoint
from seglab.models.builder import build_initialised, init_pretrained
from seglab.models.fold_bn import wants_fold
from seglab.models.segmentors.tta import DEFAULT_TTA_SCALES, SegTTAModel
from seglab.models.winograd import wants_winograd
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
        self.train_loop: TrainLoop | None = None
        self.pending_rng: dict | None = None  # a resumed run's RNG state, restored once the loop starts

    @classmethod
    def from_cfg(cls, cfg: Config) -> Runner:
        return cls(cfg)

    # ------------------------------------------------------------------ building
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
        resume_from, resume_ckpt = resume_source(cfg, self.work_dir)
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
        val_loop = ValLoop(self, val_loader, val_metric) if val_loader is not None else None
        self._setup_loop(cfg.get("train_cfg") or {}, train_loader, val_loop)
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
            resume(self, resume_from, resume_ckpt)
        compile_model(model, cfg.get("compile"), self.device)  # in place: state-dict keys stay plain
        self.ddp_model = self._wrap_distributed(model)
        logger.info(f"work_dir: {self.work_dir}")
        self.call_hook("before_train")
        try:
            with StopSignals() as self.signals:  # SIGTERM/SIGINT: checkpoint at the end of the iteration, then stop
                metrics = self.train_loop.run()
        finally:
            val_loop = self.train_loop.val_loop
            release_workers(self.train_loop.dataloader, val_loop.dataloader if val_loop is not None else None)
        self.call_hook("after_train")
        self.scalars.close()
        return metrics

    def _setup_loop(self, train_cfg: dict, loader, val_loop: ValLoop | None = None) -> None:
        """The train loop ``train_cfg`` asks for (``loops.build_train_loop``), with its counts on the runner."""
        self.train_loop = build_train_loop(self, train_cfg, loader, val_loop)

    def current_lr(self) -> float:
        return float(self.optim.param_groups[0]["lr"])

    # ------------------------------------------------------------------ evaluation
    def validate(self, loader, metric) -> dict[str, float]:
        """One validation pass of the model over ``loader`` (``loops.ValLoop``)."""
        return ValLoop(self, loader, metric).run()

    def test(
        self,
        show_dir: str | Path | None = None,
        confusion_matrix: bool = False,
        out_dir: str | Path | None = None,
        tta: bool = False,
        amp: str | None = None,
    ) -> dict[str, float]:
        """Evaluate ``load_from`` (the checkpoint) on ``test_dataloader`` with ``test_evaluator``.

        ``show_dir`` receives ground truth | prediction overlays per image, ``out_dir`` the predicted label
        maps; ``confusion_matrix`` writes ``confusion_matrix.png``/``.csv`` into this run's log folder;
        ``tta`` runs the config's ``tta_pipeline`` (``TestTimeAug``), or without one averages flips and the
        config's ``img_ratios`` scales. ``amp`` ('auto'/'force', ``engine/amp.py``) predicts under autocast;
        the model is BatchNorm-folded unless ``test_cfg.fold_bn=False``, and on CPU its large 3x3 convolutions
        use Winograd's algorithm unless ``test_cfg.winograd=False`` (``engine/test_model.py``)."""
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
        amp_dtype = choose_inference_dtype(self.device.type, amp)
        if wants_fold(cfg) and not tta:
            fold_for_test(model, loader.dataset, amp_dtype)
        if self.device.type == "cpu" and not cfg.get("compile"):
            cpu_kernels_for_test(model, wants_winograd(cfg))
        if self.device.type == "cpu":
            keep_freed_memory_for_test()
        compile_model(model, cfg.get("compile"), self.device)
        self.hooks = build_hooks(cfg.get("default_hooks"), cfg.get("custom_hooks"))
        if writer is not None:
            writer.use_classes(model.class_names(), self.dataset_meta.get("palette"))
            self.hooks.append(PredictionWriterHook(writer))
        if confusion_matrix:
            self.hooks.append(ConfusionMatrixHook(metric))
        scales = (cfg.get("img_ratios") or DEFAULT_TTA_SCALES) if tta and not use_tta_pipeline else None
        try:
            with test_precision(amp_dtype, self.device):
                results = TestLoop(self, loader, metric, SegTTAModel(model, scales) if scales else None).run()
        finally:
            release_workers(loader)
        self.scalars.close()
        return results

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self, path: Path, with_optimizer: bool = True) -> None:
        """Model, optimizer, schedule, progress and RNG state; hooks add theirs in ``before_save_checkpoint``."""
        state = checkpoint_state(self, with_optimizer)
        self.call_hook("before_save_checkpoint", checkpoint=state)
        save_checkpoint(state, path)

    def restore_pending_rng(self) -> None:
        """Put back a resumed run's RNG state (once), where the uninterrupted run stood."""
        if self.pending_rng:
            restore_rng(self.pending_rng)
            self.pending_rng = None
