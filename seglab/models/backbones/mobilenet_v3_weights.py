"""Pre-trained sources of MobileNetV3: the original URLs (hash-checked) and the nearest timm Hub files,
converted on load by ``timm_mobilenet_v3_to_mmseg``.

The Hub files are timm's ``tf_mobilenetv3_*_100``: Google's TensorFlow ImageNet weights in a model that
computes what MMSegmentation's does (TF "same" padding on the stride-2 convs, BatchNorm eps 1e-3 as the
LR-ASPP configs set, hard-sigmoid SE gates on ReLU squeezes). timm's ``mobilenetv3_*_100`` pads
symmetrically, so its weights would see shifted inputs; they are not used. Whether OpenMMLab's "contrib"
files are Google's weights is not recorded, hence "nearest".

Names: ``conv_stem``/``bn1`` -> ``layer0.conv/bn``; the inverted-residual blocks, in order, -> ``layer1..N``
(``conv_pw``/``bn1`` -> ``expand_conv``, ``conv_dw``/``bn1|2`` -> ``depthwise_conv``, ``conv_pw|conv_pwl``/
``bn2|3`` -> ``linear_conv``, ``se.conv_reduce/conv_expand`` -> ``se.conv1/conv2.conv``); the closing 1x1
conv block -> ``layer{N+1}``. The pooled ``conv_head`` and ``classifier`` are dropped.
"""

from __future__ import annotations

import re

import torch

from seglab.fileio.hub import HubFile
from seglab.fileio.sources import THIRD_PARTY, PretrainedSource, register

_SEPARABLE = {"conv_dw": "depthwise_conv.conv", "bn1": "depthwise_conv.bn", "conv_pw": "linear_conv.conv"}
_SEPARABLE |= {"bn2": "linear_conv.bn"}
_INVERTED = {"conv_pw": "expand_conv.conv", "bn1": "expand_conv.bn", "conv_dw": "depthwise_conv.conv"}
_INVERTED |= {"bn2": "depthwise_conv.bn", "conv_pwl": "linear_conv.conv", "bn3": "linear_conv.bn"}
_SE = {"se.conv_reduce": "se.conv1.conv", "se.conv_expand": "se.conv2.conv"}
_CLOSING = {"conv": "conv", "bn1": "bn"}


def timm_mobilenet_v3_to_mmseg(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """timm MobileNetV3 tensors under MMSegmentation's MobileNetV3 keys (``conv_head``/``classifier`` dropped)."""
    blocks = sorted(
        {tuple(map(int, m.groups())) for k in state if (m := re.match(r"blocks\.(\d+)\.(\d+)\.", k))}
    )  # (stage, block) in forward order -> layer1..N+1
    layer = {block: i + 1 for i, block in enumerate(blocks)}
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.startswith(("conv_head.", "classifier.")):
            continue
        if key.startswith(("conv_stem.", "bn1.")):
            head, _, leaf = key.partition(".")
            key = f"layer0.{'conv' if head == 'conv_stem' else 'bn'}.{leaf}"
        elif match := re.match(r"blocks\.(\d+)\.(\d+)\.(se\.conv_reduce|se\.conv_expand|[a-z_]+\d?)\.(.+)$", key):
            stage, block, module, leaf = match.groups()
            prefix = f"blocks.{stage}.{block}."
            if prefix + "conv_pwl.weight" in state:
                names = _INVERTED | _SE
            elif prefix + "conv_dw.weight" in state:
                names = _SEPARABLE | _SE
            else:
                names = _CLOSING  # the closing 1x1 conv + BN
            key = f"layer{layer[int(stage), int(block)]}.{names[module]}.{leaf}"
        out[key] = value
    return out


# repo -> (commit sha, the Hub page that shows model.safetensors at that commit); a repo not here is unpinned
_PINNED = {
    "timm/tf_mobilenetv3_small_100.in1k": (
        "eba2bbe6f862c995a61fc3862f3ceebb5d5684a1",
        "https://huggingface.co/timm/tf_mobilenetv3_small_100.in1k/commit/eba2bbe6f862c995a61fc3862f3ceebb5d5684a1",
    ),
}


def _source(arch: str, file: str) -> PretrainedSource:
    repo = f"timm/tf_mobilenetv3_{arch}_100.in1k"
    note = (
        "Google's TF MobileNetV3 ImageNet weights in timm's TF-padding port: the same computation as "
        "MMSegmentation's model; the training run behind OpenMMLab's file is not recorded"
    )
    revision, page = _PINNED.get(repo, (None, f"https://huggingface.co/{repo}"))
    hub = HubFile(repo, "model.safetensors", revision, "timm", "nearest", page, note, verified=revision is not None)
    name = f"open-mmlab://contrib/mobilenet_v3_{arch}"
    return PretrainedSource(name, f"{THIRD_PARTY}/{file}", hub, timm_mobilenet_v3_to_mmseg)


SOURCES = [
    _source("large", "mobilenet_v3_large-bc2c3fd3.pth"),
    _source("small", "mobilenet_v3_small-47085aa1.pth"),
]
register(*SOURCES, family="MobileNetV3", parity_test="tests/fileio/test_timm_parity_convnets.py")
