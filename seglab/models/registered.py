"""Imports every module that registers a model type (see seglab.registry)."""

from seglab.models import losses, preprocessor, segmentor  # noqa: F401
from seglab.models.backbones import resnet  # noqa: F401
from seglab.models.heads import aspp, fcn  # noqa: F401
