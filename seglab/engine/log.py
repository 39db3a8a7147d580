"""Console and file logging in MMSegmentation's line format, and the ``scalars.json`` record."""

from __future__ import annotations

import datetime
import json
import logging
import sys
from collections import deque
from pathlib import Path
from typing import Any

from seglab.engine import dist

logger = logging.getLogger("seglab")
FORMAT = "%(asctime)s - seglab - %(levelname)s - %(message)s"
DATEFMT = "%m/%d %H:%M:%S"


def setup_logging(log_file: Path | None = None, level: str = "INFO") -> None:
    """Log to stdout (rank 0 only) and, when given, to ``log_file``."""
    logger.setLevel(level)
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    formatter = logging.Formatter(FORMAT, DATEFMT)
    if dist.is_main():
        console = logging.StreamHandler(sys.stdout)
        console.setFormatter(formatter)
        logger.addHandler(console)
        if log_file is not None:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            file_handler = logging.FileHandler(log_file, mode="a")
            file_handler.setFormatter(formatter)
            logger.addHandler(file_handler)
    else:
        logger.addHandler(logging.NullHandler())


class ScalarWriter:
    """Appends one JSON object per logged step to ``vis_data/scalars.json`` (and ``<timestamp>.json``)."""

    def __init__(self, vis_dir: Path | None, timestamp: str, tensorboard: bool = False) -> None:
        self.paths = [vis_dir / "scalars.json", vis_dir / f"{timestamp}.json"] if vis_dir and dist.is_main() else []
        for path in self.paths:
            path.parent.mkdir(parents=True, exist_ok=True)
        self.tb = None
        if tensorboard and vis_dir and dist.is_main():
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(vis_dir))
            except ImportError:
                logger.info(
                    "vis_backends asks for TensorBoard, but tensorboard is not installed; "
                    "pip install 'seglab[tensorboard]' to get event files"
                )

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record)
        for path in self.paths:
            with path.open("a") as f:
                f.write(line + "\n")
        if self.tb is not None:
            step = record.get("step", 0)
            for key, value in record.items():
                if key not in ("step", "iter", "epoch") and isinstance(value, int | float):
                    self.tb.add_scalar(key, value, step)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


class Smoother:
    """Running windows of logged values: window means for losses and times, overall mean for ETA."""

    def __init__(self, window: int) -> None:
        self.window = window
        self.values: dict[str, deque] = {}
        self.time_total = 0.0
        self.time_count = 0

    def update(self, values: dict[str, float]) -> None:
        for key, value in values.items():
            self.values.setdefault(key, deque(maxlen=self.window)).append(float(value))
        if "time" in values:
            self.time_total += values["time"]
            self.time_count += 1

    def mean(self, key: str) -> float:
        window = self.values.get(key)
        return sum(window) / len(window) if window else 0.0

    def eta(self, remaining: int) -> str:
        per_iter = self.time_total / max(self.time_count, 1)
        return str(datetime.timedelta(seconds=int(per_iter * remaining)))

    def means(self) -> dict[str, float]:
        return {key: self.mean(key) for key in self.values}


def format_value(key: str, value: float) -> str:
    return f"{key}: {value:.4e}" if key == "lr" else f"{key}: {value:.4f}"


def progress_tag(mode: str, current: int, total: int, epoch: int | None = None) -> str:
    """``Iter(train) [ 10/200]`` or ``Epoch(train) [3][ 10/50]``."""
    width = len(str(total))
    step = f"[{current:>{width}}/{total}]"
    return f"Epoch({mode}) [{epoch}]{step}" if epoch is not None else f"Iter({mode}) {step}"
