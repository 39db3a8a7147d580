"""A toy seglab extension: one backbone, one decode head, one dataset, one transform and one hook.

Importing this package registers every piece with seglab's registries, which is all a config's
``custom_imports = dict(imports=['toy_ext'])`` needs; nothing inside seglab knows these names.
"""

from toy_ext.backbone import ToyBackbone
from toy_ext.dataset import ToyCsvDataset
from toy_ext.head import ToyHead
from toy_ext.hook import ToyLossRecorderHook
from toy_ext.transform import ToyBorderCrop

__all__ = ["ToyBackbone", "ToyCsvDataset", "ToyHead", "ToyLossRecorderHook", "ToyBorderCrop"]
