"""Data transforms with MMSegmentation's semantics, by kind: loading, geometric, resizing, photometric,
mixing, formatting, wrappers, remote sensing, biomedical (3-D) and Albumentations.

Each transform takes and returns the sample dict (``img`` as HxWx3 BGR uint8, ``gt_seg_map`` as
HxW uint8, ``img_shape``/``ori_shape`` as (h, w), ...). Randomness comes from NumPy's global
generator, so ``np.random.seed`` (set per data-loader worker) makes a pipeline repeatable.
Scales are written (w, h) and crop sizes (h, w), as in MMSegmentation configs. Optional packages
(tifffile, nibabel, scipy, albumentations) are imported only when a transform that needs them is built.

The transforms' names are listed once, in ``seglab.catalog.TRANSFORMS``: ``from seglab.data.transforms
import Resize`` looks the name up there and imports only the module that defines it.
"""

from __future__ import annotations

import importlib

from seglab import catalog
from seglab.data.transforms.base import BaseTransform, Compose
from seglab.data.transforms.wrappers import unpack_tta_batch

__all__ = ["BaseTransform", "Compose", "unpack_tta_batch", *catalog.TRANSFORMS]


def __getattr__(name: str) -> type:
    """A catalogued transform class by its type name, imported on first access."""
    target = catalog.TRANSFORMS.get(name)
    if target is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module_name, class_name = target.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    globals()[name] = cls
    return cls


def __dir__() -> list[str]:
    return sorted({*globals(), *catalog.TRANSFORMS})
