"""Pre-trained sources of ConvNeXt (``mmpretrain.ConvNeXt``): the original URLs (hash-checked) and the timm Hub
copies of the ConvNeXt authors' weights, converted on load by ``timm_convnext_to_mmseg``.

timm's layout: ``stem.0/1`` (4x4 conv, LayerNorm2d) and ``stages.i.downsample.0/1`` (LayerNorm2d, 2x2 conv)
become ``downsample_layers.i.0/1``; ``stages.i.blocks.j.{conv_dw,mlp.fc1,mlp.fc2}`` become
``stages.i.j.{depthwise_conv,pointwise_conv1,pointwise_conv2}`` (``norm`` and ``gamma`` keep their names);
the head's ``norm`` (applied per position, before or after pooling alike) is mmpretrain's ``norm3``; the
classifier ``head.fc`` is dropped. The configs read the mmpretrain classifier's ``backbone.*`` tensors, so the
converted keys carry that prefix.
"""

from __future__ import annotations

import re

import torch

from seglab.fileio.hub import HubFile
from seglab.fileio.sources import OPENMMLAB, PretrainedSource, register

_BLOCK_NAMES = {"conv_dw.": "depthwise_conv.", "mlp.fc1.": "pointwise_conv1.", "mlp.fc2.": "pointwise_conv2."}


def timm_convnext_to_mmseg(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """timm ConvNeXt tensors under mmpretrain's ConvNeXt classifier keys (``backbone.`` prefix, ``head.fc``
    dropped)."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.startswith("head.fc."):
            continue
        if key.startswith("stem."):
            key = "downsample_layers.0." + key[len("stem.") :]
        elif key.startswith("head.norm."):
            key = "norm3." + key[len("head.norm.") :]
        elif match := re.match(r"stages\.(\d+)\.downsample\.(.+)$", key):
            key = f"downsample_layers.{match[1]}.{match[2]}"
        elif match := re.match(r"stages\.(\d+)\.blocks\.(\d+)\.(.+)$", key):
            leaf = match[3]
            for old, new in _BLOCK_NAMES.items():
                leaf = leaf.replace(old, new) if leaf.startswith(old) else leaf
            key = f"stages.{match[1]}.{match[2]}.{leaf}"
        out["backbone." + key] = value
    return out


_DOWNSTREAM = f"{OPENMMLAB}/mmclassification/v0/convnext/downstream"
_IN1K_NOTE = (
    "the ConvNeXt authors' in1k run, but timm hosts its EMA weights (convnext_*_1k_224_ema.pth) where "
    "OpenMMLab's file holds the non-EMA ones ('noema'); same architecture"
)
_IN22K_NOTE = "the ConvNeXt authors' ImageNet-22k weights (convnext_*_22k_224.pth), timm layout"


# repo -> (commit sha, the Hub page that lists model.safetensors at that commit); a repo not here is unpinned
_PINNED = {
    "timm/convnext_base.fb_in1k": (
        "9868d443015978c683675b2f78030a9c943033f8",
        "https://huggingface.co/timm/convnext_base.fb_in1k/tree/9868d443015978c683675b2f78030a9c943033f8",
    ),
    "timm/convnext_xlarge.fb_in22k": (
        "74fb9d838dd65db8add9536dd69282a361327614",
        "https://huggingface.co/timm/convnext_xlarge.fb_in22k/tree/74fb9d838dd65db8add9536dd69282a361327614",
    ),
}


def _source(file: str, repo: str, relation: str, note: str) -> PretrainedSource:
    url = f"{_DOWNSTREAM}/{file}"
    revision, page = _PINNED.get(repo, (None, f"https://huggingface.co/{repo}"))
    hub = HubFile(repo, "model.safetensors", revision, "timm", relation, page, note, verified=revision is not None)
    return PretrainedSource(url, url, hub, timm_convnext_to_mmseg)


SOURCES = [
    _source(
        "convnext-tiny_3rdparty_32xb128-noema_in1k_20220301-795e9634.pth",
        "timm/convnext_tiny.fb_in1k",
        "nearest",
        _IN1K_NOTE,
    ),
    _source(
        "convnext-small_3rdparty_32xb128-noema_in1k_20220301-303e75e3.pth",
        "timm/convnext_small.fb_in1k",
        "nearest",
        _IN1K_NOTE,
    ),
    _source(
        "convnext-base_3rdparty_32xb128-noema_in1k_20220301-2a0ee547.pth",
        "timm/convnext_base.fb_in1k",
        "nearest",
        _IN1K_NOTE,
    ),
    _source(
        "convnext-base_3rdparty_in21k_20220301-262fd037.pth", "timm/convnext_base.fb_in22k", "same weights", _IN22K_NOTE
    ),
    _source(
        "convnext-large_3rdparty_in21k_20220301-e6e0ea0a.pth",
        "timm/convnext_large.fb_in22k",
        "same weights",
        _IN22K_NOTE,
    ),
    _source(
        "convnext-xlarge_3rdparty_in21k_20220301-08aa5ddc.pth",
        "timm/convnext_xlarge.fb_in22k",
        "same weights",
        _IN22K_NOTE,
    ),
]
register(*SOURCES, family="ConvNeXt", parity_test="tests/fileio/test_timm_parity_convnets.py")
