"""What export and the onnxruntime backend share: the optional-package check and the metadata keys."""

from __future__ import annotations

import importlib
from types import ModuleType

from seglab.errors import ConfigError, install_hint

INPUT_NAME = "image"
LOGITS_NAME = "logits"
LABELS_NAME = "labels"
# metadata_props keys seglab writes (values are JSON); the onnxruntime backend needs all of them
METADATA_KEYS = (
    "seglab_version",
    "classes",
    "palette",
    "input_size",
    "channel_order",
    "mean",
    "std",
    "argmax",
    "align_corners",
    "threshold",
    "test_pipeline",
)


def require(module: str, pip_name: str | None = None) -> ModuleType:
    """Import an optional deployment package, or say which one to install."""
    try:
        return importlib.import_module(module)
    except ImportError:
        name = pip_name or module
        raise ConfigError(f"this needs the Python package '{name}': {install_hint(name, 'deploy')}") from None
