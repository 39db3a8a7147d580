"""Every timm mapping in the ResNet family's source table: timm's model (random weights, small depth) saved
as the Hub serves it (safetensors), read by seglab, converted by the source's key map and loaded into the
config's backbone gives the same stage features within 1e-4 x max."""

from __future__ import annotations

import re

import pytest
import torch

from seglab.fileio.checkpoint import load_state_dict
from seglab.fileio.pretrained import read_safetensors
from seglab.fileio.sources import known
from seglab.models.builder import load_weight_tables
from seglab.registry import MODELS

from .conftest import install_torchvision_stand_in

install_torchvision_stand_in()
timm = pytest.importorskip("timm")
safetensors = pytest.importorskip("safetensors.torch")
load_weight_tables()

# source -> (timm ResNet kwargs, seglab backbone cfg): one block per stage keeps each model small and fast
CASES = {
    "open-mmlab://resnet18_v1c": (
        dict(layers=[1, 1, 1, 1], block="basic", stem_type="deep", stem_width=32, avg_down=True),
        dict(type="ResNetV1c", depth=18),
    ),
    "open-mmlab://resnet50_v1c": (
        dict(layers=[1, 1, 1, 1], block="bottleneck", stem_type="deep", stem_width=32),
        dict(type="ResNetV1c", depth=50),
    ),
    "torchvision://resnet50": (dict(layers=[1, 1, 1, 1], block="bottleneck"), dict(type="ResNet", depth=50)),
}
CASES["open-mmlab://resnet101_v1c"] = CASES["open-mmlab://resnet50_v1c"]
CASES["torchvision://resnet18"] = (dict(layers=[1, 1, 1, 1], block="basic"), dict(type="ResNet", depth=18))
CASES["torchvision://resnet101"] = CASES["torchvision://resnet50"]
RSB = "https://download.openmmlab.com/mmclassification/v0/resnet/resnet50_8xb256-rsb-a1-600e_in1k_20211228-20e21305.pth"
CASES[RSB] = CASES["torchvision://resnet50"]


def timm_resnet(layers, block, **kwargs) -> torch.nn.Module:
    from timm.models.resnet import BasicBlock, Bottleneck, ResNet

    torch.manual_seed(0)
    model = ResNet(BasicBlock if block == "basic" else Bottleneck, layers, num_classes=10, **kwargs)
    for module in model.modules():  # random BN statistics, so a wrong BN mapping shows
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 1.5)
            module.weight.data.uniform_(0.5, 1.5)
    return model.eval()


def test_every_timm_source_of_the_resnet_family_has_a_parity_case():
    timm_sources = {name for name, src in _registered().items() if src.hub_usable and src.hub.layout == "timm"}
    assert timm_sources == set(CASES)


def _registered():
    from seglab.fileio.sources import KNOWN

    return {name: src for name, src in KNOWN.items() if src.family == "ResNet"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_timm_hub_file_loads_into_the_config_backbone_with_identical_features(name, tmp_path, one_thread):
    timm_kwargs, backbone_cfg = CASES[name]
    source = known(name)
    reference = timm_resnet(**timm_kwargs)
    safetensors.save_file({k: v.contiguous() for k, v in reference.state_dict().items()}, tmp_path / "m.safetensors")
    state = source.convert(read_safetensors(tmp_path / "m.safetensors"))
    if name == RSB:  # the config keeps only backbone.* (an mmcls classifier's layout)
        assert all(key.startswith("backbone.") for key in state)
        state = {key[len("backbone.") :]: value for key, value in state.items()}
    backbone = MODELS.build(backbone_cfg).eval()
    for stage in (backbone.layer1, backbone.layer2, backbone.layer3, backbone.layer4):
        del stage[1:]  # one block per stage, as the timm model
    report = load_state_dict(backbone, state)
    assert report.missing == [] and report.unexpected == [] and report.skipped == []
    image = torch.randn(1, 3, 64, 64)
    if timm_kwargs.get("avg_down"):  # "nearest": a ResNet-D's tensors in a V1c compute what timm's ResNet-C does
        same_tensors = {
            re.sub(r"downsample\.([12])", lambda m: f"downsample.{int(m[1]) - 1}", k): v
            for k, v in reference.state_dict().items()
        }
        reference = timm_resnet(**{**timm_kwargs, "avg_down": False})
        reference.load_state_dict(same_tensors)
    with torch.no_grad():
        ours = backbone(image)
        theirs = reference.forward_intermediates(image, indices=4, intermediates_only=True)
    for got, want in zip(ours, theirs, strict=True):
        assert torch.allclose(got, want, atol=1e-4 * want.abs().max().item())
