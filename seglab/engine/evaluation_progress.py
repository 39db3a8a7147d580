"""The progress of one validation or test pass: a tqdm bar on the main process, an
``Iter(val) [ 50/500]    eta: ...  time: ...  data_time: ...`` line every logger interval, and the mean
times that end the summary line and go to scalars.json."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
from tqdm import tqdm

from seglab import dist
from seglab.engine.log import progress_tag

logger = logging.getLogger("seglab")


class EvaluationProgress:
    """Times each batch of ``loader`` (``data_time``: waiting for it; ``time``: the whole step)."""

    def __init__(self, mode: str, total: int, interval: int) -> None:
        self.mode = mode
        self.total = total
        self.interval = interval
        self.times: list[float] = []
        self.data_times: list[float] = []

    def batches(self, loader: Iterable[Any]) -> Iterator[Any]:
        """``loader``'s batches behind a bar; the time until each arrives counts as its ``data_time``."""
        bar = tqdm(loader, desc=self.mode, total=self.total, disable=not dist.is_main() or None, leave=False)
        self.start = time.perf_counter()
        for batch in bar:
            self.data_times.append(time.perf_counter() - self.start)
            yield batch

    def step_done(self, index: int) -> None:
        """Batch ``index`` is done: time it, and every ``interval`` batches but the last, log the eta line."""
        self.times.append(time.perf_counter() - self.start)
        self.start = time.perf_counter()
        done = index + 1
        if done % self.interval == 0 and done < self.total:
            eta = int(np.mean(self.times) * (self.total - done))
            logger.info(
                f"{progress_tag(self.mode, done, self.total)}    eta: {eta // 3600}:{eta % 3600 // 60:02d}:"
                f"{eta % 60:02d}  time: {np.mean(self.times[-10:]):.4f}  "
                f"data_time: {np.mean(self.data_times[-10:]):.4f}"
            )

    def timing(self) -> dict[str, float]:
        """Mean ``data_time`` and ``time`` per batch."""
        return {"data_time": float(np.mean(self.data_times)), "time": float(np.mean(self.times))}

    def log_summary(self, values: dict[str, float]) -> None:
        """The pass's last line: ``Iter(val) [500/500]    aAcc: ...  mIoU: ...``."""
        shown = "  ".join(f"{k}: {v:.4f}" for k, v in values.items())
        logger.info(f"{progress_tag(self.mode, self.total, self.total)}    {shown}")
