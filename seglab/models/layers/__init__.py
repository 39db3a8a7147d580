"""Blocks that several model families share, written once with MMCV's parameter names.

``conv_module``: ConvModule, DepthwiseSeparableConvModule and the norm/activation builders;
``wrappers``: ``resize``. A family imports what it needs from here; nothing here imports a family.
"""

from seglab.models.layers.conv_module import ConvModule, DepthwiseSeparableConvModule, build_activation, build_norm
from seglab.models.layers.wrappers import resize

__all__ = ["ConvModule", "DepthwiseSeparableConvModule", "build_activation", "build_norm", "resize"]
