"""ToyLossRecorderHook: write each training iteration's loss and input size to ``work_dir/toy_losses.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from seglab.engine.hooks.base import Hook
from seglab.registry import HOOKS


@HOOKS.register()
class ToyLossRecorderHook(Hook):
    """Collects ``outputs['loss']`` and the batch's image size (H, W, as the pipeline left it) after every
    training iteration, and writes the list to ``work_dir/<file_name>`` when training ends."""

    priority = "LOW"

    def __init__(self, file_name: str = "toy_losses.json") -> None:
        self.file_name = file_name
        self.records: list[dict] = []

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: dict | None = None
    ) -> None:
        loss = (outputs or {}).get("loss")
        inputs = data_batch.get("inputs", []) if isinstance(data_batch, dict) else []
        self.records.append(
            dict(
                iter=runner.iter,
                loss=None if loss is None else float(loss),
                input_hw=list(inputs[0].shape[-2:]) if len(inputs) else None,
            )
        )

    def after_train(self, runner: Any) -> None:
        Path(runner.work_dir, self.file_name).write_text(json.dumps(self.records, indent=1))
