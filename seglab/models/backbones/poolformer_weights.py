"""Pre-trained sources of PoolFormer (``mmpretrain.PoolFormer``): the original URLs (hash-checked) and the timm
Hub copies of the authors' (Sea AI Lab) weights, converted on load by ``timm_poolformer_to_mmseg``.

timm serves PoolFormer as a MetaFormer: ``stem.conv`` is mmpretrain's ``patch_embed.proj``; stage ``i``'s
blocks (``stages.i.blocks.j``) are ``network.{2i}.j`` and its downsampling conv (``stages.i.downsample.conv``)
is ``network.{2i-1}.proj``; ``layer_scale1/2.scale`` are ``layer_scale_1/2``; the head's GroupNorm (applied
before pooling) is ``norm6``; the classifier ``head.fc`` is dropped. Keys carry ``backbone.`` as in the
mmpretrain classifier file the configs read.
"""

from __future__ import annotations

import re

import torch

from seglab.fileio.hub import HubFile
from seglab.fileio.sources import OPENMMLAB, PretrainedSource, register


def timm_poolformer_to_mmseg(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """timm MetaFormer (PoolFormer v1) tensors under mmpretrain's PoolFormer classifier keys."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.startswith("head.fc."):
            continue
        if key.startswith("stem.conv."):
            key = "patch_embed.proj." + key[len("stem.conv.") :]
        elif key.startswith("head.norm."):
            key = "norm6." + key[len("head.norm.") :]
        elif match := re.match(r"stages\.(\d+)\.downsample\.conv\.(.+)$", key):
            key = f"network.{2 * int(match[1]) - 1}.proj.{match[2]}"
        elif match := re.match(r"stages\.(\d+)\.blocks\.(\d+)\.(.+)$", key):
            leaf = re.sub(r"^layer_scale([12])\.scale$", r"layer_scale_\1", match[3])
            key = f"network.{2 * int(match[1])}.{match[2]}.{leaf}"
        out["backbone." + key] = value
    return out


_BASE = f"{OPENMMLAB}/mmclassification/v0/poolformer"
_NOTE = "the PoolFormer authors' (Sea AI Lab) weights, timm's MetaFormer layout"
_FILES = {
    "s12": "poolformer-s12_3rdparty_32xb128_in1k_20220414-f8d83051.pth",
    "s24": "poolformer-s24_3rdparty_32xb128_in1k_20220414-d7055904.pth",
    "s36": "poolformer-s36_3rdparty_32xb128_in1k_20220414-d78ff3e8.pth",
    "m36": "poolformer-m36_3rdparty_32xb128_in1k_20220414-c55e0949.pth",
    "m48": "poolformer-m48_3rdparty_32xb128_in1k_20220414-9378f3eb.pth",
}


# repo -> (commit sha, the Hub page that shows model.safetensors at that commit); a repo not here is unpinned
_PINNED = {
    "timm/poolformer_m36.sail_in1k": (
        "996fbb2ce0a7ab313a42bcbdee80e27626d54a29",
        "https://huggingface.co/timm/poolformer_m36.sail_in1k/tree/996fbb2ce0a7ab313a42bcbdee80e27626d54a29",
    ),
    "timm/poolformer_s24.sail_in1k": (
        "86dbdc10f115023b0fe819a890f8d33bca13a7e1",
        "https://huggingface.co/timm/poolformer_s24.sail_in1k/commit/86dbdc10f115023b0fe819a890f8d33bca13a7e1",
    ),
}


def _source(arch: str, file: str) -> PretrainedSource:
    repo = f"timm/poolformer_{arch}.sail_in1k"
    revision, page = _PINNED.get(repo, (None, f"https://huggingface.co/{repo}"))
    hub = HubFile(
        repo, "model.safetensors", revision, "timm", "same weights", page, _NOTE, verified=revision is not None
    )
    return PretrainedSource(f"{_BASE}/{file}", f"{_BASE}/{file}", hub, timm_poolformer_to_mmseg)


SOURCES = [_source(arch, file) for arch, file in _FILES.items()]
register(*SOURCES, family="PoolFormer", parity_test="tests/fileio/test_timm_parity_convnets.py")
