"""Type names from configs: misspellings and unknown keys fail with the fix in the message."""

import pytest

from seglab.errors import ConfigError
from seglab.registry import DATASETS, MODELS, TRANSFORMS


def test_unknown_type_suggests_the_close_name():
    with pytest.raises(ConfigError, match="unknown dataset type 'BaseSegDatset' — did you mean 'BaseSegDataset'"):
        DATASETS.build(dict(type="BaseSegDatset"))


def test_unknown_key_names_type_key_and_accepted_keys():
    with pytest.raises(ConfigError) as err:
        TRANSFORMS.build(dict(type="RandomCrop", crop_size=(4, 4), cat_max_ration=0.5))
    message = str(err.value)
    assert "RandomCrop" in message and "'cat_max_ration'" in message and "cat_max_ratio" in message


def test_unknown_key_of_a_subclass_lists_inherited_keys():
    with pytest.raises(ConfigError, match="ResNetV1c.*'dept'.*depth"):
        MODELS.build(dict(type="ResNetV1c", dept=18))


def test_every_mmsegmentation_name_the_shipped_configs_use_is_registered():
    for name in [
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
    ]:
        assert name in TRANSFORMS
    for name in ["BaseSegDataset", "CityscapesDataset", "PascalVOCDataset", "ADE20KDataset", "ConcatDataset"]:
        assert name in DATASETS
    for name in [
        "EncoderDecoder",
        "SegDataPreProcessor",
        "ResNet",
        "ResNetV1c",
        "ResNetV1d",
        "ASPPHead",
        "DepthwiseSeparableASPPHead",
        "FCNHead",
        "CrossEntropyLoss",
        "DiceLoss",
        "FocalLoss",
    ]:
        assert name in MODELS
