"""Pre-trained sources of the ResNet family (``ResNet``, ``ResNetV1c``) and the conversion of timm's ResNet
state dicts into MMSegmentation's keys.

timm names a ResNet as torchvision does (``conv1``, ``bn1``, ``layerN.M.convK``/``bnK``, ``downsample.0/1``,
``fc``), which is MMSegmentation's ``ResNet`` layout; its deep stem (``conv1.0/1/3/4/6`` + ``bn1``) becomes
``stem.0/1/3/4/6/7`` of ``ResNetV1c``, and a ResNet-D shortcut (``downsample.0`` average pool, ``.1`` conv,
``.2`` BN) becomes the strided 1x1 conv + BN of V1c (``downsample.0/1``). The classifier (``fc``) is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import torch

from seglab.fileio.hub import HubFile
from seglab.fileio.sources import OPENMMLAB, THIRD_PARTY, PretrainedSource, register

_DEEP_STEM = {"conv1.0": "stem.0", "conv1.1": "stem.1", "conv1.3": "stem.3", "conv1.4": "stem.4", "conv1.6": "stem.6"}


def timm_resnet_to_mmseg(state: dict[str, torch.Tensor], avg_down_shortcut: bool = False) -> dict[str, torch.Tensor]:
    """timm ResNet/ResNet-C/ResNet-D tensors under MMSegmentation's ResNet/ResNetV1c keys (``fc`` dropped)."""
    deep = "conv1.0.weight" in state
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.startswith("fc."):
            continue
        head, _, leaf = key.rpartition(".")
        if deep and head in _DEEP_STEM:
            key = f"{_DEEP_STEM[head]}.{leaf}"
        elif deep and head == "bn1":
            key = f"stem.7.{leaf}"
        elif avg_down_shortcut:
            key = re.sub(r"\.downsample\.([12])\.", lambda m: f".downsample.{int(m[1]) - 1}.", key)
        out[key] = value
    return out


def _with_prefix(prefix: str, convert: Callable[[dict], dict]) -> Callable[[dict], dict]:
    """``convert`` for a config whose ``init_cfg`` keeps only keys under ``prefix`` (an mmcls classifier)."""
    return lambda state: {prefix + key: value for key, value in convert(state).items()}


def _from_resnet_d(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return timm_resnet_to_mmseg(state, avg_down_shortcut=True)


def _timm(repo: str, revision: str | None, page: str, relation: str, note: str = "") -> HubFile:
    return HubFile(repo, "model.safetensors", revision, "timm", relation, page, note, verified=revision is not None)


_HF = "https://huggingface.co"
_V1C_NOTE = (
    "GluonCV's ResNet-V1c ImageNet weights; the same architecture, not the same training run as OpenMMLab's file"
)
RSB_URL = f"{OPENMMLAB}/mmclassification/v0/resnet/resnet50_8xb256-rsb-a1-600e_in1k_20211228-20e21305.pth"
SOURCES = [
    PretrainedSource(
        "open-mmlab://resnet18_v1c",
        f"{THIRD_PARTY}/resnet18_v1c-b5776b93.pth",
        _timm(
            "timm/resnet18d.ra2_in1k",
            "591cf0147ae10b2e3284b25e0516b2bc5ab17780",
            f"{_HF}/timm/resnet18d.ra2_in1k/commit/591cf0147ae10b2e3284b25e0516b2bc5ab17780",
            "nearest",
            "ResNet-D: the stage shortcuts average-pool then apply a stride-1 1x1 conv where V1c strides the conv; "
            "same tensor shapes, timm's RA2 training",
        ),
        _from_resnet_d,
    ),
    PretrainedSource(
        "open-mmlab://resnet50_v1c",
        f"{THIRD_PARTY}/resnet50_v1c-2cccc1ad.pth",
        _timm(
            "timm/resnet50c.gluon_in1k",
            "71557a8d90d892c46a4df3fbd58435170e64fac0",
            f"{_HF}/timm/resnet50c.gluon_in1k/commit/71557a8d90d892c46a4df3fbd58435170e64fac0",
            "nearest",
            _V1C_NOTE,
        ),
        timm_resnet_to_mmseg,
    ),
    PretrainedSource(
        "open-mmlab://resnet101_v1c",
        f"{THIRD_PARTY}/resnet101_v1c-e67eebb6.pth",
        _timm(
            "timm/resnet101c.gluon_in1k",
            "8164b796367cd7efee355a9ffb4258c39e8cd40b",
            f"{_HF}/timm/resnet101c.gluon_in1k/commit/8164b796367cd7efee355a9ffb4258c39e8cd40b",
            "nearest",
            _V1C_NOTE,
        ),
        timm_resnet_to_mmseg,
    ),
    PretrainedSource(
        "torchvision://resnet18",
        "https://download.pytorch.org/models/resnet18-5c106cde.pth",
        _timm(
            "timm/resnet18.tv_in1k",
            "590dfdd48494d2316a8385e1ca7fbec3b9359b35",
            f"{_HF}/timm/resnet18.tv_in1k/commits/590dfdd48494d2316a8385e1ca7fbec3b9359b35/config.json",
            "same weights",
        ),
        timm_resnet_to_mmseg,
    ),
    PretrainedSource("torchvision://resnet34", "https://download.pytorch.org/models/resnet34-333f7ec4.pth"),
    PretrainedSource(
        "torchvision://resnet50",
        "https://download.pytorch.org/models/resnet50-19c8e357.pth",
        _timm(
            "timm/resnet50.tv_in1k",
            "aa6c2d36d56bc0209040c02b5a7b7d7bf11d57b8",
            f"{_HF}/timm/resnet50.tv_in1k/tree/aa6c2d36d56bc0209040c02b5a7b7d7bf11d57b8",
            "same weights",
        ),
        timm_resnet_to_mmseg,
    ),
    PretrainedSource(
        "torchvision://resnet101",
        "https://download.pytorch.org/models/resnet101-5d3b4d8f.pth",
        _timm("timm/resnet101.tv_in1k", None, f"{_HF}/timm/resnet101.tv_in1k", "same weights"),
        timm_resnet_to_mmseg,
    ),
    PretrainedSource("torchvision://resnet152", "https://download.pytorch.org/models/resnet152-b121ed2d.pth"),
    PretrainedSource(
        RSB_URL,
        RSB_URL,
        _timm(
            "timm/resnet50.a1_in1k",
            "5d9e13b8fdab4d9718bcf2c8f5c3af01878367e8",
            f"{_HF}/timm/resnet50.a1_in1k/tree/5d9e13b8fdab4d9718bcf2c8f5c3af01878367e8",
            "nearest",
            "timm's own 'ResNet strikes back' A1 run (the recipe's authors); OpenMMLab's file is mmcls's reproduction",
        ),
        _with_prefix("backbone.", timm_resnet_to_mmseg),
    ),
]
register(*SOURCES, family="ResNet", parity_test="tests/fileio/test_timm_parity.py")
