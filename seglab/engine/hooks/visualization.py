"""SegVisualizationHook: with ``draw=True``, ground truth | prediction pictures during validation and test.

As MMSegmentation: every ``interval``-th validation image (and every test image) goes, named
``{val|test}_<file name>`` with the iteration as step, to every configured visualisation backend:
LocalVisBackend writes ``<log_dir>/vis_data/vis_image/{val|test}_<file name>_<iteration>.png``,
TensorBoard, W&B and MLflow log it as an image."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seglab.engine.hooks.base import Hook
from seglab.registry import HOOKS

if TYPE_CHECKING:
    from seglab.engine.runner import Runner

logger = logging.getLogger("seglab")


@HOOKS.register()
class SegVisualizationHook(Hook):
    IGNORED_ARGS = {"show": False, "wait_time": 0.0, "backend_args": None}

    def __init__(
        self, draw: bool = False, interval: int = 50, show: bool = False, wait_time: float = 0.0, backend_args=None
    ) -> None:
        self.draw = draw
        self.interval = max(int(interval), 1)
        self._seen = 0

    def before_val_epoch(self, runner: Runner) -> None:
        self._seen = 0

    def after_val_iter(self, runner: Runner, batch_idx: int, data_batch: Any = None, outputs: Any = None) -> None:
        if not self.draw:
            return
        for sample in outputs or []:
            if self._seen % self.interval == 0:
                self._write(runner, "val", sample)
            self._seen += 1

    def after_test_iter(self, runner: Runner, batch_idx: int, data_batch: Any = None, outputs: Any = None) -> None:
        if self.draw:
            for sample in outputs or []:
                self._write(runner, "test", sample)

    def _write(self, runner: Runner, mode: str, sample: dict) -> None:
        from seglab.data.datasets.base import make_palette
        from seglab.data.io import read_image
        from seglab.visualize import side_by_side

        if "img_path" not in sample or not runner.scalars.backends:  # no backends (or not rank 0): nothing to draw
            return
        classes = runner.model.class_names()
        palette = (runner.dataset_meta or {}).get("palette") or make_palette(len(classes))
        pred = sample["pred_sem_seg"].cpu().numpy()
        gt = sample["gt_sem_seg"][0].cpu().numpy() if "gt_sem_seg" in sample else None
        img = read_image(sample["img_path"])
        picture = side_by_side(img, gt if gt is not None else pred, pred, palette, classes)
        runner.scalars.add_image(f"{mode}_{Path(sample['img_path']).name}", picture[..., ::-1].copy(), runner.iter)
