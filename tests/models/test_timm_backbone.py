"""TIMMBackbone: timm models of every kind give the decode head NCHW feature maps, pre-trained weights come from
the Hub cache (offline here) and from a checkpoint file into a features_only model, a tiny variant learns, and
a missing timm is one line naming the extra."""

from __future__ import annotations

import sys

import pytest
import torch

from seglab.errors import CheckpointError, ConfigError
from seglab.fileio.hub import HubFile
from seglab.registry import MODELS

from ..fileio.conftest import install_torchvision_stand_in, plant_hub_file
from .zoo_parity import HEAD, LEVELS, assert_tiny_model_learns

install_torchvision_stand_in()
timm = pytest.importorskip("timm")

SMALL = dict(layers=(1, 1, 1, 1), channels=(8, 16, 32, 64), stem_width=8)  # timm's ResNet, shrunk


# (timm name, input size, kwargs): CNNs, plain ViTs, hierarchical transformers and hybrids, at small inputs
MODEL_KINDS = [
    ("resnet18", 64, {}),
    ("efficientnet_b0", 64, {}),
    ("mobilenetv3_large_100", 64, {}),
    ("mobilenetv4_conv_small", 64, {}),
    ("convnext_atto", 64, {}),
    ("regnetx_002", 64, {}),
    ("ghostnet_100", 64, {}),
    ("cspresnet50", 64, {}),
    ("hrnet_w18_small", 64, {}),
    ("edgenext_xx_small", 64, {}),
    ("mobilevit_xxs", 64, {}),
    ("poolformer_s12", 64, {}),
    ("vit_tiny_patch16_224", 64, {"img_size": 64}),
    ("deit_tiny_patch16_224", 64, {"img_size": 64}),
    ("eva02_tiny_patch14_224", 56, {"img_size": 56}),
    ("vit_small_patch14_dinov2", 56, {"img_size": 56}),
    ("swin_tiny_patch4_window7_224", 64, {"img_size": 64, "window_size": 4}),
    ("swinv2_cr_tiny_ns_224", 64, {"img_size": 64, "window_size": 4}),
    ("pvt_v2_b0", 64, {}),
    ("mvitv2_tiny", 64, {"img_size": 64}),
    ("hiera_tiny_224", 64, {"img_size": 64}),
    ("nest_tiny", 64, {"img_size": 64}),
    ("coatnet_0_rw_224", 64, {"img_size": 64}),
]


@pytest.mark.parametrize(("name", "size", "kwargs"), MODEL_KINDS, ids=[m[0] for m in MODEL_KINDS])
def test_each_kind_of_timm_model_gives_nchw_feature_maps(name, size, kwargs):
    """On the meta device (shapes only; pretrained=True, the default, downloads nothing there)."""
    with torch.device("meta"):
        backbone = MODELS.build(dict(type="TIMMBackbone", model_name=name, **kwargs))
        features = backbone(torch.zeros(2, 3, size, size))
    assert isinstance(features, tuple) and len(features) == len(backbone.feature_channels) >= 3
    for feature, channels, stride in zip(features, backbone.feature_channels, backbone.feature_strides, strict=True):
        assert feature.shape == (2, channels, size // stride, size // stride), (name, feature.shape, channels, stride)


def test_out_indices_and_in_channels_reach_timm():
    backbone = MODELS.build(
        dict(type="TIMMBackbone", model_name="resnet18", pretrained=False, in_channels=4, out_indices=(2, 4), **SMALL)
    )
    features = backbone(torch.zeros(1, 4, 64, 64))
    assert [tuple(f.shape[1:]) for f in features] == [(16, 8, 8), (64, 2, 2)]


def test_mmpretrain_name_has_mmpretrains_defaults():
    """mmpretrain.TIMMBackbone: features_only=False and no weights: one map, the classifier gone."""
    with torch.device("meta"):
        backbone = MODELS.build(dict(type="mmpretrain.TIMMBackbone", model_name="resnet18"))
        (feature,) = backbone(torch.zeros(1, 3, 64, 64))
    assert feature.shape == (1, 512, 2, 2)
    assert not any(name.startswith("fc.") for name, _ in backbone.timm_model.named_parameters())


def test_a_wrong_model_name_says_the_close_ones():
    with pytest.raises(ConfigError, match="no model 'resnet181'.*'resnet18'"):
        MODELS.build(dict(type="TIMMBackbone", model_name="resnet181", pretrained=False))


def test_missing_timm_is_one_line_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "timm", None)  # `import timm` now fails as if it were not installed
    with pytest.raises(ConfigError) as err:
        MODELS.build(dict(type="TIMMBackbone", model_name="resnet18"))
    assert "pip install -e '.[timm]'" in str(err.value) and "\n" not in str(err.value)


def random_timm_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(1)
    model = timm.create_model("resnet18", **SMALL)
    return {k: v.uniform_(0.5, 1.5) if v.is_floating_point() else v for k, v in model.state_dict().items()}


@pytest.fixture
def offline_hub(tmp_path, monkeypatch):
    cache = tmp_path / "hf_hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return cache


def test_pretrained_weights_come_from_the_models_hub_repository(offline_hub):
    """pretrained=True: the file timm's default tag names on the Hub (here from the offline cache) loads into
    the features_only model, the first conv adapted to 4 input bands as timm adapts it."""
    from safetensors.torch import save

    state = random_timm_state()
    repo = timm.models.get_pretrained_cfg("resnet18").hf_hub_id
    plant_hub_file(offline_hub, HubFile(repo=repo), save(state))
    backbone = MODELS.build(dict(type="TIMMBackbone", model_name="resnet18", in_channels=4, **SMALL))
    loaded = backbone.timm_model.state_dict()
    assert torch.equal(loaded["layer4.0.conv2.weight"], state["layer4.0.conv2.weight"])
    assert torch.equal(loaded["bn1.running_var"], state["bn1.running_var"])
    assert loaded["conv1.weight"].shape[1] == 4


def test_pretrained_weights_not_in_the_offline_cache_fail_in_one_line(offline_hub):
    with pytest.raises(CheckpointError) as err:
        MODELS.build(dict(type="TIMMBackbone", model_name="resnet18", **SMALL))
    assert "HF_HUB_OFFLINE" in str(err.value) and "\n" not in str(err.value)


def test_checkpoint_path_loads_into_a_features_only_model(tmp_path):
    """The whole model's timm checkpoint loads before the features_only wrapping (in MMSegmentation these
    two arguments together fail), read without running code."""
    state = random_timm_state()
    torch.save({"state_dict": state}, tmp_path / "resnet_tiny.pth")
    backbone = MODELS.build(
        dict(type="mmpretrain.TIMMBackbone", model_name="resnet18", features_only=True,
             checkpoint_path=str(tmp_path / "resnet_tiny.pth"), **SMALL)
    )  # fmt: skip
    assert torch.equal(backbone.timm_model.state_dict()["layer3.0.conv1.weight"], state["layer3.0.conv1.weight"])


TINY_TIMM = f"""model = dict(auxiliary_head=None,
    backbone=dict(_delete_=True, type='TIMMBackbone', model_name='resnet18', pretrained=False,
        out_indices=(1, 2, 3, 4), layers=(1, 1, 1, 1), channels=(8, 16, 32, 64), stem_width=8),
    decode_head=dict(_delete_=True, type='UPerHead', {LEVELS}, pool_scales=(1, 2), {HEAD}))
"""


def test_tiny_timm_backbone_learns_with_a_multi_level_head(tiny_config, one_thread):
    assert_tiny_model_learns(tiny_config, TINY_TIMM, "UPerHead", iters=40)
