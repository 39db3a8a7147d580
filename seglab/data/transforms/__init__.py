"""Data transforms with MMSegmentation's semantics, by kind: loading, geometric, photometric, formatting.

Each transform takes and returns the sample dict (``img`` as HxWx3 BGR uint8, ``gt_seg_map`` as
HxW uint8, ``img_shape``/``ori_shape`` as (h, w), ...). Randomness comes from NumPy's global
generator, so ``np.random.seed`` (set per data-loader worker) makes a pipeline repeatable.
Scales are written (w, h) and crop sizes (h, w), as in MMSegmentation configs.
"""

from seglab.data.transforms.base import Compose
from seglab.data.transforms.formatting import PackSegInputs
from seglab.data.transforms.geometric import Pad, RandomCrop, RandomFlip, RandomResize, RandomRotate, Resize
from seglab.data.transforms.loading import LoadAnnotations, LoadImageFromFile
from seglab.data.transforms.photometric import PhotoMetricDistortion

__all__ = [
    "Compose",
    "LoadImageFromFile",
    "LoadAnnotations",
    "Resize",
    "RandomResize",
    "RandomCrop",
    "RandomFlip",
    "PhotoMetricDistortion",
    "Pad",
    "RandomRotate",
    "PackSegInputs",
]
