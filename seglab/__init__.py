"""seglab: semantic segmentation in plain PyTorch, compatible with MMSegmentation 1.x configs and checkpoints.

The public API is imported on first use, so ``import seglab`` (and ``seglab --help``) stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_PUBLIC = {
    "Config": "seglab.config",
    "Runner": "seglab.engine.runner",
    "build_model": "seglab.models.builder",
    "inference_model": "seglab.inference",
    "init_model": "seglab.inference",
    "load_checkpoint": "seglab.fileio.checkpoint",
}

__all__ = [*_PUBLIC, "__version__"]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'seglab' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(__all__)
