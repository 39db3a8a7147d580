"""timm (test extra) imports torchvision at import time; where no torchvision wheel matches the installed
torch (a CPU-only torch here), a stand-in module lets timm build its models, which never call into it."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from unittest import mock


class _TorchvisionStandIn(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        if name == "torchvision" or name.startswith("torchvision."):
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        module = mock.MagicMock(name=spec.name)
        module.__path__, module.__spec__, module.__name__ = [], spec, spec.name
        return module

    def exec_module(self, module) -> None:
        pass


def install_torchvision_stand_in() -> None:
    """Let ``import timm`` work without torchvision (only when torchvision is not importable)."""
    if "timm" in sys.modules or importlib.util.find_spec("torchvision") is not None:
        return
    sys.meta_path.insert(0, _TorchvisionStandIn())
