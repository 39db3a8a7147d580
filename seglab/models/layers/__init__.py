"""Blocks that several model families share, written once with MMCV/MMSegmentation's parameter names.

``conv_module``: ConvModule, DepthwiseSeparableConvModule and the norm/activation builders;
``transformer``: MultiheadAttention, FFN, DropPath, PatchEmbed, PatchMerging and token/map reshapes;
``ppm``: the pyramid pooling module; ``wrappers``: ``resize``.
A family imports what it needs from here; nothing here imports a family.
"""

from seglab.models.layers.conv_module import (
    ConvModule,
    DepthwiseSeparableConvModule,
    HSigmoid,
    build_activation,
    build_norm,
)
from seglab.models.layers.ppm import PPM
from seglab.models.layers.transformer import (
    FFN,
    AdaptivePadding,
    Dropout,
    DropPath,
    LayerScale,
    MultiheadAttention,
    PatchEmbed,
    PatchMerging,
    build_dropout,
    drop_path,
    nchw_to_nlc,
    nlc_to_nchw,
)
from seglab.models.layers.wrappers import resize

__all__ = [
    "FFN",
    "PPM",
    "AdaptivePadding",
    "ConvModule",
    "DepthwiseSeparableConvModule",
    "DropPath",
    "Dropout",
    "HSigmoid",
    "LayerScale",
    "MultiheadAttention",
    "PatchEmbed",
    "PatchMerging",
    "build_activation",
    "build_dropout",
    "build_norm",
    "drop_path",
    "nchw_to_nlc",
    "nlc_to_nchw",
    "resize",
]
