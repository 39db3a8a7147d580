"""Console and file logging in MMSegmentation's line format, and the fan-out to the visualisation backends."""

from __future__ import annotations

import datetime
import logging
import sys
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

from seglab import dist
from seglab.engine.vis_backends import VisBackend, backend_configs, build_backends, check_backends

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
    """Fans scalars, pictures and the config out to the configured visualisation backends (rank 0 only).

    As MMEngine's LoggerHook, each record also goes to ``<timestamp>.json`` beside ``scalars.json``
    (LocalVisBackend); every key passes through, ``step`` becomes the backends' step."""

    def __init__(self, backends: list[VisBackend], timestamp: str) -> None:
        self.backends = backends
        self.json_log = f"{timestamp}.json"

    @classmethod
    def from_cfg(cls, cfg: dict, work_dir: Path, vis_dir: Path, timestamp: str) -> ScalarWriter:
        """Check ``visualizer.vis_backends`` on every rank (unknown type, missing package: ConfigError),
        then build them on rank 0."""
        configs = backend_configs(cfg)
        if dist.is_main():
            return cls(build_backends(configs, vis_dir, work_dir), timestamp)  # checks them first
        check_backends(configs)
        return cls([], timestamp)

    def write(self, record: dict[str, Any]) -> None:
        step = int(record.get("step", 0))
        scalars = {key: value for key, value in record.items() if key != "step"}
        for backend in self.backends:
            backend.add_scalars(scalars, step, file_path=self.json_log)

    def add_image(self, name: str, image: np.ndarray, step: int = 0) -> None:
        """``image``: HxWx3 uint8, RGB (MMEngine's convention)."""
        for backend in self.backends:
            backend.add_image(name, image, step)

    def add_config(self, cfg: Any) -> None:
        for backend in self.backends:
            backend.add_config(cfg)

    def close(self) -> None:
        """Finish every backend's run once (later calls do nothing)."""
        backends, self.backends = self.backends, []
        for backend in backends:
            backend.close()


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
