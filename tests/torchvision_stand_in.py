"""A stand-in for torchvision so that ``import timm`` works in the tests.

timm (installed for the tests by ``.ci/run`` with ``--no-deps``) imports torchvision when it loads, and
the torchvision on the package index pins its own (CUDA) torch build; seglab never depends on torchvision.
The stand-in is in place only while timm is imported, and only when no torchvision is importable; timm builds\nits models without calling it, and afterwards no other library sees a torchvision.
"""

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
    """Import timm (when installed) with the stand-in in place, then take the stand-in away again, so that
    other libraries (transformers asks for torchvision's version) see no torchvision at all."""
    if "timm" in sys.modules or importlib.util.find_spec("timm") is None:
        return
    if importlib.util.find_spec("torchvision") is not None:
        import timm  # noqa: F401 (a real torchvision: nothing to stand in for)

        return
    finder = _TorchvisionStandIn()
    sys.meta_path.insert(0, finder)
    try:
        import timm  # noqa: F401
    finally:
        sys.meta_path.remove(finder)
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
