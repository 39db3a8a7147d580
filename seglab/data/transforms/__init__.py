"""Data transforms with MMSegmentation's semantics, by kind: loading, geometric, resizing, photometric,
mixing, formatting, wrappers, remote sensing, biomedical (3-D) and Albumentations.

Each transform takes and returns the sample dict (``img`` as HxWx3 BGR uint8, ``gt_seg_map`` as
HxW uint8, ``img_shape``/``ori_shape`` as (h, w), ...). Randomness comes from NumPy's global
generator, so ``np.random.seed`` (set per data-loader worker) makes a pipeline repeatable.
Scales are written (w, h) and crop sizes (h, w), as in MMSegmentation configs. Optional packages
(tifffile, nibabel, scipy, albumentations) are imported only when a transform that needs them is built.
"""

from seglab.data.transforms.albu import Albu
from seglab.data.transforms.base import Compose
from seglab.data.transforms.biomedical import (
    BioMedical3DPad,
    BioMedical3DRandomCrop,
    BioMedical3DRandomFlip,
    LoadBiomedicalAnnotation,
    LoadBiomedicalData,
    LoadBiomedicalImageFromFile,
)
from seglab.data.transforms.biomedical_intensity import (
    BioMedicalGaussianBlur,
    BioMedicalGaussianNoise,
    BioMedicalRandomGamma,
)
from seglab.data.transforms.formatting import GenerateEdge, PackSegInputs
from seglab.data.transforms.geometric import (
    Pad,
    RandomCrop,
    RandomFlip,
    RandomResize,
    RandomRotate,
    RandomRotFlip,
    Resize,
)
from seglab.data.transforms.loading import (
    LoadAnnotations,
    LoadDepthAnnotation,
    LoadImageFromFile,
    LoadImageFromNDArray,
)
from seglab.data.transforms.mixing import RandomCutOut, RandomDepthMix, RandomMosaic
from seglab.data.transforms.photometric import CLAHE, AdjustGamma, PhotoMetricDistortion, Rerange, RGB2Gray
from seglab.data.transforms.remote_sensing import (
    ConcatCDInput,
    LoadMultipleRSImageFromFile,
    LoadSingleRSImageFromFile,
)
from seglab.data.transforms.resizing import RandomChoiceResize, ResizeShortestEdge, ResizeToMultiple, SegRescale
from seglab.data.transforms.wrappers import RandomApply, RandomChoice, TestTimeAug, unpack_tta_batch

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
    "LoadImageFromNDArray",
    "LoadDepthAnnotation",
    "RandomRotFlip",
    "AdjustGamma",
    "CLAHE",
    "Rerange",
    "RGB2Gray",
    "GenerateEdge",
    "ResizeToMultiple",
    "ResizeShortestEdge",
    "RandomChoiceResize",
    "SegRescale",
    "RandomCutOut",
    "RandomMosaic",
    "RandomDepthMix",
    "RandomChoice",
    "RandomApply",
    "TestTimeAug",
    "unpack_tta_batch",
    "LoadSingleRSImageFromFile",
    "LoadMultipleRSImageFromFile",
    "ConcatCDInput",
    "LoadBiomedicalImageFromFile",
    "LoadBiomedicalAnnotation",
    "LoadBiomedicalData",
    "BioMedical3DRandomCrop",
    "BioMedical3DPad",
    "BioMedical3DRandomFlip",
    "BioMedicalGaussianNoise",
    "BioMedicalGaussianBlur",
    "BioMedicalRandomGamma",
    "Albu",
]
