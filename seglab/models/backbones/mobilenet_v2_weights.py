"""Pre-trained sources of MobileNetV2: the original URL (hash-checked) and the nearest timm Hub file (the same
architecture, timm's own RandAugment training), converted on load by ``timm_mobilenet_v2_to_mmseg``.

timm's EfficientNet-style names: ``conv_stem``/``bn1`` -> ``conv1.conv/bn``; ``blocks.i.j`` -> ``layer{i+1}.j``
whose convs, in order, are ``conv.0/1/2`` (``conv``/``bn``): ``conv_dw``/``bn1``, ``conv_pw``/``bn2`` in the
first (depthwise-separable) stage, ``conv_pw``/``bn1``, ``conv_dw``/``bn2``, ``conv_pwl``/``bn3`` after it.
The 1280-channel ``conv_head``/``bn2`` and ``classifier`` (not in MMSegmentation's backbone) are dropped.
"""

from __future__ import annotations

import re

import torch

from seglab.fileio.hub import HubFile
from seglab.fileio.sources import OPENMMLAB, PretrainedSource, register

_SEPARABLE = {"conv_dw": "conv.0.conv", "bn1": "conv.0.bn", "conv_pw": "conv.1.conv", "bn2": "conv.1.bn"}
_INVERTED = {
    "conv_pw": "conv.0.conv",
    "bn1": "conv.0.bn",
    "conv_dw": "conv.1.conv",
    "bn2": "conv.1.bn",
    "conv_pwl": "conv.2.conv",
    "bn3": "conv.2.bn",
}


def timm_mobilenet_v2_to_mmseg(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """timm MobileNetV2 tensors under MMSegmentation's MobileNetV2 keys (head and classifier dropped)."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.startswith(("conv_head.", "bn2.", "classifier.")):
            continue
        if key.startswith("conv_stem."):
            key = "conv1.conv." + key[len("conv_stem.") :]
        elif key.startswith("bn1."):
            key = "conv1.bn." + key[len("bn1.") :]
        elif match := re.match(r"blocks\.(\d+)\.(\d+)\.([a-z_]+\d?)\.(.+)$", key):
            stage, block, module, leaf = match.groups()
            names = _INVERTED if f"blocks.{stage}.{block}.conv_pwl.weight" in state else _SEPARABLE
            key = f"layer{int(stage) + 1}.{block}.{names[module]}.{leaf}"
        out[key] = value
    return out


SOURCES = [
    PretrainedSource(
        "mmcls://mobilenet_v2",
        f"{OPENMMLAB}/mmclassification/v0/mobilenet_v2/mobilenet_v2_batch256_imagenet_20200708-3b2dc3af.pth",
        HubFile(
            "timm/mobilenetv2_100.ra_in1k",
            "model.safetensors",
            "f3ff81ba89de0bc46b546568ebeab2edef6b9d49",
            "timm",
            "nearest",
            "https://huggingface.co/timm/mobilenetv2_100.ra_in1k/tree/f3ff81ba89de0bc46b546568ebeab2edef6b9d49",
            "the same architecture (width 1.0, ReLU6), timm's RandAugment training instead of mmcls's",
            verified=True,
        ),
        timm_mobilenet_v2_to_mmseg,
    ),
]
register(*SOURCES, family="MobileNetV2", parity_test="tests/fileio/test_timm_parity_convnets.py")
